//! Spaces and their channels: creating, reading, updating and deleting a space, the spaces
//! one belongs to, the audit log, the export, and creating and updating channels.

use crate::images;
use crate::model::*;
use crate::permissions::{member_access, parse_uri, space_of};
use crate::service::Spaces;
use crate::store::{self, ChannelRow};
use crate::uri::{Collection, SpaceUri};
use crate::views::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSpace {
    pub name: String,
    pub description: Option<String>,
    pub join_policy: String,
    pub listed: Option<bool>,
    pub join_question: Option<String>,
    pub default_channels: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSpace {
    pub space: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub join_policy: Option<String>,
    pub listed: Option<bool>,
    pub join_question: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateChannel {
    pub space: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub read_role: Option<String>,
    pub post_role: Option<String>,
    pub email_announcements: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateChannel {
    pub channel: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub read_role: Option<String>,
    pub post_role: Option<String>,
    pub email_announcements: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct SpaceWithChannels {
    pub space: SpaceView,
    pub channels: Vec<ChannelView>,
}

#[derive(Debug, Serialize)]
pub struct SpaceList {
    pub spaces: Vec<SpaceView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuditLog {
    pub entries: Vec<AuditEntryView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub space: SpaceView,
    pub channels: Vec<ChannelView>,
    pub members: Vec<MemberView>,
    pub posts: Vec<PostView>,
    pub exported_at: String,
    pub scope: &'static str,
    /// Where the next page of posts starts (absent on the last page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Most posts in one page of an export (the space.export lexicon's `limit` maximum).
pub const MAX_EXPORT_PAGE: u32 = 1000;

/// The channels every new space starts with (unless asked not to): name, kind, email.
const DEFAULT_CHANNELS: &[(&str, ChannelKind, bool)] = &[
    ("Announcements", ChannelKind::Announcements, true),
    ("Discussion", ChannelKind::Discussion, false),
    ("Questions", ChannelKind::Questions, false),
    ("Leadership", ChannelKind::Restricted, false),
];

/// A non-blank name.
fn name(s: &str) -> SpaceResult<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(SpaceError::invalid("name must not be blank"));
    }
    Ok(t.to_owned())
}

/// An optional text field: blank means none.
fn opt_text(s: Option<String>) -> Option<String> {
    s.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Whether an audit entry is about a channel, or a post in a channel, that a member with
/// `role` may not read (a moderation reason can quote what it is about). A deleted post's
/// channel is known if the post was reported.
fn subject_unreadable(
    conn: &rusqlite::Connection,
    space: i64,
    subject: Option<&str>,
    role: Role,
) -> SpaceResult<bool> {
    if role == Role::Owner {
        return Ok(false);
    }
    let Some((uri, subject)) = subject.and_then(|s| Some((s.parse::<SpaceUri>().ok()?, s))) else {
        return Ok(false);
    };
    let Some(r) = &uri.record else {
        return Ok(false);
    };
    let channel = match r.collection {
        Collection::Channel => store::channel_by_rkey(conn, space, &r.rkey)?,
        Collection::Post => match store::post_by_rkey(conn, space, &r.rkey)? {
            Some(p) => store::channel_by_id(conn, p.channel)?,
            None => match store::reported_post_channel(conn, space, subject)? {
                Some(id) => store::channel_by_id(conn, id)?,
                None => None,
            },
        },
    };
    Ok(channel.is_some_and(|c| !c.can_read(role)))
}

impl Spaces {
    pub async fn create_space(
        &self,
        did: &str,
        input: CreateSpace,
    ) -> SpaceResult<SpaceWithChannels> {
        let policy = known(&input.join_policy, JoinPolicy::parse, "joinPolicy")?;
        let space_name = name(&input.name)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let now = now_ms();
            let skey = s.clock.next().to_string();
            let description = opt_text(input.description);
            let join_question = opt_text(input.join_question);
            let space_id = store::insert_space(
                conn,
                &store::NewSpace {
                    skey: &skey,
                    name: &space_name,
                    description: description.as_deref(),
                    join_policy: policy,
                    listed: input.listed.unwrap_or(false),
                    join_question: join_question.as_deref(),
                    created_by: &did,
                    now,
                },
            )?;
            store::audit(conn, space_id, &did, "space.create", None, None, now)?;
            if input.default_channels.unwrap_or(true) {
                for (cname, kind, email) in DEFAULT_CHANNELS {
                    let (read, post) = kind.default_roles();
                    let rkey = s.clock.next().to_string();
                    store::insert_channel(
                        conn,
                        &store::NewChannel {
                            space: space_id,
                            rkey: &rkey,
                            author: &did,
                            name: cname,
                            description: None,
                            kind: *kind,
                            read_role: read,
                            post_role: post,
                            email_announcements: *email,
                            now,
                        },
                    )?;
                }
            }
            let space = store::space_by_id(conn, space_id)?
                .ok_or(SpaceError::NotFound("Space not found"))?;
            let viewer = s.viewer_state(conn, space.id, &did, Role::Owner)?;
            let ctx = s.ctx(conn, &space, &did, Role::Owner);
            let channels = store::channels(conn, space.id)?
                .iter()
                .map(|c| ctx.channel_view(c))
                .collect();
            Ok(SpaceWithChannels {
                space: ctx.space_view(Some(viewer)),
                channels,
            })
        })
        .await
    }

    /// A space and the channels the viewer may read. Non-members see a listed space's public
    /// face (no channels); an unlisted space does not exist for them.
    pub async fn get_space(&self, did: &str, uri: &str) -> SpaceResult<SpaceWithChannels> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let space = space_of(conn, &s.authority, &uri)?
                .ok_or(SpaceError::NotFound("Space not found"))?;
            match store::membership(conn, space.id, &did)? {
                Some((role, _)) => {
                    let viewer = s.viewer_state(conn, space.id, &did, role)?;
                    let ctx = s.ctx(conn, &space, &did, role);
                    let channels = store::channels(conn, space.id)?
                        .iter()
                        .filter(|c| c.can_read(role))
                        .map(|c| ctx.channel_view(c))
                        .collect();
                    Ok(SpaceWithChannels {
                        space: ctx.space_view(Some(viewer)),
                        channels,
                    })
                }
                None if space.listed && !store::is_banned(conn, space.id, &did)? => {
                    let pending = store::pending_request(conn, space.id, &did)?.is_some();
                    Ok(SpaceWithChannels {
                        space: store::space_view(
                            &s.authority,
                            &space,
                            Some(SpaceViewerState {
                                join_request_pending: Some(pending),
                                ..Default::default()
                            }),
                        ),
                        channels: vec![],
                    })
                }
                None => Err(SpaceError::NotFound("Space not found")),
            }
        })
        .await
    }

    pub async fn update_space(&self, did: &str, input: UpdateSpace) -> SpaceResult<SpaceView> {
        let uri = parse_uri(&input.space)?;
        let policy = match &input.join_policy {
            Some(p) => Some(known(p, JoinPolicy::parse, "joinPolicy")?),
            None => None,
        };
        let new_name = match &input.name {
            Some(n) => Some(name(n)?),
            None => None,
        };
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins update the space")?;
            let id = acc.space.id;
            let change = store::SpaceChange {
                name: new_name,
                description: input.description.map(|d| opt_text(Some(d))),
                join_policy: policy,
                listed: input.listed,
                join_question: input.join_question.map(|q| opt_text(Some(q))),
            };
            store::update_space(conn, id, &change)?;
            let changed: Vec<&str> = [
                ("name", change.name.is_some()),
                ("description", change.description.is_some()),
                ("joinPolicy", change.join_policy.is_some()),
                ("listed", change.listed.is_some()),
                ("joinQuestion", change.join_question.is_some()),
            ]
            .into_iter()
            .filter_map(|(field, set)| set.then_some(field))
            .collect();
            let now = now_ms();
            // The audit names the fields changed, not their (private) values.
            store::audit(
                conn,
                id,
                &did,
                "space.update",
                None,
                Some(&changed.join(",")),
                now,
            )?;
            let space =
                store::space_by_id(conn, id)?.ok_or(SpaceError::NotFound("Space not found"))?;
            let viewer = s.viewer_state(conn, id, &did, acc.role)?;
            Ok(store::space_view(&s.authority, &space, Some(viewer)))
        })
        .await
    }

    /// Deletes a space and everything in it; images no other space uses leave the disk.
    pub async fn delete_space(&self, did: &str, uri: &str) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            acc.require(Role::Owner, "Only the owner deletes the space")?;
            let cids = store::delete_space(conn, acc.space.id)?;
            let orphans = store::unreferenced_images(conn, cids)?;
            let s = s.clone();
            txn.after_commit(move || images::unlink(&s, orphans));
            tracing::debug!(space = acc.space.id, "space deleted");
            Ok(())
        })
        .await
    }

    pub async fn list_mine(
        &self,
        did: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<SpaceList> {
        let limit = page_size(limit);
        let (before_t, before_id) = time_cursor(cursor.as_deref(), (i64::MAX, i64::MAX))?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let rows = store::spaces_of(conn, &did, (before_t, before_id), limit)?;
            let cursor = (rows.len() == limit as usize)
                .then(|| rows.last().map(|(_, t, sp)| format!("{t}_{}", sp.id)))
                .flatten();
            let mut spaces = Vec::with_capacity(rows.len());
            for (role, _, space) in &rows {
                let viewer = s.viewer_state(conn, space.id, &did, *role)?;
                spaces.push(store::space_view(&s.authority, space, Some(viewer)));
            }
            Ok(SpaceList { spaces, cursor })
        })
        .await
    }

    pub async fn audit_log(
        &self,
        did: &str,
        uri: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<AuditLog> {
        let limit = page_size(limit);
        let uri = parse_uri(uri)?;
        let before = id_cursor(cursor.as_deref())?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            acc.require(Role::Admin, "Only admins read the audit log")?;
            let space_uri = uri.space_uri().to_string();
            let rows = store::audit_log(conn, acc.space.id, &space_uri, before, limit)?;
            let cursor = (rows.len() == limit as usize)
                .then(|| rows.last().map(|(id, _)| id.to_string()))
                .flatten();
            let mut entries = Vec::with_capacity(rows.len());
            for (_, e) in rows {
                if !subject_unreadable(conn, acc.space.id, e.subject.as_deref(), acc.role)? {
                    entries.push(e);
                }
            }
            Ok(AuditLog { entries, cursor })
        })
        .await
    }

    /// Admins export the whole space, as far as they may read it (a channel restricted to the
    /// owner stays out of an admin's export); members export their own posts.
    /// A page of a space's export. Posts come oldest first, `limit` at most
    /// [`MAX_EXPORT_PAGE`] a page; the member list comes with the first page only.
    pub async fn export(
        &self,
        did: &str,
        uri: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<Export> {
        let limit = i64::from(limit.clamp(1, MAX_EXPORT_PAGE));
        let after = match cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| SpaceError::invalid("Malformed cursor"))?,
            ),
        };
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            let all = acc.role >= Role::Admin;
            let space = acc.space.clone();
            let mut ctx = s.ctx(conn, &space, &did, acc.role);
            let channels: Vec<ChannelRow> = store::channels(conn, space.id)?
                .into_iter()
                .filter(|c| c.can_read(acc.role))
                .collect();
            let members = if after.is_some() {
                Vec::new()
            } else if all {
                store::all_members(conn, space.id)?
            } else {
                vec![ctx.member(&did)?]
            };
            let from = after.unwrap_or(0);
            let rows = if all {
                store::posts_readable_by(conn, space.id, acc.role, from, limit)?
            } else {
                store::posts_by(conn, space.id, &did, acc.role, from, limit)?
            };
            let cursor = (rows.len() as i64 == limit)
                .then(|| rows.last().map(|p| p.id.to_string()))
                .flatten();
            let mut posts = Vec::with_capacity(rows.len());
            for p in &rows {
                posts.push(ctx.post(p)?);
            }
            let viewer = s.viewer_state(conn, space.id, &did, acc.role)?;
            Ok(Export {
                space: ctx.space_view(Some(viewer)),
                channels: channels.iter().map(|c| ctx.channel_view(c)).collect(),
                members,
                posts,
                exported_at: fmt_time(now_ms()),
                scope: if all { "space" } else { "own" },
                cursor,
            })
        })
        .await
    }

    // ---- channels ----

    pub async fn create_channel(
        &self,
        did: &str,
        input: CreateChannel,
    ) -> SpaceResult<ChannelView> {
        let uri = parse_uri(&input.space)?;
        let kind = known(&input.kind, ChannelKind::parse, "kind")?;
        let (def_read, def_post) = kind.default_roles();
        let read = match &input.read_role {
            Some(r) => known(r, Role::parse, "readRole")?,
            None => def_read,
        };
        let post = match &input.post_role {
            Some(r) => known(r, Role::parse, "postRole")?,
            None => def_post.max(read),
        };
        if post < read {
            return Err(SpaceError::invalid("postRole must be at least readRole"));
        }
        let cname = name(&input.name)?;
        let email = input
            .email_announcements
            .unwrap_or(kind == ChannelKind::Announcements);
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins create channels")?;
            let now = now_ms();
            let rkey = s.clock.next().to_string();
            let description = opt_text(input.description);
            let id = store::insert_channel(
                conn,
                &store::NewChannel {
                    space: acc.space.id,
                    rkey: &rkey,
                    author: &did,
                    name: &cname,
                    description: description.as_deref(),
                    kind,
                    read_role: read,
                    post_role: post,
                    email_announcements: email,
                    now,
                },
            )?;
            let c =
                store::channel_by_id(conn, id)?.ok_or(SpaceError::NotFound("Channel not found"))?;
            let ctx = s.ctx(conn, &acc.space, &did, acc.role);
            let view = ctx.channel_view(&c);
            store::audit(
                conn,
                acc.space.id,
                &did,
                "channel.create",
                Some(&view.uri),
                Some(kind.as_str()),
                now,
            )?;
            Ok(view)
        })
        .await
    }

    pub async fn update_channel(
        &self,
        did: &str,
        input: UpdateChannel,
    ) -> SpaceResult<ChannelView> {
        let uri = parse_uri(&input.channel)?;
        let read = match &input.read_role {
            Some(r) => Some(known(r, Role::parse, "readRole")?),
            None => None,
        };
        let post = match &input.post_role {
            Some(r) => Some(known(r, Role::parse, "postRole")?),
            None => None,
        };
        let new_name = match &input.name {
            Some(n) => Some(name(n)?),
            None => None,
        };
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins update channels")?;
            let c = crate::permissions::readable_channel(conn, &acc, &uri)?;
            let read = read.unwrap_or(c.read_role);
            let post = post.unwrap_or(c.post_role);
            if post < read {
                return Err(SpaceError::invalid("postRole must be at least readRole"));
            }
            let description = match input.description {
                Some(d) => opt_text(Some(d)),
                None => c.description.clone(),
            };
            store::update_channel(
                conn,
                c.id,
                &new_name.unwrap_or(c.name.clone()),
                description.as_deref(),
                (read, post),
                input.email_announcements.unwrap_or(c.email_announcements),
            )?;
            let c = store::channel_by_id(conn, c.id)?
                .ok_or(SpaceError::NotFound("Channel not found"))?;
            let ctx = s.ctx(conn, &acc.space, &did, acc.role);
            let view = ctx.channel_view(&c);
            store::audit(
                conn,
                acc.space.id,
                &did,
                "channel.update",
                Some(&view.uri),
                None,
                now_ms(),
            )?;
            Ok(view)
        })
        .await
    }
}
