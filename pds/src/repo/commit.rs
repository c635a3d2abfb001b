//! Committing writes inside the writer's transaction: the tree, the blocks, the record index,
//! blob references, the repository head and the `#commit` event, all or nothing.

use super::blocks::SqlBlocks;
use super::prepare::PreparedWrite;
use crate::sequencer;
use crate::state::{AppState, now_iso, now_secs};
use atproto::car::write_car;
use atproto::data::{BlobRef, Cid};
use atproto::firehose::{Commit as CommitEvent, Event, MAX_BLOCKS_BYTES, RepoOpWire};
use atproto::mst::{Mst, MstError};
use atproto::repo::{RecordWrite, RepoError, WriteAction, apply_writes};
use atproto::syntax::Tid;
use hearth_xrpc::XrpcError;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashSet;

/// What a write asks for. `Put` is putRecord: an update if the record exists, else a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Create,
    Put,
    Update,
    Delete,
}

#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub intent: Intent,
    pub collection: String,
    pub rkey: String,
    pub record: Option<PreparedWrite>,
    /// Compare-and-swap on the current record: `Some(None)` requires that there is none.
    pub swap_record: Option<Option<Cid>>,
}

#[derive(Debug, Clone)]
pub struct WriteResult {
    pub uri: String,
    pub cid: Option<Cid>,
    pub action: WriteAction,
    pub validated: bool,
}

#[derive(Debug, Clone)]
pub struct CommitOutcome {
    pub cid: Cid,
    pub rev: String,
    pub results: Vec<WriteResult>,
}

struct Head {
    cid: Cid,
    rev: String,
    data: Cid,
}

fn cid_col(bytes: Vec<u8>) -> rusqlite::Result<Cid> {
    Cid::try_from(bytes.as_slice()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn head(conn: &Connection, account: i64) -> Result<Option<Head>, XrpcError> {
    conn.prepare_cached("SELECT cid, rev, data_cid FROM repo_root WHERE account = ?1")
        .and_then(|mut s| {
            s.query_row([account], |r| {
                Ok(Head {
                    cid: cid_col(r.get(0)?)?,
                    rev: r.get(1)?,
                    data: cid_col(r.get(2)?)?,
                })
            })
            .optional()
        })
        .map_err(XrpcError::internal)
}

fn current_record(
    conn: &Connection,
    account: i64,
    collection: &str,
    rkey: &str,
) -> Result<Option<Cid>, XrpcError> {
    conn.prepare_cached(
        "SELECT cid FROM record WHERE account = ?1 AND collection = ?2 AND rkey = ?3",
    )
    .and_then(|mut s| {
        s.query_row(params![account, collection, rkey], |r| cid_col(r.get(0)?))
            .optional()
    })
    .map_err(XrpcError::internal)
}

fn repo_error(e: RepoError) -> XrpcError {
    match e {
        RepoError::Mst(MstError::KeyExists(k)) => {
            XrpcError::invalid_request(format!("Record already exists: {k}"))
        }
        RepoError::Mst(MstError::KeyNotFound(k)) => {
            XrpcError::invalid_request(format!("Could not find record: {k}"))
        }
        RepoError::Mst(MstError::InvalidKey(k)) => {
            XrpcError::invalid_request(format!("Invalid record path: {k}"))
        }
        other => XrpcError::internal(other),
    }
}

/// A rev after `prev`: the clock's next TID, or just past `prev` if the clock is behind it
/// (a clock that stepped back must never make a repository's revs go backwards).
fn next_rev(state: &AppState, prev: Option<&str>) -> String {
    let tid = state.tids.next();
    match prev.and_then(|p| p.parse::<Tid>().ok()) {
        Some(p) if tid.as_str() <= p.as_str() => Tid::from_u64(p.as_u64() + 1).to_string(),
        _ => tid.to_string(),
    }
}

/// Creates an account's empty repository and sequences its first commit.
pub fn create_repo(
    txn: &mut crate::db::WriteTxn<'_>,
    state: &AppState,
    account: i64,
    did: &str,
) -> Result<CommitOutcome, XrpcError> {
    let key = state
        .keys
        .get(txn.conn, account)
        .map_err(XrpcError::internal)?;
    let rev = next_rev(state, None);
    let mut mst = Mst::create(SqlBlocks {
        conn: txn.conn,
        account,
    });
    let commit = apply_writes(&mut mst, did, &rev, &key, Vec::new()).map_err(repo_error)?;
    drop(mst);
    store_blocks(txn.conn, account, &rev, &commit.new_blocks)?;
    txn.conn
        .prepare_cached(
            "INSERT INTO repo_root (account, cid, rev, data_cid) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                account,
                commit.cid.to_bytes(),
                rev,
                commit.data.to_bytes()
            ])
        })
        .map_err(XrpcError::internal)?;
    let blocks = write_car(
        &commit.cid,
        commit
            .relevant_blocks
            .iter()
            .map(|(c, b)| (c, b.as_slice())),
    )
    .map_err(XrpcError::internal)?;
    let event = CommitEvent {
        seq: 0,
        rebase: false,
        too_big: false,
        repo: did.into(),
        commit: commit.cid,
        rev: rev.clone(),
        since: None,
        blocks,
        ops: Vec::new(),
        blobs: Vec::new(),
        prev_data: None,
        time: now_iso(),
    };
    sequencer::emit(txn, &state.sequencer, Event::Commit(Box::new(event)))
        .map_err(XrpcError::internal)?;
    Ok(CommitOutcome {
        cid: commit.cid,
        rev,
        results: Vec::new(),
    })
}

