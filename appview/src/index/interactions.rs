//! `app.bsky.feed.like` and `app.bsky.feed.repost`.

use super::notify;
use super::post::{PostCount, bump_post};
use super::values::{sort_at, str_at, uri_did};
use super::{IndexResult, Rec};
use rusqlite::{Connection, OptionalExtension, params};

fn subject(rec: &Rec<'_>) -> Option<(String, String)> {
    Some((
        str_at(rec.value, &["subject", "uri"])?.to_owned(),
        str_at(rec.value, &["subject", "cid"])?.to_owned(),
    ))
}

pub fn put_like(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let Some((uri, cid)) = subject(rec) else {
        return Ok(());
    };
    let created = str_at(rec.value, &["createdAt"]).unwrap_or(rec.now());
    conn.prepare_cached("INSERT INTO likes (uri, author, subject_uri, subject_cid, created_at, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![rec.uri, rec.author, uri, cid, created, rec.now()])?;
    bump_post(conn, &uri, PostCount::Likes, 1)?;
    if let Some(did) = uri_did(&uri).filter(|d| *d != rec.author_did) {
        notify::add(conn, did, rec, "like", Some(&uri))?;
    }
    Ok(())
}

pub fn delete_like(conn: &Connection, uri: &str) -> IndexResult<()> {
    let subject: Option<String> = conn
        .prepare_cached("DELETE FROM likes WHERE uri = ?1 RETURNING subject_uri")?
        .query_row([uri], |r| r.get(0))
        .optional()?;
    if let Some(s) = subject {
        bump_post(conn, &s, PostCount::Likes, -1)?;
    }
    Ok(())
}

pub fn put_repost(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let Some((uri, cid)) = subject(rec) else {
        return Ok(());
    };
    let created = str_at(rec.value, &["createdAt"]).unwrap_or(rec.now());
    conn.prepare_cached("INSERT INTO reposts (uri, author, subject_uri, subject_cid, created_at, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![rec.uri, rec.author, uri, cid, created, rec.now()])?;
    conn.prepare_cached("INSERT OR REPLACE INTO feed_item (uri, post_uri, author, kind, is_reply, sort_at) VALUES (?1, ?2, ?3, 'repost', 0, ?4)")?
        .execute(params![rec.uri, uri, rec.author, sort_at(Some(created), rec.now())])?;
    bump_post(conn, &uri, PostCount::Reposts, 1)?;
    if let Some(did) = uri_did(&uri).filter(|d| *d != rec.author_did) {
        notify::add(conn, did, rec, "repost", Some(&uri))?;
    }
    Ok(())
}

pub fn delete_repost(conn: &Connection, uri: &str) -> IndexResult<()> {
    let subject: Option<String> = conn
        .prepare_cached("DELETE FROM reposts WHERE uri = ?1 RETURNING subject_uri")?
        .query_row([uri], |r| r.get(0))
        .optional()?;
    conn.prepare_cached("DELETE FROM feed_item WHERE uri = ?1")?
        .execute([uri])?;
    if let Some(s) = subject {
        bump_post(conn, &s, PostCount::Reposts, -1)?;
    }
    Ok(())
}
