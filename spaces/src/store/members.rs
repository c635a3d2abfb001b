//! Members, bans, invites and join requests.

use crate::model::{Level, Role, SpaceResult, fmt_time};
use crate::views::{InviteView, MemberView};
use rusqlite::{Connection, OptionalExtension, params};

fn invite_view(r: &rusqlite::Row<'_>, space_uri: &str) -> rusqlite::Result<InviteView> {
    Ok(InviteView {
        id: r.get::<_, i64>(0)?.to_string(),
        space: space_uri.to_owned(),
        role: Role::from_i64(r.get(1)?).as_str().into(),
        max_uses: r.get(2)?,
        uses: r.get(3)?,
        expires_at: r.get::<_, Option<i64>>(4)?.map(fmt_time),
        created_by: r.get(5)?,
        created_at: fmt_time(r.get(6)?),
        revoked: r.get(7)?,
        invitee: r.get(8)?,
    })
}

const INVITE_COLS: &str =
    "id, role, max_uses, uses, expires_at, created_by, created_at, revoked, invitee";

/// One invite's view.
pub fn invite(conn: &Connection, id: i64, space_uri: &str) -> SpaceResult<InviteView> {
    Ok(conn
        .prepare_cached(&format!("SELECT {INVITE_COLS} FROM invite WHERE id = ?1"))?
        .query_row([id], |r| invite_view(r, space_uri))?)
}

/// A space's newest invites (at most 500).
pub fn invites(conn: &Connection, space: i64, space_uri: &str) -> SpaceResult<Vec<InviteView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INVITE_COLS} FROM invite WHERE space = ?1 ORDER BY id DESC LIMIT 500"
    ))?;
    let rows = stmt.query_map([space], |r| invite_view(r, space_uri))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An invite about to be created; only the token's hash is kept.
pub struct NewInvite<'a> {
    pub space: i64,
    pub token_hash: &'a [u8],
    pub role: Role,
    pub max_uses: Option<i64>,
    pub expires_at: Option<i64>,
    pub created_by: &'a str,
    /// The one account that may accept it, if any.
    pub invitee: Option<&'a str>,
    pub now: i64,
}

pub fn insert_invite(conn: &Connection, i: &NewInvite<'_>) -> SpaceResult<i64> {
    conn.prepare_cached(
        "INSERT INTO invite (space, token_hash, role, max_uses, expires_at, created_by, created_at,
                             invitee)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        i.space,
        i.token_hash,
        i.role.as_i64(),
        i.max_uses,
        i.expires_at,
        i.created_by,
        i.now,
        i.invitee
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Revokes an invite of the space; false if it has none with that id.
pub fn revoke_invite(conn: &Connection, id: i64, space: i64) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached("UPDATE invite SET revoked = 1 WHERE id = ?1 AND space = ?2")?
        .execute(params![id, space])?
        > 0)
}

/// An invite as looked up by its token.
pub struct InviteRow {
    pub id: i64,
    pub space: i64,
    pub role: Role,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    pub created_by: String,
    pub invitee: Option<String>,
}

pub fn invite_by_hash(conn: &Connection, hash: &[u8]) -> SpaceResult<Option<InviteRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, space, role, max_uses, uses, expires_at, revoked, created_by, invitee
             FROM invite WHERE token_hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok(InviteRow {
                id: r.get(0)?,
                space: r.get(1)?,
                role: Role::from_i64(r.get(2)?),
                max_uses: r.get(3)?,
                uses: r.get(4)?,
                expires_at: r.get(5)?,
                revoked: r.get(6)?,
                created_by: r.get(7)?,
                invitee: r.get(8)?,
            })
        })
        .optional()?)
}

/// Counts one use of an invite.
pub fn use_invite(conn: &Connection, id: i64) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE invite SET uses = uses + 1 WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The pending join request of `did`, if any.
pub fn pending_request(conn: &Connection, space: i64, did: &str) -> SpaceResult<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM join_request WHERE space = ?1 AND did = ?2 AND status = 'pending'",
        )?
        .query_row(params![space, did], |r| r.get(0))
        .optional()?)
}

/// The newest join request of `did` to the space, whatever its status.
pub fn newest_request(conn: &Connection, space: i64, did: &str) -> SpaceResult<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM join_request WHERE space = ?1 AND did = ?2 ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![space, did], |r| r.get(0))
        .optional()?)
}

/// Withdraws the pending request of `did`; false if none was pending.
pub fn cancel_request(conn: &Connection, space: i64, did: &str) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM join_request WHERE space = ?1 AND did = ?2 AND status = 'pending'",
        )?
        .execute(params![space, did])?
        == 1)
}

/// A join request as stored.
pub struct JoinRequestRow {
    pub did: String,
    pub answer: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// A join request of the space.
pub fn join_request(conn: &Connection, id: i64, space: i64) -> SpaceResult<Option<JoinRequestRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT did, answer, status, created_at, decided_by, decided_at
             FROM join_request WHERE id = ?1 AND space = ?2",
        )?
        .query_row(params![id, space], |r| {
            Ok(JoinRequestRow {
                did: r.get(0)?,
                answer: r.get(1)?,
                status: r.get(2)?,
                created_at: r.get(3)?,
                decided_by: r.get(4)?,
                decided_at: r.get(5)?,
            })
        })
        .optional()?)
}

