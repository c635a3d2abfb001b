//! The email codes (`email_token`, keyed hashes) and the outbox (`email_outbox`).

use super::Purpose;
use crate::db::DbError;
use rusqlite::{Connection, OptionalExtension, params};

/// Stores `account`'s code for `purpose`, replacing an earlier one.
pub fn put_code(
    conn: &Connection,
    account: i64,
    purpose: Purpose,
    hash: &[u8],
    requested_at: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO email_token (account, purpose, token_hash, requested_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![account, purpose.as_str(), hash, requested_at])?;
    Ok(())
}

/// `account`'s code for `purpose`: (hash, requested at).
pub fn code_of(
    conn: &Connection,
    account: i64,
    purpose: Purpose,
) -> Result<Option<(Vec<u8>, i64)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT token_hash, requested_at FROM email_token WHERE account = ?1 AND purpose = ?2",
        )?
        .query_row(params![account, purpose.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// The account holding the code with this hash for `purpose`: (account, requested at).
pub fn account_of_code(
    conn: &Connection,
    purpose: Purpose,
    hash: &[u8],
) -> Result<Option<(i64, i64)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT account, requested_at FROM email_token WHERE purpose = ?1 AND token_hash = ?2",
        )?
        .query_row(params![purpose.as_str(), hash], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

pub fn delete_code(conn: &Connection, account: i64, purpose: Purpose) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM email_token WHERE account = ?1 AND purpose = ?2")?
        .execute(params![account, purpose.as_str()])?;
    Ok(())
}

/// Queues a message, due at `now_ms`.
pub fn queue(conn: &Connection, e: &hearth_mail::Email, now_ms: i64) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO email_outbox (to_addr, subject, body, next_attempt_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![e.to, e.subject, e.text, now_ms])?;
    Ok(())
}

/// A queued message.
pub struct Queued {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// Messages due at `now_ms`, oldest first.
pub fn due(conn: &Connection, now_ms: i64, limit: i64) -> Result<Vec<Queued>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, to_addr, subject, body, attempts FROM email_outbox
             WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
        )?
        .query_map(params![now_ms, limit], |r| {
            Ok(Queued {
                id: r.get(0)?,
                to: r.get(1)?,
                subject: r.get(2)?,
                body: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Forgets a message (sent, or given up on).
pub fn drop_queued(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM email_outbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Counts a failed attempt and sets when to try again.
pub fn retry(conn: &Connection, id: i64, at_ms: i64) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, at_ms])?;
    Ok(())
}
