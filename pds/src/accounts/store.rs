//! Account rows.

use crate::db::{DbError, Readers};
use rusqlite::{Connection, OptionalExtension, Row, params};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Deactivated,
    Takendown,
}

impl AccountStatus {
    pub fn from_column(s: Option<&str>) -> AccountStatus {
        match s {
            Some("deactivated") => AccountStatus::Deactivated,
            Some("takendown") => AccountStatus::Takendown,
            _ => AccountStatus::Active,
        }
    }

    /// The `status` string of getSession / checkAccountStatus / `#account` events; `None` when
    /// active.
    pub fn as_status(self) -> Option<&'static str> {
        match self {
            AccountStatus::Active => None,
            AccountStatus::Deactivated => Some("deactivated"),
            AccountStatus::Takendown => Some("takendown"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub did: String,
    pub handle: Option<String>,
    pub email: Option<String>,
    pub password_hash: String,
    pub created_at: String,
    pub email_confirmed_at: Option<String>,
    pub invite_code: Option<String>,
    pub status: AccountStatus,
    pub deactivated_at: Option<String>,
    pub takedown_ref: Option<String>,
}

const COLUMNS: &str = "id, did, handle, email, password_hash, created_at, email_confirmed_at, \
                       invite_code, status, deactivated_at, takedown_ref";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        did: r.get(1)?,
        handle: r.get(2)?,
        email: r.get(3)?,
        password_hash: r.get(4)?,
        created_at: r.get(5)?,
        email_confirmed_at: r.get(6)?,
        invite_code: r.get(7)?,
        status: AccountStatus::from_column(r.get::<_, Option<String>>(8)?.as_deref()),
        deactivated_at: r.get(9)?,
        takedown_ref: r.get(10)?,
    })
}

pub fn by_did(conn: &Connection, did: &str) -> Result<Option<Account>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM account WHERE did = ?1"))?
        .query_row([did], from_row)
        .optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<Account>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM account WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn by_handle(conn: &Connection, handle: &str) -> Result<Option<Account>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM account WHERE handle = ?1"))?
        .query_row([handle.to_ascii_lowercase()], from_row)
        .optional()?)
}

/// By handle, email or DID: what createSession's `identifier` may be.
pub fn by_identifier(conn: &Connection, identifier: &str) -> Result<Option<Account>, DbError> {
    let id = identifier.trim();
    if id.starts_with("did:") {
        return by_did(conn, id);
    }
    if id.contains('@') {
        return by_email(conn, id);
    }
    by_handle(conn, id)
}

pub fn by_email(conn: &Connection, email: &str) -> Result<Option<Account>, DbError> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM account WHERE email = ?1"))?
        .query_row([email.trim()], from_row)
        .optional()?)
}

/// Marks the account's address confirmed.
pub fn set_email_confirmed(conn: &Connection, id: i64, at: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE account SET email_confirmed_at = ?2 WHERE id = ?1")?
        .execute(params![id, at])?;
    Ok(())
}

/// Sets a new, unconfirmed address.
pub fn set_email(conn: &Connection, id: i64, email: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE account SET email = ?2, email_confirmed_at = NULL WHERE id = ?1")?
        .execute(params![id, email])?;
    Ok(())
}

pub fn email_taken(conn: &Connection, email: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM account WHERE email = ?1")?
        .query_row([email], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn handle_taken(conn: &Connection, handle: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM account WHERE handle = ?1")?
        .query_row([handle], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The account id and status for a DID: what every authenticated request checks.
pub async fn status_by_did(
    readers: &Readers,
    did: &str,
) -> Result<Option<(i64, AccountStatus)>, DbError> {
    let did = did.to_owned();
    readers
        .read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT id, status FROM account WHERE did = ?1")?
                .query_row([&did], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        AccountStatus::from_column(r.get::<_, Option<String>>(1)?.as_deref()),
                    ))
                })
                .optional()?)
        })
        .await
}

pub struct NewAccount<'a> {
    pub did: &'a str,
    pub handle: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub signing_key: &'a [u8],
    pub created_at: &'a str,
    pub invite_code: Option<&'a str>,
}

