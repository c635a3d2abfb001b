//! `app.bsky.unspecced.*`: trends and the flat thread views (V2).

use super::{BlockedAuthor, PostView, ProfileViewBasic, ThreadgateView};
use serde::Serialize;

/// `app.bsky.unspecced.defs#trendingTopic`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrendingTopic {
    pub topic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub link: String,
}

/// `app.bsky.unspecced.getTrendingTopics#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetTrendingTopicsOutput {
    pub topics: Vec<TrendingTopic>,
    pub suggested: Vec<TrendingTopic>,
}

/// `app.bsky.unspecced.defs#trendView`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrendView {
    pub topic: String,
    pub display_name: String,
    pub link: String,
    pub started_at: String,
    pub post_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub actors: Vec<ProfileViewBasic>,
}

/// `app.bsky.unspecced.getTrends#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetTrendsOutput {
    pub trends: Vec<TrendView>,
}

/// `app.bsky.unspecced.defs#threadItemPost`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadItemPost {
    pub post: PostView,
    pub more_parents: bool,
    pub more_replies: i64,
    pub op_thread: bool,
    pub hidden_by_threadgate: bool,
    pub muted_by_viewer: bool,
}

/// The `value` union of `app.bsky.unspecced.getPostThreadV2#threadItem`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum ThreadItemValue {
    #[serde(rename = "app.bsky.unspecced.defs#threadItemPost")]
    Post(Box<ThreadItemPost>),
    #[serde(rename = "app.bsky.unspecced.defs#threadItemNotFound")]
    NotFound,
    #[serde(rename = "app.bsky.unspecced.defs#threadItemBlocked")]
    Blocked { author: BlockedAuthor },
}

/// `app.bsky.unspecced.getPostThreadV2#threadItem`.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadItem {
    pub uri: String,
    pub depth: i64,
    pub value: ThreadItemValue,
}

/// `app.bsky.unspecced.getPostThreadV2#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPostThreadV2Output {
    pub thread: Vec<ThreadItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threadgate: Option<ThreadgateView>,
    pub has_other_replies: bool,
}

/// `app.bsky.unspecced.getPostThreadOtherV2#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetPostThreadOtherV2Output {
    pub thread: Vec<ThreadItem>,
}

/// `app.bsky.unspecced.getConfig#liveNowConfig`.
#[derive(Debug, Clone, Serialize)]
pub struct LiveNowConfig {
    pub did: String,
    pub domains: Vec<String>,
}

/// `app.bsky.unspecced.getConfig#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetConfigOutput {
    pub check_email_confirmed: bool,
    pub live_now: Vec<LiveNowConfig>,
}

/// `app.bsky.unspecced.defs#ageAssuranceState`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeAssuranceState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_initiated_at: Option<String>,
    pub status: String,
}

/// `app.bsky.ageassurance.defs#state`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeAssuranceAccess {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_initiated_at: Option<String>,
    pub status: String,
    pub access: String,
}

/// `app.bsky.ageassurance.defs#stateMetadata`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeAssuranceMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_created_at: Option<String>,
}

/// `app.bsky.ageassurance.getState#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetAgeAssuranceStateOutput {
    pub state: AgeAssuranceAccess,
    pub metadata: AgeAssuranceMetadata,
}
