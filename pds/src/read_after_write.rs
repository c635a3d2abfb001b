//! Read-after-write. An AppView learns of a user's writes from the firehose, a moment after the
//! PDS acknowledged them, so the timeline fetched right after posting may not show the post.
//! The AppView says how far it has read the user's repository (`atproto-repo-rev`); for
//! getTimeline, getAuthorFeed, getPostThread and getProfile the PDS adds the user's own newer
//! posts and profile changes to its answer, as the reference PDS does.
//!
//! The views of the user's own posts are the AppView's types ([`hearth_lexicons::bsky`]); the
//! AppView's answer they are added to is patched as the JSON it arrived as, since it may hold
//! fields this PDS does not know.

use crate::accounts::store;
use crate::db::DbError;
use crate::repo::store as repo_store;
use atproto::data::{cbor, json as datajson};
use atproto::syntax::{Datetime, Tid};
use hearth_lexicons::bsky::{
    EmbedView, ExternalView, FeedViewPost, ImagesView, MediaView, PostView, ProfileViewBasic,
    RecordView, RecordViewRecord, RecordWithMediaView, TaggedRecordView, ThreadNode,
    ThreadViewPost, ViewExternal, ViewImage,
};
use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

pub const POST: &str = "app.bsky.feed.post";
pub const PROFILE: &str = "app.bsky.actor.profile";
const INVALID_HANDLE: &str = "handle.invalid";
/// Most local writes added to one answer (the newest). A lag longer than this many posts is an
/// outage, not a lag, and the answer would be mostly ours rather than the AppView's.
const MAX_LOCAL: i64 = 50;
/// How far before the account's creation here a rev may be and still be ours: revs from before
/// it were written by another host (a migrated account) and say nothing about our records.
const CLOCK_SLACK_MICROS: i64 = 5 * 60 * 1_000_000;

/// The methods whose answers get the user's newer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Timeline,
    AuthorFeed,
    PostThread,
    Profile,
}

impl Method {
    pub fn of(nsid: &str) -> Option<Method> {
        match nsid {
            "app.bsky.feed.getTimeline" => Some(Method::Timeline),
            "app.bsky.feed.getAuthorFeed" => Some(Method::AuthorFeed),
            "app.bsky.feed.getPostThread" => Some(Method::PostThread),
            "app.bsky.actor.getProfile" => Some(Method::Profile),
            _ => None,
        }
    }
}

/// A record as this PDS stored it.
#[derive(Debug, Clone)]
pub struct LocalRecord {
    pub uri: String,
    pub cid: String,
    pub indexed_at: String,
    pub value: Value,
}

impl LocalRecord {
    fn reply_root(&self) -> Option<&str> {
        self.value["reply"]["root"]["uri"].as_str()
    }

    fn reply_parent(&self) -> Option<&str> {
        self.value["reply"]["parent"]["uri"].as_str()
    }
}

/// The user's writes the AppView has not seen, and who the user is.
#[derive(Debug, Clone)]
pub struct Local {
    pub did: String,
    pub handle: String,
    /// The current profile record, for the author of local posts.
    pub current_profile: Option<Value>,
    /// The profile record, when it changed after the AppView's rev.
    pub profile: Option<LocalRecord>,
    /// Posts written after the AppView's rev, oldest first.
    pub posts: Vec<LocalRecord>,
    /// Base URL of this PDS, for image links (sync.getBlob works for any AppView).
    pub public_url: String,
}

/// Quoted records, by URI, as `app.bsky.embed.record#view` members (fetched from the AppView).
pub type Quoted = HashMap<String, Value>;

/// The query parameters the munging looks at.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub actor: Option<String>,
    pub filter: Option<String>,
    pub cursor: Option<String>,
    pub uri: Option<String>,
    pub parent_height: Option<String>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match k.as_ref() {
                "actor" => &mut p.actor,
                "filter" => &mut p.filter,
                "cursor" => &mut p.cursor,
                "uri" => &mut p.uri,
                "parentHeight" => &mut p.parent_height,
                _ => continue,
            };
            *slot = Some(v.into_owned());
        }
        p
    }
}

