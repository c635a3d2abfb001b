//! The repository tables: heads, blocks, the record index and records' blob links. Reads serve
//! the sync and repo methods; writes run inside a commit's transaction.

use crate::db::DbError;
use atproto::data::{BlobRef, Cid};
use rusqlite::{Connection, OptionalExtension, params};

fn cid_col(bytes: Vec<u8>) -> rusqlite::Result<Cid> {
    Cid::try_from(bytes.as_slice()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
    })
}

/// The current commit CID, rev and data root of an account's repository.
pub fn head(conn: &Connection, account: i64) -> Result<Option<(Cid, String, Cid)>, DbError> {
    Ok(conn
        .prepare_cached("SELECT cid, rev, data_cid FROM repo_root WHERE account = ?1")?
        .query_row([account], |r| {
            Ok((cid_col(r.get(0)?)?, r.get(1)?, cid_col(r.get(2)?)?))
        })
        .optional()?)
}

pub fn block(conn: &Connection, account: i64, cid: &Cid) -> Result<Option<Vec<u8>>, DbError> {
    Ok(conn
        .prepare_cached("SELECT content FROM repo_block WHERE account = ?1 AND cid = ?2")?
        .query_row(params![account, cid.to_bytes()], |r| r.get(0))
        .optional()?)
}

/// A record's CID and encoded block.
pub fn record(
    conn: &Connection,
    account: i64,
    collection: &str,
    rkey: &str,
) -> Result<Option<(Cid, Vec<u8>)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT r.cid, b.content FROM record r
             JOIN repo_block b ON b.account = r.account AND b.cid = r.cid
             WHERE r.account = ?1 AND r.collection = ?2 AND r.rkey = ?3",
        )?
        .query_row(params![account, collection, rkey], |r| {
            Ok((cid_col(r.get(0)?)?, r.get(1)?))
        })
        .optional()?)
}

/// One page of a collection: (rkey, CID, block), newest first unless `reverse`.
pub fn list(
    conn: &Connection,
    account: i64,
    collection: &str,
    limit: u32,
    cursor: Option<&str>,
    reverse: bool,
) -> Result<Vec<(String, Cid, Vec<u8>)>, DbError> {
    let sql = match (reverse, cursor.is_some()) {
        (false, false) => "SELECT r.rkey, r.cid, b.content FROM record r JOIN repo_block b ON b.account = r.account AND b.cid = r.cid
             WHERE r.account = ?1 AND r.collection = ?2 ORDER BY r.rkey DESC LIMIT ?3",
        (false, true) => "SELECT r.rkey, r.cid, b.content FROM record r JOIN repo_block b ON b.account = r.account AND b.cid = r.cid
             WHERE r.account = ?1 AND r.collection = ?2 AND r.rkey < ?4 ORDER BY r.rkey DESC LIMIT ?3",
        (true, false) => "SELECT r.rkey, r.cid, b.content FROM record r JOIN repo_block b ON b.account = r.account AND b.cid = r.cid
             WHERE r.account = ?1 AND r.collection = ?2 ORDER BY r.rkey ASC LIMIT ?3",
        (true, true) => "SELECT r.rkey, r.cid, b.content FROM record r JOIN repo_block b ON b.account = r.account AND b.cid = r.cid
             WHERE r.account = ?1 AND r.collection = ?2 AND r.rkey > ?4 ORDER BY r.rkey ASC LIMIT ?3",
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let map = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, cid_col(r.get(1)?)?, r.get(2)?));
    let rows = match cursor {
        Some(c) => stmt
            .query_map(params![account, collection, limit, c], map)?
            .collect::<Result<Vec<_>, _>>()?,
        None => stmt
            .query_map(params![account, collection, limit], map)?
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(rows)
}

