//! Spaces, their channels, and the audit log.

use super::{POST_COLS, PostRow, SPACE_COLS, SpaceRow};
use crate::model::{ChannelKind, JoinPolicy, Level, Role, SpaceResult, fmt_time};
use crate::views::{AuditEntryView, MemberView};
use rusqlite::{Connection, params};

/// A space about to be created by `created_by`, who becomes its owner.
pub struct NewSpace<'a> {
    pub skey: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub join_policy: JoinPolicy,
    pub listed: bool,
    pub join_question: Option<&'a str>,
    pub created_by: &'a str,
    pub now: i64,
}

/// Writes a space with its owner as its one member; returns its id.
pub fn insert_space(conn: &Connection, s: &NewSpace<'_>) -> SpaceResult<i64> {
    conn.prepare_cached(
        "INSERT INTO space (skey, name, description, join_policy, listed, join_question,
                            member_count, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8)",
    )?
    .execute(params![
        s.skey,
        s.name,
        s.description,
        s.join_policy.as_str(),
        s.listed,
        s.join_question,
        s.created_by,
        s.now
    ])?;
    let space = conn.last_insert_rowid();
    let acct = super::ensure_account(conn, s.created_by)?;
    conn.prepare_cached(
        "INSERT INTO member (space, did, acct, role, level, joined_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        space,
        s.created_by,
        acct,
        Role::Owner.as_i64(),
        Level::DEFAULT.as_i64(),
        s.now
    ])?;
    Ok(space)
}

/// What a space update sets (`None`: unchanged; an inner `None`: cleared).
#[derive(Default)]
pub struct SpaceChange {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub join_policy: Option<JoinPolicy>,
    pub listed: Option<bool>,
    pub join_question: Option<Option<String>>,
}

pub fn update_space(conn: &Connection, id: i64, c: &SpaceChange) -> SpaceResult<()> {
    if let Some(n) = &c.name {
        conn.prepare_cached("UPDATE space SET name = ?2 WHERE id = ?1")?
            .execute(params![id, n])?;
    }
    if let Some(d) = &c.description {
        conn.prepare_cached("UPDATE space SET description = ?2 WHERE id = ?1")?
            .execute(params![id, d])?;
    }
    if let Some(p) = c.join_policy {
        conn.prepare_cached("UPDATE space SET join_policy = ?2 WHERE id = ?1")?
            .execute(params![id, p.as_str()])?;
    }
    if let Some(l) = c.listed {
        conn.prepare_cached("UPDATE space SET listed = ?2 WHERE id = ?1")?
            .execute(params![id, l])?;
    }
    if let Some(q) = &c.join_question {
        conn.prepare_cached("UPDATE space SET join_question = ?2 WHERE id = ?1")?
            .execute(params![id, q])?;
    }
    Ok(())
}

