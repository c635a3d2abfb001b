//! Invite codes: created by the admin, spent at account creation.

use super::AccountError;
use crate::db::DbError;
use rusqlite::{Connection, OptionalExtension, params};

/// A new code in the reference's shape: `<hostname>-xxxxx-xxxxx`.
pub fn new_code(hostname: &str) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let bytes: [u8; 10] = rand::random();
    let s: String = bytes
        .iter()
        .map(|b| CHARS[(*b as usize) % CHARS.len()] as char)
        .collect();
    format!("{}-{}-{}", hostname.replace('.', "-"), &s[..5], &s[5..])
}

/// Checks a code can be used, and records the use. Runs inside the account-creating
/// transaction so two sign-ups cannot spend the last use twice.
pub fn spend(conn: &Connection, code: &str, used_by: &str, now: &str) -> Result<(), AccountError> {
    let row: Option<(i64, bool)> = conn
        .prepare_cached("SELECT available, disabled FROM invite_code WHERE code = ?1")
        .map_err(DbError::from)?
        .query_row([code], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(DbError::from)?;
    let Some((available, disabled)) = row else {
        return Err(AccountError::InvalidInviteCode(
            "Provided invite code not available",
        ));
    };
    let used: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM invite_code_use WHERE code = ?1")
        .map_err(DbError::from)?
        .query_row([code], |r| r.get(0))
        .map_err(DbError::from)?;
    if disabled || used >= available {
        return Err(AccountError::InvalidInviteCode(
            "Provided invite code not available",
        ));
    }
    conn.prepare_cached("INSERT INTO invite_code_use (code, used_by, used_at) VALUES (?1, ?2, ?3)")
        .map_err(DbError::from)?
        .execute(params![code, used_by, now])
        .map_err(DbError::from)?;
    Ok(())
}

/// Makes `codes` new codes of `uses` uses each for every account in `for_accounts`; returns
/// them by account.
pub async fn issue(
    writer: &crate::db::Writer,
    hostname: &str,
    codes: i64,
    uses: i64,
    for_accounts: Vec<String>,
) -> Result<Vec<(String, Vec<String>)>, AccountError> {
    if !(1..=100).contains(&codes) {
        return Err(AccountError::InvalidInput("codeCount must be 1 to 100"));
    }
    if !(1..=1000).contains(&uses) {
        return Err(AccountError::InvalidInput(
            "useCount must be between 1 and 1000",
        ));
    }
    let plan: Vec<(String, Vec<String>)> = for_accounts
        .into_iter()
        .map(|a| (a, (0..codes).map(|_| new_code(hostname)).collect()))
        .collect();
    let p = plan.clone();
    writer
        .run(move |txn: &mut crate::db::WriteTxn<'_>| {
            let now = crate::clock::now_iso();
            for (account, codes) in &p {
                for code in codes {
                    create(txn.conn, code, uses, account, &now)?;
                }
            }
            Ok::<_, DbError>(())
        })
        .await?;
    Ok(plan)
}

pub fn create(
    conn: &Connection,
    code: &str,
    available: i64,
    for_account: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO invite_code (code, available, for_account, created_by, created_at) VALUES (?1, ?2, ?3, 'admin', ?4)",
    )?
    .execute(params![code, available, for_account, now])?;
    Ok(())
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeView {
    pub code: String,
    pub available: i64,
    pub disabled: bool,
    pub for_account: String,
    pub created_by: String,
    pub created_at: String,
    pub uses: Vec<UseView>,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UseView {
    pub used_by: String,
    pub used_at: String,
}

/// Codes, optionally only those made for one account.
pub fn list(conn: &Connection, for_account: Option<&str>) -> Result<Vec<CodeView>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT code, available, disabled, for_account, created_by, created_at FROM invite_code
         WHERE ?1 IS NULL OR for_account = ?1 ORDER BY created_at DESC LIMIT 500",
    )?;
    let mut codes: Vec<CodeView> = stmt
        .query_map([for_account], |r| {
            Ok(CodeView {
                code: r.get(0)?,
                available: r.get(1)?,
                disabled: r.get(2)?,
                for_account: r.get(3)?,
                created_by: r.get(4)?,
                created_at: r.get(5)?,
                uses: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut uses =
        conn.prepare_cached("SELECT used_by, used_at FROM invite_code_use WHERE code = ?1")?;
    for c in &mut codes {
        c.uses = uses
            .query_map([&c.code], |r| {
                Ok(UseView {
                    used_by: r.get(0)?,
                    used_at: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(codes)
}

pub fn disable(conn: &Connection, code: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE invite_code SET disabled = 1 WHERE code = ?1",
        [code],
    )?;
    Ok(())
}

/// Disables every code made for an account.
pub fn disable_for_account(conn: &Connection, account: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE invite_code SET disabled = 1 WHERE for_account = ?1",
        [account],
    )?;
    Ok(())
}
