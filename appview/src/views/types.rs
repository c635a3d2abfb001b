//! The `app.bsky.*` view shapes the timeline path renders, one type per lexicon def (named after
//! it), so that the compiler checks field names and which fields are optional. Optional lexicon
//! fields are `Option`s left out when `None` (absent, never null); unions are enums tagged with
//! `$type`. Records and the parts of them passed through as the author wrote them (`record`,
//! `value`, `aspectRatio`) stay JSON values.

use serde::Serialize;
use serde_json::Value;

/// `com.atproto.label.defs#label`. The index keeps no labels yet, so the views carry empty lists
/// of these.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    pub src: String,
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    pub val: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neg: Option<bool>,
    pub cts: String,
}

/// `app.bsky.actor.defs#viewerState`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorViewerState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followed_by: Option<String>,
}

/// `app.bsky.actor.defs#profileViewBasic`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileViewBasic {
    pub did: String,
    pub handle: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ActorViewerState>,
    pub labels: Vec<Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

/// `app.bsky.actor.defs#knownFollowers`: followers of an account whom the viewer follows.
#[derive(Debug, Clone, Serialize)]
pub struct KnownFollowers {
    pub count: i64,
    pub followers: Vec<ProfileViewBasic>,
}

/// `app.bsky.actor.defs#profileAssociated`: what an account has created.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileAssociated {
    pub lists: i64,
    pub feedgens: i64,
    pub starter_packs: i64,
    pub labeler: bool,
}

/// `app.bsky.feed.defs#blockedAuthor`.
#[derive(Debug, Clone, Serialize)]
pub struct BlockedAuthor {
    pub did: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<ActorViewerState>,
}

/// `app.bsky.feed.defs#viewerState`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostViewerState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub like: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repost: Option<String>,
    pub thread_muted: bool,
    pub reply_disabled: bool,
    pub embedding_disabled: bool,
    pub bookmarked: bool,
}

/// `app.bsky.feed.defs#threadgateView`.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadgateView {
    pub uri: String,
    pub cid: String,
    pub record: Value,
    /// `app.bsky.graph.defs#listViewBasic`s of the lists the gate's list rules name.
    pub lists: Vec<Value>,
}

/// `app.bsky.feed.defs#postView`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    pub uri: String,
    pub cid: String,
    pub author: ProfileViewBasic,
    pub record: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed: Option<EmbedView>,
    pub reply_count: i64,
    pub repost_count: i64,
    pub like_count: i64,
    pub quote_count: i64,
    pub bookmark_count: i64,
    pub indexed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<PostViewerState>,
    pub labels: Vec<Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threadgate: Option<ThreadgateView>,
}

/// `app.bsky.feed.defs#notFoundPost`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotFoundPost {
    pub uri: String,
    pub not_found: bool,
}

/// `app.bsky.feed.defs#blockedPost`.
#[derive(Debug, Clone, Serialize)]
pub struct BlockedPost {
    pub uri: String,
    pub blocked: bool,
    pub author: BlockedAuthor,
}

/// The union in `app.bsky.feed.defs#replyRef` (`root`, `parent`) and thread views.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum PostOrStub {
    #[serde(rename = "app.bsky.feed.defs#postView")]
    Post(Box<PostView>),
    #[serde(rename = "app.bsky.feed.defs#notFoundPost")]
    NotFound(NotFoundPost),
    #[serde(rename = "app.bsky.feed.defs#blockedPost")]
    Blocked(BlockedPost),
}

/// `app.bsky.feed.defs#replyRef`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyRef {
    pub root: PostOrStub,
    pub parent: PostOrStub,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grandparent_author: Option<ProfileViewBasic>,
}

/// `app.bsky.feed.defs#reasonRepost`. The repost record's own CID is not indexed, so `cid`
/// is never set.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonRepost {
    pub by: ProfileViewBasic,
    pub uri: String,
    pub indexed_at: String,
}

/// The `reason` union of `app.bsky.feed.defs#feedViewPost`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum FeedReason {
    #[serde(rename = "app.bsky.feed.defs#reasonRepost")]
    Repost(Box<ReasonRepost>),
    #[serde(rename = "app.bsky.feed.defs#reasonPin")]
    Pin,
}

