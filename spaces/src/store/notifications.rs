//! Notifications, what has been seen, levels per space and channel, and email settings.
//!
//! Fan-out is one `INSERT ... SELECT` over the space's members, so a 2,000-member announcement
//! is one statement, not 2,000 round trips; the member's level (a channel override, else their
//! space level) is compared in SQL. A post notifies each recipient at most once (a unique
//! index). Reading the inbox joins back to the membership, the channel's read role and the
//! post's visibility, so a notification never outlives the right to see what it points at.

use super::ChannelRow;
use crate::model::{Level, Role, SpaceError, SpaceResult};
use rusqlite::{Connection, OptionalExtension, params};

/// A notification about to be written (to one member or many).
pub struct Notice<'a> {
    pub space: i64,
    pub reason: &'a str,
    pub author: &'a str,
    pub subject: &'a str,
    pub now: i64,
}

/// Members who may read the channel, other than the author, whose effective level lets
/// `?9` through.
const FANOUT_SQL: &str = "
    INSERT OR IGNORE INTO notification (recipient, space, channel, post, reason, author, subject, created_at)
    SELECT m.acct, ?1, ?2, ?3, ?4, ?5, ?6, ?7
    FROM member m
    LEFT JOIN channel_level cl ON cl.channel = ?2 AND cl.did = m.did
    WHERE m.space = ?1 AND m.role >= ?8 AND m.did != ?5
      AND coalesce(cl.level, m.level) >= ?9";

/// The same, for the DIDs in the JSON array `?10` only: one primary-key look-up per listed
/// DID, driven by the list, so a post's mentions never scan the membership.
pub const LISTED_FANOUT_SQL: &str = "
    INSERT OR IGNORE INTO notification (recipient, space, channel, post, reason, author, subject, created_at)
    SELECT m.acct, ?1, ?2, ?3, ?4, ?5, ?6, ?7
    FROM json_each(?10) j
    JOIN member m ON m.space = ?1 AND m.did = j.value
    LEFT JOIN channel_level cl ON cl.channel = ?2 AND cl.did = m.did
    WHERE m.role >= ?8 AND m.did != ?5
      AND coalesce(cl.level, m.level) >= ?9";

/// Notifies about a post the channel's readers (or only those of `recipients`, if given)
/// whose level is at least `min`, in one statement.
pub fn notify_readers(
    conn: &Connection,
    n: &Notice<'_>,
    channel: &ChannelRow,
    post: i64,
    recipients: Option<&[&str]>,
    min: Level,
) -> SpaceResult<usize> {
    let args = params![
        n.space,
        channel.id,
        post,
        n.reason,
        n.author,
        n.subject,
        n.now,
        channel.read_role.as_i64(),
        min.as_i64(),
    ];
    Ok(match recipients {
        None => conn.prepare_cached(FANOUT_SQL)?.execute(args)?,
        Some(dids) => {
            let list =
                serde_json::to_string(dids).map_err(|e| SpaceError::invalid(e.to_string()))?;
            let mut all = args.to_vec();
            all.push(&list);
            conn.prepare_cached(LISTED_FANOUT_SQL)?
                .execute(all.as_slice())?
        }
    })
}

/// How many members a new thread by `author` in `channel` would notify at `min` (the count of
/// [`FANOUT_SQL`]'s recipients, for the composer to say before posting).
pub fn count_readers(
    conn: &Connection,
    space: i64,
    channel: &ChannelRow,
    author: &str,
    min: Level,
) -> SpaceResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM member m
             LEFT JOIN channel_level cl ON cl.channel = ?2 AND cl.did = m.did
             WHERE m.space = ?1 AND m.role >= ?3 AND m.did != ?4
               AND coalesce(cl.level, m.level) >= ?5",
        )?
        .query_row(
            params![
                space,
                channel.id,
                channel.read_role.as_i64(),
                author,
                min.as_i64()
            ],
            |r| r.get(0),
        )?)
}

/// Notifies the members holding at least `role` (other than the author) whose space level is
/// at least `min`.
pub fn notify_role(
    conn: &Connection,
    n: &Notice<'_>,
    role: Role,
    min: Level,
) -> SpaceResult<usize> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO notification (recipient, space, reason, author, subject, created_at)
             SELECT acct, ?1, ?2, ?3, ?4, ?5 FROM member
             WHERE space = ?1 AND role >= ?6 AND did != ?3 AND level >= ?7",
        )?
        .execute(params![
            n.space,
            n.reason,
            n.author,
            n.subject,
            n.now,
            role.as_i64(),
            min.as_i64()
        ])?)
}

