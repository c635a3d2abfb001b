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
        return Ok(conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM account WHERE email = ?1"))?
            .query_row([id], from_row)
            .optional()?);
    }
    by_handle(conn, id)
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
