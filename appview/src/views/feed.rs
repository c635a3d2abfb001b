//! Feed items (`app.bsky.feed.defs#feedViewPost`): the post, the reply context, and the repost
//! that put it in the feed.

use super::{Hydrator, ViewResult, obj};
use serde_json::{Value, json};

/// A feed entry before hydration.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub post_uri: String,
    /// The repost record and its author, when the entry is a repost.
    pub repost: Option<(String, i64, String)>,
}

impl<'c> Hydrator<'c> {
    /// The view of a post in a reply context: the post, or a not-found/blocked stub.
    fn reply_ref(&mut self, uri: &str) -> ViewResult<Value> {
        if let Some(row) = self.post_row(uri)? {
            if self.visible(row.author)? && self.blocked_with(row.author)? {
                let did = crate::index::values::uri_did(uri)
                    .unwrap_or_default()
                    .to_owned();
                return Ok(json!({
                    "$type": "app.bsky.feed.defs#blockedPost", "uri": uri, "blocked": true,
                    "author": { "did": did, "viewer": { "blockedBy": true } }
                }));
            }
            if let Some(mut v) = self.post_view_of(&row, 0)? {
                if let Some(o) = v.as_object_mut() {
                    o.insert("$type".into(), json!("app.bsky.feed.defs#postView"));
                }
                return Ok(v);
            }
        }
        Ok(json!({ "$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": true }))
    }

    /// `#feedViewPost` entries, leaving out posts the viewer may not see (blocks, inactive
    /// authors, missing posts).
    pub fn feed(&mut self, items: &[FeedItem]) -> ViewResult<Vec<Value>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(row) = self.post_row(&item.post_uri)? else {
                continue;
            };
            if self.blocked_with(row.author)? {
                continue;
            }
            let Some(post) = self.post_view_of(&row, 0)? else {
                continue;
            };
            let reason = match &item.repost {
                Some((_, by, at)) => {
                    if !self.visible(*by)? || self.blocked_with(*by)? {
                        continue;
                    }
                    let Some(by_view) = self.profile_basic(*by)? else {
                        continue;
                    };
                    Some(
                        json!({ "$type": "app.bsky.feed.defs#reasonRepost", "by": by_view, "indexedAt": at }),
                    )
                }
                None => None,
            };
            let reply = match (&row.reply_root, &row.reply_parent) {
                (Some(root), Some(parent)) => {
                    let parent_view = self.reply_ref(parent)?;
                    let root_view = if root == parent {
                        parent_view.clone()
                    } else {
                        self.reply_ref(root)?
                    };
                    Some(json!({ "root": root_view, "parent": parent_view }))
                }
                _ => None,
            };
            out.push(obj(vec![
                ("post", Some(post)),
                ("reply", reply),
                ("reason", reason),
            ]));
        }
        Ok(out)
    }
}
