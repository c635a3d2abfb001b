//! The JSON views of `social.hearth.defs`, as serde types: what the handlers return.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceView {
    pub uri: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub join_policy: String,
    pub listed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_question: Option<String>,
    pub member_count: i64,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<SpaceViewerState>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpaceViewerState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_request_pending: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub uri: String,
    pub space: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub kind: String,
    pub read_role: String,
    pub post_role: String,
    pub email_announcements: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub did: String,
    /// Handle, display name and avatar, when the AppView's index knows the account.
    #[serde(flatten)]
    pub profile: crate::profiles::Profile,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteView {
    pub id: String,
    pub space: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<i64>,
    pub uses: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub revoked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitee: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequestView {
    pub id: String,
    pub space: String,
    pub member: MemberView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    pub status: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageView {
    pub cid: String,
    pub thumb: String,
    pub fullsize: String,
    pub alt: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionSummary {
    pub emoji: String,
    pub count: i64,
    pub viewer_reacted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplyRef {
    pub root: String,
    pub parent: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostViewerState {
    pub can_edit: bool,
    pub can_moderate: bool,
    pub can_reply: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    pub uri: String,
    pub space: String,
    pub channel: String,
    pub author: MemberView,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyRef>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    pub reactions: Vec<ReactionSummary>,
    pub reply_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_answer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_accepted_answer: Option<bool>,
    pub pinned: bool,
    pub hidden: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub viewer: Option<PostViewerState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThreadView {
    pub root: PostView,
    pub replies: Vec<PostView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: String,
    pub space: String,
    pub space_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<MemberView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub is_read: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    pub id: String,
    pub space: String,
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationLevelView {
    pub space: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub level: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub email_available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether `email` was confirmed through the link sent to it.
    pub email_verified: bool,
    pub digest: String,
    pub announcement_emails: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<NotificationLevelView>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportView {
    pub id: String,
    pub uri: String,
    pub reporter: MemberView,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportCaseView {
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<PostView>,
    pub status: String,
    pub reports: Vec<ReportView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_reason: Option<String>,
}

/// Cuts text to at most `chars` characters (for notification snippets and email subjects).
pub fn snippet(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}
