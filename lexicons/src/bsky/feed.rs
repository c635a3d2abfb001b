//! `app.bsky.feed.*`: posts, feed items, threads, feed generators, likes.

use super::{ActorViewerState, EmbedView, Label, ListViewBasic, ProfileView, ProfileViewBasic};
use serde::Serialize;
use serde_json::Value;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_muted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookmarked: Option<bool>,
}

/// `app.bsky.feed.defs#threadgateView`.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadgateView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Value>,
    /// The lists the gate's list rules name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lists: Option<Vec<ListViewBasic>>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repost_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub like_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bookmark_count: Option<i64>,
    pub indexed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<PostViewerState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
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

/// `app.bsky.feed.defs#threadContext`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_author_like: Option<String>,
}

/// `app.bsky.feed.defs#threadViewPost`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadViewPost {
    pub post: PostView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ThreadNode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replies: Option<Vec<ThreadNode>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_context: Option<ThreadContext>,
}

/// The union of `#threadViewPost`'s `parent` and `replies` and `getPostThread`'s `thread`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum ThreadNode {
    #[serde(rename = "app.bsky.feed.defs#threadViewPost")]
    Post(Box<ThreadViewPost>),
    #[serde(rename = "app.bsky.feed.defs#notFoundPost")]
    NotFound(NotFoundPost),
    #[serde(rename = "app.bsky.feed.defs#blockedPost")]
    Blocked(BlockedPost),
}

/// `app.bsky.feed.defs#generatorViewerState`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GeneratorViewerState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub like: Option<String>,
}

/// `app.bsky.feed.defs#generatorView`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorView {
    pub uri: String,
    pub cid: String,
    pub did: String,
    pub creator: ProfileView,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description_facets: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub like_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepts_interactions: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<GeneratorViewerState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_mode: Option<Value>,
    pub indexed_at: String,
}

/// `app.bsky.feed.getFeedGenerator#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFeedGeneratorOutput {
    pub view: GeneratorView,
    pub is_online: bool,
    pub is_valid: bool,
}

/// `app.bsky.feed.getFeedGenerators#output`, `getActorFeeds#output`,
/// `app.bsky.unspecced.getPopularFeedGenerators#output` and `getSuggestedFeeds#output`.
#[derive(Debug, Clone, Serialize)]
pub struct FeedsOutput {
    pub feeds: Vec<GeneratorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A page of `#feedViewPost`s: `getTimeline#output`, `getAuthorFeed#output`,
/// `getListFeed#output`, `getFeed#output`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedOutput {
    pub feed: Vec<FeedViewPost>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `app.bsky.feed.getPosts#output` and `searchPosts#output` (whose `cursor` the other lacks).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PostsOutput {
    pub posts: Vec<PostView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `app.bsky.feed.getPostThread#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetPostThreadOutput {
    pub thread: ThreadNode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threadgate: Option<ThreadgateView>,
}

/// `app.bsky.feed.getLikes#like`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Like {
    pub indexed_at: String,
    pub created_at: String,
    pub actor: ProfileView,
}

/// `app.bsky.feed.getLikes#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetLikesOutput {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub likes: Vec<Like>,
}

/// `app.bsky.feed.getRepostedBy#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRepostedByOutput {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub reposted_by: Vec<ProfileView>,
}

/// `app.bsky.feed.getQuotes#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetQuotesOutput {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub posts: Vec<PostView>,
}