/// `app.bsky.feed.defs#feedViewPost`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedViewPost {
    pub post: PostView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<FeedReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub req_id: Option<String>,
}

/// `app.bsky.embed.images#viewImage`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewImage {
    pub thumb: String,
    pub fullsize: String,
    pub alt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<Value>,
}

/// `app.bsky.embed.images#view`.
#[derive(Debug, Clone, Serialize)]
pub struct ImagesView {
    pub images: Vec<ViewImage>,
}

/// `app.bsky.embed.external#viewExternal`.
#[derive(Debug, Clone, Serialize)]
pub struct ViewExternal {
    pub uri: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumb: Option<String>,
}

/// `app.bsky.embed.external#view`.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalView {
    pub external: ViewExternal,
}

/// `app.bsky.embed.video#view`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoView {
    pub cid: String,
    pub playlist: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aspect_ratio: Option<Value>,
}

/// `app.bsky.embed.record#viewRecord`: a quoted post.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewRecord {
    pub uri: String,
    pub cid: String,
    pub author: ProfileViewBasic,
    pub value: Value,
    pub labels: Vec<Label>,
    pub reply_count: i64,
    pub repost_count: i64,
    pub like_count: i64,
    pub quote_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeds: Option<Vec<EmbedView>>,
    pub indexed_at: String,
}

/// The `record` union of `app.bsky.embed.record#view`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum RecordViewRecord {
    #[serde(rename = "app.bsky.embed.record#viewRecord")]
    Record(Box<ViewRecord>),
    #[serde(
        rename = "app.bsky.embed.record#viewNotFound",
        rename_all = "camelCase"
    )]
    NotFound { uri: String, not_found: bool },
    #[serde(rename = "app.bsky.embed.record#viewBlocked")]
    Blocked(BlockedPost),
    /// `app.bsky.feed.defs#generatorView` (built as JSON by [`super::embed`]).
    #[serde(rename = "app.bsky.feed.defs#generatorView")]
    Generator(Value),
    /// `app.bsky.graph.defs#listView` (built as JSON by [`super::graph`]).
    #[serde(rename = "app.bsky.graph.defs#listView")]
    List(Value),
    /// `app.bsky.labeler.defs#labelerView`, which carries its own `$type`.
    #[serde(untagged)]
    Labeler(Value),
}

/// `app.bsky.embed.record#view`.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub record: RecordViewRecord,
}

/// `recordWithMedia#view`'s `record`: a `record#view`, which clients expect tagged although
/// the lexicon refers to it directly.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum TaggedRecordView {
    #[serde(rename = "app.bsky.embed.record#view")]
    View(RecordView),
}

/// The `media` union of `app.bsky.embed.recordWithMedia#view`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum MediaView {
    #[serde(rename = "app.bsky.embed.images#view")]
    Images(ImagesView),
    #[serde(rename = "app.bsky.embed.external#view")]
    External(ExternalView),
    #[serde(rename = "app.bsky.embed.video#view")]
    Video(VideoView),
}

/// `app.bsky.embed.recordWithMedia#view`. `media` is left out when the record's media is of a
/// kind this AppView does not render.
#[derive(Debug, Clone, Serialize)]
pub struct RecordWithMediaView {
    pub record: TaggedRecordView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaView>,
}

/// The `embed` union of `app.bsky.feed.defs#postView` (and `embeds` of `#viewRecord`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum EmbedView {
    #[serde(rename = "app.bsky.embed.images#view")]
    Images(ImagesView),
    #[serde(rename = "app.bsky.embed.external#view")]
    External(ExternalView),
    #[serde(rename = "app.bsky.embed.video#view")]
    Video(VideoView),
    #[serde(rename = "app.bsky.embed.record#view")]
    Record(RecordView),
    #[serde(rename = "app.bsky.embed.recordWithMedia#view")]
    RecordWithMedia(RecordWithMediaView),
}

impl From<MediaView> for EmbedView {
    fn from(m: MediaView) -> EmbedView {
        match m {
            MediaView::Images(v) => EmbedView::Images(v),
            MediaView::External(v) => EmbedView::External(v),
            MediaView::Video(v) => EmbedView::Video(v),
        }
    }
}
