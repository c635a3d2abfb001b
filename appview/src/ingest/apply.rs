//! Writing a verified commit (or a whole resynchronised repository) into the index.

use crate::index::{self, COLLECTIONS, Rec, RunCache, actor_id};
use crate::state::now_iso;
use atproto::blockstore::{BlockStore, MemoryBlockStore};
use atproto::data::{Cid, cbor};
use atproto::repo::{RepoOp, WriteAction};
use atproto::syntax::RecordKey;
use rusqlite::{Connection, params};

/// Whether events of this repository are indexed, and whether it may pull others in.
#[derive(Debug, Clone, Copy)]
pub struct ScopeRule {
    /// Mark the repository in scope (it lives on a configured PDS, or scope is `all`).
    pub mark_in_scope: bool,
    /// Accounts this repository follows or interacts with join the scope (and are backfilled).
    pub expand: bool,
}

/// The repository head after a commit.
pub struct Head<'a> {
    pub rev: &'a str,
    pub data: Cid,
    pub commit: Cid,
}

/// The collection and record key of a repository path, if it is one this AppView indexes and
/// its record key is valid (a repository tree accepts keys such as `..` that no record URI
/// may carry).
fn indexable(path: &str) -> Option<(&str, &str)> {
    let (collection, rkey) = path.split_once('/')?;
    (COLLECTIONS.contains(&collection) && rkey.parse::<RecordKey>().is_ok())
        .then_some((collection, rkey))
}

/// A verified operation with its record decoded (by the ingest worker, so that the single
/// database writer spends its time on SQL, not on DAG-CBOR).
pub struct PreparedOp {
    pub op: RepoOp,
    /// The record's bytes and value, for creates and updates of indexed collections whose
    /// record is present and decodes.
    pub record: Option<(Vec<u8>, atproto::data::Ipld)>,
}

/// Decodes what a commit's operations need from its blocks. Records that are missing or fail
/// to decode are left out (and so not counted as indexed).
pub fn prepare(ops: Vec<RepoOp>, blocks: &MemoryBlockStore) -> Vec<PreparedOp> {
    ops.into_iter()
        .map(|op| {
            let record = match (op.action, op.cid) {
                (WriteAction::Create | WriteAction::Update, Some(cid))
                    if indexable(&op.path).is_some() =>
                {
                    blocks.get_block(&cid).ok().flatten().and_then(|bytes| {
                        let value = cbor::decode_record(&bytes).ok()?;
                        Some((bytes, value))
                    })
                }
                _ => None,
            };
            PreparedOp { op, record }
        })
        .collect()
}

/// Applies a verified commit's prepared operations. Returns the number of records indexed.
/// `cache` belongs to the current run of the write job (see [`RunCache`]).
pub fn commit(
    conn: &Connection,
    cache: &RunCache,
    did: &str,
    head: &Head<'_>,
    ops: &[PreparedOp],
    scope: ScopeRule,
) -> rusqlite::Result<usize> {
    let author = cache.actor_id(conn, did)?;
    set_head(conn, author, head, scope)?;
    let mut indexed = 0;
    for PreparedOp { op, record } in ops {
        let Some((collection, rkey)) = indexable(&op.path) else {
            continue;
        };
        let uri = format!("at://{did}/{}", op.path);
        match (op.action, op.cid, record) {
            (WriteAction::Delete, _, _) => index::delete(conn, collection, &uri)?,
            (action, Some(cid), Some((bytes, value))) => {
                let cid_s = cid.to_string();
                let rec = Rec {
                    uri: &uri,
                    cid: &cid_s,
                    author,
                    author_did: did,
                    rkey,
                    value,
                    bytes,
                    cache,
                };
                if action == WriteAction::Update {
                    index::update(conn, collection, &rec)?;
                } else {
                    index::create(conn, collection, &rec)?;
                }
                if scope.expand {
                    expand_scope(conn, cache, value)?;
                }
                indexed += 1;
            }
            _ => {}
        }
    }
    Ok(indexed)
}

pub fn set_head(
    conn: &Connection,
    actor: i64,
    head: &Head<'_>,
    scope: ScopeRule,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE actor SET rev = ?2, data_cid = ?3, commit_cid = ?4, in_scope = MAX(in_scope, ?5) WHERE id = ?1",
    )?
    .execute(params![actor, head.rev, head.data.to_bytes(), head.commit.to_bytes(), scope.mark_in_scope])?;
    Ok(())
}