/// The collections an account has records in.
pub fn collections(conn: &Connection, account: i64) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT collection FROM record WHERE account = ?1 ORDER BY collection",
    )?;
    let rows = stmt
        .query_map([account], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

/// Calls `f` with every block of the repository written after `since` (all when `None`).
pub fn for_each_block(
    conn: &Connection,
    account: i64,
    since: Option<&str>,
    mut f: impl FnMut(Cid, Vec<u8>) -> bool,
) -> Result<(), DbError> {
    let mut stmt = match since {
        Some(_) => conn.prepare_cached(
            "SELECT cid, content FROM repo_block WHERE account = ?1 AND rev > ?2",
        )?,
        None => conn.prepare_cached("SELECT cid, content FROM repo_block WHERE account = ?1")?,
    };
    let mut rows = match since {
        Some(s) => stmt.query(params![account, s])?,
        None => stmt.query([account])?,
    };
    while let Some(r) = rows.next()? {
        if !f(cid_col(r.get(0)?)?, r.get(1)?) {
            break;
        }
    }
    Ok(())
}

/// Every blob CID some account holds.
pub fn all_blob_cids(conn: &Connection) -> Result<Vec<String>, DbError> {
    Ok(conn
        .prepare_cached("SELECT DISTINCT cid FROM blob ORDER BY cid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Every record of an account in the record index: (`collection/rkey`, CID).
pub fn all_record_cids(conn: &Connection, account: i64) -> Result<Vec<(String, Cid)>, DbError> {
    Ok(conn
        .prepare_cached("SELECT collection, rkey, cid FROM record WHERE account = ?1")?
        .query_map([account], |r| {
            Ok((
                format!("{}/{}", r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                cid_col(r.get(2)?)?,
            ))
        })?
        .collect::<Result<_, _>>()?)
}

/// The current record CID at a path.
pub fn record_cid(
    conn: &Connection,
    account: i64,
    collection: &str,
    rkey: &str,
) -> Result<Option<Cid>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT cid FROM record WHERE account = ?1 AND collection = ?2 AND rkey = ?3",
        )?
        .query_row(params![account, collection, rkey], |r| cid_col(r.get(0)?))
        .optional()?)
}

pub fn insert_blocks(
    conn: &Connection,
    account: i64,
    rev: &str,
    blocks: &[(Cid, Vec<u8>)],
) -> Result<(), DbError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO repo_block (account, cid, rev, content) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (cid, bytes) in blocks {
        stmt.execute(params![account, cid.to_bytes(), rev, bytes])?;
    }
    Ok(())
}

/// Drops a block unless a record of the account still has it as its value.
pub fn delete_block_unless_record(
    conn: &Connection,
    account: i64,
    cid: &Cid,
) -> Result<(), DbError> {
    let used = conn
        .prepare_cached("SELECT 1 FROM record WHERE account = ?1 AND cid = ?2 LIMIT 1")?
        .query_row(params![account, cid.to_bytes()], |_| Ok(()))
        .optional()?
        .is_some();
    if !used {
        conn.prepare_cached("DELETE FROM repo_block WHERE account = ?1 AND cid = ?2")?
            .execute(params![account, cid.to_bytes()])?;
    }
    Ok(())
}

/// Records a new repository's first head. A second call for the same account fails (the
/// unique key), so creating a repository twice can never reset one that exists.
pub fn insert_head(
    conn: &Connection,
    account: i64,
    cid: &Cid,
    rev: &str,
    data: &Cid,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO repo_root (account, cid, rev, data_cid) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![account, cid.to_bytes(), rev, data.to_bytes()])?;
    Ok(())
}

/// Moves an existing repository's head; an account without one is an error, never a new row.
pub fn update_head(
    conn: &Connection,
    account: i64,
    cid: &Cid,
    rev: &str,
    data: &Cid,
) -> Result<(), DbError> {
    let changed = conn
        .prepare_cached(
            "UPDATE repo_root SET cid = ?2, rev = ?3, data_cid = ?4 WHERE account = ?1",
        )?
        .execute(params![account, cid.to_bytes(), rev, data.to_bytes()])?;
    if changed == 1 {
        Ok(())
    } else {
        Err(rusqlite::Error::QueryReturnedNoRows.into())
    }
}

pub fn put_record(
    conn: &Connection,
    account: i64,
    collection: &str,
    rkey: &str,
    cid: &Cid,
    rev: &str,
    indexed_at: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO record (account, collection, rkey, cid, rev, indexed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        account,
        collection,
        rkey,
        cid.to_bytes(),
        rev,
        indexed_at
    ])?;
    Ok(())
}

pub fn delete_record(
    conn: &Connection,
    account: i64,
    collection: &str,
    rkey: &str,
) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM record WHERE account = ?1 AND collection = ?2 AND rkey = ?3")?
        .execute(params![account, collection, rkey])?;
    Ok(())
}

