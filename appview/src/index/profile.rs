//! `app.bsky.actor.profile`.

use super::values::{blob_cid_at, str_at};
use super::{IndexResult, Rec};
use rusqlite::{Connection, params};

pub fn put(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    if rec.rkey != "self" {
        return Ok(());
    }
    let v = rec.value;
    let display_name = str_at(v, &["displayName"]);
    let description = str_at(v, &["description"]);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO profile (actor, uri, cid, display_name, description, avatar, banner, pinned_post, created_at, record, indexed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        rec.author,
        rec.uri,
        rec.cid,
        display_name,
        description,
        blob_cid_at(v, &["avatar"]),
        blob_cid_at(v, &["banner"]),
        str_at(v, &["pinnedPost", "uri"]),
        str_at(v, &["createdAt"]),
        rec.bytes,
        rec.now,
    ])?;
    refresh_search(conn, rec.author)
}

pub fn delete(conn: &Connection, uri: &str) -> IndexResult<()> {
    let actor: Option<i64> = rusqlite::OptionalExtension::optional(
        conn.prepare_cached("DELETE FROM profile WHERE uri = ?1 RETURNING actor")?
            .query_row([uri], |r| r.get(0)),
    )?;
    if let Some(a) = actor {
        refresh_search(conn, a)?;
    }
    Ok(())
}

pub fn delete_for_actor(conn: &Connection, actor: i64) -> IndexResult<()> {
    conn.execute("DELETE FROM profile WHERE actor = ?1", [actor])?;
    conn.execute("DELETE FROM actor_fts WHERE rowid = ?1", [actor])?;
    Ok(())
}

/// Re-indexes an actor's handle and profile text for search.
pub fn refresh_search(conn: &Connection, actor: i64) -> IndexResult<()> {
    conn.prepare_cached("DELETE FROM actor_fts WHERE rowid = ?1")?
        .execute([actor])?;
    conn.prepare_cached(
        "INSERT INTO actor_fts (rowid, handle, display_name, description)
         SELECT a.id, COALESCE(a.handle, ''), COALESCE(p.display_name, ''), COALESCE(p.description, '')
         FROM actor a LEFT JOIN profile p ON p.actor = a.id WHERE a.id = ?1",
    )?
    .execute([actor])?;
    Ok(())
}
