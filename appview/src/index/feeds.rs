//! Thread gates, post gates, feed generators and labelers.

use super::values::{blob_cid_at, str_at};
use super::{IndexResult, Rec};
use rusqlite::{Connection, params};

/// A gate record's rkey equals its post's rkey; the gate applies to that post only.
fn gated_post(rec: &Rec<'_>) -> Option<String> {
    let post = str_at(rec.value, &["post"])?;
    let expected = format!("at://{}/app.bsky.feed.post/{}", rec.author_did, rec.rkey);
    (post == expected).then(|| post.to_owned())
}

pub fn put_threadgate(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let Some(post) = gated_post(rec) else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO threadgate (uri, post_uri, author, record) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![rec.uri, post, rec.author, rec.bytes])?;
    Ok(())
}

pub fn put_postgate(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let Some(post) = gated_post(rec) else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO postgate (uri, post_uri, author, record) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![rec.uri, post, rec.author, rec.bytes])?;
    Ok(())
}

pub fn put_generator(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let Some(did) = str_at(rec.value, &["did"]) else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO feed_generator (uri, cid, author, service_did, display_name, description, avatar, record, indexed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        rec.uri,
        rec.cid,
        rec.author,
        did,
        str_at(rec.value, &["displayName"]).unwrap_or_default(),
        str_at(rec.value, &["description"]),
        blob_cid_at(rec.value, &["avatar"]),
        rec.bytes,
        rec.now()
    ])?;
    Ok(())
}

pub fn put_labeler(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    if rec.rkey != "self" {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO labeler (uri, cid, author, record, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![rec.uri, rec.cid, rec.author, rec.bytes, rec.now()])?;
    Ok(())
}
