//! Notifications: written when a record that concerns someone else is indexed, removed with it.

use super::{IndexResult, Rec};
use rusqlite::{Connection, params};

/// Notifies `recipient` of `rec` (no self-notifications; the caller checks).
pub fn add(
    conn: &Connection,
    recipient: &str,
    rec: &Rec<'_>,
    reason: &str,
    subject: Option<&str>,
) -> IndexResult<()> {
    let recipient = rec.cache.actor_id(conn, recipient)?;
    conn.prepare_cached(
        "INSERT INTO notification (recipient, author, reason, reason_subject, uri, cid, sort_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![recipient, rec.author, reason, subject, rec.uri, rec.cid, rec.now()])?;
    Ok(())
}

/// Drops the notifications a record caused.
pub fn delete_for(conn: &Connection, uri: &str) -> IndexResult<()> {
    conn.prepare_cached("DELETE FROM notification WHERE uri = ?1")?
        .execute([uri])?;
    Ok(())
}
