//! `app.bsky.notification.*`: notifications and how many are unread.

use super::{Label, ProfileView};
use serde::Serialize;
use serde_json::Value;

/// `app.bsky.notification.listNotifications#notification`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub uri: String,
    pub cid: String,
    pub author: ProfileView,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_subject: Option<String>,
    /// The record that caused the notification.
    pub record: Value,
    pub is_read: bool,
    pub indexed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<Label>>,
}

/// `app.bsky.notification.listNotifications#output`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListNotificationsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub notifications: Vec<Notification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_at: Option<String>,
}

/// `app.bsky.notification.getUnreadCount#output`.
#[derive(Debug, Clone, Serialize)]
pub struct UnreadCountOutput {
    pub count: i64,
}

/// `app.bsky.notification.listActivitySubscriptions#output`.
#[derive(Debug, Clone, Serialize)]
pub struct ActivitySubscriptionsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub subscriptions: Vec<ProfileView>,
}

/// `app.bsky.notification.getPreferences#output` and `putPreferencesV2#output`. The
/// preferences are the account's stored settings over the defaults, a document passed through.
#[derive(Debug, Clone, Serialize)]
pub struct PreferencesOutput {
    pub preferences: Value,
}