fn decode(bytes: &[u8]) -> Option<Value> {
    cbor::decode(bytes).ok().map(|v| datajson::to_json(&v))
}

/// The user's writes after `rev` (the AppView's `atproto-repo-rev`), or `None` when there is
/// nothing to add: the AppView is up to date, the rev is malformed, or it is not ours.
pub fn load(
    conn: &Connection,
    account: i64,
    rev: &str,
    public_url: &str,
) -> Result<Option<Local>, DbError> {
    let Ok(tid) = rev.parse::<Tid>() else {
        return Ok(None);
    };
    // The common case costs one row: the AppView has everything.
    match repo_store::head(conn, account)? {
        Some((_, head_rev, _)) if head_rev.as_str() > rev => {}
        _ => return Ok(None),
    }
    let Some(acct) = store::by_id(conn, account)? else {
        return Ok(None);
    };
    let created = acct
        .created_at
        .parse::<Datetime>()
        .map(|d| d.timestamp_micros())
        .unwrap_or(0);
    if (tid.timestamp_micros() as i64) < created - CLOCK_SLACK_MICROS {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT r.collection, r.rkey, r.cid, r.indexed_at, b.content FROM record r
         JOIN repo_block b ON b.account = r.account AND b.cid = r.cid
         WHERE r.account = ?1 AND r.rev > ?2
           AND (r.collection = ?3 OR (r.collection = ?4 AND r.rkey = 'self'))
         ORDER BY r.rev DESC LIMIT ?5",
    )?;
    let rows = stmt
        .query_map(params![account, rev, POST, PROFILE, MAX_LOCAL], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut profile = None;
    let mut posts = Vec::new();
    for (collection, rkey, cid, indexed_at, content) in rows.into_iter().rev() {
        let (Ok(cid), Some(value)) = (
            atproto::data::Cid::try_from(cid.as_slice()),
            decode(&content),
        ) else {
            continue;
        };
        let rec = LocalRecord {
            uri: format!("at://{}/{collection}/{rkey}", acct.did),
            cid: cid.to_string(),
            indexed_at,
            value,
        };
        if collection == PROFILE {
            profile = Some(rec);
        } else {
            posts.push(rec);
        }
    }
    if profile.is_none() && posts.is_empty() {
        return Ok(None);
    }
    let current_profile = match &profile {
        Some(p) => Some(p.value.clone()),
        None => repo_store::record(conn, account, PROFILE, "self")?.and_then(|(_, b)| decode(&b)),
    };
    Ok(Some(Local {
        handle: acct.handle.unwrap_or_else(|| INVALID_HANDLE.into()),
        did: acct.did,
        current_profile,
        profile,
        posts,
        public_url: public_url.trim_end_matches('/').to_owned(),
    }))
}

/// The CID of a blob reference (also the legacy `{cid, mimeType}` form).
fn blob_cid(blob: &Value) -> Option<&str> {
    blob["ref"]["$link"]
        .as_str()
        .or_else(|| blob["cid"].as_str())
}

/// Sets `key` to `value`, or removes it when there is none (the record dropped the field).
fn set(view: &mut Value, key: &str, value: Option<Value>) {
    if let Some(o) = view.as_object_mut() {
        match value {
            Some(v) => {
                o.insert(key.into(), v);
            }
            None => {
                o.remove(key);
            }
        }
    }
}

fn string_field(record: &Value, key: &str) -> Option<Value> {
    record.get(key).filter(|v| v.is_string()).cloned()
}

fn string_of(record: &Value, key: &str) -> Option<String> {
    record.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A view as JSON, to go into the AppView's answer. The view types have string keys only, so
/// this cannot fail; `None` would leave the view out rather than panic in a request.
fn to_json(view: &impl Serialize) -> Option<Value> {
    serde_json::to_value(view).ok()
}

impl Local {
    /// How long ago the oldest added write was made, in milliseconds.
    pub fn lag_ms(&self) -> Option<i64> {
        let oldest = self
            .posts
            .iter()
            .chain(self.profile.as_ref())
            .filter_map(|r| r.indexed_at.parse::<Datetime>().ok())
            .map(|d| d.timestamp_micros())
            .min()?;
        Some(((Datetime::unix_now_micros() - oldest) / 1000).max(0))
    }

    fn image_url(&self, cid: &str) -> String {
        format!(
            "{}/xrpc/com.atproto.sync.getBlob?did={}&cid={cid}",
            self.public_url, self.did
        )
    }

    fn image(&self, record: &Value, key: &str) -> Option<String> {
        blob_cid(&record[key]).map(|c| self.image_url(c))
    }

    /// Brings a `profileViewBasic` (or a richer view) up to date with the profile record.
    fn apply_profile_basic(&self, view: &mut Value, record: &Value) {
        set(view, "displayName", string_field(record, "displayName"));
        set(view, "pronouns", string_field(record, "pronouns"));
        set(
            view,
            "avatar",
            self.image(record, "avatar").map(Value::String),
        );
    }

    fn apply_profile_detailed(&self, view: &mut Value, record: &Value) {
        self.apply_profile_basic(view, record);
        set(view, "description", string_field(record, "description"));
        set(view, "website", string_field(record, "website"));
        set(
            view,
            "banner",
            self.image(record, "banner").map(Value::String),
        );
        set(
            view,
            "pinnedPost",
            record
                .get("pinnedPost")
                .filter(|p| p["uri"].is_string() && p["cid"].is_string())
                .cloned(),
        );
    }

    /// The user as a `profileViewBasic`.
    fn author(&self) -> ProfileViewBasic {
        let profile = self.current_profile.as_ref();
        ProfileViewBasic {
            did: self.did.clone(),
            handle: self.handle.clone(),
            display_name: profile.and_then(|p| string_of(p, "displayName")),
            pronouns: profile.and_then(|p| string_of(p, "pronouns")),
            avatar: profile.and_then(|p| self.image(p, "avatar")),
            viewer: None,
            labels: None,
            created_at: None,
        }
    }

    /// Every record that local posts quote, for the caller to look up.
    pub fn quoted_uris(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.posts {
            let embed = &p.value["embed"];
            let uri = match embed["$type"].as_str() {
                Some("app.bsky.embed.record") => embed["record"]["uri"].as_str(),
                Some("app.bsky.embed.recordWithMedia") => embed["record"]["record"]["uri"].as_str(),
                _ => None,
            };
            if let Some(u) = uri
                && !out.iter().any(|o| o == u)
            {
                out.push(u.to_owned());
            }
        }
        out
    }

    fn images_view(&self, embed: &Value) -> Option<ImagesView> {
        let images = embed["images"].as_array()?;
        let mut out = Vec::with_capacity(images.len());
        for img in images {
            let cid = blob_cid(&img["image"])?;
            out.push(ViewImage {
                thumb: self.image_url(cid),
                fullsize: self.image_url(cid),
                alt: img["alt"].as_str().unwrap_or_default().to_owned(),
                aspect_ratio: Some(img["aspectRatio"].clone()).filter(Value::is_object),
            });
        }
        Some(ImagesView { images: out })
    }

    fn external_view(&self, embed: &Value) -> Option<ExternalView> {
        let ext = &embed["external"];
        Some(ExternalView {
            external: ViewExternal {
                uri: ext["uri"].as_str()?.to_owned(),
                title: ext["title"].as_str().unwrap_or_default().to_owned(),
                description: ext["description"].as_str().unwrap_or_default().to_owned(),
                thumb: blob_cid(&ext["thumb"]).map(|c| self.image_url(c)),
            },
        })
    }

    /// What the AppView said of a quoted record, or that it is not found.
    fn record_view(&self, strong_ref: &Value, quoted: &Quoted) -> Option<RecordView> {
        let uri = strong_ref["uri"].as_str()?;
        let record = match quoted.get(uri) {
            Some(v) => RecordViewRecord::Fetched(v.clone()),
            None => RecordViewRecord::NotFound {
                uri: uri.to_owned(),
                not_found: true,
            },
        };
        Some(RecordView { record })
    }

    /// The view of a post's embed; `None` for kinds only the AppView can render (video).
    fn embed_view(&self, embed: &Value, quoted: &Quoted) -> Option<EmbedView> {
        match embed["$type"].as_str()? {
            "app.bsky.embed.images" => self.images_view(embed).map(EmbedView::Images),
            "app.bsky.embed.external" => self.external_view(embed).map(EmbedView::External),
            "app.bsky.embed.record" => self
                .record_view(&embed["record"], quoted)
                .map(EmbedView::Record),
            "app.bsky.embed.recordWithMedia" => {
                let media = &embed["media"];
                let media = match media["$type"].as_str()? {
                    "app.bsky.embed.images" => MediaView::Images(self.images_view(media)?),
                    "app.bsky.embed.external" => MediaView::External(self.external_view(media)?),
                    _ => return None,
                };
                Some(EmbedView::RecordWithMedia(RecordWithMediaView {
                    record: TaggedRecordView::View(
                        self.record_view(&embed["record"]["record"], quoted)?,
                    ),
                    media: Some(media),
                }))
            }
            _ => None,
        }
    }

    /// A `postView` of a local post. Counts are zero: nobody has seen it yet.
    pub fn post_view(&self, rec: &LocalRecord, quoted: &Quoted) -> PostView {
        PostView {
            uri: rec.uri.clone(),
            cid: rec.cid.clone(),
            author: self.author(),
            record: rec.value.clone(),
            embed: self.embed_view(&rec.value["embed"], quoted),
            reply_count: Some(0),
            repost_count: Some(0),
            like_count: Some(0),
            quote_count: Some(0),
            bookmark_count: None,
            indexed_at: rec.indexed_at.clone(),
            viewer: None,
            labels: None,
            threadgate: None,
        }
    }

    /// A local post as a `threadViewPost` with no parent or replies yet, as JSON.
    fn thread_view_post(&self, post: &LocalRecord, quoted: &Quoted) -> Option<Value> {
        to_json(&ThreadNode::Post(Box::new(ThreadViewPost {
            post: self.post_view(post, quoted),
            parent: None,
            replies: None,
            thread_context: None,
        })))
    }

    /// Rewrites the user's author views anywhere in `v` (posts, reposts, quotes) after a
    /// profile change.
    fn refresh_authors(&self, v: &mut Value) {
        let Some(profile) = self.profile.as_ref().map(|p| &p.value) else {
            return;
        };
        fn walk(local: &Local, profile: &Value, v: &mut Value) {
            match v {
                Value::Object(o) => {
                    for key in ["author", "by", "creator"] {
                        if let Some(a) = o.get_mut(key)
                            && a["did"].as_str() == Some(local.did.as_str())
                        {
                            local.apply_profile_basic(a, profile);
                        }
                    }
                    for (k, child) in o.iter_mut() {
                        // Records are the authors' own data, never views.
                        if k != "record" && k != "value" {
                            walk(local, profile, child);
                        }
                    }
                }
                Value::Array(items) => items.iter_mut().for_each(|i| walk(local, profile, i)),
                _ => {}
            }
        }
        walk(self, profile, v);
    }

    /// Adds local posts to a feed page, newest first by `indexedAt`, skipping any the AppView
    /// already has and any older than the page reaches.
    fn insert_into_feed<'a>(
        &self,
        feed: &mut Vec<Value>,
        posts: impl DoubleEndedIterator<Item = &'a LocalRecord>,
        quoted: &Quoted,
    ) {
        let present: HashSet<String> = feed
            .iter()
            .filter_map(|f| f["post"]["uri"].as_str().map(str::to_owned))
            .collect();
        let last_time = feed
            .last()
            .and_then(|f| f["post"]["indexedAt"].as_str())
            .unwrap_or_default()
            .to_owned();
        for post in posts.rev() {
            if present.contains(&post.uri) || post.indexed_at.as_str() <= last_time.as_str() {
                continue;
            }
            let Some(item) = to_json(&FeedViewPost {
                post: self.post_view(post, quoted),
                reply: None,
                reason: None,
                feed_context: None,
                req_id: None,
            }) else {
                continue;
            };
            let at = feed.iter().position(|f| {
                f["post"]["indexedAt"].as_str().unwrap_or_default() < post.indexed_at.as_str()
            });
            match at {
                Some(i) => feed.insert(i, item),
                None => feed.push(item),
            }
        }
    }

    fn feed_mut(body: &mut Value) -> Option<&mut Vec<Value>> {
        body.get_mut("feed").and_then(Value::as_array_mut)
    }

    pub fn munge_timeline(&self, mut body: Value, params: &Params, quoted: &Quoted) -> Value {
        self.refresh_authors(&mut body);
        // The new posts belong on the first page; later pages are older than any of them.
        if params.cursor.as_deref().is_none_or(str::is_empty)
            && let Some(feed) = Self::feed_mut(&mut body)
        {
            self.insert_into_feed(feed, self.posts.iter(), quoted);
        }
        body
    }

    /// Whether the author feed asked for is the user's own.
    fn is_own(&self, actor: Option<&str>) -> bool {
        actor.is_some_and(|a| a == self.did || a.eq_ignore_ascii_case(&self.handle))
    }

    /// Whether a local post belongs in an author feed with this filter.
    fn matches_filter(&self, post: &LocalRecord, filter: Option<&str>) -> bool {
        let is_reply = post.value.get("reply").is_some();
        let media = matches!(
            post.value["embed"]["$type"].as_str(),
            Some("app.bsky.embed.images" | "app.bsky.embed.video")
        ) || matches!(
            post.value["embed"]["media"]["$type"].as_str(),
            Some("app.bsky.embed.images" | "app.bsky.embed.video")
        );
        match filter.unwrap_or("posts_with_replies") {
            "posts_no_replies" => !is_reply,
            "posts_with_media" => media,
            "posts_with_video" => {
                post.value["embed"]["$type"].as_str() == Some("app.bsky.embed.video")
                    || post.value["embed"]["media"]["$type"].as_str()
                        == Some("app.bsky.embed.video")
            }
            "posts_and_author_threads" => {
                !is_reply
                    || post
                        .reply_root()
                        .is_some_and(|r| r.starts_with(&format!("at://{}/", self.did)))
            }
            _ => true,
        }
    }

    pub fn munge_author_feed(&self, mut body: Value, params: &Params, quoted: &Quoted) -> Value {
        if !self.is_own(params.actor.as_deref()) {
            return body;
        }
        self.refresh_authors(&mut body);
        if params.cursor.as_deref().is_none_or(str::is_empty)
            && let Some(feed) = Self::feed_mut(&mut body)
        {
            let filter = params.filter.as_deref();
            let posts = self
                .posts
                .iter()
                .filter(|p| self.matches_filter(p, filter))
                .collect::<Vec<_>>();
            self.insert_into_feed(feed, posts.into_iter(), quoted);
        }
        body
    }

    pub fn munge_profile(&self, mut body: Value) -> Value {
        if let Some(p) = &self.profile
            && body["did"].as_str() == Some(self.did.as_str())
        {
            self.apply_profile_detailed(&mut body, &p.value);
        }
        body
    }

    /// Every post URI already in a thread.
    fn thread_uris(v: &Value, out: &mut HashSet<String>) {
        if let Some(u) = v["post"]["uri"].as_str() {
            out.insert(u.to_owned());
        }
        if let Some(replies) = v["replies"].as_array() {
            replies.iter().for_each(|r| Self::thread_uris(r, out));
        }
    }

    /// Puts a reply under its parent, wherever the parent is among the thread's replies.
    fn insert_reply(&self, view: &mut Value, post: &LocalRecord, quoted: &Quoted) -> bool {
        if view["post"]["uri"].as_str() == post.reply_parent() {
            let Some(reply) = self.thread_view_post(post, quoted) else {
                return false;
            };
            if let Some(o) = view.as_object_mut() {
                let replies = o
                    .entry("replies")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Some(r) = replies.as_array_mut() {
                    r.insert(0, reply);
                    return true;
                }
            }
            return false;
        }
        let Some(replies) = view.get_mut("replies").and_then(Value::as_array_mut) else {
            return false;
        };
        replies.iter_mut().any(|r| {
            r["$type"].as_str() == Some("app.bsky.feed.defs#threadViewPost")
                && self.insert_reply(r, post, quoted)
        })
    }

    /// Adds the local replies that belong to the thread rooted at (or containing) `thread`.
    fn add_replies(&self, thread: &mut Value, quoted: &Quoted) {
        let anchor = thread["post"]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let root = thread["post"]["record"]["reply"]["root"]["uri"]
            .as_str()
            .unwrap_or(&anchor)
            .to_owned();
        let mut present = HashSet::new();
        Self::thread_uris(thread, &mut present);
        for post in &self.posts {
            let in_thread = post.reply_root().is_some_and(|r| r == anchor || r == root);
            if in_thread && !present.contains(&post.uri) && self.insert_reply(thread, post, quoted)
            {
                present.insert(post.uri.clone());
            }
        }
    }

    pub fn munge_thread(&self, mut body: Value, quoted: &Quoted) -> Value {
        self.refresh_authors(&mut body);
        if let Some(thread) = body.get_mut("thread")
            && thread["$type"].as_str() == Some("app.bsky.feed.defs#threadViewPost")
        {
            self.add_replies(thread, quoted);
        }
        body
    }

    /// The AppView has not indexed the requested post yet: a thread of it, from our records,
    /// when it is one of the user's own new posts. Its parent (when it has one) is for the
    /// caller to fetch.
    pub fn thread_of_local(&self, uri: &str, quoted: &Quoted) -> Option<Value> {
        let uri = self.normalize_uri(uri)?;
        let post = self.posts.iter().find(|p| p.uri == uri)?;
        let mut thread = self.thread_view_post(post, quoted)?;
        self.add_replies(&mut thread, quoted);
        Some(thread)
    }

    /// The parent a local post replies to.
    pub fn parent_of(&self, uri: &str) -> Option<String> {
        let uri = self.normalize_uri(uri)?;
        self.posts
            .iter()
            .find(|p| p.uri == uri)
            .and_then(|p| p.reply_parent().map(str::to_owned))
    }

    /// `at://<handle or did>/...` with the user's handle replaced by the DID; `None` for
    /// anyone else's URI.
    fn normalize_uri(&self, uri: &str) -> Option<String> {
        let rest = uri.strip_prefix("at://")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority == self.did || authority.eq_ignore_ascii_case(&self.handle) {
            Some(format!("at://{}/{path}", self.did))
        } else {
            None
        }
    }
}

/// An `app.bsky.embed.record#viewRecord` from a `postView` the AppView returned.
pub fn view_record_of_post(post: &Value) -> Option<Value> {
    let mut v = Map::new();
    v.insert(
        "$type".into(),
        Value::String("app.bsky.embed.record#viewRecord".into()),
    );
    for (from, to) in [
        ("uri", "uri"),
        ("cid", "cid"),
        ("author", "author"),
        ("record", "value"),
        ("labels", "labels"),
        ("indexedAt", "indexedAt"),
        ("likeCount", "likeCount"),
        ("replyCount", "replyCount"),
        ("repostCount", "repostCount"),
        ("quoteCount", "quoteCount"),
    ] {
        if let Some(x) = post.get(from) {
            v.insert(to.into(), x.clone());
        }
    }
    for required in ["uri", "cid", "author", "value", "indexedAt"] {
        if !v.contains_key(required) {
            return None;
        }
    }
    if let Some(e) = post.get("embed") {
        v.insert("embeds".into(), Value::Array(vec![e.clone()]));
    }
    Some(Value::Object(v))
}

#[cfg(test)]
mod tests;
