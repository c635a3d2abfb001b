//! `app.bsky.embed.*`: what a post embeds, as views.

use super::{BlockedPost, GeneratorView, Label, LabelerView, ListView, ProfileViewBasic};
use serde::Serialize;
use serde_json::Value;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repost_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub like_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_count: Option<i64>,
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
    #[serde(rename = "app.bsky.feed.defs#generatorView")]
    Generator(Box<GeneratorView>),
    #[serde(rename = "app.bsky.graph.defs#listView")]
    List(Box<ListView>),
    #[serde(rename = "app.bsky.labeler.defs#labelerView")]
    Labeler(Box<LabelerView>),
    /// A view another service rendered (the PDS shows what the AppView said of a quoted
    /// record), passed on as it came, `$type` included.
    #[serde(untagged)]
    Fetched(Value),
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
