//! `app.bsky.graph.*`: follows, blocks, lists.

use super::notify;
use super::post::{ProfileCount, bump_profile};
use super::values::str_at;
use super::{IndexResult, Rec};
use rusqlite::{Connection, OptionalExtension, params};

pub fn put_follow(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let Some(subject) = str_at(rec.value, &["subject"]).filter(|s| s.starts_with("did:")) else {
        return Ok(());
    };
    let created = str_at(rec.value, &["createdAt"]).unwrap_or(rec.now());
    conn.prepare_cached("INSERT INTO follows (uri, author, subject_did, created_at, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![rec.uri, rec.author, subject, created, rec.now()])?;
    bump_profile(conn, rec.author, ProfileCount::Follows, 1)?;
    let subject_id = rec.cache.actor_id(conn, subject)?;
    bump_profile(conn, subject_id, ProfileCount::Followers, 1)?;
    if subject != rec.author_did {
        notify::add(conn, subject, rec, "follow", None)?;
    }
    Ok(())
}

pub fn delete_follow(conn: &Connection, uri: &str) -> IndexResult<()> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("DELETE FROM follows WHERE uri = ?1 RETURNING author, subject_did")?
        .query_row([uri], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((author, subject)) = row {
        bump_profile(conn, author, ProfileCount::Follows, -1)?;
        let subject_id: Option<i64> = conn
            .prepare_cached("SELECT id FROM actor WHERE did = ?1")?
            .query_row([subject], |r| r.get(0))
            .optional()?;
        if let Some(s) = subject_id {
            bump_profile(conn, s, ProfileCount::Followers, -1)?;
        }
    }
    Ok(())
}

pub fn put_block(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let Some(subject) = str_at(rec.value, &["subject"]).filter(|s| s.starts_with("did:")) else {
        return Ok(());
    };
    let created = str_at(rec.value, &["createdAt"]).unwrap_or(rec.now());
    conn.prepare_cached(
        "INSERT INTO blocks (uri, author, subject_did, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![rec.uri, rec.author, subject, created])?;
    Ok(())
}

pub fn put_list(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let name = str_at(rec.value, &["name"]).unwrap_or_default();
    let purpose = str_at(rec.value, &["purpose"]).unwrap_or_default();
    conn.prepare_cached("INSERT INTO list (uri, cid, author, name, purpose, record, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
        .execute(params![rec.uri, rec.cid, rec.author, name, purpose, rec.bytes, rec.now()])?;
    Ok(())
}

pub fn put_list_item(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let (Some(list), Some(subject)) = (
        str_at(rec.value, &["list"]),
        str_at(rec.value, &["subject"]),
    ) else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO list_item (uri, list_uri, subject_did, author) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![rec.uri, list, subject, rec.author])?;
    Ok(())
}

/// Deletes a row by URI from a table whose rows need no other bookkeeping.
pub fn delete_by_uri(conn: &Connection, table: &'static str, uri: &str) -> IndexResult<()> {
    conn.prepare_cached(&format!("DELETE FROM {table} WHERE uri = ?1"))?
        .execute([uri])?;
    Ok(())
}