fn store_blocks(
    conn: &Connection,
    account: i64,
    rev: &str,
    blocks: &[(Cid, Vec<u8>)],
) -> Result<(), XrpcError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO repo_block (account, cid, rev, content) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(XrpcError::internal)?;
    for (cid, bytes) in blocks {
        stmt.execute(params![account, cid.to_bytes(), rev, bytes])
            .map_err(XrpcError::internal)?;
    }
    Ok(())
}

/// Applies a batch of writes to an account's repository as one commit.
pub fn commit_writes(
    txn: &mut crate::db::WriteTxn<'_>,
    state: &AppState,
    account: i64,
    did: &str,
    writes: Vec<WriteRequest>,
    swap_commit: Option<Cid>,
) -> Result<CommitOutcome, XrpcError> {
    let conn = txn.conn;
    let head = head(conn, account)?
        .ok_or_else(|| XrpcError::named("RepoNotFound", format!("Could not find repo: {did}")))?;
    if let Some(expected) = swap_commit
        && expected != head.cid
    {
        return Err(XrpcError::named(
            "InvalidSwap",
            format!("Commit was at {}", head.cid),
        ));
    }

    // Decide each write's action against the current records, and check swaps.
    let mut record_writes = Vec::with_capacity(writes.len());
    let mut results = Vec::with_capacity(writes.len());
    let mut seen = HashSet::new();
    for w in &writes {
        let path = format!("{}/{}", w.collection, w.rkey);
        if !seen.insert(path.clone()) {
            return Err(XrpcError::invalid_request(format!(
                "More than one write to {path}"
            )));
        }
        let current = current_record(conn, account, &w.collection, &w.rkey)?;
        if let Some(expected) = &w.swap_record
            && *expected != current
        {
            return Err(XrpcError::named(
                "InvalidSwap",
                match current {
                    Some(c) => format!("Record was at {c}"),
                    None => "Record was not present".to_string(),
                },
            ));
        }
        let action = match (w.intent, current) {
            (Intent::Create, Some(_)) => {
                return Err(XrpcError::invalid_request(format!(
                    "Record already exists at {path}"
                )));
            }
            (Intent::Create, None) | (Intent::Put, None) => WriteAction::Create,
            (Intent::Put, Some(_)) | (Intent::Update, Some(_)) => WriteAction::Update,
            (Intent::Update, None) | (Intent::Delete, None) => {
                return Err(XrpcError::invalid_request(format!(
                    "Could not find record: {path}"
                )));
            }
            (Intent::Delete, Some(_)) => WriteAction::Delete,
        };
        let record = w.record.as_ref().map(|r| (r.cid, r.bytes.clone()));
        if (action == WriteAction::Delete) != record.is_none() {
            return Err(XrpcError::invalid_request(format!(
                "{path}: a record is required except for deletes"
            )));
        }
        results.push(WriteResult {
            uri: format!("at://{did}/{path}"),
            cid: w.record.as_ref().map(|r| r.cid),
            action,
            validated: w.record.as_ref().is_some_and(|r| r.validated),
        });
        record_writes.push(RecordWrite {
            action,
            collection: w.collection.clone(),
            rkey: w.rkey.clone(),
            record,
        });
    }

    check_blobs(conn, account, &writes)?;

    let rev = next_rev(state, Some(&head.rev));
    let key = state.keys.get(conn, account).map_err(XrpcError::internal)?;
    let mut mst = Mst::load(SqlBlocks { conn, account }, head.data);
    let commit = apply_writes(&mut mst, did, &rev, &key, record_writes).map_err(repo_error)?;
    drop(mst);

    // Blocks: add the new ones; drop replaced tree nodes, the old commit, and record values
    // no other record of the account still uses.
    store_blocks(conn, account, &rev, &commit.new_blocks)?;
    let fresh: HashSet<Cid> = commit.new_blocks.iter().map(|(c, _)| *c).collect();
    let mut del_block = conn
        .prepare_cached("DELETE FROM repo_block WHERE account = ?1 AND cid = ?2")
        .map_err(XrpcError::internal)?;

    // Record index and blob references.
    let now = now_iso();
    for (w, r) in writes.iter().zip(&results) {
        let path = format!("{}/{}", w.collection, w.rkey);
        if r.action != WriteAction::Create {
            unlink_blobs(conn, account, &path)?;
        }
        match (&w.record, r.action) {
            (Some(rec), WriteAction::Create | WriteAction::Update) => {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO record (account, collection, rkey, cid, rev, indexed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .and_then(|mut s| s.execute(params![account, w.collection, w.rkey, rec.cid.to_bytes(), rev, now]))
                .map_err(XrpcError::internal)?;
                link_blobs(conn, account, &path, &rec.blobs)?;
            }
            _ => {
                conn.prepare_cached(
                    "DELETE FROM record WHERE account = ?1 AND collection = ?2 AND rkey = ?3",
                )
                .and_then(|mut s| s.execute(params![account, w.collection, w.rkey]))
                .map_err(XrpcError::internal)?;
            }
        }
    }
    let mut still_used = conn
        .prepare_cached("SELECT 1 FROM record WHERE account = ?1 AND cid = ?2 LIMIT 1")
        .map_err(XrpcError::internal)?;
    for cid in commit.removed.iter().chain(std::iter::once(&head.cid)) {
        if fresh.contains(cid) {
            continue;
        }
        let used = still_used
            .query_row(params![account, cid.to_bytes()], |_| Ok(()))
            .optional()
            .map_err(XrpcError::internal)?
            .is_some();
        if !used {
            del_block
                .execute(params![account, cid.to_bytes()])
                .map_err(XrpcError::internal)?;
        }
    }

    conn.prepare_cached(
        "UPDATE repo_root SET cid = ?2, rev = ?3, data_cid = ?4 WHERE account = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            account,
            commit.cid.to_bytes(),
            rev,
            commit.data.to_bytes()
        ])
    })
    .map_err(XrpcError::internal)?;

    let blocks = write_car(
        &commit.cid,
        commit
            .relevant_blocks
            .iter()
            .map(|(c, b)| (c, b.as_slice())),
    )
    .map_err(XrpcError::internal)?;
    if blocks.len() > MAX_BLOCKS_BYTES {
        return Err(XrpcError::payload_too_large(
            "Commit is too large for the firehose; write fewer or smaller records",
        ));
    }
    let event = CommitEvent {
        seq: 0,
        rebase: false,
        too_big: false,
        repo: did.into(),
        commit: commit.cid,
        rev: rev.clone(),
        since: Some(head.rev),
        blocks,
        ops: commit.ops.iter().map(RepoOpWire::from).collect(),
        blobs: Vec::new(),
        prev_data: Some(commit.prev_data),
        time: now,
    };
    sequencer::emit(txn, &state.sequencer, Event::Commit(Box::new(event)))
        .map_err(XrpcError::internal)?;
    Ok(CommitOutcome {
        cid: commit.cid,
        rev,
        results,
    })
}

