//! Post views (`app.bsky.feed.defs#postView`) with counts, the viewer's like and repost, and
//! what thread gates and post gates allow.

use super::{Hydrator, ViewResult, record_json};
use crate::index::post::mentions;
use crate::index::values::{at, str_at, type_of};
use hearth_lexicons::bsky::{PostView, PostViewerState, ThreadgateView, no_labels};
use rusqlite::OptionalExtension;
use std::collections::{HashMap, HashSet};

/// What a page of posts needs per post, read with one query per table instead of one per post.
/// For a URI in `uris`, a missing entry in a map means the index has no such row.
#[derive(Debug, Default)]
pub struct Prefetched {
    uris: HashSet<String>,
    posts: HashMap<String, PostRow>,
    counts: HashMap<String, (i64, i64, i64, i64)>,
    likes: HashMap<String, String>,
    reposts: HashMap<String, String>,
    threadgates: HashMap<String, (String, Vec<u8>)>,
    postgates: HashMap<String, Vec<u8>>,
}

/// How many places an `IN (...)` list of `n` values takes: `n` rounded up to a power of two
/// (at least 8), so that pages of different sizes share a few statement texts and their
/// prepared statements come from the connection's cache instead of being parsed and planned
/// for every request. The extra places repeat the last value, which changes no `IN` test.
fn in_list_len(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n.next_power_of_two().max(8)
    }
}

