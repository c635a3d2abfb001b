//! Threads: `app.bsky.feed.getPostThread` (nested `#threadViewPost`), and
//! `app.bsky.unspecced.getPostThreadV2` / `getPostThreadOtherV2` (flat lists of thread items).
//!
//! What the viewer sees of the replies follows the reference AppView:
//! - replies from accounts with a block either way are left out (a blocked *parent* shows as
//!   `#blockedPost`, so the chain above the anchor stays readable);
//! - replies that broke the root's thread gate (written, after the gate, by someone it did
//!   not allow) are left out for everyone but the root's author;
//! - replies the root's author hid (`hiddenReplies`) are left out for everyone but the root's
//!   author and the reply's own author; V2 offers the hidden direct replies of the anchor
//!   through `getPostThreadOtherV2` instead (`hasOtherReplies`).

use super::post::{POST_COLUMNS, PostRow};
use super::{Hydrator, ViewResult};
use crate::index::values::{normalize_datetime, str_at, uri_did};
use hearth_lexicons::bsky::{
    PostView, ThreadContext, ThreadItem, ThreadItemPost, ThreadItemValue, ThreadNode,
    ThreadViewPost, ThreadgateView,
};
use rusqlite::OptionalExtension;
use std::cmp::Ordering;

/// Most posts one thread response hydrates, whatever depth was asked for.
const MAX_THREAD_POSTS: usize = 1000;

/// How a reply sorts among its siblings in V2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplySort {
    Newest,
    Oldest,
    Top,
}

/// `getPostThreadV2` parameters, validated.
#[derive(Debug, Clone, Copy)]
pub struct V2Params {
    pub above: bool,
    pub below: u32,
    pub branching: u32,
    pub sort: ReplySort,
}

/// What a V2 call returns.
pub struct ThreadV2 {
    pub items: Vec<ThreadItem>,
    pub has_other_replies: bool,
    pub threadgate: Option<ThreadgateView>,
}

/// What the thread's root decides about its replies, read once per request.
pub struct ThreadCtx {
    pub root: String,
    root_did: String,
    root_author: Option<i64>,
    viewer_is_op: bool,
    hidden: Vec<String>,
    /// The gate exists; when it was created (replies older than it were not subject to it).
    gate: Option<Option<String>>,
    budget: usize,
}

/// How a reply appears to the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Shown,
    /// Hidden by the root's author.
    Hidden,
    Omitted,
}

/// A reply in a V2 tree, before sorting and trimming.
struct Node {
    uri: String,
    depth: i64,
    post: PostView,
    author_did: String,
    followed: bool,
    likes: i64,
    op_like: bool,
    indexed_at: String,
    replies: i64,
    op_thread: bool,
    children: Option<Vec<Node>>,
}

fn thread_item(uri: &str, depth: i64, value: ThreadItemValue) -> ThreadItem {
    ThreadItem {
        uri: uri.to_owned(),
        depth,
        value,
    }
}

fn item_post(
    post: PostView,
    more_parents: bool,
    more_replies: i64,
    op_thread: bool,
    hidden: bool,
) -> ThreadItemValue {
    ThreadItemValue::Post(Box::new(ThreadItemPost {
        post,
        more_parents,
        more_replies: more_replies.max(0),
        op_thread,
        hidden_by_threadgate: hidden,
        muted_by_viewer: false,
    }))
}

fn reply_count(post: &PostView) -> i64 {
    post.reply_count.unwrap_or(0)
}

/// A parent above the V2 anchor: a post, or the stub that ends the chain.
enum Parent {
    Post(Box<(PostView, PostRow)>),
    Stub(ThreadItemValue),
}

