//! Every statement on `web.sqlite`.

use hearth_db::DbError;
use rusqlite::{Connection, OptionalExtension, params};

pub const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql")];

/// A session row, as stored.
pub struct Row {
    pub did: String,
    pub handle: String,
    pub csrf: String,
}

pub struct NewRow<'a> {
    pub id_hash: &'a [u8],
    pub did: &'a str,
    pub handle: &'a str,
    pub csrf: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &Connection, r: &NewRow<'_>) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO session (id_hash, did, handle, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![r.id_hash, r.did, r.handle, r.csrf, r.now, r.expires_at])?;
    Ok(())
}

/// The live session with this id hash.
pub fn get(conn: &Connection, id_hash: &[u8], now: i64) -> Result<Option<Row>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT did, handle, csrf FROM session WHERE id_hash = ?1 AND expires_at > ?2",
        )?
        .query_row(params![id_hash, now], |r| {
            Ok(Row {
                did: r.get(0)?,
                handle: r.get(1)?,
                csrf: r.get(2)?,
            })
        })
        .optional()?)
}

pub fn delete(conn: &Connection, id_hash: &[u8]) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM session WHERE id_hash = ?1")?
        .execute([id_hash])?
        > 0)
}

/// Forgets sessions that expired before `now`.
pub fn delete_expired(conn: &Connection, now: i64) -> Result<usize, DbError> {
    Ok(conn
        .prepare_cached("DELETE FROM session WHERE expires_at <= ?1")?
        .execute([now])?)
}