/// `?1, ?2, ...` for an `IN (...)` list of `n` values (padded, see [`in_list_len`]) after the
/// first `skip` parameters; bind the values with [`padded`].
pub(crate) fn placeholders(skip: usize, n: usize) -> String {
    (skip + 1..=skip + in_list_len(n))
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values of an `IN (...)` list, padded to the places [`placeholders`] made.
pub(crate) fn padded<T>(items: &[T]) -> impl Iterator<Item = &T> + Clone {
    let pad = in_list_len(items.len()) - items.len();
    items
        .iter()
        .chain(items.last().into_iter().cycle().take(pad))
}

#[derive(Debug, Clone)]
pub struct PostRow {
    pub uri: String,
    pub cid: String,
    pub author: i64,
    pub record: Vec<u8>,
    pub indexed_at: String,
    pub reply_root: Option<String>,
    pub reply_parent: Option<String>,
    pub created_at: String,
}

/// The columns [`PostRow::from_row`] reads, in order.
pub const POST_COLUMNS: &str =
    "uri, cid, author, record, indexed_at, reply_root, reply_parent, created_at";

impl PostRow {
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PostRow> {
        Ok(PostRow {
            uri: r.get(0)?,
            cid: r.get(1)?,
            author: r.get(2)?,
            record: r.get(3)?,
            indexed_at: r.get(4)?,
            reply_root: r.get(5)?,
            reply_parent: r.get(6)?,
            created_at: r.get(7)?,
        })
    }
}

impl<'c> Hydrator<'c> {
    /// Reads the rows [`Hydrator::post_view_of`] needs for these posts and the posts they reply
    /// to, in a few batched queries; later lookups of these URIs come from memory.
    pub fn prefetch_posts(&mut self, uris: &[String]) -> ViewResult<()> {
        let mut wanted: Vec<String> = uris
            .iter()
            .filter(|u| !self.prefetched.uris.contains(*u))
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        self.prefetch_rows(&wanted)?;
        // The reply context renders the parent and root too.
        let replied: HashSet<String> = wanted
            .iter()
            .filter_map(|u| self.prefetched.posts.get(u))
            .flat_map(|r| r.reply_root.iter().chain(r.reply_parent.iter()))
            .filter(|u| !self.prefetched.uris.contains(*u))
            .cloned()
            .collect();
        let replied: Vec<String> = replied.into_iter().collect();
        if !replied.is_empty() {
            self.prefetch_rows(&replied)?;
            wanted.extend(replied);
        }
        // Their authors, and the viewer's relations with them.
        let authors: Vec<i64> = wanted
            .iter()
            .filter_map(|u| self.prefetched.posts.get(u))
            .map(|r| r.author)
            .collect();
        self.prefetch_actors(&authors)?;
        // Thread gates are read by root; a root outside the page is read singly later.
        let pre = &mut self.prefetched;
        let gate_keys: Vec<&String> = wanted.iter().collect();
        let sql = format!(
            "SELECT post_uri, uri, record FROM threadgate WHERE post_uri IN ({})",
            placeholders(0, gate_keys.len())
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(padded(&gate_keys)))?;
        while let Some(r) = rows.next()? {
            pre.threadgates.insert(r.get(0)?, (r.get(1)?, r.get(2)?));
        }
        Ok(())
    }

    fn prefetch_rows(&mut self, uris: &[String]) -> ViewResult<()> {
        let conn = self.conn;
        let viewer = self.viewer_id();
        let pre = &mut self.prefetched;
        let list = placeholders(0, uris.len());
        let params = || rusqlite::params_from_iter(padded(uris));
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {POST_COLUMNS} FROM post WHERE uri IN ({list})"
        ))?;
        for row in stmt.query_map(params(), PostRow::from_row)? {
            let row = row?;
            pre.posts.insert(row.uri.clone(), row);
        }
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT post_uri, replies, reposts, likes, quotes FROM post_agg WHERE post_uri IN ({list})"
        ))?;
        let mut rows = stmt.query(params())?;
        while let Some(r) = rows.next()? {
            pre.counts
                .insert(r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?));
        }
        drop(rows);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT post_uri, record FROM postgate WHERE post_uri IN ({list})"
        ))?;
        let mut rows = stmt.query(params())?;
        while let Some(r) = rows.next()? {
            pre.postgates.insert(r.get(0)?, r.get(1)?);
        }
        drop(rows);
        if let Some(viewer) = viewer {
            let theirs = placeholders(1, uris.len());
            for (table, into) in [("likes", &mut pre.likes), ("reposts", &mut pre.reposts)] {
                // The first in (author, subject_uri) index order wins, as in the single-row lookup.
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT subject_uri, uri FROM {table} WHERE author = ?1 AND subject_uri IN ({theirs})
                     ORDER BY subject_uri, rowid"
                ))?;
                let mut rows = stmt.query(rusqlite::params_from_iter(
                    std::iter::once(&viewer as &dyn rusqlite::ToSql)
                        .chain(padded(uris).map(|u| u as &dyn rusqlite::ToSql)),
                ))?;
                while let Some(r) = rows.next()? {
                    into.entry(r.get(0)?).or_insert(r.get(1)?);
                }
            }
        }
        pre.uris.extend(uris.iter().cloned());
        Ok(())
    }

    pub fn post_row(&self, uri: &str) -> ViewResult<Option<PostRow>> {
        if self.prefetched.uris.contains(uri) {
            return Ok(self.prefetched.posts.get(uri).cloned());
        }
        self.conn
            .prepare_cached(&format!("SELECT {POST_COLUMNS} FROM post WHERE uri = ?1"))?
            .query_row([uri], PostRow::from_row)
            .optional()
    }

    /// `#postView`, or `None` if the post is unknown or its author is not visible.
    pub fn post_view(&mut self, uri: &str) -> ViewResult<Option<PostView>> {
        let Some(row) = self.post_row(uri)? else {
            return Ok(None);
        };
        self.post_view_of(&row, 0)
    }

    /// `depth` counts record embeds already opened: a quoted post's own quote is not expanded.
    pub fn post_view_of(&mut self, row: &PostRow, depth: usize) -> ViewResult<Option<PostView>> {
        if !self.visible(row.author)? {
            return Ok(None);
        }
        let Some(author) = self.profile_basic(row.author)? else {
            return Ok(None);
        };
        let record = record_json(&row.record);
        let decoded = atproto::data::cbor::decode(&row.record).ok();
        let author_did = author.did.clone();
        let embed = match decoded.as_ref().and_then(|d| at(d, &["embed"])) {
            Some(e) => self.embed_view(&author_did, e, depth)?,
            None => None,
        };
        let counts: (i64, i64, i64, i64) = if self.prefetched.uris.contains(&row.uri) {
            self.prefetched
                .counts
                .get(&row.uri)
                .copied()
                .unwrap_or((0, 0, 0, 0))
        } else {
            self.conn
                .prepare_cached(
                    "SELECT replies, reposts, likes, quotes FROM post_agg WHERE post_uri = ?1",
                )?
                .query_row([&row.uri], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?
                .unwrap_or((0, 0, 0, 0))
        };
        let viewer = self.post_viewer_state(row, &author_did)?;
        let threadgate = if row.reply_root.is_none() {
            self.threadgate_view(&row.uri)?
        } else {
            None
        };
        Ok(Some(PostView {
            uri: row.uri.clone(),
            cid: row.cid.clone(),
            author,
            record,
            embed,
            reply_count: Some(counts.0),
            repost_count: Some(counts.1),
            like_count: Some(counts.2),
            quote_count: Some(counts.3),
            bookmark_count: Some(0),
            indexed_at: row.indexed_at.clone(),
            viewer,
            labels: no_labels(),
            threadgate,
        }))
    }

    fn post_viewer_state(
        &self,
        row: &PostRow,
        author_did: &str,
    ) -> ViewResult<Option<PostViewerState>> {
        let Some((viewer_did, viewer_id)) = self.viewer.clone() else {
            return Ok(None);
        };
        let (like, repost): (Option<String>, Option<String>) =
            if self.prefetched.uris.contains(&row.uri) {
                (
                    self.prefetched.likes.get(&row.uri).cloned(),
                    self.prefetched.reposts.get(&row.uri).cloned(),
                )
            } else {
                (
                    self.conn
                        .prepare_cached(
                            "SELECT uri FROM likes WHERE author = ?1 AND subject_uri = ?2",
                        )?
                        .query_row(rusqlite::params![viewer_id, row.uri], |r| r.get(0))
                        .optional()?,
                    self.conn
                        .prepare_cached(
                            "SELECT uri FROM reposts WHERE author = ?1 AND subject_uri = ?2",
                        )?
                        .query_row(rusqlite::params![viewer_id, row.uri], |r| r.get(0))
                        .optional()?,
                )
            };
        let root = row.reply_root.clone().unwrap_or_else(|| row.uri.clone());
        let reply_disabled = !self.may_reply(&viewer_did, &root)?;
        let embedding_disabled = viewer_did != author_did && self.embedding_disabled(&row.uri)?;
        Ok(Some(PostViewerState {
            like,
            repost,
            thread_muted: Some(false),
            reply_disabled: Some(reply_disabled),
            embedding_disabled: Some(embedding_disabled),
            bookmarked: Some(false),
        }))
    }

    pub fn threadgate_record(&self, root: &str) -> ViewResult<Option<(String, Vec<u8>)>> {
        if self.prefetched.uris.contains(root) {
            return Ok(self.prefetched.threadgates.get(root).cloned());
        }
        self.conn
            .prepare_cached("SELECT uri, record FROM threadgate WHERE post_uri = ?1")?
            .query_row([root], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    /// `#threadgateView` for a root post, with the lists its list rules name.
    pub fn threadgate_view(&mut self, root: &str) -> ViewResult<Option<ThreadgateView>> {
        let Some((uri, bytes)) = self.threadgate_record(root)? else {
            return Ok(None);
        };
        let cid = atproto::data::cid_for_cbor(&bytes).to_string();
        let mut lists = Vec::new();
        if let Ok(gate) = atproto::data::cbor::decode(&bytes)
            && let Some(atproto::data::Ipld::List(rules)) = at(&gate, &["allow"])
        {
            for rule in rules {
                if type_of(rule) == Some("app.bsky.feed.threadgate#listRule")
                    && let Some(list) = str_at(rule, &["list"])
                    && let Some(view) = self.list_basic(list)?
                {
                    lists.push(view);
                }
            }
        }
        Ok(Some(ThreadgateView {
            uri: Some(uri),
            cid: Some(cid),
            record: Some(record_json(&bytes)),
            lists: Some(lists),
        }))
    }

    /// Whether `did` may reply in the thread rooted at `root`, by its thread gate: no gate lets
    /// everyone reply; an empty `allow` lets no one but the author; otherwise any matching rule.
    pub fn may_reply(&self, did: &str, root: &str) -> ViewResult<bool> {
        let Some((_, bytes)) = self.threadgate_record(root)? else {
            return Ok(true);
        };
        let Some(root_did) = crate::index::values::uri_did(root) else {
            return Ok(true);
        };
        if root_did == did {
            return Ok(true);
        }
        let Ok(gate) = atproto::data::cbor::decode(&bytes) else {
            return Ok(true);
        };
        let Some(atproto::data::Ipld::List(rules)) = at(&gate, &["allow"]) else {
            return Ok(true);
        };
        for rule in rules {
            let ok = match type_of(rule) {
                Some("app.bsky.feed.threadgate#mentionRule") => {
                    let root_row = self.post_row(root)?;
                    root_row
                        .and_then(|r| atproto::data::cbor::decode(&r.record).ok())
                        .is_some_and(|rec| mentions(&rec).contains(&did))
                }
                Some("app.bsky.feed.threadgate#followingRule") => self.follows(root_did, did)?,
                Some("app.bsky.feed.threadgate#followerRule") => self.follows(did, root_did)?,
                Some("app.bsky.feed.threadgate#listRule") => match str_at(rule, &["list"]) {
                    Some(list) => self
                        .conn
                        .prepare_cached("SELECT EXISTS(SELECT 1 FROM list_item WHERE list_uri = ?1 AND subject_did = ?2)")?
                        .query_row([list, did], |r| r.get(0))?,
                    None => false,
                },
                _ => false,
            };
            if ok {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Replies the thread's author hid with the thread gate.
    pub fn hidden_replies(&self, root: &str) -> ViewResult<Vec<String>> {
        let Some((_, bytes)) = self.threadgate_record(root)? else {
            return Ok(Vec::new());
        };
        let Ok(gate) = atproto::data::cbor::decode(&bytes) else {
            return Ok(Vec::new());
        };
        Ok(match at(&gate, &["hiddenReplies"]) {
            Some(atproto::data::Ipld::List(l)) => l
                .iter()
                .filter_map(|v| {
                    if let atproto::data::Ipld::String(s) = v {
                        Some(s.clone())
                    } else {
                        None
                    }
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    pub fn follows(&self, author_did: &str, subject_did: &str) -> ViewResult<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM follows f JOIN actor a ON a.id = f.author WHERE a.did = ?1 AND f.subject_did = ?2)",
            )?
            .query_row([author_did, subject_did], |r| r.get(0))
    }

    /// Whether the post's author disallowed quoting it (post gate `disableRule`).
    pub fn embedding_disabled(&self, post_uri: &str) -> ViewResult<bool> {
        let rec: Option<Vec<u8>> = if self.prefetched.uris.contains(post_uri) {
            self.prefetched.postgates.get(post_uri).cloned()
        } else {
            self.conn
                .prepare_cached("SELECT record FROM postgate WHERE post_uri = ?1")?
                .query_row([post_uri], |r| r.get(0))
                .optional()?
        };
        let Some(gate) = rec.and_then(|b| atproto::data::cbor::decode(&b).ok()) else {
            return Ok(false);
        };
        Ok(match at(&gate, &["embeddingRules"]) {
            Some(atproto::data::Ipld::List(rules)) => rules
                .iter()
                .any(|r| type_of(r) == Some("app.bsky.feed.postgate#disableRule")),
            _ => false,
        })
    }
}
