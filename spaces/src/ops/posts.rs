//! Posts: threads and replies, edits, deletion, reactions, questions' accepted answers, pins,
//! hiding, the channel feed and threads, and private images.

use crate::fanout;
use crate::images;
use crate::model::*;
use crate::permissions::{Access, member_access, parse_uri, readable_channel, readable_post};
use crate::service::Spaces;
use crate::store::{self, ChannelRow, PostRow};
use crate::uri::{Collection, SpaceUri};
use crate::views::*;
use hearth_db::WriteTxn;
use hearth_lexicons::is_space_reference;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most replies in one page of a thread (the feed.getThread lexicon's `limit` maximum).
pub const MAX_THREAD_REPLIES: i64 = 1000;

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
    /// Where the next page of replies starts (absent on the last page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Whether the viewer has notifications about this thread not yet read (see
    /// [`Spaces::mark_thread_read`]); not part of the XRPC answer.
    #[serde(skip)]
    pub unread: bool,
}

#[derive(Debug, Serialize)]
pub struct Uploaded {
    pub image: Value,
}

/// Whom a new thread in a channel would reach, for the composer to say before posting.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Audience {
    /// Members who would get a notification.
    pub notified: i64,
    /// Members who would get an email (announcements, with email on).
    pub emailed: i64,
}

/// An image's bytes and type, for getImage.
pub struct ImageBytes {
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// Most facets in a post (the post.create and post.edit lexicons say the same).
pub const MAX_FACETS: usize = 100;
/// Most features across a post's facets (a facet usually has one).
pub const MAX_FEATURES: usize = 200;
/// Most distinct accounts one post mentions (and so notifies).
pub const MAX_MENTIONS: usize = 20;
/// Most distinct emoji one member puts on one post.
pub const MAX_REACTIONS_PER_MEMBER: i64 = 10;
/// Most distinct emoji on one post, from everyone.
pub const MAX_EMOJI_PER_POST: i64 = 50;

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
    let facets = facets.as_deref().unwrap_or_default();
    if facets.len() > MAX_FACETS {
        return Err(SpaceError::invalid(format!(
            "A post has at most {MAX_FACETS} facets"
        )));
    }
    let mut features_seen = 0;
    for facet in facets {
        let Some(features) = facet.get("features").and_then(Value::as_array) else {
            continue;
        };
        features_seen += features.len();
        if features_seen > MAX_FEATURES {
            return Err(SpaceError::invalid(format!(
                "A post's facets have at most {MAX_FEATURES} features"
            )));
        }
        for f in features {
            if let Some(did) = f.get("did").and_then(Value::as_str)
                && f.get("$type").and_then(Value::as_str) == Some("app.bsky.richtext.facet#mention")
                && !mentions.iter().any(|m| m == did)
            {
                if mentions.len() == MAX_MENTIONS {
                    return Err(SpaceError::invalid(format!(
                        "A post mentions at most {MAX_MENTIONS} accounts"
                    )));
                }
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
                            && (c
                                .as_collection(Collection::Channel)
                                .map(|p| p.rkey.as_str())
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
                    let uploader = store::image_uploader(conn, acc.space.id, cid)?;
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
                        (
                            Some(root_id),
                            Some(root_uri),
                            Some(ctx.post_uri(&p.author, &p.rkey)),
                            Some(p.id),
                        )
                    }
                    None => (None, None, None, None),
                };
                let facets = facets_json(&input.facets);
                let post_id = store::insert_post(
                    conn,
                    &store::NewPost {
                        space: acc.space.id,
                        channel: channel.id,
                        author: &did,
                        rkey: &rkey,
                        root: root_id,
                        root_uri: root_uri.as_deref(),
                        parent_uri: parent_uri.as_deref(),
                        parent: parent_id,
                        text: &input.text,
                        facets: facets.as_deref(),
                        now,
                    },
                    &images,
                )?;
                let post_uri = ctx.post_uri(&did, &rkey);
                let reply_to = match (&parent, root_id) {
                    (Some(p), Some(root_id)) => {
                        Some((store::post_author(conn, root_id)?, p.author.clone()))
                    }
                    _ => None,
                };
                let emails = fanout::post_created(
                    conn,
                    &fanout::NewPost {
                        space: &acc.space,
                        channel: &channel,
                        post: post_id,
                        author: &did,
                        uri: &post_uri,
                        text: &input.text,
                        mentions: &refs.mentions,
                        reply_to: reply_to.as_ref().map(|(r, p)| (r.as_str(), p.as_str())),
                        now,
                    },
                    s.email_available().then_some(s.public_url.as_str()),
                )?;
                if emails > 0 {
                    let s2 = s.clone();
                    txn.after_commit(move || s2.outbox.notify_one());
                }
                s.announce_after_commit(
                    txn,
                    Change {
                        skey: acc.space.skey.clone(),
                        channel: channel.rkey.clone(),
                    },
                );
                let row = store::post_by_id(conn, post_id)?
                    .ok_or(SpaceError::NotFound("Post not found"))?;
                let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
                Ok((
                    PostOut {
                        post: ctx.post(&row)?,
                    },
                    emails,
                ))
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
                let has_images = store::has_images(conn, post.id)?;
                if !has_images {
                    return Err(SpaceError::invalid("A post needs text or an image"));
                }
            }
            check_facets(conn, s, &acc, &channel, &input.facets)?;
            store::edit_post(
                conn,
                post.id,
                &input.text,
                facets_json(&input.facets).as_deref(),
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
                return Err(SpaceError::Forbidden(
                    "Only the author or a moderator deletes a post",
                ));
            }
            delete_in(txn, s, &acc, &post, &uri, &did)
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
            if !remove {
                let room = store::reaction_room(conn, post.id, &did, &emoji)?;
                if !room.already && room.mine >= MAX_REACTIONS_PER_MEMBER {
                    return Err(SpaceError::invalid(format!(
                        "A member puts at most {MAX_REACTIONS_PER_MEMBER} reactions on a post"
                    )));
                }
                if !room.emoji_present && room.distinct >= MAX_EMOJI_PER_POST {
                    return Err(SpaceError::invalid(format!(
                        "A post has at most {MAX_EMOJI_PER_POST} different reactions"
                    )));
                }
            }
            store::react(conn, post.id, &did, &emoji, remove, now_ms())?;
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
            store::set_hidden(conn, post.id, hidden)?;
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
            store::set_pinned(conn, post.id, pinned)?;
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
            let asker = store::post_author(conn, root_id)?;
            if asker != did && acc.role < Role::Moderator {
                return Err(SpaceError::Forbidden(
                    "Only the asker or a moderator marks the answer",
                ));
            }
            store::set_accepted_answer(conn, root_id, post.id, accepted)?;
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
        let limit = page_size(limit);
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
                rows = store::pinned_threads(conn, channel.id, moderator, limit)?;
            }
            let pinned_count = rows.len() as i64;
            let want = (limit - pinned_count).max(0);
            let rest = store::threads_before(conn, channel.id, before, moderator, want)?;
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