/// Notifies one member if their space level is at least `min`.
pub fn notify_member(
    conn: &Connection,
    n: &Notice<'_>,
    recipient: &str,
    min: Level,
) -> SpaceResult<usize> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO notification (recipient, space, reason, author, subject, created_at)
             SELECT acct, ?1, ?3, ?4, ?5, ?6 FROM member WHERE space = ?1 AND did = ?2 AND level >= ?7",
        )?
        .execute(params![
            n.space,
            recipient,
            n.reason,
            n.author,
            n.subject,
            n.now,
            min.as_i64()
        ])?)
}

/// The visibility rules of the inbox, shared by the list, the counts and digests: still a
/// member, may read the channel, the post still exists and is not hidden (except from
/// moderators).
const VISIBLE: &str = "
    FROM notification n
    JOIN member m ON m.space = n.space AND m.did = ?1
    JOIN space s ON s.id = n.space
    LEFT JOIN channel c ON c.id = n.channel
    LEFT JOIN post p ON p.id = n.post
    LEFT JOIN post r ON r.id = p.root
    WHERE n.recipient = (SELECT id FROM account WHERE did = ?1)
      AND (n.channel IS NULL OR m.role >= c.read_role)
      AND (n.post IS NULL OR (p.id IS NOT NULL
           AND ((p.hidden = 0 AND coalesce(r.hidden, 0) = 0) OR m.role >= 2)))";

/// Until when `did` has seen their notifications (unix ms; 0 if never).
pub fn seen_at(conn: &Connection, did: &str) -> SpaceResult<i64> {
    Ok(conn
        .prepare_cached("SELECT seen_at FROM seen WHERE did = ?1")?
        .query_row([did], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Marks `did`'s notifications in one space read up to `at` (unix ms).
pub fn set_space_seen(conn: &Connection, space: i64, did: &str, at: i64) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE member SET seen_at = ?3 WHERE space = ?1 AND did = ?2")?
        .execute(params![space, did, at])?;
    Ok(())
}

pub fn set_seen(conn: &Connection, did: &str, at: i64) -> SpaceResult<()> {
    conn.prepare_cached(
        "INSERT INTO seen (did, seen_at) VALUES (?1, ?2)
         ON CONFLICT (did) DO UPDATE SET seen_at = excluded.seen_at",
    )?
    .execute(params![did, at])?;
    Ok(())
}

/// Unread notifications of `did` in one space.
pub fn unread_in_space(conn: &Connection, did: &str, space: i64) -> SpaceResult<i64> {
    let seen = seen_at(conn, did)?;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT count(*) {VISIBLE} AND n.space = ?2 AND n.created_at > max(?3, m.seen_at)
               AND n.read_at IS NULL"
        ))?
        .query_row(params![did, space, seen], |r| r.get(0))?)
}

/// Visible notifications of `did` created after `seen`, counted per space (skey), in all
/// spaces or in `space`.
pub fn unread_by_space(
    conn: &Connection,
    did: &str,
    seen: i64,
    space: Option<i64>,
) -> SpaceResult<Vec<(String, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT s.skey, count(*) {VISIBLE} AND n.created_at > max(?2, m.seen_at)
           AND n.read_at IS NULL AND (?3 IS NULL OR n.space = ?3)
         GROUP BY n.space ORDER BY n.space"
    ))?;
    let rows = stmt.query_map(params![did, seen, space], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One visible notification, with what its view needs.
pub struct InboxRow {
    pub id: i64,
    pub skey: String,
    pub space_name: String,
    /// The channel's author and rkey.
    pub channel: Option<(String, String)>,
    pub reason: String,
    pub author: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub created_at: i64,
    pub space_id: i64,
    /// Until when the member marked this space read (unix ms).
    pub space_seen: i64,
    /// Read on its own (its thread was opened).
    pub read: bool,
}

/// Visible notifications of `did`, newest first: ids below `before`, created after
/// `after_time`, in all spaces or in `space`.
pub fn inbox(
    conn: &Connection,
    did: &str,
    space: Option<i64>,
    before: i64,
    after_time: i64,
    limit: i64,
) -> SpaceResult<Vec<InboxRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT n.id, s.skey, s.name, c.author, c.rkey, n.reason, n.author, n.subject, p.text,
                n.created_at, n.space, m.seen_at, n.read_at IS NOT NULL
         {VISIBLE} AND n.id < ?2 AND (?3 IS NULL OR n.space = ?3) AND n.created_at > ?4
         ORDER BY n.id DESC LIMIT ?5"
    ))?;
    let rows = stmt.query_map(params![did, before, space, after_time, limit], |r| {
        let c_author: Option<String> = r.get(3)?;
        let c_rkey: Option<String> = r.get(4)?;
        Ok(InboxRow {
            id: r.get(0)?,
            skey: r.get(1)?,
            space_name: r.get(2)?,
            channel: c_author.zip(c_rkey),
            reason: r.get(5)?,
            author: r.get(6)?,
            subject: r.get(7)?,
            text: r.get(8)?,
            created_at: r.get(9)?,
            space_id: r.get(10)?,
            space_seen: r.get(11)?,
            read: r.get(12)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether `did` has a notification not yet read about the thread whose root post is `root`.
pub fn thread_has_unread(conn: &Connection, did: &str, root: i64) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM notification n JOIN post p ON p.id = n.post
               WHERE n.recipient = (SELECT id FROM account WHERE did = ?1)
                 AND n.read_at IS NULL AND (p.id = ?2 OR p.root = ?2))",
        )?
        .query_row(params![did, root], |r| r.get(0))?)
}

