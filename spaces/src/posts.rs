//! Posts: threads and replies, edits, deletion, reactions, questions' accepted answers, pins,
//! hiding, the channel feed and threads, and private images.

use crate::fanout::{self, Fanout};
use crate::images;
use crate::model::*;
use crate::permissions::{Access, member_access, parse_uri, readable_channel, readable_post};
use crate::service::Spaces;
use crate::store::{self, ChannelRow, POST_COLS, PostRow};
use crate::uri::{Collection, SpaceUri};
use crate::views::*;
use hearth_lexicons::is_space_reference;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Replies shown in one thread (the lexicon has no cursor for threads).
const MAX_THREAD_REPLIES: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePost {
    pub channel: Option<String>,
    pub text: String,
    pub facets: Option<Vec<Value>>,
    pub images: Option<Vec<ImageInput>>,
    pub reply_to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ImageInput {
    pub image: Value,
    pub alt: String,
}

#[derive(Debug, Deserialize)]
pub struct EditPost {
    pub uri: String,
    pub text: String,
    pub facets: Option<Vec<Value>>,
}

#[derive(Debug, Serialize)]
pub struct PostOut {
    pub post: PostView,
}

#[derive(Debug, Serialize)]
pub struct Reactions {
    pub reactions: Vec<ReactionSummary>,
}

#[derive(Debug, Serialize)]
pub struct Feed {
    pub posts: Vec<PostView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Thread {
    pub thread: ThreadView,
}

#[derive(Debug, Serialize)]
pub struct Uploaded {
    pub image: Value,
}

/// An image's bytes and type, for getImage.
pub struct ImageBytes {
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// What a post's facets ask for: the members it mentions.
struct FacetRefs {
    mentions: Vec<String>,
}

/// Checks a post's facets: every link into a space must be something all readers of the new
/// post can already read (the same space, a channel no more restricted than this one, a post
/// the author may see). A link elsewhere would show readers a reference they may not follow;
/// a link into another space would carry one space's identifiers into another.
fn check_facets(
    conn: &Connection,
    s: &Spaces,
    acc: &Access,
    channel: &ChannelRow,
    facets: &Option<Vec<Value>>,
) -> SpaceResult<FacetRefs> {
    let mut mentions = Vec::new();
    let refused = SpaceError::Forbidden(
        "A post may only link to space content that every reader of its channel can see",
    );
    for facet in facets.iter().flatten() {
        let Some(features) = facet.get("features").and_then(Value::as_array) else {
            continue;
        };
        for f in features {
            if let Some(did) = f.get("did").and_then(Value::as_str)
                && f.get("$type").and_then(Value::as_str) == Some("app.bsky.richtext.facet#mention")
                && !mentions.iter().any(|m| m == did)
            {
                mentions.push(did.to_owned());
            }
            for link in [f.get("uri"), f.get("tag")].into_iter().flatten() {
                let Some(link) = link.as_str() else { continue };
                if !is_space_reference(link) {
                    continue;
                }
                let target = link
                    .parse::<SpaceUri>()
                    .map_err(|_| refused_clone(&refused))?;
                if target.authority != s.authority || target.skey != acc.space.skey {
                    return Err(refused_clone(&refused));
                }
                let target_channel = match &target.record {
                    None => continue,
                    Some(r) if r.collection == Collection::Channel => {
                        readable_channel(conn, acc, &target).map_err(|_| refused_clone(&refused))?
                    }
                    Some(_) => {
                        let (_, c) = readable_post(conn, acc, &target)
                            .map_err(|_| refused_clone(&refused))?;
                        c
                    }
                };
                if target_channel.read_role > channel.read_role {
                    return Err(refused_clone(&refused));
                }
            }
        }
    }
    Ok(FacetRefs { mentions })
}

fn refused_clone(e: &SpaceError) -> SpaceError {
    match e {
        SpaceError::Forbidden(m) => SpaceError::Forbidden(m),
        _ => SpaceError::Forbidden("Refused"),
    }
}

/// The CID in a blob reference (typed `{$type: blob, ref: {$link}}` or legacy `{cid}`).
fn blob_cid(v: &Value) -> Option<String> {
    v.get("ref")
        .and_then(|r| r.get("$link"))
        .or_else(|| v.get("cid"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn facets_json(facets: &Option<Vec<Value>>) -> Option<String> {
    facets
        .as_ref()
        .filter(|f| !f.is_empty())
        .map(|f| Value::Array(f.clone()).to_string())
}

impl Spaces {
    /// Posts a thread in a channel, or a reply in a thread, and fans out its notifications
    /// (and announcement emails) in the same transaction.
    pub async fn create_post(&self, did: &str, input: CreatePost) -> SpaceResult<PostOut> {
        let target = match (&input.reply_to, &input.channel) {
            (Some(r), _) => parse_uri(r)?,
            (None, Some(c)) => parse_uri(c)?,
            (None, None) => return Err(SpaceError::invalid("Give a channel or replyTo")),
        };
        let channel_uri = match &input.channel {
            Some(c) => Some(parse_uri(c)?),
            None => None,
        };
        if input.text.trim().is_empty() && input.images.as_ref().is_none_or(Vec::is_empty) {
            return Err(SpaceError::invalid("A post needs text or an image"));
        }
        let mut image_cids = Vec::new();
        for img in input.images.iter().flatten() {
            image_cids.push((
                blob_cid(&img.image)
                    .ok_or_else(|| SpaceError::invalid("Invalid image reference"))?,
                img.alt.clone(),
            ));
        }
        let did = did.to_owned();
        let (out, emails) = self
            .write(move |txn, s| {
                let conn = txn.conn;
                let acc = member_access(conn, &s.authority, &target, &did)?;
                s.space_limit(&target, 1.0)?;
                // A reply takes its channel from its thread.
                let (channel, parent) = match &input.reply_to {
                    Some(_) => {
                        let (parent, channel) = readable_post(conn, &acc, &target)?;
                        if let Some(c) = &channel_uri
                            && (c.as_collection(Collection::Channel).map(|p| p.rkey.as_str())
                                != Some(channel.rkey.as_str())
                                || c.skey != acc.space.skey)
                        {
                            return Err(SpaceError::invalid("replyTo is not in that channel"));
                        }
                        (channel, Some(parent))
                    }
                    None => (readable_channel(conn, &acc, &target)?, None),
                };
                if !channel.can_post(acc.role) {
                    return Err(SpaceError::Forbidden("You may not post in this channel"));
                }
                let refs = check_facets(conn, s, &acc, &channel, &input.facets)?;
                let mut images = Vec::with_capacity(image_cids.len());
                for (cid, alt) in &image_cids {
                    let uploader: Option<String> = conn
                        .prepare_cached("SELECT uploader FROM space_image WHERE space = ?1 AND cid = ?2")?
                        .query_row(params![acc.space.id, cid], |r| r.get(0))
                        .optional()?;
                    if uploader.as_deref() != Some(did.as_str()) {
                        return Err(SpaceError::invalid(
                            "Images must be uploaded to this space by the author first",
                        ));
                    }
                    images.push((cid.clone(), alt.clone()));
                }
                let now = now_ms();
                let rkey = s.clock.next().to_string();
                let ctx = s.ctx(conn, &acc.space, &did, acc.role);
                let (root_id, root_uri, parent_uri, parent_id) = match &parent {
                    Some(p) => {
                        let root_id = p.root.unwrap_or(p.id);
                        let root_uri = match &p.root_uri {
                            Some(u) => u.clone(),
                            None => ctx.post_uri(&p.author, &p.rkey),
                        };
                        (Some(root_id), Some(root_uri), Some(ctx.post_uri(&p.author, &p.rkey)), Some(p.id))
                    }
                    None => (None, None, None, None),
                };
                conn.prepare_cached(
                    "INSERT INTO post (space, channel, author, rkey, root, root_uri, parent_uri, parent,
                                       text, facets, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    acc.space.id,
                    channel.id,
                    did,
                    rkey,
                    root_id,
                    root_uri,
                    parent_uri,
                    parent_id,
                    input.text,
                    facets_json(&input.facets),
                    now
                ])?;
                let post_id = conn.last_insert_rowid();
                for (i, (cid, alt)) in images.iter().enumerate() {
                    conn.prepare_cached(
                        "INSERT INTO post_image (post, position, cid, alt) VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![post_id, i as i64, cid, alt])?;
                }
                let post_uri = ctx.post_uri(&did, &rkey);
                let mut fan = Fanout {
                    conn,
                    space: acc.space.id,
                    channel: &channel,
                    post: post_id,
                    author: &did,
                    subject: &post_uri,
                    now,
                };
                let mut emails = 0;
                if let (Some(p), Some(root_id)) = (&parent, root_id) {
                    conn.prepare_cached(
                        "UPDATE post SET reply_count = reply_count + 1 WHERE id = ?1 OR id = ?2",
                    )?
                    .execute(params![root_id, p.id])?;
                    for m in &refs.mentions {
                        fan.one(m, "mention", Level::MentionsAndReplies)?;
                    }
                    let root_author: String = conn
                        .prepare_cached("SELECT author FROM post WHERE id = ?1")?
                        .query_row([root_id], |r| r.get(0))?;
                    let reason = if channel.kind == ChannelKind::Questions { "answer" } else { "reply" };
                    fan.one(&root_author, reason, Level::MentionsAndReplies)?;
                    fan.one(&p.author, "reply", Level::MentionsAndReplies)?;
                } else {
                    for m in &refs.mentions {
                        fan.one(m, "mention", Level::MentionsAndReplies)?;
                    }
                    match channel.kind {
                        ChannelKind::Announcements => {
                            fan.all("announcement", Level::AnnouncementsOnly)?;
                            if channel.email_announcements && s.email_available() {
                                emails = fanout::queue_announcement_emails(
                                    conn, &s.public_url, &acc.space, &channel, &did, &input.text, now,
                                )?;
                            }
                        }
                        ChannelKind::Questions => {
                            fan.all("question", Level::All)?;
                        }
                        ChannelKind::Discussion | ChannelKind::Restricted => {
                            fan.all("post", Level::All)?;
                        }
                    }
                }
                if emails > 0 {
                    let s2 = s.clone();
                    txn.after_commit(move || s2.outbox.notify_one());
                }
                let row = store::post_by_id(conn, post_id)?.ok_or(SpaceError::NotFound("Post not found"))?;
                let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
                Ok((PostOut { post: ctx.post(&row)? }, emails))
            })
            .await?;
        tracing::debug!(emails, "post created");
        Ok(out)
    }

    /// Edits one's own post (text and facets).
    pub async fn edit_post(&self, did: &str, input: EditPost) -> SpaceResult<PostOut> {
        let uri = parse_uri(&input.uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            let (post, channel) = readable_post(conn, &acc, &uri)?;
            if post.author != did {
                return Err(SpaceError::Forbidden("Only the author edits a post"));
            }
            if input.text.trim().is_empty() {
                let has_images: bool = conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM post_image WHERE post = ?1)")?
                    .query_row([post.id], |r| r.get(0))?;
                if !has_images {
                    return Err(SpaceError::invalid("A post needs text or an image"));
                }
            }
            check_facets(conn, s, &acc, &channel, &input.facets)?;
            conn.prepare_cached(
                "UPDATE post SET text = ?2, facets = ?3, edited_at = ?4 WHERE id = ?1",
            )?
            .execute(params![
                post.id,
                input.text,
                facets_json(&input.facets),
                now_ms()
            ])?;
            let row =
                store::post_by_id(conn, post.id)?.ok_or(SpaceError::NotFound("Post not found"))?;
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            Ok(PostOut {
                post: ctx.post(&row)?,
            })
        })
        .await
    }

    /// Deletes a post: one's own, or any as a moderator. Deleting a thread root deletes its
    /// thread; images no post uses any more leave the disk.
    pub async fn delete_post(&self, did: &str, uri: &str) -> SpaceResult<()> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            if post.author != did && acc.role < Role::Moderator {
                return Err(SpaceError::Forbidden("Only the author or a moderator deletes a post"));
            }
            // The images of the post, and of its replies if it is a root.
            let cids: Vec<String> = {
                let mut stmt = conn.prepare_cached(
                    "SELECT pi.cid FROM post_image pi WHERE pi.post = ?1
                     UNION SELECT pi.cid FROM post_image pi JOIN post p ON p.id = pi.post WHERE p.root = ?1",
                )?;
                let rows = stmt.query_map([post.id], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            if let Some(root) = post.root {
                conn.prepare_cached(
                    "UPDATE post SET reply_count = max(reply_count - 1, 0) WHERE id = ?1 OR id = ?2",
                )?
                .execute(params![root, post.parent])?;
                conn.prepare_cached(
                    "UPDATE post SET accepted_answer = NULL WHERE id = ?1 AND accepted_answer = ?2",
                )?
                .execute(params![root, post.id])?;
            }
            conn.prepare_cached("DELETE FROM post WHERE id = ?1")?
                .execute([post.id])?;
            // An image leaves the space once no post in it shows the image.
            let mut gone = Vec::new();
            for cid in cids {
                let used: bool = conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM post_image pi JOIN post p ON p.id = pi.post
                                        WHERE pi.cid = ?1 AND p.space = ?2)",
                    )?
                    .query_row(params![cid, acc.space.id], |r| r.get(0))?;
                if !used {
                    conn.prepare_cached("DELETE FROM space_image WHERE space = ?1 AND cid = ?2")?
                        .execute(params![acc.space.id, cid])?;
                    gone.push(cid);
                }
            }
            let orphans = store::unreferenced_images(conn, gone)?;
            let dir = s.images_dir.clone();
            txn.after_commit(move || images::unlink(&dir, &orphans));
            Ok(())
        })
        .await
    }

    /// Adds or removes one emoji reaction of the viewer's.
    pub async fn react(
        &self,
        did: &str,
        uri: &str,
        emoji: &str,
        remove: bool,
    ) -> SpaceResult<Reactions> {
        let uri = parse_uri(uri)?;
        let emoji = emoji.trim().to_owned();
        if emoji.is_empty() || emoji.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(SpaceError::invalid("emoji must be one emoji"));
        }
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            if remove {
                conn.prepare_cached("DELETE FROM reaction WHERE post = ?1 AND emoji = ?2 AND did = ?3")?
                    .execute(params![post.id, emoji, did])?;
            } else {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO reaction (post, emoji, did, created_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![post.id, emoji, did, now_ms()])?;
            }
            Ok(Reactions {
                reactions: store::reactions(conn, post.id, &did)?,
            })
        })
        .await
    }

    /// Hides or shows a post (moderators). Hidden posts show to moderators, flagged; to others
    /// they do not exist.
    pub async fn hide_post(
        &self,
        did: &str,
        uri: &str,
        hidden: bool,
        reason: Option<String>,
    ) -> SpaceResult<PostOut> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Moderator, "Only moderators hide posts")?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            conn.prepare_cached("UPDATE post SET hidden = ?2 WHERE id = ?1")?
                .execute(params![post.id, hidden])?;
            let action = if hidden { "post.hide" } else { "post.unhide" };
            let reason = reason
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty());
            store::audit(
                conn,
                acc.space.id,
                &did,
                action,
                Some(&uri.to_string()),
                reason.as_deref(),
                now_ms(),
            )?;
            let row =
                store::post_by_id(conn, post.id)?.ok_or(SpaceError::NotFound("Post not found"))?;
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            Ok(PostOut {
                post: ctx.post(&row)?,
            })
        })
        .await
    }

    /// Pins or unpins a thread in its channel (admins).
    pub async fn pin_post(&self, did: &str, uri: &str, pinned: bool) -> SpaceResult<PostOut> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Admin, "Only admins pin posts")?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            if post.root.is_some() {
                return Err(SpaceError::invalid(
                    "Only a thread (not a reply) can be pinned",
                ));
            }
            conn.prepare_cached("UPDATE post SET pinned = ?2 WHERE id = ?1")?
                .execute(params![post.id, pinned])?;
            let action = if pinned { "post.pin" } else { "post.unpin" };
            store::audit(
                conn,
                acc.space.id,
                &did,
                action,
                Some(&uri.to_string()),
                None,
                now_ms(),
            )?;
            let row =
                store::post_by_id(conn, post.id)?.ok_or(SpaceError::NotFound("Post not found"))?;
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            Ok(PostOut {
                post: ctx.post(&row)?,
            })
        })
        .await
    }

    /// Marks (or unmarks) a reply as the accepted answer of its question: by the asker or a
    /// moderator. A question has at most one.
    pub async fn mark_answer(&self, did: &str, uri: &str, accepted: bool) -> SpaceResult<PostOut> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            let (post, channel) = readable_post(conn, &acc, &uri)?;
            if channel.kind != ChannelKind::Questions {
                return Err(SpaceError::invalid(
                    "Only replies in a questions channel are answers",
                ));
            }
            let root_id = post
                .root
                .ok_or_else(|| SpaceError::invalid("A question cannot answer itself"))?;
            let asker: String = conn
                .prepare_cached("SELECT author FROM post WHERE id = ?1")?
                .query_row([root_id], |r| r.get(0))?;
            if asker != did && acc.role < Role::Moderator {
                return Err(SpaceError::Forbidden(
                    "Only the asker or a moderator marks the answer",
                ));
            }
            if accepted {
                conn.prepare_cached("UPDATE post SET accepted_answer = ?2 WHERE id = ?1")?
                    .execute(params![root_id, post.id])?;
            } else {
                conn.prepare_cached(
                    "UPDATE post SET accepted_answer = NULL WHERE id = ?1 AND accepted_answer = ?2",
                )?
                .execute(params![root_id, post.id])?;
            }
            let row =
                store::post_by_id(conn, post.id)?.ok_or(SpaceError::NotFound("Post not found"))?;
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            Ok(PostOut {
                post: ctx.post(&row)?,
            })
        })
        .await
    }

    /// A channel's threads, newest first; pinned threads lead the first page.
    pub async fn channel_feed(
        &self,
        did: &str,
        uri: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<Feed> {
        let uri = parse_uri(uri)?;
        let first = cursor.as_deref().is_none_or(str::is_empty);
        let before = id_cursor(cursor.as_deref())?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            let channel = readable_channel(conn, &acc, &uri)?;
            let moderator = acc.role >= Role::Moderator;
            let limit = i64::from(limit);
            let mut rows: Vec<PostRow> = Vec::new();
            if first {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {POST_COLS} FROM post
                     WHERE channel = ?1 AND root IS NULL AND pinned = 1 AND (hidden = 0 OR ?2)
                     ORDER BY id DESC LIMIT ?3"
                ))?;
                let pinned = stmt.query_map(params![channel.id, moderator, limit], PostRow::from_row)?;
                for p in pinned {
                    rows.push(p?);
                }
            }
            let pinned_count = rows.len() as i64;
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {POST_COLS} FROM post
                 WHERE channel = ?1 AND root IS NULL AND id < ?2 AND pinned = 0 AND (hidden = 0 OR ?3)
                 ORDER BY id DESC LIMIT ?4"
            ))?;
            let want = (limit - pinned_count).max(0);
            let rest: Vec<PostRow> = stmt
                .query_map(params![channel.id, before, moderator, want], PostRow::from_row)?
                .collect::<Result<_, _>>()?;
            let cursor = if rest.len() as i64 == want {
                // A full page (or a first page filled by pins): there may be more.
                Some(rest.last().map_or(before, |p| p.id).to_string())
            } else {
                None
            };
            rows.extend(rest);
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            let mut posts = Vec::with_capacity(rows.len());
            for p in &rows {
                posts.push(ctx.post(p)?);
            }
            Ok(Feed { posts, cursor })
        })
        .await
    }

    /// A thread: its root and replies, oldest first. Asking for a reply gives its thread.
    pub async fn thread(&self, did: &str, uri: &str) -> SpaceResult<Thread> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            let root = match post.root {
                Some(id) => store::post_by_id(conn, id)?.ok_or(SpaceError::NotFound("Post not found"))?,
                None => post,
            };
            let moderator = acc.role >= Role::Moderator;
            if root.hidden && !moderator {
                return Err(SpaceError::NotFound("Post not found"));
            }
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {POST_COLS} FROM post WHERE root = ?1 AND root IS NOT NULL AND (hidden = 0 OR ?2)
                 ORDER BY id LIMIT ?3"
            ))?;
            let replies: Vec<PostRow> = stmt
                .query_map(params![root.id, moderator, MAX_THREAD_REPLIES], PostRow::from_row)?
                .collect::<Result<_, _>>()?;
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            let root_view = ctx.post(&root)?;
            let mut views = Vec::with_capacity(replies.len());
            for r in &replies {
                views.push(ctx.post(r)?);
            }
            Ok(Thread {
                thread: ThreadView {
                    root: root_view,
                    replies: views,
                },
            })
        })
        .await
    }

    /// Stores a private image for a member of the space and returns its blob reference.
    pub async fn upload_image(
        &self,
        did: &str,
        space: &str,
        bytes: Vec<u8>,
    ) -> SpaceResult<Uploaded> {
        let uri = parse_uri(space)?;
        if uri.record.is_some() {
            return Err(SpaceError::invalid("Expected a space URI"));
        }
        if bytes.len() > images::MAX_IMAGE_BYTES {
            return Err(SpaceError::invalid("Images are limited to 5 MB"));
        }
        let mime = images::sniff(&bytes)
            .ok_or_else(|| SpaceError::invalid("Only images can be uploaded"))?;
        // Gate first, so a non-member cannot even make the server write to disk.
        {
            let (uri, did) = (uri.clone(), did.to_owned());
            self.read(move |conn, s| member_access(conn, &s.authority, &uri, &did).map(|_| ()))
                .await?;
        }
        // Uploads are heavier than other writes.
        self.space_limit(&uri, 5.0)?;
        let cid = images::cid_of(&bytes);
        let size = bytes.len() as i64;
        {
            let (dir, cid) = (self.images_dir.clone(), cid.clone());
            tokio::task::spawn_blocking(move || images::store(&dir, &cid, &bytes))
                .await
                .map_err(|e| SpaceError::Io(std::io::Error::other(e.to_string())))??;
        }
        let did = did.to_owned();
        let cid2 = cid.clone();
        let res = self
            .write(move |txn, s| {
                let conn = txn.conn;
                // Checked again in the transaction: a removal since the first check wins.
                let acc = member_access(conn, &s.authority, &uri, &did)?;
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO space_image (space, cid, mime, size, uploader, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![acc.space.id, cid2, mime, size, did, now_ms()])?;
                Ok(())
            })
            .await;
        if let Err(e) = res {
            // Don't leave bytes on disk that no space refers to.
            let orphans = {
                let cid = cid.clone();
                self.read(move |conn, _| store::unreferenced_images(conn, vec![cid]))
                    .await?
            };
            images::unlink(&self.images_dir, &orphans);
            return Err(e);
        }
        Ok(Uploaded {
            image: serde_json::json!({
                "$type": "blob",
                "ref": { "$link": cid },
                "mimeType": mime,
                "size": size,
            }),
        })
    }

    /// An image's bytes, for a member who may see it: its uploader, or a reader of a post
    /// that shows it (hidden posts: moderators only).
    pub async fn get_image(&self, did: &str, space: &str, cid: &str) -> SpaceResult<ImageBytes> {
        let uri = parse_uri(space)?;
        let cid = cid.to_owned();
        let did = did.to_owned();
        let (mime, path) = self
            .read(move |conn, s| {
                let acc = member_access(conn, &s.authority, &uri, &did)?;
                let (mime, uploader): (String, String) = conn
                    .prepare_cached(
                        "SELECT mime, uploader FROM space_image WHERE space = ?1 AND cid = ?2",
                    )?
                    .query_row(params![acc.space.id, cid], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?
                    .ok_or(SpaceError::NotFound("Image not found"))?;
                let visible = uploader == did || {
                    let moderator = acc.role >= Role::Moderator;
                    conn.prepare_cached(
                        "SELECT EXISTS (
                           SELECT 1 FROM post_image pi
                           JOIN post p ON p.id = pi.post
                           JOIN channel c ON c.id = p.channel
                           LEFT JOIN post r ON r.id = p.root
                           WHERE pi.cid = ?1 AND p.space = ?2 AND c.read_role <= ?3
                             AND ((p.hidden = 0 AND coalesce(r.hidden, 0) = 0) OR ?4))",
                    )?
                    .query_row(
                        params![cid, acc.space.id, acc.role.as_i64(), moderator],
                        |r| r.get(0),
                    )?
                };
                if !visible {
                    return Err(SpaceError::Forbidden("You may not see this image"));
                }
                Ok((mime, images::path_for(&s.images_dir, &cid)))
            })
            .await?;
        let bytes = tokio::fs::read(&path).await?;
        Ok(ImageBytes { mime, bytes })
    }
}