/// Files a pending join request; returns its id.
pub fn insert_join_request(
    conn: &Connection,
    space: i64,
    did: &str,
    answer: Option<String>,
    now: i64,
) -> SpaceResult<i64> {
    conn.prepare_cached(
        "INSERT INTO join_request (space, did, answer, status, created_at)
         VALUES (?1, ?2, ?3, 'pending', ?4)",
    )?
    .execute(params![space, did, answer, now])?;
    Ok(conn.last_insert_rowid())
}

/// The ids of a space's join requests in `status`, newest first (at most 500).
pub fn join_request_ids(conn: &Connection, space: i64, status: &str) -> SpaceResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM join_request WHERE space = ?1 AND status = ?2 ORDER BY id DESC LIMIT 500",
    )?;
    let rows = stmt.query_map(params![space, status], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records the decision on a join request.
pub fn decide_join_request(
    conn: &Connection,
    id: i64,
    status: &str,
    by: &str,
    now: i64,
) -> SpaceResult<()> {
    conn.prepare_cached(
        "UPDATE join_request SET status = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id, status, by, now])?;
    Ok(())
}

/// Adds a member (who is not one) and keeps the count; drops any pending request of theirs.
pub fn add_member(
    conn: &Connection,
    space: i64,
    did: &str,
    role: Role,
    now: i64,
) -> SpaceResult<()> {
    let acct = super::ensure_account(conn, did)?;
    conn.prepare_cached(
        "INSERT INTO member (space, did, acct, role, level, joined_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        space,
        did,
        acct,
        role.as_i64(),
        Level::DEFAULT.as_i64(),
        now
    ])?;
    conn.prepare_cached("UPDATE space SET member_count = member_count + 1 WHERE id = ?1")?
        .execute([space])?;
    conn.prepare_cached(
        "UPDATE join_request SET status = 'approved', decided_at = ?3
         WHERE space = ?1 AND did = ?2 AND status = 'pending'",
    )?
    .execute(params![space, did, now])?;
    Ok(())
}

/// Takes someone out of a space: the membership, their channel levels, and every
/// notification of theirs from it (which carry snippets of its text) go at once.
pub fn drop_member(conn: &Connection, space: i64, did: &str) -> SpaceResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM member WHERE space = ?1 AND did = ?2")?
        .execute(params![space, did])?;
    if n == 0 {
        return Ok(false);
    }
    conn.prepare_cached("UPDATE space SET member_count = member_count - 1 WHERE id = ?1")?
        .execute([space])?;
    conn.prepare_cached(
        "DELETE FROM channel_level WHERE did = ?2 AND channel IN (SELECT id FROM channel WHERE space = ?1)",
    )?
    .execute(params![space, did])?;
    conn.prepare_cached(
        "DELETE FROM notification
         WHERE recipient = (SELECT id FROM account WHERE did = ?2) AND space = ?1",
    )?
    .execute(params![space, did])?;
    Ok(true)
}

/// A page of members in join order, after (`joined_at`, `did`); each with its join time.
pub fn members_after(
    conn: &Connection,
    space: i64,
    after: (i64, &str),
    limit: u32,
) -> SpaceResult<Vec<(i64, MemberView)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT did, role, joined_at FROM member
         WHERE space = ?1 AND (joined_at, did) > (?2, ?3)
         ORDER BY joined_at, did LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![space, after.0, after.1, limit], |r| {
        Ok((
            r.get::<_, i64>(2)?,
            MemberView {
                profile: Default::default(),
                did: r.get(0)?,
                role: Some(Role::from_i64(r.get(1)?).as_str().into()),
                joined_at: Some(fmt_time(r.get(2)?)),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_role(conn: &Connection, space: i64, did: &str, role: Role) -> SpaceResult<()> {
    conn.prepare_cached("UPDATE member SET role = ?3 WHERE space = ?1 AND did = ?2")?
        .execute(params![space, did, role.as_i64()])?;
    Ok(())
}

/// Bans `did` from the space (the reason is kept) and rejects their pending request.
pub fn ban(
    conn: &Connection,
    space: i64,
    did: &str,
    reason: Option<&str>,
    by: &str,
    now: i64,
) -> SpaceResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO ban (space, did, reason, banned_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![space, did, reason, by, now])?;
    conn.prepare_cached(
        "UPDATE join_request SET status = 'rejected', decided_by = ?3, decided_at = ?4
         WHERE space = ?1 AND did = ?2 AND status = 'pending'",
    )?
    .execute(params![space, did, by, now])?;
    Ok(())
}

/// Lifts a ban; false if there was none.
pub fn unban(conn: &Connection, space: i64, did: &str) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM ban WHERE space = ?1 AND did = ?2")?
        .execute(params![space, did])?
        == 1)
}

/// A ban, as listed to admins.
pub struct BanRow {
    pub did: String,
    pub reason: Option<String>,
    pub banned_by: String,
    pub created_at: i64,
}

/// Up to `limit` bans of the space, newest first, before (`created_at`, `did`).
pub fn bans(
    conn: &Connection,
    space: i64,
    before: (i64, &str),
    limit: i64,
) -> SpaceResult<Vec<BanRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT did, reason, banned_by, created_at FROM ban
         WHERE space = ?1 AND (created_at, did) < (?2, ?3)
         ORDER BY created_at DESC, did DESC LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![space, before.0, before.1, limit], |r| {
        Ok(BanRow {
            did: r.get(0)?,
            reason: r.get(1)?,
            banned_by: r.get(2)?,
            created_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
