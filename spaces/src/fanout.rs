//! Notification fan-out: what the operations call after their store write, in the same
//! transaction, with only what each notification needs.
//!
//! Fan-out is one `INSERT ... SELECT` over the space's members inside the transaction of the
//! post itself, so a 2,000-member announcement is one statement, not 2,000 round trips; the
//! member's level (a channel override, else their space level) is compared in SQL. A post
//! notifies each recipient at most once (a unique index; mentions and replies go first).

use crate::model::*;
use crate::store::{ChannelRow, SpaceRow};
use crate::views::snippet;
use rusqlite::{Connection, params};

/// One post's fan-out, inside its transaction.
pub struct Fanout<'a> {
    pub conn: &'a Connection,
    pub space: i64,
    pub channel: &'a ChannelRow,
    pub post: i64,
    pub author: &'a str,
    pub subject: &'a str,
    pub now: i64,
}

/// Members who may read the channel, other than the author, whose effective level lets
/// `?min` through. `?9` is a recipient filter (NULL: all).
const FANOUT_SQL: &str = "
    INSERT OR IGNORE INTO notification (recipient, space, channel, post, reason, author, subject, created_at)
    SELECT m.acct, ?1, ?2, ?3, ?4, ?5, ?6, ?7
    FROM member m
    LEFT JOIN channel_level cl ON cl.channel = ?2 AND cl.did = m.did
    WHERE m.space = ?1 AND m.role >= ?8 AND m.did != ?5
      AND (?9 IS NULL OR m.did = ?9)
      AND coalesce(cl.level, m.level) >= ?10";

impl Fanout<'_> {
    /// Notifies one member (a mention, a reply) if their level allows `min`.
    pub fn one(&mut self, recipient: &str, reason: &str, min: Level) -> SpaceResult<usize> {
        self.run(Some(recipient), reason, min)
    }

    /// Notifies every member who may read the channel and whose level allows `min`.
    pub fn all(&mut self, reason: &str, min: Level) -> SpaceResult<usize> {
        self.run(None, reason, min)
    }

    fn run(&mut self, recipient: Option<&str>, reason: &str, min: Level) -> SpaceResult<usize> {
        Ok(self.conn.prepare_cached(FANOUT_SQL)?.execute(params![
            self.space,
            self.channel.id,
            self.post,
            reason,
            self.author,
            self.subject,
            self.now,
            self.channel.read_role.as_i64(),
            recipient,
            min.as_i64(),
        ])?)
    }
}

/// Notifies the space's admins (a join request), unless they muted the space.
pub fn admins(
    conn: &Connection,
    space: i64,
    author: &str,
    reason: &str,
    subject: &str,
    now: i64,
) -> SpaceResult<usize> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO notification (recipient, space, reason, author, subject, created_at)
             SELECT acct, ?1, ?2, ?3, ?4, ?5 FROM member
             WHERE space = ?1 AND role >= ?6 AND did != ?3 AND level >= ?7",
        )?
        .execute(params![
            space,
            reason,
            author,
            subject,
            now,
            Role::Admin.as_i64(),
            Level::AnnouncementsOnly.as_i64()
        ])?)
}

/// Notifies one member about themselves (approval, a role change) if their level is above
/// `above` (`Level::Muted` as `above`-1 means always: pass `Level::Muted` to reach even muted).
#[allow(clippy::too_many_arguments)]
pub fn direct(
    conn: &Connection,
    space: i64,
    recipient: &str,
    author: &str,
    reason: &str,
    subject: &str,
    min: Level,
    now: i64,
) -> SpaceResult<usize> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO notification (recipient, space, reason, author, subject, created_at)
             SELECT acct, ?1, ?3, ?4, ?5, ?6 FROM member WHERE space = ?1 AND did = ?2 AND level >= ?7",
        )?
        .execute(params![space, recipient, reason, author, subject, now, min.as_i64()])?)
}

/// Queues an announcement email for every member who reads the channel, set an address,
/// keeps announcement emails on and has not muted it. Same transaction as the post.
#[allow(clippy::too_many_arguments)]
pub fn queue_announcement_emails(
    conn: &Connection,
    public_url: &str,
    space: &SpaceRow,
    channel: &ChannelRow,
    author: &str,
    text: &str,
    now: i64,
) -> SpaceResult<usize> {
    let subject = format!(
        "[{}] {}",
        snippet(&space.name, 60),
        snippet(&channel.name, 40)
    );
    let body = format!(
        "A new announcement in {} ({}):\n\n{}\n\nOpen Hearth to read and reply: {}\n\n\
         You receive this because announcement emails are on in your Hearth notification settings.\n",
        space.name, channel.name, text, public_url
    );
    Ok(conn
        .prepare_cached(
            "INSERT INTO email_outbox (space, to_addr, subject, body, kind, next_attempt_at, created_at)
             SELECT ?1, st.email, ?2, ?3, 'announcement', ?4, ?4
             FROM member m
             JOIN settings st ON st.did = m.did
             LEFT JOIN channel_level cl ON cl.channel = ?5 AND cl.did = m.did
             WHERE m.space = ?1 AND m.role >= ?6 AND m.did != ?7
               AND st.email IS NOT NULL AND st.announcement_emails = 1
               AND coalesce(cl.level, m.level) >= 1",
        )?
        .execute(params![
            space.id,
            subject,
            body,
            now,
            channel.id,
            channel.read_role.as_i64(),
            author
        ])?)
}
