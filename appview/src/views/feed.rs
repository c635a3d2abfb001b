//! Feed items (`app.bsky.feed.defs#feedViewPost`): the post, the reply context, and the repost
//! (or pin) that put it in the feed.

use super::{Hydrator, ViewResult};
use hearth_lexicons::bsky::{
    BlockedPost, FeedReason, FeedViewPost, NotFoundPost, PostOrStub, ReasonRepost, ReplyRef,
};
use serde_json::Value;

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
    pub fn blocked_post_view(&self, uri: &str) -> ViewResult<BlockedPost> {
        let did = crate::index::values::uri_did(uri).unwrap_or_default();
        Ok(BlockedPost {
            uri: uri.to_owned(),
            blocked: true,
            author: self.blocked_author(did)?,
        })
    }

    pub fn not_found_post(uri: &str) -> NotFoundPost {
        NotFoundPost {
            uri: uri.to_owned(),
            not_found: true,
        }
    }

    /// The view of a post in a reply context: the post, or a not-found/blocked stub.
    fn reply_ref(&mut self, uri: &str) -> ViewResult<PostOrStub> {
        if let Some(row) = self.post_row(uri)? {
            if self.visible(row.author)? && self.blocked_with(row.author)? {
                return Ok(PostOrStub::Blocked(self.blocked_post_view(uri)?));
            }
            if let Some(v) = self.post_view_of(&row, 0)? {
                return Ok(PostOrStub::Post(Box::new(v)));
            }
        }
        Ok(PostOrStub::NotFound(Self::not_found_post(uri)))
    }

    /// `#feedViewPost` entries, leaving out posts the viewer may not see (blocks, inactive
    /// authors, missing posts).
    pub fn feed(&mut self, items: &[FeedItem]) -> ViewResult<Vec<FeedViewPost>> {
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
                _ if item.pin => Some(FeedReason::Pin),
                Some((uri, by, at)) => {
                    if !self.shown(*by)? {
                        continue;
                    }
                    let Some(by) = self.profile_basic(*by)? else {
                        continue;
                    };
                    Some(FeedReason::Repost(Box::new(ReasonRepost {
                        by,
                        uri: uri.clone(),
                        indexed_at: at.clone(),
                    })))
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
                    let grandparent = match &parent_view {
                        PostOrStub::Post(p) => p
                            .record
                            .get("reply")
                            .and_then(|r| r.get("parent"))
                            .and_then(|p| p.get("uri"))
                            .and_then(Value::as_str)
                            .and_then(crate::index::values::uri_did)
                            .map(str::to_owned),
                        _ => None,
                    };
                    let grandparent_author = match grandparent {
                        Some(did) => match self.actor_id(&did)? {
                            Some(id) if self.shown(id)? => self.profile_basic(id)?,
                            _ => None,
                        },
                        None => None,
                    };
                    Some(ReplyRef {
                        root: root_view,
                        parent: parent_view,
                        grandparent_author,
                    })
                }
                _ => None,
            };
            out.push(FeedViewPost {
                post,
                reply,
                reason,
                feed_context: item.feed_context.clone(),
                req_id: item.req_id.clone(),
            });
        }
        Ok(out)
    }
}
