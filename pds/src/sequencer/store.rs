//! The stored firehose: one row per sequenced event, its frame encoded once.

use super::SeqFrame;
use crate::db::DbError;
use bytes::Bytes;
use rusqlite::{Connection, params};

/// Events read from the database per page while replaying, at most; a page also stops once
/// it holds `PAGE_BYTES` of frames. Every replaying subscriber holds one page, so this bounds
/// a subscriber's memory (the `#commit` frames of big `applyWrites` batches run to 100 KiB).
const PAGE: i64 = 500;
const PAGE_BYTES: usize = 64 * 1024;

/// The events after `after`, in order, one page of them.
pub fn page(conn: &Connection, after: i64) -> Result<Vec<SeqFrame>, DbError> {
    let mut stmt = conn
        .prepare_cached("SELECT seq, frame FROM repo_seq WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map(params![after, PAGE], |r| {
        Ok(SeqFrame {
            seq: r.get(0)?,
            frame: Bytes::from(r.get::<_, Vec<u8>>(1)?),
        })
    })?;
    let mut out = Vec::new();
    let mut bytes = 0;
    for r in rows {
        let f = r?;
        bytes += f.frame.len();
        out.push(f);
        if bytes >= PAGE_BYTES {
            break;
        }
    }
    Ok(out)
}

/// The oldest sequence number still stored.
pub fn oldest(conn: &Connection) -> Result<Option<i64>, DbError> {
    Ok(conn.query_row("SELECT MIN(seq) FROM repo_seq", [], |r| r.get(0))?)
}

/// The newest sequence number stored (0 when none is).
pub fn last(conn: &Connection) -> Result<i64, DbError> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM repo_seq", [], |r| {
            r.get(0)
        })?,
    )
}

/// Stores an encoded event under its sequence number.
pub fn insert(
    conn: &Connection,
    seq: i64,
    did: &str,
    kind: &str,
    frame: &[u8],
    created_at: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO repo_seq (seq, did, kind, frame, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![seq, did, kind, frame, created_at])?;
    Ok(())
}

/// Deletes every stored event of a DID.
pub fn delete_events_of(conn: &Connection, did: &str) -> Result<(), DbError> {
    conn.execute("DELETE FROM repo_seq WHERE did = ?1", [did])?;
    Ok(())
}
