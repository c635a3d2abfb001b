//! Notification views (`app.bsky.notification.listNotifications#notification`).

use super::{Hydrator, ViewResult, record_json};
use hearth_lexicons::bsky::{Notification, no_labels};
use rusqlite::OptionalExtension;
use serde_json::{Value, json};

/// A notification row as the index holds it.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: i64,
    pub author: i64,
    pub reason: String,
    pub reason_subject: Option<String>,
    pub uri: String,
    pub cid: String,
    pub sort_at: String,
}

/// The columns [`NotificationRow::from_row`] reads, in order.
pub const NOTIFICATION_COLUMNS: &str = "id, author, reason, reason_subject, uri, cid, sort_at";

impl NotificationRow {
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NotificationRow> {
        Ok(NotificationRow {
            id: r.get(0)?,
            author: r.get(1)?,
            reason: r.get(2)?,
            reason_subject: r.get(3)?,
            uri: r.get(4)?,
            cid: r.get(5)?,
            sort_at: r.get(6)?,
        })
    }
}

/// The collection of an at:// URI.
fn collection_of(uri: &str) -> Option<&str> {
    uri.strip_prefix("at://")?.split('/').nth(1)
}

impl<'c> Hydrator<'c> {
    /// The record that caused a notification, as JSON. Posts keep their whole record; likes,
    /// reposts and follows are indexed field by field, and every field their lexicons require
    /// is kept, so the record is rebuilt from those. `None` when the record is gone.
    fn notification_record(&self, uri: &str) -> ViewResult<Option<Value>> {
        let q = |sql: &str| -> ViewResult<Option<(String, Option<String>, String)>> {
            self.conn
                .prepare_cached(sql)?
                .query_row([uri], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        };
        Ok(match collection_of(uri) {
            Some("app.bsky.feed.post") => self
                .conn
                .prepare_cached("SELECT record FROM post WHERE uri = ?1")?
                .query_row([uri], |r| r.get::<_, Vec<u8>>(0))
                .optional()?
                .map(|b| record_json(&b)),
            Some(c @ ("app.bsky.feed.like" | "app.bsky.feed.repost")) => {
                let table = if c == "app.bsky.feed.like" {
                    "likes"
                } else {
                    "reposts"
                };
                q(&format!(
                    "SELECT subject_uri, subject_cid, created_at FROM {table} WHERE uri = ?1"
                ))?
                .map(|(subject, cid, created)| {
                    json!({
                        "$type": c,
                        "subject": { "uri": subject, "cid": cid },
                        "createdAt": created,
                    })
                })
            }
            Some("app.bsky.graph.follow") => q(
                "SELECT subject_did, NULL, created_at FROM follows WHERE uri = ?1",
            )?
            .map(|(subject, _, created)| {
                json!({
                    "$type": "app.bsky.graph.follow",
                    "subject": subject,
                    "createdAt": created,
                })
            }),
            _ => None,
        })
    }

    /// `#notification`, or `None` when its author may not be shown, or what it is about is
    /// gone.
    pub fn notification_view(
        &mut self,
        row: &NotificationRow,
        seen_at: Option<&str>,
    ) -> ViewResult<Option<Notification>> {
        if !self.shown(row.author)? {
            return Ok(None);
        }
        if let Some(subject) = &row.reason_subject
            && collection_of(subject) == Some("app.bsky.feed.post")
            && self.post_row(subject)?.is_none()
        {
            return Ok(None);
        }
        let Some(record) = self.notification_record(&row.uri)? else {
            return Ok(None);
        };
        let Some(author) = self.profile(row.author)? else {
            return Ok(None);
        };
        let is_read = seen_at.is_some_and(|s| row.sort_at.as_str() <= s);
        Ok(Some(Notification {
            uri: row.uri.clone(),
            cid: row.cid.clone(),
            author,
            reason: row.reason.clone(),
            reason_subject: row.reason_subject.clone(),
            record,
            is_read,
            indexed_at: row.sort_at.clone(),
            labels: no_labels(),
        }))
    }
}
