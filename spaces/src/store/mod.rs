//! The spaces database (`spaces.sqlite`, kept apart from the public index): its schema, its
//! rows, and every statement run on it, by table group. Every query is a cached prepared
//! statement served by an index (schema_v1.sql names which). [`ViewCtx`] builds the views of
//! one space's rows for one viewer.

use crate::model::{ChannelKind, JoinPolicy, Level, Role, SpaceResult, fmt_time};
use crate::uri::{Collection, SpaceUri};
use crate::views::*;
use hearth_db::{Db, DbError};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;
use std::path::Path;

mod members;
mod notifications;
mod outbox;
mod posts;
mod reports;
mod spaces;

pub use members::*;
pub use notifications::*;
pub use outbox::*;
pub use posts::*;
pub use reports::*;
pub use spaces::*;

const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
    include_str!("schema_v6.sql"),
    include_str!("schema_v7.sql"),
    include_str!("schema_v8.sql"),
    include_str!("schema_v9.sql"),
];

/// Opens (creating and migrating) the spaces database.
pub fn open(path: &Path) -> Result<Db<()>, DbError> {
    // The writer checkpoints by itself only past 32 MB of WAL; the background checkpointer
    // normally keeps the WAL far below that (hearth_db::spawn_checkpointer).
    Db::open(path, MIGRATIONS, 8, |conn| {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 8000")?;
        Ok(())
    })
}

#[derive(Debug, Clone)]
pub struct SpaceRow {
    pub id: i64,
    pub skey: String,
    pub name: String,
    pub description: Option<String>,
    pub join_policy: String,
    pub listed: bool,
    pub join_question: Option<String>,
    pub member_count: i64,
    pub created_at: i64,
}

pub const SPACE_COLS: &str =
    "id, skey, name, description, join_policy, listed, join_question, member_count, created_at";

impl SpaceRow {
    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<SpaceRow> {
        Ok(SpaceRow {
            id: r.get(0)?,
            skey: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            join_policy: r.get(4)?,
            listed: r.get(5)?,
            join_question: r.get(6)?,
            member_count: r.get(7)?,
            created_at: r.get(8)?,
        })
    }

    pub fn policy(&self) -> JoinPolicy {
        JoinPolicy::parse(&self.join_policy).unwrap_or(JoinPolicy::Invite)
    }
}

#[derive(Debug, Clone)]
pub struct ChannelRow {
    pub id: i64,
    pub space: i64,
    pub rkey: String,
    pub author: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: ChannelKind,
    pub read_role: Role,
    pub post_role: Role,
    pub email_announcements: bool,
    pub created_at: i64,
}

pub const CHANNEL_COLS: &str = "id, space, rkey, author, name, description, kind, read_role, \
                                post_role, email_announcements, created_at";

impl ChannelRow {
    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<ChannelRow> {
        let kind: String = r.get(6)?;
        Ok(ChannelRow {
            id: r.get(0)?,
            space: r.get(1)?,
            rkey: r.get(2)?,
            author: r.get(3)?,
            name: r.get(4)?,
            description: r.get(5)?,
            kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Restricted),
            read_role: Role::from_i64(r.get(7)?),
            post_role: Role::from_i64(r.get(8)?),
            email_announcements: r.get(9)?,
            created_at: r.get(10)?,
        })
    }

    pub fn can_read(&self, role: Role) -> bool {
        role >= self.read_role
    }

    /// Posting (a thread or a reply) needs the post role, and reading.
    pub fn can_post(&self, role: Role) -> bool {
        role >= self.post_role && role >= self.read_role
    }
}

#[derive(Debug, Clone)]
pub struct PostRow {
    pub id: i64,
    pub space: i64,
    pub channel: i64,
    pub author: String,
    pub rkey: String,
    pub root: Option<i64>,
    pub root_uri: Option<String>,
    pub parent_uri: Option<String>,
    pub parent: Option<i64>,
    pub text: String,
    pub facets: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub pinned: bool,
    pub hidden: bool,
    pub accepted_answer: Option<i64>,
    pub reply_count: i64,
}