pub fn insert(conn: &Connection, a: &NewAccount<'_>) -> Result<i64, DbError> {
    conn.prepare_cached(
        "INSERT INTO account (did, handle, email, password_hash, signing_key, created_at, invite_code)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![a.did, a.handle, a.email, a.password_hash, a.signing_key, a.created_at, a.invite_code])?;
    Ok(conn.last_insert_rowid())
}

pub fn set_status(
    conn: &Connection,
    id: i64,
    status: Option<&str>,
    deactivated_at: Option<&str>,
) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE account SET status = ?2, deactivated_at = ?3 WHERE id = ?1")?
        .execute(params![id, status, deactivated_at])?;
    Ok(())
}

pub fn set_handle(conn: &Connection, id: i64, handle: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE account SET handle = ?2 WHERE id = ?1")?
        .execute(params![id, handle])?;
    Ok(())
}

pub fn signing_key(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>, DbError> {
    Ok(conn
        .prepare_cached("SELECT signing_key FROM account WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// A stored refresh token.
pub struct RefreshToken {
    pub account: i64,
    pub app_password: Option<String>,
    pub expires_at: i64,
    /// The token it was rotated to, if it was.
    pub next_id: Option<String>,
}

pub fn refresh_token(conn: &Connection, id: &str) -> Result<Option<RefreshToken>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT account, app_password, expires_at, next_id FROM refresh_token WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok(RefreshToken {
                account: r.get(0)?,
                app_password: r.get(1)?,
                expires_at: r.get(2)?,
                next_id: r.get(3)?,
            })
        })
        .optional()?)
}

pub fn insert_refresh_token(
    conn: &Connection,
    id: &str,
    account: i64,
    app_password: Option<&str>,
    expires_at: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO refresh_token (id, account, app_password, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, account, app_password, expires_at])?;
    Ok(())
}

pub fn set_refresh_expiry(conn: &Connection, id: &str, expires_at: i64) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE refresh_token SET expires_at = ?2 WHERE id = ?1")?
        .execute(params![id, expires_at])?;
    Ok(())
}

/// Points a refresh token at its successor; it expires by `expires_by` at the latest.
pub fn rotate_refresh_token(
    conn: &Connection,
    id: &str,
    next: &str,
    expires_by: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE refresh_token SET next_id = ?2, expires_at = MIN(expires_at, ?3) WHERE id = ?1",
    )?
    .execute(params![id, next, expires_by])?;
    Ok(())
}

/// Deletes a refresh token and the successor it was rotated to.
pub fn delete_refresh_token(conn: &Connection, id: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "DELETE FROM refresh_token WHERE id = ?1
         OR id = (SELECT next_id FROM refresh_token WHERE id = ?1)",
    )?
    .execute([id])?;
    Ok(())
}

/// Whether an app password is privileged; `None` once it is revoked.
pub fn app_password_privileged(
    conn: &Connection,
    account: i64,
    name: &str,
) -> Result<Option<bool>, DbError> {
    Ok(conn
        .prepare_cached("SELECT privileged FROM app_password WHERE account = ?1 AND name = ?2")?
        .query_row(params![account, name], |r| r.get(0))
        .optional()?)
}

/// The account's `app.bsky.*` preferences, as stored JSON, in the order they were put.
pub fn bsky_preferences(conn: &Connection, account: i64) -> Result<Vec<String>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT value FROM account_pref WHERE account = ?1 AND name LIKE 'app.bsky.%' ORDER BY id",
        )?
        .query_map([account], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Replaces all of the account's `app.bsky.*` preferences with `prefs` (name, JSON value).
pub fn replace_bsky_preferences(
    conn: &Connection,
    account: i64,
    prefs: &[(String, String)],
) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM account_pref WHERE account = ?1 AND name LIKE 'app.bsky.%'",
        [account],
    )?;
    let mut stmt =
        conn.prepare_cached("INSERT INTO account_pref (account, name, value) VALUES (?1, ?2, ?3)")?;
    for (name, value) in prefs {
        stmt.execute(params![account, name, value])?;
    }
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.execute("DELETE FROM account WHERE id = ?1", [id])?;
    Ok(())
}