/// Deletes a space and everything in it; returns the CIDs of the images it held.
pub fn delete_space(conn: &Connection, id: i64) -> SpaceResult<Vec<String>> {
    let cids: Vec<String> = {
        let mut stmt = conn.prepare_cached("SELECT cid FROM space_image WHERE space = ?1")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    conn.prepare_cached("DELETE FROM space WHERE id = ?1")?
        .execute([id])?;
    Ok(cids)
}

/// The spaces `did` belongs to, most recently joined first, before (`joined_at`, space id):
/// each with their role and join time.
pub fn spaces_of(
    conn: &Connection,
    did: &str,
    before: (i64, i64),
    limit: u32,
) -> SpaceResult<Vec<(Role, i64, SpaceRow)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.role, m.joined_at, {} FROM member m JOIN space s ON s.id = m.space
         WHERE m.did = ?1 AND (m.joined_at, m.space) < (?2, ?3)
         ORDER BY m.joined_at DESC, m.space DESC LIMIT ?4",
        SPACE_COLS
            .split(", ")
            .map(|c| format!("s.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let rows = stmt.query_map(params![did, before.0, before.1, limit], |r| {
        let role: i64 = r.get(0)?;
        let joined: i64 = r.get(1)?;
        let space = SpaceRow {
            id: r.get(2)?,
            skey: r.get(3)?,
            name: r.get(4)?,
            description: r.get(5)?,
            join_policy: r.get(6)?,
            listed: r.get(7)?,
            join_question: r.get(8)?,
            member_count: r.get(9)?,
            created_at: r.get(10)?,
        };
        Ok((Role::from_i64(role), joined, space))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A page of the space's audit log below id `before`, newest first; each with its id.
pub fn audit_log(
    conn: &Connection,
    space: i64,
    space_uri: &str,
    before: i64,
    limit: u32,
) -> SpaceResult<Vec<(i64, AuditEntryView)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, actor, action, subject, detail, created_at FROM audit
         WHERE space = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![space, before, limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            AuditEntryView {
                id: r.get::<_, i64>(0)?.to_string(),
                space: space_uri.to_owned(),
                actor: r.get(1)?,
                action: r.get(2)?,
                subject: r.get(3)?,
                detail: r.get(4)?,
                created_at: fmt_time(r.get(5)?),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every member of the space, in join order.
pub fn all_members(conn: &Connection, space: i64) -> SpaceResult<Vec<MemberView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT did, role, joined_at FROM member WHERE space = ?1 ORDER BY joined_at, did",
    )?;
    let rows = stmt.query_map([space], |r| {
        Ok(MemberView {
            profile: Default::default(),
            did: r.get(0)?,
            role: Some(Role::from_i64(r.get(1)?).as_str().into()),
            joined_at: Some(fmt_time(r.get(2)?)),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` posts of the space after id `after` in the channels a member with `role`
/// reads, oldest first.
pub fn posts_readable_by(
    conn: &Connection,
    space: i64,
    role: Role,
    after: i64,
    limit: i64,
) -> SpaceResult<Vec<PostRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {POST_COLS} FROM post WHERE space = ?1 AND id > ?3 AND channel IN
           (SELECT id FROM channel WHERE space = ?1 AND read_role <= ?2)
         ORDER BY id LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![space, role.as_i64(), after, limit],
        PostRow::from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` posts of `author` in the space after id `after`, in the channels a member
/// with `role` reads (their role now, not when they wrote), oldest first.
pub fn posts_by(
    conn: &Connection,
    space: i64,
    author: &str,
    role: Role,
    after: i64,
    limit: i64,
) -> SpaceResult<Vec<PostRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {POST_COLS} FROM post WHERE space = ?1 AND author = ?2 AND id > ?4 AND channel IN
           (SELECT id FROM channel WHERE space = ?1 AND read_role <= ?3)
         ORDER BY id LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![space, author, role.as_i64(), after, limit],
        PostRow::from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A channel about to be created.
pub struct NewChannel<'a> {
    pub space: i64,
    pub rkey: &'a str,
    pub author: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub kind: ChannelKind,
    pub read_role: Role,
    pub post_role: Role,
    pub email_announcements: bool,
    pub now: i64,
}

pub fn insert_channel(conn: &Connection, c: &NewChannel<'_>) -> SpaceResult<i64> {
    conn.prepare_cached(
        "INSERT INTO channel (space, rkey, author, name, description, kind, read_role, post_role,
                              email_announcements, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        c.space,
        c.rkey,
        c.author,
        c.name,
        c.description,
        c.kind.as_str(),
        c.read_role.as_i64(),
        c.post_role.as_i64(),
        c.email_announcements,
        c.now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Rewrites a channel's settings.
pub fn update_channel(
    conn: &Connection,
    id: i64,
    name: &str,
    description: Option<&str>,
    roles: (Role, Role),
    email_announcements: bool,
) -> SpaceResult<()> {
    conn.prepare_cached(
        "UPDATE channel SET name = ?2, description = ?3, read_role = ?4, post_role = ?5,
                            email_announcements = ?6 WHERE id = ?1",
    )?
    .execute(params![
        id,
        name,
        description,
        roles.0.as_i64(),
        roles.1.as_i64(),
        email_announcements
    ])?;
    Ok(())
}
