//! `app.bsky.feed.post`: the post row, search text, feed item, reply and quote counts, and the
//! reply, mention and quote notifications.

use super::notify;
use super::values::{at, sort_at, str_at, type_of, uri_did};
use super::{IndexResult, Rec};
use atproto::data::Ipld;
use rusqlite::{Connection, OptionalExtension, params};

/// The URI a post embeds as a record (a quote), whether plainly or beside media.
pub fn embedded_uri(v: &Ipld) -> Option<&str> {
    match type_of(at(v, &["embed"])?)? {
        "app.bsky.embed.record" => str_at(v, &["embed", "record", "uri"]),
        "app.bsky.embed.recordWithMedia" => str_at(v, &["embed", "record", "record", "uri"]),
        _ => None,
    }
}

/// DIDs mentioned through rich-text facets.
pub fn mentions(v: &Ipld) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(Ipld::List(facets)) = at(v, &["facets"]) {
        for f in facets {
            if let Some(Ipld::List(features)) = at(f, &["features"]) {
                for feat in features {
                    if type_of(feat) == Some("app.bsky.richtext.facet#mention")
                        && let Some(did) = str_at(feat, &["did"])
                        && !out.contains(&did)
                    {
                        out.push(did);
                    }
                }
            }
        }
    }
    out
}

/// The counters a post has; each names its column in `post_agg`.
#[derive(Debug, Clone, Copy)]
pub enum PostCount {
    Likes,
    Reposts,
    Replies,
    Quotes,
}

/// The counters an account has; each names its column in `profile_agg`.
#[derive(Debug, Clone, Copy)]
pub enum ProfileCount {
    Followers,
    Follows,
    Posts,
}

/// Moves one of a post's counters (never below zero). One upsert, not a read and a write:
/// this runs for most events the firehose carries, on the single writer.
pub fn bump_post(conn: &Connection, post_uri: &str, count: PostCount, by: i64) -> IndexResult<()> {
    let sql = match count {
        PostCount::Likes => {
            "INSERT INTO post_agg (post_uri, likes) VALUES (?1, MAX(0, ?2)) ON CONFLICT (post_uri) DO UPDATE SET likes = MAX(0, likes + ?2)"
        }
        PostCount::Reposts => {
            "INSERT INTO post_agg (post_uri, reposts) VALUES (?1, MAX(0, ?2)) ON CONFLICT (post_uri) DO UPDATE SET reposts = MAX(0, reposts + ?2)"
        }
        PostCount::Replies => {
            "INSERT INTO post_agg (post_uri, replies) VALUES (?1, MAX(0, ?2)) ON CONFLICT (post_uri) DO UPDATE SET replies = MAX(0, replies + ?2)"
        }
        PostCount::Quotes => {
            "INSERT INTO post_agg (post_uri, quotes) VALUES (?1, MAX(0, ?2)) ON CONFLICT (post_uri) DO UPDATE SET quotes = MAX(0, quotes + ?2)"
        }
    };
    conn.prepare_cached(sql)?.execute(params![post_uri, by])?;
    Ok(())
}

/// Moves one of an account's counters (never below zero), as [`bump_post`] does.
pub fn bump_profile(
    conn: &Connection,
    actor: i64,
    count: ProfileCount,
    by: i64,
) -> IndexResult<()> {
    let sql = match count {
        ProfileCount::Followers => {
            "INSERT INTO profile_agg (actor, followers) VALUES (?1, MAX(0, ?2)) ON CONFLICT (actor) DO UPDATE SET followers = MAX(0, followers + ?2)"
        }
        ProfileCount::Follows => {
            "INSERT INTO profile_agg (actor, follows) VALUES (?1, MAX(0, ?2)) ON CONFLICT (actor) DO UPDATE SET follows = MAX(0, follows + ?2)"
        }
        ProfileCount::Posts => {
            "INSERT INTO profile_agg (actor, posts) VALUES (?1, MAX(0, ?2)) ON CONFLICT (actor) DO UPDATE SET posts = MAX(0, posts + ?2)"
        }
    };
    conn.prepare_cached(sql)?.execute(params![actor, by])?;
    Ok(())
}

