//! Feed items (`app.bsky.feed.defs#feedViewPost`): the post, the reply context, and the repost
//! (or pin) that put it in the feed.

use super::{Hydrator, ViewResult, obj};
use serde_json::{Value, json};

/// A feed entry before hydration.
#[derive(Debug, Clone, Default)]
pub struct FeedItem {
    pub post_uri: String,
    /// The repost record, its author and when it was indexed, when the entry is a repost.
    pub repost: Option<(String, i64, String)>,
    /// The entry is the author's pinned post.
    pub pin: bool,
    /// What a feed generator attached to the entry, passed back to the client.
    pub feed_context: Option<String>,
    /// The feed generator's request id, passed back to the client.
    pub req_id: Option<String>,
}

impl FeedItem {
    pub fn post(uri: impl Into<String>) -> FeedItem {
        FeedItem {
            post_uri: uri.into(),
            ..FeedItem::default()
        }
    }
}

impl<'c> Hydrator<'c> {
    /// `#blockedPost` for a post whose author has a block with the viewer.
    pub fn blocked_post(&self, uri: &str) -> ViewResult<Value> {
        let did = crate::index::values::uri_did(uri).unwrap_or_default();
        Ok(json!({
            "$type": "app.bsky.feed.defs#blockedPost",
            "uri": uri,
            "blocked": true,
            "author": self.blocked_author(did)?,
        }))
    }

    pub fn not_found_post(uri: &str) -> Value {
        json!({ "$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": true })
    }

    /// The view of a post in a reply context: the post, or a not-found/blocked stub.
    fn reply_ref(&mut self, uri: &str) -> ViewResult<Value> {
        if let Some(row) = self.post_row(uri)? {
            if self.visible(row.author)? && self.blocked_with(row.author)? {
                return self.blocked_post(uri);
            }
            if let Some(mut v) = self.post_view_of(&row, 0)? {
                if let Some(o) = v.as_object_mut() {
                    o.insert("$type".into(), json!("app.bsky.feed.defs#postView"));
                }
                return Ok(v);
            }
        }
        Ok(Self::not_found_post(uri))
    }

    /// `#feedViewPost` entries, leaving out posts the viewer may not see (blocks, inactive
    /// authors, missing posts).
    pub fn feed(&mut self, items: &[FeedItem]) -> ViewResult<Vec<Value>> {
        let mut out = Vec::with_capacity(items.len());
        let uris: Vec<String> = items.iter().map(|i| i.post_uri.clone()).collect();
        self.prefetch_posts(&uris)?;
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
                _ if item.pin => Some(json!({ "$type": "app.bsky.feed.defs#reasonPin" })),
                Some((uri, by, at)) => {
                    if !self.shown(*by)? {
                        continue;
                    }
                    let Some(by_view) = self.profile_basic(*by)? else {
                        continue;
                    };
                    // The repost record's own CID is not indexed, so `cid` is left out.
                    Some(obj(vec![
                        ("$type", Some(json!("app.bsky.feed.defs#reasonRepost"))),
                        ("by", Some(by_view)),
                        ("uri", Some(json!(uri))),
                        ("indexedAt", Some(json!(at))),
                    ]))
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
                    let grandparent_author = match parent_view
                        .get("record")
                        .and_then(|r| r.get("reply"))
                        .and_then(|r| r.get("parent"))
                        .and_then(|p| p.get("uri"))
                        .and_then(Value::as_str)
                        .and_then(crate::index::values::uri_did)
                    {
                        Some(did) => match self.actor_id(did)? {
                            Some(id) if self.shown(id)? => self.profile_basic(id)?,
                            _ => None,
                        },
                        None => None,
                    };
                    Some(obj(vec![
                        ("root", Some(root_view)),
                        ("parent", Some(parent_view)),
                        ("grandparentAuthor", grandparent_author),
                    ]))
                }
                _ => None,
            };
            out.push(obj(vec![
                ("post", Some(post)),
                ("reply", reply),
                ("reason", reason),
                ("feedContext", item.feed_context.clone().map(Value::from)),
                ("reqId", item.req_id.clone().map(Value::from)),
            ]));
        }
        Ok(out)
    }
}