/// Marks read every notification of `did` about the thread whose root post is `root`.
pub fn mark_thread_read(conn: &Connection, did: &str, root: i64, at: i64) -> SpaceResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE notification SET read_at = ?3
             WHERE recipient = (SELECT id FROM account WHERE did = ?1) AND read_at IS NULL
               AND post IN (SELECT id FROM post WHERE id = ?2 OR root = ?2)",
        )?
        .execute(params![did, root, at])?)
}

/// Sets a member's level for one channel.
pub fn set_channel_level(
    conn: &Connection,
    channel: i64,
    did: &str,
    level: Level,
) -> SpaceResult<()> {
    conn.prepare_cached(
        "INSERT INTO channel_level (channel, did, level) VALUES (?1, ?2, ?3)
         ON CONFLICT (channel, did) DO UPDATE SET level = excluded.level",
    )?
    .execute(params![channel, did, level.as_i64()])?;
    Ok(())
}

/// Sets a member's level for the whole space.
pub fn set_member_level(conn: &Connection, space: i64, did: &str, level: Level) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE member SET level = ?3 WHERE space = ?1 AND did = ?2")?
        .execute(params![space, did, level.as_i64()])?;
    Ok(())
}

/// `did`'s level in each of their spaces (skey, level), in the order they joined.
pub fn space_levels(conn: &Connection, did: &str) -> SpaceResult<Vec<(String, Level)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.skey, m.level FROM member m JOIN space s ON s.id = m.space
         WHERE m.did = ?1 ORDER BY m.joined_at",
    )?;
    let rows = stmt.query_map([did], |r| Ok((r.get(0)?, Level::from_i64(r.get(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A channel override: the space's skey, the channel's author and rkey, and the level.
pub struct ChannelLevel {
    pub skey: String,
    pub author: String,
    pub rkey: String,
    pub level: Level,
}

/// `did`'s channel overrides, only where they are (still) a member who reads the channel.
pub fn channel_levels(conn: &Connection, did: &str) -> SpaceResult<Vec<ChannelLevel>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.skey, c.author, c.rkey, cl.level FROM channel_level cl
         JOIN channel c ON c.id = cl.channel
         JOIN space s ON s.id = c.space
         JOIN member m ON m.space = c.space AND m.did = cl.did
         WHERE cl.did = ?1 AND m.role >= c.read_role ORDER BY c.id",
    )?;
    let rows = stmt.query_map([did], |r| {
        Ok(ChannelLevel {
            skey: r.get(0)?,
            author: r.get(1)?,
            rkey: r.get(2)?,
            level: Level::from_i64(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Email settings as stored: the address, the digest period, announcement emails on.
/// An account's email settings as stored.
pub struct EmailSettings {
    pub email: Option<String>,
    pub verified: bool,
    pub digest: String,
    pub announcement_emails: bool,
}

pub fn email_settings(conn: &Connection, did: &str) -> SpaceResult<Option<EmailSettings>> {
    Ok(conn
        .prepare_cached(
            "SELECT email, email_verified, digest, announcement_emails FROM settings WHERE did = ?1",
        )?
        .query_row([did], |r| {
            Ok(EmailSettings {
                email: r.get(0)?,
                verified: r.get(1)?,
                digest: r.get(2)?,
                announcement_emails: r.get(3)?,
            })
        })
        .optional()?)
}

/// The account's unsubscribe token, made (from `fresh`) the first time it is asked for.
/// Whether a confirmation of `email` for `did` that expires after `expires_after` is pending
/// (one sent recently).
pub fn confirmation_pending(
    conn: &Connection,
    did: &str,
    email: &str,
    expires_after: i64,
) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM email_confirmation
                            WHERE did = ?1 AND email = ?2 AND expires_at > ?3)",
        )?
        .query_row(params![did, email, expires_after], |r| r.get(0))?)
}

pub fn unsubscribe_token(conn: &Connection, did: &str, fresh: &str) -> SpaceResult<String> {
    conn.prepare_cached("INSERT OR IGNORE INTO settings (did) VALUES (?1)")?
        .execute([did])?;
    conn.prepare_cached(
        "UPDATE settings SET unsubscribe_token = ?2 WHERE did = ?1 AND unsubscribe_token IS NULL",
    )?
    .execute(params![did, fresh])?;
    Ok(conn
        .prepare_cached("SELECT unsubscribe_token FROM settings WHERE did = ?1")?
        .query_row([did], |r| r.get(0))?)
}

/// Records a pending confirmation of `email` for `did`, replacing any earlier one.
pub fn insert_confirmation(
    conn: &Connection,
    did: &str,
    email: &str,
    hash: &[u8],
    expires_at: i64,
) -> SpaceResult<()> {
    conn.prepare_cached("DELETE FROM email_confirmation WHERE did = ?1")?
        .execute([did])?;
    conn.prepare_cached(
        "INSERT INTO email_confirmation (token_hash, did, email, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![hash, did, email, expires_at])?;
    Ok(())
}

/// Uses up a confirmation: deletes it and, if it has not expired and its address is still the
/// account's, marks the address confirmed. True if an address was confirmed.
pub fn confirm_email(conn: &Connection, hash: &[u8], now: i64) -> SpaceResult<bool> {
    let row: Option<(String, String, i64)> = conn
        .prepare_cached(
            "DELETE FROM email_confirmation WHERE token_hash = ?1 RETURNING did, email, expires_at",
        )?
        .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((did, email, expires_at)) = row else {
        return Ok(false);
    };
    if expires_at <= now {
        return Ok(false);
    }
    Ok(conn
        .prepare_cached("UPDATE settings SET email_verified = 1 WHERE did = ?1 AND email = ?2")?
        .execute(params![did, email])?
        == 1)
}

/// Turns every email of the account holding `token` off. True if there is one.
pub fn unsubscribe(conn: &Connection, token: &str) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE settings SET announcement_emails = 0, digest = 'off'
             WHERE unsubscribe_token = ?1",
        )?
        .execute([token])?
        == 1)
}

/// What a settings change sets (`None`: unchanged).
pub struct SettingsChange {
    pub email: Option<Option<String>>,
    pub digest: Option<&'static str>,
    pub announcement_emails: Option<bool>,
}

/// Applies a settings change; turning a digest on starts its first period at `now`.
pub fn change_settings(
    conn: &Connection,
    did: &str,
    change: SettingsChange,
    now: i64,
) -> SpaceResult<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO settings (did) VALUES (?1)")?
        .execute([did])?;
    if let Some(e) = change.email {
        // A new address is unconfirmed, and gets a new unsubscribe token (whoever held the
        // old address keeps no switch over this account's email); setting the same one again
        // changes nothing.
        conn.prepare_cached(
            "UPDATE settings SET email = ?2, email_verified = 0, unsubscribe_token = NULL
             WHERE did = ?1 AND email IS NOT ?2",
        )?
        .execute(params![did, e])?;
    }
    if let Some(d) = change.digest {
        conn.prepare_cached(
            "UPDATE settings SET last_digest_at = CASE WHEN digest = 'off' THEN ?3 ELSE last_digest_at END,
                                 digest = ?2 WHERE did = ?1",
        )?
        .execute(params![did, d, now])?;
    }
    if let Some(a) = change.announcement_emails {
        conn.prepare_cached("UPDATE settings SET announcement_emails = ?2 WHERE did = ?1")?
            .execute(params![did, a])?;
    }
    Ok(())
}

/// An account due a digest, if its period has passed.
pub struct DigestSubscriber {
    pub did: String,
    pub email: String,
    pub digest: String,
    pub last: i64,
    pub unsubscribe_token: Option<String>,
}

/// Accounts with a digest on and a confirmed address.
pub fn digest_subscribers(conn: &Connection) -> SpaceResult<Vec<DigestSubscriber>> {
    let mut stmt = conn.prepare_cached(
        "SELECT did, email, digest, coalesce(last_digest_at, 0), unsubscribe_token FROM settings
         WHERE digest != 'off' AND email IS NOT NULL AND email_verified = 1",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(DigestSubscriber {
            did: r.get(0)?,
            email: r.get(1)?,
            digest: r.get(2)?,
            last: r.get(3)?,
            unsubscribe_token: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_last_digest(conn: &Connection, did: &str, at: i64) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE settings SET last_digest_at = ?2 WHERE did = ?1")?
        .execute(params![did, at])?;
    Ok(())
}