impl<'c> Hydrator<'c> {
    /// Direct replies to `parent`, oldest first.
    fn children(&self, parent: &str) -> ViewResult<Vec<PostRow>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {POST_COLUMNS} FROM post WHERE reply_parent = ?1 ORDER BY sort_at, uri"
            ))?
            .query_map([parent], PostRow::from_row)?
            .collect()
    }

    pub fn thread_ctx(&mut self, anchor: &PostRow) -> ViewResult<ThreadCtx> {
        let root = anchor
            .reply_root
            .clone()
            .unwrap_or_else(|| anchor.uri.clone());
        let root_did = uri_did(&root).unwrap_or_default().to_owned();
        let root_author = self.actor_id(&root_did)?;
        let gate = self.threadgate_record(&root)?.map(|(_, bytes)| {
            atproto::data::cbor::decode(&bytes)
                .ok()
                .and_then(|g| str_at(&g, &["createdAt"]).and_then(normalize_datetime))
        });
        Ok(ThreadCtx {
            hidden: self.hidden_replies(&root)?,
            viewer_is_op: self.viewer_did() == Some(root_did.as_str()),
            root,
            root_did,
            root_author,
            gate,
            budget: MAX_THREAD_POSTS,
        })
    }

    /// Whether a reply broke the thread gate: written after the gate, by someone it did not
    /// allow.
    fn violates_gate(&self, ctx: &ThreadCtx, row: &PostRow) -> ViewResult<bool> {
        let Some(gate_created) = &ctx.gate else {
            return Ok(false);
        };
        if row.reply_root.is_none() {
            return Ok(false);
        }
        let Some(did) = uri_did(&row.uri) else {
            return Ok(false);
        };
        if did == ctx.root_did {
            return Ok(false);
        }
        if let (Some(gate), Some(created)) = (gate_created, normalize_datetime(&row.created_at))
            && created < *gate
        {
            return Ok(false);
        }
        Ok(!self.may_reply(did, &ctx.root)?)
    }

    fn seen(&self, ctx: &ThreadCtx, row: &PostRow) -> ViewResult<Seen> {
        if ctx.viewer_is_op {
            return Ok(Seen::Shown);
        }
        if self.violates_gate(ctx, row)? {
            return Ok(Seen::Omitted);
        }
        let own = self
            .viewer_did()
            .is_some_and(|v| uri_did(&row.uri) == Some(v));
        if !own && ctx.hidden.contains(&row.uri) {
            return Ok(Seen::Hidden);
        }
        Ok(Seen::Shown)
    }

    /// The root author's like of `uri`, for `#threadContext`.
    fn root_author_like(&self, ctx: &ThreadCtx, uri: &str) -> ViewResult<Option<String>> {
        let Some(author) = ctx.root_author else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("SELECT uri FROM likes WHERE author = ?1 AND subject_uri = ?2")?
            .query_row(rusqlite::params![author, uri], |r| r.get(0))
            .optional()
    }

    fn thread_context(&self, ctx: &ThreadCtx, uri: &str) -> ViewResult<ThreadContext> {
        Ok(ThreadContext {
            root_author_like: self.root_author_like(ctx, uri)?,
        })
    }

    /// A reply's post view, if the viewer may see it here (same thread, author shown, not
    /// left out by the gate). `Seen::Hidden` replies come back as such for the caller to place.
    fn reply_view(
        &mut self,
        ctx: &ThreadCtx,
        row: &PostRow,
    ) -> ViewResult<Option<(PostView, Seen)>> {
        if row.reply_root.as_deref() != Some(ctx.root.as_str()) {
            return Ok(None);
        }
        let seen = self.seen(ctx, row)?;
        if seen == Seen::Omitted || !self.shown(row.author)? {
            return Ok(None);
        }
        Ok(self.post_view_of(row, 0)?.map(|v| (v, seen)))
    }

    // ---- getPostThread ----

    /// `#threadViewPost` (or `#blockedPost`) for `uri`; `None` when the post is unknown or its
    /// author may not be shown (the handler answers `NotFound`).
    pub fn thread_v1(
        &mut self,
        uri: &str,
        depth: u32,
        height: u32,
    ) -> ViewResult<Option<ThreadNode>> {
        let Some(row) = self.post_row(uri)? else {
            return Ok(None);
        };
        if !self.visible(row.author)? {
            return Ok(None);
        }
        if self.blocked_with(row.author)? {
            return Ok(Some(ThreadNode::Blocked(self.blocked_post_view(uri)?)));
        }
        let Some(post) = self.post_view_of(&row, 0)? else {
            return Ok(None);
        };
        let mut ctx = self.thread_ctx(&row)?;
        // A reply that broke the gate is shown alone, as the reference does.
        let cut = !ctx.viewer_is_op && self.violates_gate(&ctx, &row)?;
        let parent = if cut {
            None
        } else {
            self.v1_parents(&row, &ctx, height)?
        };
        let replies = if cut {
            None
        } else {
            self.v1_replies(&row.uri, &mut ctx, depth)?
        };
        Ok(Some(ThreadNode::Post(Box::new(ThreadViewPost {
            post,
            parent,
            replies,
            thread_context: Some(self.thread_context(&ctx, uri)?),
        }))))
    }

    /// The chain above `child`, up to `height` posts, nested parent-in-parent.
    fn v1_parents(
        &mut self,
        child: &PostRow,
        ctx: &ThreadCtx,
        height: u32,
    ) -> ViewResult<Option<ThreadNode>> {
        // Walk up first (bottom to top), then nest from the top down, so a long chain needs
        // no deep recursion.
        let mut chain: Vec<ThreadNode> = Vec::new();
        let mut cur = child.reply_parent.clone();
        while let Some(uri) = cur.take() {
            if chain.len() as u32 >= height {
                break;
            }
            let Some(row) = self.post_row(&uri)? else {
                chain.push(ThreadNode::NotFound(Self::not_found_post(&uri)));
                break;
            };
            if row.reply_root.as_deref().unwrap_or(&row.uri) != ctx.root {
                break;
            }
            if !self.visible(row.author)? {
                chain.push(ThreadNode::NotFound(Self::not_found_post(&uri)));
                break;
            }
            if self.blocked_with(row.author)? {
                chain.push(ThreadNode::Blocked(self.blocked_post_view(&uri)?));
                break;
            }
            let Some(post) = self.post_view_of(&row, 0)? else {
                chain.push(ThreadNode::NotFound(Self::not_found_post(&uri)));
                break;
            };
            chain.push(ThreadNode::Post(Box::new(ThreadViewPost {
                post,
                parent: None,
                replies: None,
                thread_context: Some(self.thread_context(ctx, &uri)?),
            })));
            cur = row.reply_parent.clone();
        }
        let mut above: Option<ThreadNode> = None;
        while let Some(mut v) = chain.pop() {
            if let ThreadNode::Post(t) = &mut v {
                t.parent = above.take();
            }
            above = Some(v);
        }
        Ok(above)
    }

    fn v1_replies(
        &mut self,
        parent: &str,
        ctx: &mut ThreadCtx,
        depth: u32,
    ) -> ViewResult<Option<Vec<ThreadNode>>> {
        if depth == 0 {
            return Ok(None);
        }
        let mut out = Vec::new();
        for child in self.children(parent)? {
            if ctx.budget == 0 {
                break;
            }
            let Some((post, Seen::Shown)) = self.reply_view(ctx, &child)? else {
                continue;
            };
            ctx.budget -= 1;
            let replies = self.v1_replies(&child.uri, ctx, depth - 1)?;
            out.push(ThreadNode::Post(Box::new(ThreadViewPost {
                post,
                parent: None,
                replies,
                thread_context: Some(self.thread_context(ctx, &child.uri)?),
            })));
        }
        Ok(Some(out))
    }

    // ---- getPostThreadV2 ----

    pub fn thread_v2(&mut self, anchor: &str, p: V2Params) -> ViewResult<ThreadV2> {
        let not_found = |items| ThreadV2 {
            items,
            has_other_replies: false,
            threadgate: None,
        };
        let row = match self.post_row(anchor)? {
            Some(r) if self.visible(r.author)? => r,
            _ => {
                return Ok(not_found(vec![thread_item(
                    anchor,
                    0,
                    ThreadItemValue::NotFound,
                )]));
            }
        };
        if self.blocked_with(row.author)? {
            let did = uri_did(anchor).unwrap_or_default();
            let value = ThreadItemValue::Blocked {
                author: self.blocked_author(did)?,
            };
            return Ok(not_found(vec![thread_item(anchor, 0, value)]));
        }
        let Some(anchor_post) = self.post_view_of(&row, 0)? else {
            return Ok(not_found(vec![thread_item(
                anchor,
                0,
                ThreadItemValue::NotFound,
            )]));
        };
        let mut ctx = self.thread_ctx(&row)?;
        let threadgate = self.threadgate_view(&ctx.root)?;
        let cut = !ctx.viewer_is_op && self.violates_gate(&ctx, &row)?;
        let op = ctx.root_did.clone();
        let anchor_is_op = uri_did(anchor) == Some(op.as_str());

        // Parents, nearest first.
        let mut parents: Vec<(String, Parent)> = Vec::new();
        let mut more_parents = row.reply_parent.is_some() && (!p.above || cut);
        if p.above && !cut {
            let mut cur = row.reply_parent.clone();
            while let Some(uri) = cur.take() {
                if parents.len() >= MAX_THREAD_POSTS / 2 {
                    more_parents = true;
                    break;
                }
                let prow = match self.post_row(&uri)? {
                    Some(r) if self.visible(r.author)? => r,
                    _ => {
                        parents.push((uri, Parent::Stub(ThreadItemValue::NotFound)));
                        break;
                    }
                };
                if prow.reply_root.as_deref().unwrap_or(&prow.uri) != ctx.root {
                    break;
                }
                if self.blocked_with(prow.author)? {
                    let did = uri_did(&uri).unwrap_or_default();
                    let value = ThreadItemValue::Blocked {
                        author: self.blocked_author(did)?,
                    };
                    parents.push((uri, Parent::Stub(value)));
                    break;
                }
                let Some(post) = self.post_view_of(&prow, 0)? else {
                    parents.push((uri, Parent::Stub(ThreadItemValue::NotFound)));
                    break;
                };
                cur = prow.reply_parent.clone();
                parents.push((uri, Parent::Post(Box::new((post, prow)))));
            }
        }

        let mut items = Vec::new();
        // Top-down: whether each post continues an OP-only chain from the root.
        let mut op_chain = true;
        let top = parents.len();
        for (i, (uri, parent)) in parents.into_iter().rev().enumerate() {
            let depth = -((top - i) as i64);
            match parent {
                Parent::Post(post) => {
                    let (value, prow) = *post;
                    let is_op = uri_did(&uri) == Some(op.as_str());
                    op_chain = op_chain && is_op;
                    let more = i == 0 && (more_parents || prow.reply_parent.is_some());
                    items.push(thread_item(
                        &uri,
                        depth,
                        item_post(value, more, 0, op_chain, false),
                    ));
                }
                Parent::Stub(value) => {
                    op_chain = false;
                    items.push(thread_item(&uri, depth, value));
                }
            }
        }
        let anchor_op_thread = op_chain && anchor_is_op;

        // Replies.
        let mut has_other = false;
        let mut children = None;
        if !cut && p.below > 0 {
            let mut kids = Vec::new();
            for child in self.children(anchor)? {
                if ctx.budget == 0 {
                    break;
                }
                match self.reply_view(&ctx, &child)? {
                    Some((_, Seen::Hidden)) => has_other = true,
                    Some((post, _)) => {
                        ctx.budget -= 1;
                        kids.push(self.v2_node(&mut ctx, &child, post, 1, anchor_op_thread, &p)?);
                    }
                    None => {}
                }
            }
            children = Some(kids);
        }
        let viewer = self.viewer_did().map(str::to_owned);
        let mut anchor_node = Node {
            uri: anchor.to_owned(),
            depth: 0,
            replies: reply_count(&anchor_post),
            post: anchor_post,
            author_did: uri_did(anchor).unwrap_or_default().to_owned(),
            followed: false,
            likes: 0,
            op_like: false,
            indexed_at: row.indexed_at.clone(),
            op_thread: anchor_op_thread,
            children,
        };
        sort_trim(&mut anchor_node, &p, &op, viewer.as_deref());
        let anchor_more_parents = top == 0 && more_parents;
        flatten(anchor_node, anchor_more_parents, &mut items);
        Ok(ThreadV2 {
            items,
            has_other_replies: has_other,
            threadgate,
        })
    }

    fn v2_node(
        &mut self,
        ctx: &mut ThreadCtx,
        row: &PostRow,
        post: PostView,
        depth: i64,
        parent_op_thread: bool,
        p: &V2Params,
    ) -> ViewResult<Node> {
        let author_did = uri_did(&row.uri).unwrap_or_default().to_owned();
        let op_thread = parent_op_thread && author_did == ctx.root_did;
        let mut children = None;
        if depth < i64::from(p.below) {
            let mut kids = Vec::new();
            for child in self.children(&row.uri)? {
                if ctx.budget == 0 {
                    break;
                }
                // Below the anchor's direct replies, hidden replies are left out.
                if let Some((cpost, Seen::Shown)) = self.reply_view(ctx, &child)? {
                    ctx.budget -= 1;
                    kids.push(self.v2_node(ctx, &child, cpost, depth + 1, op_thread, p)?);
                }
            }
            children = Some(kids);
        }
        Ok(Node {
            uri: row.uri.clone(),
            depth,
            followed: post
                .author
                .viewer
                .as_ref()
                .is_some_and(|v| v.following.is_some()),
            likes: post.like_count.unwrap_or(0),
            replies: reply_count(&post),
            op_like: self.root_author_like(ctx, &row.uri)?.is_some(),
            indexed_at: row.indexed_at.clone(),
            post,
            author_did,
            op_thread,
            children,
        })
    }

    /// `getPostThreadOtherV2`: the anchor's direct replies that its root's author hid.
    pub fn thread_other_v2(&mut self, anchor: &str) -> ViewResult<Vec<ThreadItem>> {
        let row = match self.post_row(anchor)? {
            Some(r) if self.shown(r.author)? => r,
            _ => return Ok(Vec::new()),
        };
        let ctx = self.thread_ctx(&row)?;
        if !ctx.viewer_is_op && self.violates_gate(&ctx, &row)? {
            return Ok(Vec::new());
        }
        let mut hidden = Vec::new();
        for child in self.children(anchor)? {
            if hidden.len() >= MAX_THREAD_POSTS {
                break;
            }
            if let Some((post, Seen::Hidden)) = self.reply_view(&ctx, &child)? {
                hidden.push((child.indexed_at.clone(), child.uri.clone(), post));
            }
        }
        hidden.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(hidden
            .into_iter()
            .map(|(_, uri, post)| {
                let more = reply_count(&post);
                thread_item(&uri, 1, item_post(post, false, more, false, true))
            })
            .collect())
    }
}