    /// Whom a new thread by the viewer in `channel` would notify and email (the fan-out of
    /// [`Spaces::create_post`], counted). Only for someone who may post there.
    pub async fn thread_audience(&self, did: &str, channel: &str) -> SpaceResult<Audience> {
        let uri = parse_uri(channel)?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            let channel = readable_channel(conn, &acc, &uri)?;
            acc.require(channel.post_role, "You may not post in this channel")?;
            let (_, min) = fanout::new_thread(channel.kind);
            let notified = store::count_readers(conn, acc.space.id, &channel, &did, min)?;
            let emailed = if s.email_available()
                && channel.kind == ChannelKind::Announcements
                && channel.email_announcements
            {
                store::count_announcement_emails(conn, acc.space.id, &channel, &did)?
            } else {
                0
            };
            Ok(Audience { notified, emailed })
        })
        .await
    }

    /// A thread: its root and replies, oldest first. Asking for a reply gives its thread.
    /// A thread's root and a page of its replies, oldest first: `limit` at most
    /// `MAX_THREAD_REPLIES`, after the reply `cursor` names.
    pub async fn thread(
        &self,
        did: &str,
        uri: &str,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<Thread> {
        let limit = i64::from(limit).clamp(1, MAX_THREAD_REPLIES);
        let after = match cursor.as_deref() {
            None | Some("") => 0,
            Some(c) => c
                .parse::<i64>()
                .map_err(|_| SpaceError::invalid("Malformed cursor"))?,
        };
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.read(move |conn, s| {
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            let root = match post.root {
                Some(id) => {
                    store::post_by_id(conn, id)?.ok_or(SpaceError::NotFound("Post not found"))?
                }
                None => post,
            };
            let moderator = acc.role >= Role::Moderator;
            if root.hidden && !moderator {
                return Err(SpaceError::NotFound("Post not found"));
            }
            let replies = store::replies(conn, root.id, moderator, after, limit)?;
            let cursor = (replies.len() as i64 == limit)
                .then(|| replies.last().map(|r| r.id.to_string()))
                .flatten();
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
                cursor,
                unread: store::thread_has_unread(conn, &did, root.id)?,
            })
        })
        .await
    }

    /// Marks the viewer's notifications about the thread `uri` is in as read (they opened it).
    pub async fn mark_thread_read(&self, did: &str, uri: &str) -> SpaceResult<usize> {
        let uri = parse_uri(uri)?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            let root = post.root.unwrap_or(post.id);
            store::mark_thread_read(conn, &did, root, now_ms())
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
        let cid = images::cid_of(&bytes);
        let size = bytes.len() as i64;
        // Gate and quota first, so a non-member or a full account cannot even make the server
        // write to disk.
        {
            let (uri, did, cid) = (uri.clone(), did.to_owned(), cid.clone());
            self.read(move |conn, s| {
                let acc = member_access(conn, &s.authority, &uri, &did)?;
                within_quota(conn, s, acc.space.id, &did, &cid, size)
            })
            .await?;
        }
        // Uploads are heavier than other writes.
        self.space_limit(&uri, 5.0)?;
        let stored = images::put(self, &cid, mime, bytes).await?;
        let did = did.to_owned();
        let cid2 = cid.clone();
        let res = self
            .write(move |txn, s| {
                let conn = txn.conn;
                // Checked again in the transaction: a removal or another upload since the first
                // check wins.
                let acc = member_access(conn, &s.authority, &uri, &did)?;
                within_quota(conn, s, acc.space.id, &did, &cid2, size)?;
                store::insert_image(
                    conn,
                    &store::NewImage {
                        space: acc.space.id,
                        cid: &cid2,
                        mime,
                        size,
                        uploader: &did,
                        now: now_ms(),
                    },
                )?;
                Ok(())
            })
            .await;
        drop(stored);
        if let Err(e) = res {
            // Don't leave bytes on disk that no space refers to.
            let orphans = {
                let cid = cid.clone();
                self.read(move |conn, _| store::unreferenced_images(conn, vec![cid]))
                    .await?
            };
            images::unlink(self, orphans);
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

    /// Forgets uploads older than the grace period ([`images::UNATTACHED_GRACE_MS`] before
    /// `now`, in ms) that no post shows, and deletes their files; returns how many uploads were
    /// forgotten. The background task calls it hourly; tests with a clock of their choosing.
    pub async fn collect_unattached_images(&self, now: i64) -> SpaceResult<usize> {
        let before = now.saturating_sub(images::UNATTACHED_GRACE_MS);
        let mut total = 0;
        loop {
            let n = self
                .write(move |txn, s| {
                    let conn = txn.conn;
                    let cids = store::forget_unattached_images(conn, before, 500)?;
                    let n = cids.len();
                    let orphans = store::unreferenced_images(conn, cids)?;
                    let s = s.clone();
                    txn.after_commit(move || images::unlink(&s, orphans));
                    Ok(n)
                })
                .await?;
            total += n;
            if n < 500 {
                return Ok(total);
            }
        }
    }

    /// An image's bytes, for a member who may see it: its uploader, or a reader of a post
    /// that shows it (hidden posts: moderators only).
    pub async fn get_image(&self, did: &str, space: &str, cid: &str) -> SpaceResult<ImageBytes> {
        let uri = parse_uri(space)?;
        let cid = cid.to_owned();
        let did = did.to_owned();
        let (mime, cid) = self
            .read(move |conn, s| {
                let acc = member_access(conn, &s.authority, &uri, &did)?;
                let (mime, uploader) = store::image(conn, acc.space.id, &cid)?
                    .ok_or(SpaceError::NotFound("Image not found"))?;
                let visible =
                    uploader == did || store::image_shown_to(conn, acc.space.id, &cid, acc.role)?;
                if !visible {
                    return Err(SpaceError::Forbidden("You may not see this image"));
                }
                Ok((mime, cid))
            })
            .await?;
        let bytes = images::read(self, &cid).await?;
        Ok(ImageBytes { mime, bytes })
    }
}

/// Deletes a post inside the write that decided it (a root takes its thread along). Images
/// no post of the space shows any more leave the disk after the commit. Authors delete their
/// own posts freely; a moderator deleting someone else's is a moderation decision, and every
/// one goes to the audit log (the author named).
pub(crate) fn delete_in(
    txn: &mut WriteTxn<'_, ()>,
    s: &Spaces,
    acc: &Access,
    post: &PostRow,
    uri: &SpaceUri,
    actor: &str,
) -> SpaceResult<()> {
    let conn = txn.conn;
    let now = now_ms();
    let gone = store::delete_post(conn, post, now)?;
    if post.author != actor {
        store::audit(
            conn,
            acc.space.id,
            actor,
            "post.delete",
            Some(&uri.to_string()),
            Some(&post.author),
            now,
        )?;
    }
    let orphans = store::unreferenced_images(conn, gone)?;
    let s = s.clone();
    txn.after_commit(move || images::unlink(&s, orphans));
    Ok(())
}

/// Refuses an upload that would take the uploader or the space past its image quota. An
/// image the space already holds costs nothing.
fn within_quota(
    conn: &Connection,
    s: &Spaces,
    space: i64,
    did: &str,
    cid: &str,
    size: i64,
) -> SpaceResult<()> {
    if store::has_image(conn, space, cid)? {
        return Ok(());
    }
    let limits = s.limits.limits();
    let (account, in_space) = store::image_usage(conn, space, did)?;
    if account.saturating_add(size) > limits.account_image_bytes {
        return Err(SpaceError::Named(
            "QuotaExceeded",
            "Your image storage is full; delete posts with images to make room",
        ));
    }
    if in_space.saturating_add(size) > limits.space_image_bytes {
        return Err(SpaceError::Named(
            "QuotaExceeded",
            "This space's image storage is full",
        ));
    }
    Ok(())
}