/// Accounts a record points at (follow subject, liked or replied-to author, quoted or
/// mentioned account) join the scope and are queued for backfill.
fn expand_scope(
    conn: &Connection,
    cache: &RunCache,
    value: &atproto::data::Ipld,
) -> rusqlite::Result<()> {
    use crate::index::values::{str_at, uri_did};
    let mut dids: Vec<&str> = Vec::new();
    if let Some(s) = str_at(value, &["subject"]).filter(|s| s.starts_with("did:")) {
        dids.push(s);
    }
    for path in [
        &["subject", "uri"][..],
        &["reply", "parent", "uri"],
        &["reply", "root", "uri"],
        &["embed", "record", "uri"],
    ] {
        if let Some(d) = str_at(value, path).and_then(uri_did) {
            dids.push(d);
        }
    }
    for d in dids {
        let id = cache.actor_id(conn, d)?;
        conn.prepare_cached("UPDATE actor SET in_scope = 1, backfill = 'wanted' WHERE id = ?1 AND in_scope = 0 AND rev IS NULL")?
            .execute([id])?;
    }
    Ok(())
}

/// Makes the index hold exactly a repository's records (a resync): records that are gone are
/// deleted, new or changed ones indexed, unchanged ones left alone. Only the account's own
/// records change: what others did to it (their follows and likes, the notifications they
/// caused) stays, and unchanged records raise no notification again. Returns the number of
/// records indexed or re-indexed.
pub fn replace_repo(
    conn: &Connection,
    did: &str,
    head: &Head<'_>,
    records: &[(String, Cid, Vec<u8>)],
    scope: ScopeRule,
) -> rusqlite::Result<usize> {
    let cache = RunCache::new();
    let author = cache.actor_id(conn, did)?;
    let mut stale = index::indexed_records(conn, author)?;
    set_head(conn, author, head, scope)?;
    conn.execute("UPDATE actor SET backfill = 'done' WHERE id = ?1", [author])?;
    let mut wanted = Vec::with_capacity(records.len());
    for (path, cid, bytes) in records {
        let Some((collection, rkey)) = indexable(path) else {
            continue;
        };
        let Ok(value) = cbor::decode_record(bytes) else {
            continue;
        };
        let uri = format!("at://{did}/{path}");
        let fp = index::fingerprint(collection, cid, &value);
        let action = match stale.remove(&uri) {
            Some((_, old)) if old == fp => continue,
            Some(_) => WriteAction::Update,
            None => WriteAction::Create,
        };
        wanted.push((collection, rkey, uri, cid, bytes, value, action));
    }
    // What the repository no longer holds goes first, so that counts never overshoot.
    for (uri, (collection, _)) in &stale {
        index::delete(conn, collection, uri)?;
    }
    let mut n = 0;
    for (collection, rkey, uri, cid, bytes, value, action) in &wanted {
        let cid_s = cid.to_string();
        let rec = Rec {
            uri,
            cid: &cid_s,
            author,
            author_did: did,
            rkey,
            value,
            bytes,
            cache: &cache,
        };
        if *action == WriteAction::Update {
            index::update(conn, collection, &rec)?;
        } else {
            index::create(conn, collection, &rec)?;
        }
        if scope.expand {
            expand_scope(conn, &cache, value)?;
        }
        n += 1;
    }
    Ok(n)
}

/// Records an account status change; a deleted account's data leaves the index.
pub fn set_status(conn: &Connection, did: &str, status: Option<&str>) -> rusqlite::Result<()> {
    let now = now_iso();
    let actor = actor_id(conn, did, &now)?;
    conn.execute(
        "UPDATE actor SET status = ?2 WHERE id = ?1",
        params![actor, status],
    )?;
    if status == Some("deleted") {
        index::purge_actor(conn, actor)?;
        conn.execute("UPDATE actor SET rev = NULL, data_cid = NULL, commit_cid = NULL, handle = NULL WHERE id = ?1", [actor])?;
        conn.execute("DELETE FROM actor_fts WHERE rowid = ?1", [actor])?;
    }
    Ok(())
}

/// Records a verified handle (or none).
pub fn set_handle(conn: &Connection, did: &str, handle: Option<&str>) -> rusqlite::Result<()> {
    let now = now_iso();
    let actor = actor_id(conn, did, &now)?;
    conn.execute(
        "UPDATE actor SET handle = ?2 WHERE id = ?1",
        params![actor, handle],
    )?;
    crate::index::refresh_actor_search(conn, actor)
}
