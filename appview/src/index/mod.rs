//! Applying records to the index: one function per collection for creates and deletes,
//! aggregates and notifications kept in step, all inside the caller's write transaction.

mod feeds;
mod graph;
mod interactions;
mod notify;
pub mod post;
mod profile;
pub mod values;

use atproto::data::Ipld;
use rusqlite::{Connection, OptionalExtension, params};
use std::cell::RefCell;

pub type IndexResult<T> = Result<T, rusqlite::Error>;

/// The collections this AppView indexes.
pub const COLLECTIONS: &[&str] = &[
    "app.bsky.actor.profile",
    "app.bsky.feed.post",
    "app.bsky.feed.like",
    "app.bsky.feed.repost",
    "app.bsky.feed.threadgate",
    "app.bsky.feed.postgate",
    "app.bsky.feed.generator",
    "app.bsky.graph.follow",
    "app.bsky.graph.block",
    "app.bsky.graph.list",
    "app.bsky.graph.listitem",
    "app.bsky.labeler.service",
];

/// What one run of a write job remembers between the records it indexes: the time it runs at
/// and the actor ids it has looked up or created (an ingest batch names the same accounts
/// again and again). Never kept beyond the run: ids created by a transaction that is rolled
/// back would be wrong.
pub struct RunCache {
    pub now: String,
    actors: RefCell<foldhash::HashMap<String, i64>>,
}

impl RunCache {
    pub fn new() -> RunCache {
        RunCache::at(crate::state::now_iso())
    }

    /// A cache for a run that indexes as of `now`.
    pub fn at(now: String) -> RunCache {
        RunCache {
            now,
            actors: RefCell::default(),
        }
    }

    /// [`actor_id`], remembered for the rest of the run.
    pub fn actor_id(&self, conn: &Connection, did: &str) -> IndexResult<i64> {
        if let Some(id) = self.actors.borrow().get(did) {
            return Ok(*id);
        }
        let id = actor_id(conn, did, &self.now)?;
        self.actors.borrow_mut().insert(did.to_owned(), id);
        Ok(id)
    }
}

impl Default for RunCache {
    fn default() -> RunCache {
        RunCache::new()
    }
}

/// A record being indexed.
pub struct Rec<'a> {
    pub uri: &'a str,
    pub cid: &'a str,
    pub author: i64,
    pub author_did: &'a str,
    pub rkey: &'a str,
    pub value: &'a Ipld,
    /// The record's DAG-CBOR bytes, kept for rendering views.
    pub bytes: &'a [u8],
    pub cache: &'a RunCache,
}

impl Rec<'_> {
    /// When the record is indexed.
    pub fn now(&self) -> &str {
        &self.cache.now
    }
}