/// The reference's ordering of siblings: the root author's replies first, then the viewer's,
/// then those of accounts the viewer follows; then by the requested sort.
fn compare(a: &Node, b: &Node, p: &V2Params, op: &str, viewer: Option<&str>) -> Ordering {
    let bumps: [&dyn Fn(&Node) -> bool; 3] = [
        &|n| n.author_did == op,
        &|n| Some(n.author_did.as_str()) == viewer,
        &|n| n.followed,
    ];
    for bump in bumps {
        match (bump(a), bump(b)) {
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (true, true) => return by_sort(a, b, p),
            (false, false) => {}
        }
    }
    by_sort(a, b, p)
}

fn by_sort(a: &Node, b: &Node, p: &V2Params) -> Ordering {
    match p.sort {
        ReplySort::Oldest => return a.indexed_at.cmp(&b.indexed_at),
        ReplySort::Top => {
            let score = |n: &Node| (3.0 + n.likes as f64).ln() * if n.op_like { 1.45 } else { 1.0 };
            let (sa, sb) = (score(a), score(b));
            if sa != sb {
                return sb.partial_cmp(&sa).unwrap_or(Ordering::Equal);
            }
        }
        ReplySort::Newest => {}
    }
    b.indexed_at.cmp(&a.indexed_at)
}

/// Sorts every level; below the anchor's direct replies, keeps `branching` per post.
fn sort_trim(node: &mut Node, p: &V2Params, op: &str, viewer: Option<&str>) {
    let depth = node.depth;
    if let Some(children) = node.children.as_mut() {
        children.sort_by(|a, b| compare(a, b, p, op, viewer));
        if depth != 0 {
            children.truncate(p.branching as usize);
        }
        for c in children.iter_mut() {
            sort_trim(c, p, op, viewer);
        }
    }
}

/// Depth-first, each post before its replies.
fn flatten(node: Node, more_parents: bool, out: &mut Vec<ThreadItem>) {
    let shown = node.children.as_ref().map_or(0, Vec::len) as i64;
    // The anchor's direct replies are all there (those left out are not for this viewer);
    // below it, what is neither shown nor fetched is "more", best effort.
    let more_replies = if node.depth == 0 {
        0
    } else {
        node.replies - shown
    };
    out.push(thread_item(
        &node.uri,
        node.depth,
        item_post(node.post, more_parents, more_replies, node.op_thread, false),
    ));
    for c in node.children.unwrap_or_default() {
        flatten(c, false, out);
    }
}