pub const POST_COLS: &str = "id, space, channel, author, rkey, root, root_uri, parent_uri, \
                             parent, text, facets, created_at, edited_at, pinned, hidden, \
                             accepted_answer, reply_count";

impl PostRow {
    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<PostRow> {
        Ok(PostRow {
            id: r.get(0)?,
            space: r.get(1)?,
            channel: r.get(2)?,
            author: r.get(3)?,
            rkey: r.get(4)?,
            root: r.get(5)?,
            root_uri: r.get(6)?,
            parent_uri: r.get(7)?,
            parent: r.get(8)?,
            text: r.get(9)?,
            facets: r.get(10)?,
            created_at: r.get(11)?,
            edited_at: r.get(12)?,
            pinned: r.get(13)?,
            hidden: r.get(14)?,
            accepted_answer: r.get(15)?,
            reply_count: r.get(16)?,
        })
    }
}

pub fn space_by_skey(conn: &Connection, skey: &str) -> SpaceResult<Option<SpaceRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {SPACE_COLS} FROM space WHERE skey = ?1"))?
        .query_row([skey], SpaceRow::from_row)
        .optional()?)
}

pub fn space_by_id(conn: &Connection, id: i64) -> SpaceResult<Option<SpaceRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {SPACE_COLS} FROM space WHERE id = ?1"))?
        .query_row([id], SpaceRow::from_row)
        .optional()?)
}

/// A current member's role and join time.
pub fn membership(conn: &Connection, space: i64, did: &str) -> SpaceResult<Option<(Role, i64)>> {
    Ok(conn
        .prepare_cached("SELECT role, joined_at FROM member WHERE space = ?1 AND did = ?2")?
        .query_row(params![space, did], |r| {
            Ok((Role::from_i64(r.get(0)?), r.get(1)?))
        })
        .optional()?)
}

pub fn is_banned(conn: &Connection, space: i64, did: &str) -> SpaceResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM ban WHERE space = ?1 AND did = ?2")?
        .query_row(params![space, did], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn channel_by_rkey(
    conn: &Connection,
    space: i64,
    rkey: &str,
) -> SpaceResult<Option<ChannelRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CHANNEL_COLS} FROM channel WHERE space = ?1 AND rkey = ?2"
        ))?
        .query_row(params![space, rkey], ChannelRow::from_row)
        .optional()?)
}

pub fn channel_by_id(conn: &Connection, id: i64) -> SpaceResult<Option<ChannelRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {CHANNEL_COLS} FROM channel WHERE id = ?1"))?
        .query_row([id], ChannelRow::from_row)
        .optional()?)
}

pub fn channels(conn: &Connection, space: i64) -> SpaceResult<Vec<ChannelRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CHANNEL_COLS} FROM channel WHERE space = ?1 ORDER BY id"
    ))?;
    let rows = stmt.query_map([space], ChannelRow::from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn post_by_rkey(conn: &Connection, space: i64, rkey: &str) -> SpaceResult<Option<PostRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {POST_COLS} FROM post WHERE space = ?1 AND rkey = ?2"
        ))?
        .query_row(params![space, rkey], PostRow::from_row)
        .optional()?)
}

pub fn post_by_id(conn: &Connection, id: i64) -> SpaceResult<Option<PostRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {POST_COLS} FROM post WHERE id = ?1"))?
        .query_row([id], PostRow::from_row)
        .optional()?)
}

/// The account id of a DID (created on first use).
pub fn ensure_account(conn: &Connection, did: &str) -> SpaceResult<i64> {
    conn.prepare_cached("INSERT OR IGNORE INTO account (did) VALUES (?1)")?
        .execute([did])?;
    Ok(conn
        .prepare_cached("SELECT id FROM account WHERE did = ?1")?
        .query_row([did], |r| r.get(0))?)
}

