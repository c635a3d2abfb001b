//! `app.bsky.labeler.*`: the labeler services accounts declare.

use super::{Label, ProfileView};
use serde::Serialize;
use serde_json::Value;

/// `app.bsky.labeler.defs#labelerViewerState`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LabelerViewerState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub like: Option<String>,
}

/// `app.bsky.labeler.defs#labelerView`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelerView {
    pub uri: String,
    pub cid: String,
    pub creator: ProfileView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub like_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<LabelerViewerState>,
    pub indexed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
}

/// `app.bsky.labeler.defs#labelerViewDetailed`. The policies and the lists of kinds are the
/// declaration record's, passed through.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelerViewDetailed {
    #[serde(flatten)]
    pub view: LabelerView,
    pub policies: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_types: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_types: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_collections: Option<Value>,
}

/// The union in `app.bsky.labeler.getServices#output`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "$type")]
pub enum LabelerServiceView {
    #[serde(rename = "app.bsky.labeler.defs#labelerView")]
    View(Box<LabelerView>),
    #[serde(rename = "app.bsky.labeler.defs#labelerViewDetailed")]
    Detailed(Box<LabelerViewDetailed>),
}

/// `app.bsky.labeler.getServices#output`.
#[derive(Debug, Clone, Serialize)]
pub struct GetServicesOutput {
    pub views: Vec<LabelerServiceView>,
}