pub fn put(conn: &Connection, rec: &Rec<'_>) -> IndexResult<()> {
    let v = rec.value;
    let text = str_at(v, &["text"]).unwrap_or_default();
    let created_at = str_at(v, &["createdAt"]).unwrap_or(rec.now());
    let sort = sort_at(Some(created_at), rec.now());
    let root = str_at(v, &["reply", "root", "uri"]);
    let parent = str_at(v, &["reply", "parent", "uri"]);
    let embed = embedded_uri(v);
    let embed_kind = at(v, &["embed"])
        .and_then(type_of)
        .map(|t| t.trim_start_matches("app.bsky.embed.").to_owned());
    conn.prepare_cached(
        "INSERT INTO post (uri, cid, author, text, created_at, sort_at, indexed_at, reply_root, reply_root_cid,
                           reply_parent, reply_parent_cid, embed_uri, embed_kind, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        rec.uri,
        rec.cid,
        rec.author,
        text,
        created_at,
        sort,
        rec.now(),
        root,
        str_at(v, &["reply", "root", "cid"]),
        parent,
        str_at(v, &["reply", "parent", "cid"]),
        embed,
        embed_kind,
        rec.bytes,
    ])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO post_fts (rowid, text) VALUES (?1, ?2)")?
        .execute(params![id, text])?;
    conn.prepare_cached("INSERT OR REPLACE INTO feed_item (uri, post_uri, author, kind, is_reply, sort_at) VALUES (?1, ?1, ?2, 'post', ?3, ?4)")?
        .execute(params![rec.uri, rec.author, parent.is_some(), sort])?;
    // No post_agg row yet: views read a missing row as zero counts, and the first like,
    // repost, reply or quote creates it.
    bump_profile(conn, rec.author, ProfileCount::Posts, 1)?;

    let mut notified: Vec<&str> = vec![rec.author_did];
    if let Some(p) = parent {
        bump_post(conn, p, PostCount::Replies, 1)?;
        for target in [p, root.unwrap_or(p)] {
            if let Some(did) = uri_did(target)
                && !notified.contains(&did)
            {
                notify::add(conn, did, rec, "reply", Some(target))?;
                notified.push(did);
            }
        }
    }
    if let Some(q) = embed {
        if q.contains("/app.bsky.feed.post/") {
            bump_post(conn, q, PostCount::Quotes, 1)?;
        }
        if let Some(did) = uri_did(q)
            && !notified.contains(&did)
        {
            notify::add(conn, did, rec, "quote", Some(q))?;
            notified.push(did);
        }
    }
    for did in mentions(v) {
        if !notified.contains(&did) {
            notify::add(conn, did, rec, "mention", None)?;
            notified.push(did);
        }
    }
    Ok(())
}

pub fn delete(conn: &Connection, uri: &str) -> IndexResult<()> {
    let row: Option<(i64, i64, Option<String>, Option<String>)> = conn
        .prepare_cached("SELECT id, author, reply_parent, embed_uri FROM post WHERE uri = ?1")?
        .query_row([uri], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((id, author, parent, embed)) = row else {
        return Ok(());
    };
    conn.prepare_cached("DELETE FROM post WHERE id = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM post_fts WHERE rowid = ?1")?
        .execute([id])?;
    conn.prepare_cached("DELETE FROM feed_item WHERE uri = ?1")?
        .execute([uri])?;
    bump_profile(conn, author, ProfileCount::Posts, -1)?;
    if let Some(p) = parent {
        bump_post(conn, &p, PostCount::Replies, -1)?;
    }
    if let Some(q) = embed.filter(|q| q.contains("/app.bsky.feed.post/")) {
        bump_post(conn, &q, PostCount::Quotes, -1)?;
    }
    Ok(())
}
