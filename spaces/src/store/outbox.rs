//! The email outbox: messages queued in the transaction that caused them, sent and retried by
//! the background sender.

use super::ChannelRow;
use crate::model::SpaceResult;
use rusqlite::{Connection, params};

/// A queued message.
pub struct Queued {
    pub id: i64,
    pub to: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
    pub unsubscribe_token: Option<String>,
}

/// Messages due at `now`, oldest first.
pub fn due_emails(conn: &Connection, now: i64, limit: i64) -> SpaceResult<Vec<Queued>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, to_addr, subject, body, attempts, unsubscribe_token FROM email_outbox
         WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| {
        Ok(Queued {
            id: r.get(0)?,
            to: r.get(1)?,
            subject: r.get(2)?,
            body: r.get(3)?,
            attempts: r.get(4)?,
            unsubscribe_token: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Messages in the outbox.
pub fn outbox_size(conn: &Connection) -> SpaceResult<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM email_outbox")?
        .query_row([], |r| r.get(0))?)
}

/// Forgets a message (sent, or given up on).
pub fn drop_email(conn: &Connection, id: i64) -> SpaceResult<()> {
    conn.prepare_cached("DELETE FROM email_outbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Counts a failed attempt and sets when to try again.
pub fn retry_email(conn: &Connection, id: i64, at: i64) -> SpaceResult<()> {
    conn.prepare_cached(
        "UPDATE email_outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, at])?;
    Ok(())
}

/// One message to one address (a digest, an address confirmation), due at `now`.
pub struct OneEmail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub kind: &'static str,
    pub unsubscribe_token: Option<&'a str>,
}

pub fn queue_email(conn: &Connection, e: &OneEmail<'_>, now: i64) -> SpaceResult<()> {
    conn.prepare_cached(
        "INSERT INTO email_outbox (to_addr, subject, body, kind, unsubscribe_token, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![e.to, e.subject, e.body, e.kind, e.unsubscribe_token, now])?;
    Ok(())
}

/// How many messages went to `to` since `since`. Addresses are counted case-blind, so that
/// `Victim@X.com` and `victim@x.com` share one cap.
pub fn sent_since(conn: &Connection, to: &str, since: i64) -> SpaceResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM email_sent WHERE to_addr = lower(?1) AND sent_at > ?2",
        )?
        .query_row(params![to, since], |r| r.get(0))?)
}

/// Records a message sent to `to`, and forgets sends older than `forget_before`.
pub fn record_sent(conn: &Connection, to: &str, at: i64, forget_before: i64) -> SpaceResult<()> {
    conn.prepare_cached("INSERT INTO email_sent (to_addr, sent_at) VALUES (lower(?1), ?2)")?
        .execute(params![to, at])?;
    conn.prepare_cached("DELETE FROM email_sent WHERE to_addr = lower(?1) AND sent_at <= ?2")?
        .execute(params![to, forget_before])?;
    Ok(())
}

/// How many announcement emails a new thread by `author` in `channel` would queue (the
/// recipients of [`queue_announcement`]).
pub fn count_announcement_emails(
    conn: &Connection,
    space: i64,
    channel: &ChannelRow,
    author: &str,
) -> SpaceResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM member m
             JOIN settings st ON st.did = m.did
             LEFT JOIN channel_level cl ON cl.channel = ?2 AND cl.did = m.did
             WHERE m.space = ?1 AND m.role >= ?3 AND m.did != ?4
               AND st.email IS NOT NULL AND st.email_verified = 1 AND st.announcement_emails = 1
               AND coalesce(cl.level, m.level) >= 1",
        )?
        .query_row(
            params![space, channel.id, channel.read_role.as_i64(), author],
            |r| r.get(0),
        )?)
}

/// Queues an announcement for every member of `space` other than `author` who reads the
/// channel, confirmed an address, keeps announcement emails on and has not muted it. Returns how
/// many were queued.
pub fn queue_announcement(
    conn: &Connection,
    space: i64,
    channel: &ChannelRow,
    author: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> SpaceResult<usize> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO email_outbox (space, to_addr, subject, body, kind, unsubscribe_token, next_attempt_at, created_at)
             SELECT ?1, st.email, ?2, ?3, 'announcement', st.unsubscribe_token, ?4, ?4
             FROM member m
             JOIN settings st ON st.did = m.did
             LEFT JOIN channel_level cl ON cl.channel = ?5 AND cl.did = m.did
             WHERE m.space = ?1 AND m.role >= ?6 AND m.did != ?7
               AND st.email IS NOT NULL AND st.email_verified = 1 AND st.announcement_emails = 1
               AND coalesce(cl.level, m.level) >= 1",
        )?
        .execute(params![
            space,
            subject,
            body,
            now,
            channel.id,
            channel.read_role.as_i64(),
            author
        ])?)
}