/// Appends to the space's audit log.
pub fn audit(
    conn: &Connection,
    space: i64,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    detail: Option<&str>,
    now: i64,
) -> SpaceResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit (space, actor, action, subject, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![space, actor, action, subject, detail, now])?;
    Ok(())
}

/// The space's effective notification level for a member, and the channel override if any.
pub fn member_level(conn: &Connection, space: i64, did: &str) -> SpaceResult<Option<Level>> {
    Ok(conn
        .prepare_cached("SELECT level FROM member WHERE space = ?1 AND did = ?2")?
        .query_row(params![space, did], |r| Ok(Level::from_i64(r.get(0)?)))
        .optional()?)
}

/// Builds views for one space; caches member lookups across the posts of a page.
pub struct ViewCtx<'a> {
    pub conn: &'a Connection,
    pub authority: &'a str,
    pub public_url: &'a str,
    pub space: &'a SpaceRow,
    /// The viewer and their role (None for views built for email or export of one's own).
    pub viewer: &'a str,
    pub role: Role,
    members: HashMap<String, MemberView>,
    channels: HashMap<i64, ChannelRow>,
}

impl<'a> ViewCtx<'a> {
    pub fn new(
        conn: &'a Connection,
        authority: &'a str,
        public_url: &'a str,
        space: &'a SpaceRow,
        viewer: &'a str,
        role: Role,
    ) -> ViewCtx<'a> {
        ViewCtx {
            conn,
            authority,
            public_url,
            space,
            viewer,
            role,
            members: HashMap::new(),
            channels: HashMap::new(),
        }
    }

    pub fn space_uri(&self) -> String {
        SpaceUri::space(self.authority, &self.space.skey).to_string()
    }

    pub fn channel_uri(&self, c: &ChannelRow) -> String {
        SpaceUri::record(
            self.authority,
            &self.space.skey,
            &c.author,
            Collection::Channel,
            &c.rkey,
        )
        .to_string()
    }

    pub fn post_uri(&self, author: &str, rkey: &str) -> String {
        SpaceUri::record(
            self.authority,
            &self.space.skey,
            author,
            Collection::Post,
            rkey,
        )
        .to_string()
    }

    pub fn space_view(&self, viewer: Option<SpaceViewerState>) -> SpaceView {
        space_view(self.authority, self.space, viewer)
    }

    pub fn channel_view(&self, c: &ChannelRow) -> ChannelView {
        ChannelView {
            uri: self.channel_uri(c),
            space: self.space_uri(),
            name: c.name.clone(),
            description: c.description.clone(),
            kind: c.kind.as_str().into(),
            read_role: c.read_role.as_str().into(),
            post_role: c.post_role.as_str().into(),
            email_announcements: c.email_announcements,
            created_at: fmt_time(c.created_at),
        }
    }

    /// A member view; `role`/`joinedAt` only while the account is a member.
    pub fn member(&mut self, did: &str) -> SpaceResult<MemberView> {
        if let Some(m) = self.members.get(did) {
            return Ok(m.clone());
        }
        let m = membership(self.conn, self.space.id, did)?;
        let view = MemberView {
            profile: Default::default(),
            did: did.to_owned(),
            role: m.map(|(r, _)| r.as_str().to_owned()),
            joined_at: m.map(|(_, t)| fmt_time(t)),
        };
        self.members.insert(did.to_owned(), view.clone());
        Ok(view)
    }

    fn channel(&mut self, id: i64) -> SpaceResult<Option<ChannelRow>> {
        if let Some(c) = self.channels.get(&id) {
            return Ok(Some(c.clone()));
        }
        let c = channel_by_id(self.conn, id)?;
        if let Some(c) = &c {
            self.channels.insert(id, c.clone());
        }
        Ok(c)
    }

    pub fn image_url(&self, cid: &str) -> String {
        format!(
            "{}/xrpc/social.hearth.post.getImage?space={}&cid={cid}",
            self.public_url,
            form_encode(&self.space_uri())
        )
    }

    pub fn post(&mut self, p: &PostRow) -> SpaceResult<PostView> {
        let channel = self
            .channel(p.channel)?
            .ok_or(crate::model::SpaceError::NotFound("Channel not found"))?;
        let conn = self.conn;
        let images = {
            let mut stmt = conn.prepare_cached(
                "SELECT cid, alt FROM post_image WHERE post = ?1 ORDER BY position",
            )?;
            let rows = stmt.query_map([p.id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (cid, alt) = row?;
                let url = self.image_url(&cid);
                out.push(ImageView {
                    cid,
                    thumb: url.clone(),
                    fullsize: url,
                    alt,
                });
            }
            out
        };
        let reactions = reactions(conn, p.id, self.viewer)?;
        let accepted_answer = match p.accepted_answer {
            Some(id) => conn
                .prepare_cached("SELECT author, rkey FROM post WHERE id = ?1")?
                .query_row([id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?
                .map(|(a, k)| self.post_uri(&a, &k)),
            None => None,
        };
        let is_accepted_answer = match p.root {
            Some(root) => {
                let acc: Option<i64> = conn
                    .prepare_cached("SELECT accepted_answer FROM post WHERE id = ?1")?
                    .query_row([root], |r| r.get(0))
                    .optional()?
                    .flatten();
                (acc == Some(p.id)).then_some(true)
            }
            None => None,
        };
        let facets = p
            .facets
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok());
        Ok(PostView {
            uri: self.post_uri(&p.author, &p.rkey),
            space: self.space_uri(),
            channel: self.channel_uri(&channel),
            author: self.member(&p.author)?,
            text: p.text.clone(),
            facets,
            images,
            reply: match (&p.root_uri, &p.parent_uri) {
                (Some(root), Some(parent)) => Some(ReplyRef {
                    root: root.clone(),
                    parent: parent.clone(),
                }),
                _ => None,
            },
            created_at: fmt_time(p.created_at),
            edited_at: p.edited_at.map(fmt_time),
            reactions,
            reply_count: p.reply_count,
            accepted_answer,
            is_accepted_answer,
            pinned: p.pinned,
            hidden: p.hidden,
            viewer: Some(PostViewerState {
                can_edit: p.author == self.viewer,
                can_moderate: self.role >= Role::Moderator,
                can_reply: channel.can_post(self.role),
            }),
        })
    }
}

pub fn space_view(authority: &str, s: &SpaceRow, viewer: Option<SpaceViewerState>) -> SpaceView {
    SpaceView {
        uri: SpaceUri::space(authority, &s.skey).to_string(),
        name: s.name.clone(),
        description: s.description.clone(),
        join_policy: s.join_policy.clone(),
        listed: s.listed,
        join_question: s.join_question.clone(),
        member_count: s.member_count,
        created_at: fmt_time(s.created_at),
        viewer,
    }
}

/// Reactions on a post, one summary per emoji, in the order they were first used.
pub fn reactions(conn: &Connection, post: i64, viewer: &str) -> SpaceResult<Vec<ReactionSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT emoji, count(*), max(did = ?2), min(created_at) AS first
         FROM reaction WHERE post = ?1 GROUP BY emoji ORDER BY first, emoji",
    )?;
    let rows = stmt.query_map(params![post, viewer], |r| {
        Ok(ReactionSummary {
            emoji: r.get(0)?,
            count: r.get(1)?,
            viewer_reacted: r.get::<_, i64>(2)? != 0,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Percent-encodes a query parameter value.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The pending join request of `did`, if any.
/// Of these image CIDs, the ones no space refers to any more (their files can go).
pub(crate) fn unreferenced_images(
    conn: &Connection,
    cids: Vec<String>,
) -> SpaceResult<Vec<String>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached("SELECT 1 FROM space_image WHERE cid = ?1 LIMIT 1")?;
    for cid in cids {
        if stmt.query_row([&cid], |_| Ok(())).optional()?.is_none() {
            out.push(cid);
        }
    }
    Ok(out)
}