/// An account's app passwords: (name, password hash, privileged).
pub fn app_passwords(
    conn: &Connection,
    account: i64,
) -> Result<Vec<(String, String, bool)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT name, password_hash, privileged FROM app_password WHERE account = ?1",
        )?
        .query_map([account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?)
}

/// An account's app passwords for listing, oldest first: (name, created at, privileged).
pub fn list_app_passwords(
    conn: &Connection,
    account: i64,
) -> Result<Vec<(String, String, bool)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT name, created_at, privileged FROM app_password WHERE account = ?1 ORDER BY created_at",
        )?
        .query_map([account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?)
}

pub fn insert_app_password(
    conn: &Connection,
    account: i64,
    name: &str,
    password_hash: &str,
    privileged: bool,
    created_at: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO app_password (account, name, password_hash, privileged, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        account,
        name,
        password_hash,
        privileged,
        created_at
    ])?;
    Ok(())
}

/// Deletes an app password; the sessions opened with it end now, not when their tokens expire.
pub fn revoke_app_password(conn: &Connection, account: i64, name: &str) -> Result<(), DbError> {
    conn.execute(
        "DELETE FROM app_password WHERE account = ?1 AND name = ?2",
        params![account, name],
    )?;
    conn.execute(
        "DELETE FROM refresh_token WHERE account = ?1 AND app_password = ?2",
        params![account, name],
    )?;
    Ok(())
}

/// One page of accounts after account id `after`, in creation order.
pub fn list(conn: &Connection, after: i64, limit: u32) -> Result<Vec<Account>, DbError> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM account WHERE id > ?1 ORDER BY id LIMIT ?2"
        ))?
        .query_map(params![after, limit], from_row)?
        .collect::<Result<_, _>>()?)
}

/// How many accounts have each status.
pub fn count_by_status(conn: &Connection) -> Result<Vec<(AccountStatus, i64)>, DbError> {
    Ok(conn
        .prepare_cached("SELECT status, COUNT(*) FROM account GROUP BY status")?
        .query_map([], |r| {
            Ok((
                AccountStatus::from_column(r.get::<_, Option<String>>(0)?.as_deref()),
                r.get(1)?,
            ))
        })?
        .collect::<Result<_, _>>()?)
}

/// Sets an account's status and takedown reference (the admin's takedown and its reversal).
pub fn set_takedown(
    conn: &Connection,
    id: i64,
    status: Option<&str>,
    takedown_ref: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE account SET status = ?2, takedown_ref = ?3 WHERE id = ?1",
        params![id, status, takedown_ref],
    )?;
    Ok(())
}

/// Ends every session of an account, OAuth grants included.
pub fn delete_refresh_tokens(conn: &Connection, account: i64) -> Result<(), DbError> {
    conn.execute("DELETE FROM refresh_token WHERE account = ?1", [account])?;
    end_oauth_grants(conn, account)
}

/// Ends every OAuth grant of an account (their access tokens die at the grant lookup) and
/// forgets the browsers signed in to it on the authorization pages.
pub fn end_oauth_grants(conn: &Connection, account: i64) -> Result<(), DbError> {
    conn.execute("DELETE FROM oauth_grant WHERE account = ?1", [account])?;
    conn.execute(
        "DELETE FROM oauth_device_account WHERE account = ?1",
        [account],
    )?;
    Ok(())
}

/// Sets the password of the account with this DID and signs every session of it out; returns
/// how many accounts changed (0 when there is none).
pub fn set_password_by_did(conn: &Connection, did: &str, hash: &str) -> Result<usize, DbError> {
    let n = conn.execute(
        "UPDATE account SET password_hash = ?2 WHERE did = ?1",
        params![did, hash],
    )?;
    conn.execute(
        "DELETE FROM refresh_token WHERE account = (SELECT id FROM account WHERE did = ?1)",
        [did],
    )?;
    if let Some(a) = by_did(conn, did)? {
        end_oauth_grants(conn, a.id)?;
    }
    Ok(n)
}