/// Every blob a new record references must have been uploaded by this account, with the MIME
/// type and size the record declares.
fn check_blobs(conn: &Connection, account: i64, writes: &[WriteRequest]) -> Result<(), XrpcError> {
    let mut stmt = conn
        .prepare_cached("SELECT mime_type, size FROM blob WHERE account = ?1 AND cid = ?2")
        .map_err(XrpcError::internal)?;
    for rec in writes.iter().filter_map(|w| w.record.as_ref()) {
        for b in &rec.blobs {
            let found: Option<(String, i64)> = stmt
                .query_row(params![account, b.cid.to_string()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(XrpcError::internal)?;
            let Some((mime, size)) = found else {
                return Err(XrpcError::named(
                    "BlobNotFound",
                    format!("Could not find blob: {}", b.cid),
                ));
            };
            // The error names are the reference's (`InvalidMimeType`, `InvalidSize`), so
            // clients can tell a bad reference from a malformed request.
            if b.mime_type != mime {
                return Err(XrpcError::named(
                    "InvalidMimeType",
                    format!(
                        "Referenced Mimetype does not match stored blob. Expected: {mime}, Got: {}",
                        b.mime_type
                    ),
                ));
            }
            // Legacy blob refs carry no size; only check what the record states.
            if b.size != 0 && b.size as i64 != size {
                return Err(XrpcError::named(
                    "InvalidSize",
                    format!(
                        "Referenced Size does not match stored blob. Expected: {size}, Got: {}",
                        b.size
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn link_blobs(
    conn: &Connection,
    account: i64,
    path: &str,
    blobs: &[BlobRef],
) -> Result<(), XrpcError> {
    for b in blobs {
        let cid = b.cid.to_string();
        conn.prepare_cached("INSERT OR IGNORE INTO record_blob (account, blob_cid, record_path) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![account, cid, path]))
            .map_err(XrpcError::internal)?;
        conn.prepare_cached(
            "UPDATE blob SET unreferenced_since = NULL WHERE account = ?1 AND cid = ?2",
        )
        .and_then(|mut s| s.execute(params![account, cid]))
        .map_err(XrpcError::internal)?;
    }
    Ok(())
}

/// Removes a record's blob links; blobs left with no link start their grace period.
fn unlink_blobs(conn: &Connection, account: i64, path: &str) -> Result<(), XrpcError> {
    let cids: Vec<String> = conn
        .prepare_cached(
            "DELETE FROM record_blob WHERE account = ?1 AND record_path = ?2 RETURNING blob_cid",
        )
        .and_then(|mut s| s.query_map(params![account, path], |r| r.get(0))?.collect())
        .map_err(XrpcError::internal)?;
    for cid in cids {
        conn.prepare_cached(
            "UPDATE blob SET unreferenced_since = ?3 WHERE account = ?1 AND cid = ?2
             AND NOT EXISTS (SELECT 1 FROM record_blob WHERE account = ?1 AND blob_cid = ?2)",
        )
        .and_then(|mut s| s.execute(params![account, cid, now_secs()]))
        .map_err(XrpcError::internal)?;
    }
    Ok(())
}