/// The actor row id for a DID, creating the row on first sight.
pub fn actor_id(conn: &Connection, did: &str, now: &str) -> IndexResult<i64> {
    if let Some(id) = conn
        .prepare_cached("SELECT id FROM actor WHERE did = ?1")?
        .query_row([did], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    conn.prepare_cached("INSERT INTO actor (did, indexed_at) VALUES (?1, ?2)")?
        .execute(params![did, now])?;
    Ok(conn.last_insert_rowid())
}

/// The last repository revision applied for an account whose events are indexed: `None`
/// when the account is unknown or out of scope, `Some(None)` before its first commit.
pub fn applied_rev(conn: &Connection, did: &str) -> IndexResult<Option<Option<String>>> {
    conn.prepare_cached("SELECT rev FROM actor WHERE did = ?1 AND in_scope = 1")?
        .query_row([did], |r| r.get(0))
        .optional()
}

/// Indexes a new record.
pub fn create(conn: &Connection, collection: &str, rec: &Rec<'_>) -> IndexResult<()> {
    // A public record that replies to, quotes, likes or links a members-only space URI
    // (possible from another PDS) must not carry that reference into the public index.
    if hearth_lexicons::record_references_space(rec.bytes, rec.value) {
        return Ok(());
    }
    match collection {
        "app.bsky.actor.profile" => profile::put(conn, rec),
        "app.bsky.feed.post" => post::put(conn, rec),
        "app.bsky.feed.like" => interactions::put_like(conn, rec),
        "app.bsky.feed.repost" => interactions::put_repost(conn, rec),
        "app.bsky.graph.follow" => graph::put_follow(conn, rec),
        "app.bsky.graph.block" => graph::put_block(conn, rec),
        "app.bsky.graph.list" => graph::put_list(conn, rec),
        "app.bsky.graph.listitem" => graph::put_list_item(conn, rec),
        "app.bsky.feed.threadgate" => feeds::put_threadgate(conn, rec),
        "app.bsky.feed.postgate" => feeds::put_postgate(conn, rec),
        "app.bsky.feed.generator" => feeds::put_generator(conn, rec),
        "app.bsky.labeler.service" => feeds::put_labeler(conn, rec),
        _ => Ok(()),
    }
}

/// Replaces what the previous version of a record indexed.
pub fn update(conn: &Connection, collection: &str, rec: &Rec<'_>) -> IndexResult<()> {
    delete(conn, collection, rec.uri)?;
    create(conn, collection, rec)
}

/// Removes a record from the index; nothing happens if it was never indexed.
pub fn delete(conn: &Connection, collection: &str, uri: &str) -> IndexResult<()> {
    match collection {
        "app.bsky.actor.profile" => profile::delete(conn, uri),
        "app.bsky.feed.post" => post::delete(conn, uri),
        "app.bsky.feed.like" => interactions::delete_like(conn, uri),
        "app.bsky.feed.repost" => interactions::delete_repost(conn, uri),
        "app.bsky.graph.follow" => graph::delete_follow(conn, uri),
        "app.bsky.graph.block" => graph::delete_by_uri(conn, "blocks", uri),
        "app.bsky.graph.list" => graph::delete_by_uri(conn, "list", uri),
        "app.bsky.graph.listitem" => graph::delete_by_uri(conn, "list_item", uri),
        "app.bsky.feed.threadgate" => graph::delete_by_uri(conn, "threadgate", uri),
        "app.bsky.feed.postgate" => graph::delete_by_uri(conn, "postgate", uri),
        "app.bsky.feed.generator" => graph::delete_by_uri(conn, "feed_generator", uri),
        "app.bsky.labeler.service" => graph::delete_by_uri(conn, "labeler", uri),
        _ => Ok(()),
    }?;
    notify::delete_for(conn, uri)
}

/// Re-indexes an actor's handle and profile text for search.
pub fn refresh_actor_search(conn: &Connection, actor: i64) -> IndexResult<()> {
    profile::refresh_search(conn, actor)
}

/// What the index holds of one record, enough to tell whether a repository's copy differs:
/// the record CID where the index keeps the record (or its CID), otherwise the fields it
/// indexed (a like's subject, a follow's subject, ...).
pub fn fingerprint(collection: &str, cid: &atproto::data::Cid, value: &Ipld) -> String {
    use values::str_at;
    let field = |path: &[&str]| str_at(value, path).unwrap_or_default().to_owned();
    match collection {
        "app.bsky.feed.like" | "app.bsky.feed.repost" => {
            format!(
                "{} {}",
                field(&["subject", "uri"]),
                field(&["subject", "cid"])
            )
        }
        "app.bsky.graph.follow" | "app.bsky.graph.block" => field(&["subject"]),
        "app.bsky.graph.listitem" => format!("{} {}", field(&["list"]), field(&["subject"])),
        _ => cid.to_string(),
    }
}

/// Every record of an account the index holds: URI → (collection, [`fingerprint`]).
pub fn indexed_records(
    conn: &Connection,
    actor: i64,
) -> IndexResult<std::collections::HashMap<String, (&'static str, String)>> {
    let mut out = std::collections::HashMap::new();
    for (collection, sql) in [
        (
            "app.bsky.actor.profile",
            "SELECT uri, cid FROM profile WHERE actor = ?1",
        ),
        (
            "app.bsky.feed.post",
            "SELECT uri, cid FROM post WHERE author = ?1",
        ),
        (
            "app.bsky.feed.like",
            "SELECT uri, subject_uri || ' ' || subject_cid FROM likes WHERE author = ?1",
        ),
        (
            "app.bsky.feed.repost",
            "SELECT uri, subject_uri || ' ' || subject_cid FROM reposts WHERE author = ?1",
        ),
        (
            "app.bsky.graph.follow",
            "SELECT uri, subject_did FROM follows WHERE author = ?1",
        ),
        (
            "app.bsky.graph.block",
            "SELECT uri, subject_did FROM blocks WHERE author = ?1",
        ),
        (
            "app.bsky.graph.list",
            "SELECT uri, cid FROM list WHERE author = ?1",
        ),
        (
            "app.bsky.graph.listitem",
            "SELECT uri, list_uri || ' ' || subject_did FROM list_item WHERE author = ?1",
        ),
        (
            "app.bsky.feed.threadgate",
            "SELECT uri, record FROM threadgate WHERE author = ?1",
        ),
        (
            "app.bsky.feed.postgate",
            "SELECT uri, record FROM postgate WHERE author = ?1",
        ),
        (
            "app.bsky.feed.generator",
            "SELECT uri, cid FROM feed_generator WHERE author = ?1",
        ),
        (
            "app.bsky.labeler.service",
            "SELECT uri, cid FROM labeler WHERE author = ?1",
        ),
    ] {
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query([actor])?;
        while let Some(r) = rows.next()? {
            let uri: String = r.get(0)?;
            // Gates keep only their record bytes; their CID is the fingerprint.
            let fp = match r.get_ref(1)? {
                rusqlite::types::ValueRef::Blob(b) => atproto::data::cid_for_cbor(b).to_string(),
                v => v.as_str().map(str::to_owned).unwrap_or_default(),
            };
            out.insert(uri, (collection, fp));
        }
    }
    Ok(out)
}

/// Removes everything an account has in the index (a deleted account).
pub fn purge_actor(conn: &Connection, actor: i64) -> IndexResult<()> {
    let uris: Vec<(String, String)> = {
        let mut out = Vec::new();
        for (table, collection) in [
            ("post", "app.bsky.feed.post"),
            ("likes", "app.bsky.feed.like"),
            ("reposts", "app.bsky.feed.repost"),
            ("follows", "app.bsky.graph.follow"),
            ("blocks", "app.bsky.graph.block"),
            ("list", "app.bsky.graph.list"),
            ("list_item", "app.bsky.graph.listitem"),
            ("threadgate", "app.bsky.feed.threadgate"),
            ("postgate", "app.bsky.feed.postgate"),
            ("feed_generator", "app.bsky.feed.generator"),
            ("labeler", "app.bsky.labeler.service"),
        ] {
            let mut stmt = conn.prepare(&format!("SELECT uri FROM {table} WHERE author = ?1"))?;
            for uri in stmt.query_map([actor], |r| r.get::<_, String>(0))? {
                out.push((uri?, collection.to_owned()));
            }
        }
        out
    };
    for (uri, collection) in uris {
        delete(conn, &collection, &uri)?;
    }
    profile::delete_for_actor(conn, actor)?;
    conn.execute(
        "DELETE FROM notification WHERE recipient = ?1 OR author = ?1",
        [actor],
    )?;
    conn.execute("DELETE FROM notification_seen WHERE actor = ?1", [actor])?;
    conn.execute("DELETE FROM profile_agg WHERE actor = ?1", [actor])?;
    Ok(())
}
