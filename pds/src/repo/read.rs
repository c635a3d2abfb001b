//! Reading repositories: records by path, listings, heads, blocks.

use crate::db::DbError;
use atproto::data::Cid;
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