/// The MIME type and size of a blob the account uploaded.
pub fn uploaded_blob(
    conn: &Connection,
    account: i64,
    cid: &Cid,
) -> Result<Option<(String, i64)>, DbError> {
    Ok(conn
        .prepare_cached("SELECT mime_type, size FROM blob WHERE account = ?1 AND cid = ?2")?
        .query_row(params![account, cid.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Links a record to the blobs it references; a linked blob is no longer up for collection.
pub fn link_blobs(
    conn: &Connection,
    account: i64,
    path: &str,
    blobs: &[BlobRef],
) -> Result<(), DbError> {
    for b in blobs {
        let cid = b.cid.to_string();
        conn.prepare_cached(
            "INSERT OR IGNORE INTO record_blob (account, blob_cid, record_path) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![account, cid, path])?;
        conn.prepare_cached(
            "UPDATE blob SET unreferenced_since = NULL WHERE account = ?1 AND cid = ?2",
        )?
        .execute(params![account, cid])?;
    }
    Ok(())
}

/// Removes a record's blob links; blobs left with no link start their grace period at `now`.
pub fn unlink_blobs(conn: &Connection, account: i64, path: &str, now: i64) -> Result<(), DbError> {
    let cids: Vec<String> = conn
        .prepare_cached(
            "DELETE FROM record_blob WHERE account = ?1 AND record_path = ?2 RETURNING blob_cid",
        )?
        .query_map(params![account, path], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for cid in cids {
        conn.prepare_cached(
            "UPDATE blob SET unreferenced_since = ?3 WHERE account = ?1 AND cid = ?2
             AND NOT EXISTS (SELECT 1 FROM record_blob WHERE account = ?1 AND blob_cid = ?2)",
        )?
        .execute(params![account, cid, now])?;
    }
    Ok(())
}

/// Records an upload. A blob no record links to starts its grace period at `now`; one a record
/// already links (uploaded again, or after its records were imported) is kept.
pub fn record_upload(
    conn: &Connection,
    account: i64,
    cid: &Cid,
    mime_type: &str,
    size: u64,
    created_at: &str,
    now: i64,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO blob (account, cid, mime_type, size, created_at, unreferenced_since)
         VALUES (?1, ?2, ?3, ?4, ?5,
           CASE WHEN EXISTS (SELECT 1 FROM record_blob WHERE account = ?1 AND blob_cid = ?2) THEN NULL ELSE ?6 END)
         ON CONFLICT (account, cid) DO UPDATE SET unreferenced_since =
           CASE WHEN EXISTS (SELECT 1 FROM record_blob WHERE account = ?1 AND blob_cid = ?2) THEN NULL ELSE ?6 END",
    )?
    .execute(params![account, cid.to_string(), mime_type, size as i64, created_at, now])?;
    Ok(())
}

/// One page of hosted repositories after account id `after`: (account id, DID, head CID bytes,
/// rev, status column).
pub type RepoRow = (i64, String, Vec<u8>, String, Option<String>);

pub fn list_repos(conn: &Connection, after: i64, limit: u32) -> Result<Vec<RepoRow>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.did, r.cid, r.rev, a.status FROM account a JOIN repo_root r ON r.account = a.id
             WHERE a.id > ?1 ORDER BY a.id LIMIT ?2",
        )?
        .query_map(params![after, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?)
}

/// A blob's MIME type, size and takedown reference, by its CID string.
pub fn blob(
    conn: &Connection,
    account: i64,
    cid: &str,
) -> Result<Option<(String, i64, Option<String>)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT mime_type, size, takedown_ref FROM blob WHERE account = ?1 AND cid = ?2",
        )?
        .query_row(params![account, cid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
}

/// CIDs of blobs that records link to, after `cursor`, of records written after `since`.
pub fn linked_blobs(
    conn: &Connection,
    account: i64,
    cursor: &str,
    since: Option<&str>,
    limit: u32,
) -> Result<Vec<String>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT DISTINCT rb.blob_cid FROM record_blob rb
             JOIN record r ON r.account = rb.account AND rb.record_path = r.collection || '/' || r.rkey
             WHERE rb.account = ?1 AND rb.blob_cid > ?2 AND (?3 IS NULL OR r.rev > ?3)
             ORDER BY rb.blob_cid LIMIT ?4",
        )?
        .query_map(params![account, cursor, since, limit], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// The CIDs of the blobs an account uploaded.
pub fn account_blobs(conn: &Connection, account: i64) -> Result<Vec<String>, DbError> {
    Ok(conn
        .prepare_cached("SELECT cid FROM blob WHERE account = ?1")?
        .query_map([account], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Whether any account still holds a blob.
pub fn blob_held(conn: &Connection, cid: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM blob WHERE cid = ?1)")?
        .query_row([cid], |r| r.get(0))?)
}

/// Deletes the blob rows whose grace period began at `cutoff` or before; returns their CIDs,
/// each once.
pub fn delete_unreferenced_blobs(
    conn: &Connection,
    cutoff: i64,
) -> Result<std::collections::BTreeSet<String>, DbError> {
    Ok(conn
        .prepare(
            "DELETE FROM blob WHERE unreferenced_since IS NOT NULL AND unreferenced_since <= ?1
             RETURNING cid",
        )?
        .query_map([cutoff], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Deletes an account's repository: blocks, record index, blob links and blob rows.
pub fn delete_repo(conn: &Connection, account: i64) -> Result<(), DbError> {
    for sql in [
        "DELETE FROM repo_block WHERE account = ?1",
        "DELETE FROM record WHERE account = ?1",
        "DELETE FROM record_blob WHERE account = ?1",
        "DELETE FROM blob WHERE account = ?1",
    ] {
        conn.execute(sql, [account])?;
    }
    Ok(())
}

/// Empties an account's repository before an import: blocks, head, record index and blob links
/// (uploaded blobs stay: they may be the ones the imported records reference).
pub fn clear_repo(conn: &Connection, account: i64) -> Result<(), DbError> {
    for sql in [
        "DELETE FROM repo_block WHERE account = ?1",
        "DELETE FROM repo_root WHERE account = ?1",
        "DELETE FROM record WHERE account = ?1",
        "DELETE FROM record_blob WHERE account = ?1",
    ] {
        conn.execute(sql, [account])?;
    }
    Ok(())
}

/// Blobs the account's records reference that it has not uploaded, after `cursor`, in CID
/// order: (blob CID, a record path referencing it).
pub fn missing_blobs(
    conn: &Connection,
    account: i64,
    cursor: &str,
    limit: u32,
) -> Result<Vec<(String, String)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT rb.blob_cid, MIN(rb.record_path) FROM record_blob rb
             WHERE rb.account = ?1 AND rb.blob_cid > ?2
               AND NOT EXISTS (SELECT 1 FROM blob b WHERE b.account = ?1 AND b.cid = rb.blob_cid)
             GROUP BY rb.blob_cid ORDER BY rb.blob_cid LIMIT ?3",
        )?
        .query_map(params![account, cursor, limit], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?)
}

/// What checkAccountStatus reports of an account's stored data.
pub struct Counts {
    pub blocks: i64,
    pub records: i64,
    pub private_state_values: i64,
    pub expected_blobs: i64,
    pub imported_blobs: i64,
}

pub fn counts(conn: &Connection, account: i64) -> Result<Counts, DbError> {
    let count = |sql: &str| conn.query_row(sql, [account], |r| r.get::<_, i64>(0));
    Ok(Counts {
        blocks: count("SELECT COUNT(*) FROM repo_block WHERE account = ?1")?,
        records: count("SELECT COUNT(*) FROM record WHERE account = ?1")?,
        private_state_values: count("SELECT COUNT(*) FROM account_pref WHERE account = ?1")?,
        expected_blobs: count(
            "SELECT COUNT(DISTINCT blob_cid) FROM record_blob WHERE account = ?1",
        )?,
        imported_blobs: count(
            "SELECT COUNT(*) FROM blob WHERE account = ?1 AND unreferenced_since IS NULL",
        )?,
    })
}

pub fn set_record_takedown(
    conn: &Connection,
    account: i64,
    collection: &str,
    rkey: &str,
    takedown_ref: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE record SET takedown_ref = ?4 WHERE account = ?1 AND collection = ?2 AND rkey = ?3",
        params![account, collection, rkey, takedown_ref],
    )?;
    Ok(())
}

pub fn set_blob_takedown(
    conn: &Connection,
    account: i64,
    cid: &str,
    takedown_ref: Option<&str>,
) -> Result<(), DbError> {
    conn.execute(
        "UPDATE blob SET takedown_ref = ?3 WHERE account = ?1 AND cid = ?2",
        params![account, cid, takedown_ref],
    )?;
    Ok(())
}
