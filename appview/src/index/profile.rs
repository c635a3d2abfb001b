//! `app.bsky.actor.profile`.

use super::values::{blob_cid_at, str_at};
use super::{IndexResult, Rec};
use rusqlite::{Connection, OptionalExtension, params};

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
        rec.now(),
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
///
/// Read first, then a plain `INSERT … VALUES`: an `INSERT … SELECT` into a full-text table
/// opens a statement savepoint, and every savepoint makes FTS5 flush the index terms it holds
/// in memory for this transaction to disk as a new segment (about a tenth of the writer's work
/// while ingesting, in merges of those small segments).
pub fn refresh_search(conn: &Connection, actor: i64) -> IndexResult<()> {
    conn.prepare_cached("DELETE FROM actor_fts WHERE rowid = ?1")?
        .execute([actor])?;
    let row: Option<(String, String, String)> = conn
        .prepare_cached(
            "SELECT COALESCE(a.handle, ''), COALESCE(p.display_name, ''), COALESCE(p.description, '')
             FROM actor a LEFT JOIN profile p ON p.actor = a.id WHERE a.id = ?1",
        )?
        .query_row([actor], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((handle, display_name, description)) = row {
        conn.prepare_cached(
            "INSERT INTO actor_fts (rowid, handle, display_name, description) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![actor, handle, display_name, description])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        hearth_db::migrate(&mut conn, crate::MIGRATIONS).expect("migrate");
        conn
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).expect("count")
    }

    /// Re-indexing a profile for search must not make FTS5 write out the post terms it holds
    /// in memory for the open transaction (see `refresh_search`): that would cost a new index
    /// segment for every profile an ingest batch carries.
    #[test]
    fn refreshing_search_keeps_pending_terms_in_memory_and_finds_the_actor() {
        let conn = index_db();
        conn.execute_batch(
            "BEGIN;
             INSERT INTO actor (id, did, handle, indexed_at) VALUES (1, 'did:plc:a', 'alice.test', 'x');
             INSERT INTO profile (actor, uri, cid, display_name, description, record, indexed_at)
                 VALUES (1, 'at://did:plc:a/app.bsky.actor.profile/self', 'c', 'Wonderful Name', 'gardening', x'a0', 'x');
             INSERT INTO post_fts (rowid, text) VALUES (7, 'pending words');",
        )
        .expect("setup");
        let segments = count(&conn, "SELECT count(*) FROM post_fts_data");
        refresh_search(&conn, 1).expect("refresh");
        refresh_search(&conn, 1).expect("refresh again");
        assert_eq!(
            count(&conn, "SELECT count(*) FROM post_fts_data"),
            segments,
            "post terms were flushed to disk mid-transaction"
        );
        conn.execute_batch("COMMIT").expect("commit");
        for term in ["alice", "wonderful", "gardening"] {
            let found = count(
                &conn,
                &format!("SELECT count(*) FROM actor_fts WHERE actor_fts MATCH '{term}'"),
            );
            assert_eq!(found, 1, "{term}");
        }
        let posts = count(
            &conn,
            "SELECT count(*) FROM post_fts WHERE post_fts MATCH 'pending'",
        );
        assert_eq!(posts, 1);
    }
}
