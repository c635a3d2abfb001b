//! `app.bsky.feed.*`: timelines, author feeds, posts.

use super::actor::visible_actor;
use super::{hydrate, limit};
use crate::auth::{OptionalViewer, Viewer};
use crate::state::AppState;
use crate::views::Hydrator;
use crate::views::feed::FeedItem;
use axum::Json;
use axum::extract::State;
use hearth_xrpc::{XQuery, XrpcError, XrpcResult, repeated};
use rusqlite::{Connection, params};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Cursors are `<sortAt>::<uri>`: stable across equal timestamps.
fn parse_cursor(c: Option<&str>) -> XrpcResult<(String, String)> {
    match c {
        None | Some("") => Ok(("9999".into(), String::new())),
        Some(c) => c
            .split_once("::")
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .ok_or_else(|| XrpcError::invalid_request("Malformed cursor")),
    }
}

struct Row {
    uri: String,
    post_uri: String,
    author: i64,
    kind: String,
    sort_at: String,
}

fn to_item(r: &Row) -> FeedItem {
    FeedItem {
        post_uri: r.post_uri.clone(),
        repost: (r.kind == "repost").then(|| (r.uri.clone(), r.author, r.sort_at.clone())),
    }
}

fn next_cursor(rows: &[Row], limit: u32) -> Option<String> {
    (rows.len() as u32 >= limit)
        .then(|| rows.last().map(|r| format!("{}::{}", r.sort_at, r.uri)))
        .flatten()
}

/// Timeline entries for a viewer: their own and their follows' posts and reposts, newest first.
///
/// Two plans, chosen by how much of the index the follows wrote: when they wrote a fair share,
/// walk the global time index and keep what matches (a few rows per result); when they are a
/// small corner of a large index, merge each followed account's own time index instead.
fn timeline_rows(
    conn: &Connection,
    viewer: i64,
    cursor: &(String, String),
    limit: u32,
) -> rusqlite::Result<Vec<Row>> {
    let mut follows: HashSet<i64> = conn
        .prepare_cached(
            "SELECT a.id FROM follows f JOIN actor a ON a.did = f.subject_did WHERE f.author = ?1",
        )?
        .query_map([viewer], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    follows.insert(viewer);
    let followed_posts: i64 = conn
        .prepare_cached(
            "SELECT COALESCE(SUM(g.posts), 0) FROM follows f JOIN actor a ON a.did = f.subject_did
             JOIN profile_agg g ON g.actor = a.id WHERE f.author = ?1",
        )?
        .query_row([viewer], |r| r.get(0))?;
    let total: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM feed_item")?
        .query_row([], |r| r.get(0))?;
    let map = |r: &rusqlite::Row<'_>| {
        Ok(Row {
            uri: r.get(0)?,
            post_uri: r.get(1)?,
            author: r.get(2)?,
            kind: r.get(3)?,
            sort_at: r.get(4)?,
        })
    };
    let mut out = Vec::with_capacity(limit as usize);
    if total == 0 || followed_posts * 50 >= total {
        let mut stmt = conn.prepare_cached(
            "SELECT uri, post_uri, author, kind, sort_at FROM feed_item INDEXED BY feed_item_sort
             WHERE (sort_at, uri) < (?1, ?2) ORDER BY sort_at DESC, uri DESC",
        )?;
        let mut rows = stmt.query(params![cursor.0, cursor.1])?;
        while let Some(r) = rows.next()? {
            let row = map(r)?;
            if follows.contains(&row.author) {
                out.push(row);
                if out.len() as u32 >= limit {
                    break;
                }
            }
        }
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT uri, post_uri, author, kind, sort_at FROM feed_item WHERE author = ?1 AND (sort_at, uri) < (?2, ?3)
         ORDER BY sort_at DESC, uri DESC LIMIT ?4",
    )?;
    for a in follows {
        for r in stmt.query_map(params![a, cursor.0, cursor.1, limit], map)? {
            out.push(r?);
        }
    }
    out.sort_by(|a, b| (&b.sort_at, &b.uri).cmp(&(&a.sort_at, &a.uri)));
    out.truncate(limit as usize);
    Ok(out)
}

#[derive(Deserialize)]
pub struct TimelineParams {
    limit: Option<u32>,
    cursor: Option<String>,
    #[allow(dead_code)]
    algorithm: Option<String>,
}

pub async fn get_timeline(
    State(state): State<AppState>,
    viewer: Viewer,
    XQuery(p): XQuery<TimelineParams>,
) -> XrpcResult<Json<Value>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = parse_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, Some(&viewer.did), move |h| {
        let Some(me) = h.viewer_id().filter(|id| *id >= 0) else {
            return Ok(json!({ "feed": [] }));
        };
        let rows = timeline_rows(h.conn, me, &cursor, limit).map_err(XrpcError::internal)?;
        feed_response(h, &rows, limit)
    })
    .await?;
    Ok(Json(out))
}

fn feed_response(h: &mut Hydrator<'_>, rows: &[Row], limit: u32) -> XrpcResult<Value> {
    let items: Vec<FeedItem> = rows.iter().map(to_item).collect();
    let feed = h.feed(&items).map_err(XrpcError::internal)?;
    let mut out = json!({ "feed": feed });
    if let (Some(c), Some(o)) = (next_cursor(rows, limit), out.as_object_mut()) {
        o.insert("cursor".into(), json!(c));
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorFeedParams {
    actor: String,
    limit: Option<u32>,
    cursor: Option<String>,
    filter: Option<String>,
    include_pins: Option<bool>,
}

pub async fn get_author_feed(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<AuthorFeedParams>,
) -> XrpcResult<Json<Value>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = parse_cursor(p.cursor.as_deref())?;
    let filter = p.filter.unwrap_or_else(|| "posts_with_replies".into());
    let condition = match filter.as_str() {
        "posts_with_replies" => "1",
        "posts_no_replies" => "(fi.kind = 'repost' OR fi.is_reply = 0)",
        "posts_with_media" => {
            "(fi.kind = 'post' AND p.embed_kind IN ('images', 'video', 'recordWithMedia'))"
        }
        "posts_with_video" => "(fi.kind = 'post' AND p.embed_kind = 'video')",
        "posts_and_author_threads" => {
            "(fi.kind = 'repost' OR fi.is_reply = 0 OR p.reply_root LIKE 'at://' || a.did || '/%')"
        }
        other => {
            return Err(XrpcError::invalid_request(format!(
                "Invalid filter: {other}"
            )));
        }
    };
    let first_page = p.cursor.is_none();
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        if h.viewer_id().is_some() {
            let (blocking, blocked_by) = block_state(h, id)?;
            if blocking {
                return Err(XrpcError::named(
                    "BlockedActor",
                    "Profile is blocked by the viewer",
                ));
            }
            if blocked_by {
                return Err(XrpcError::named(
                    "BlockedByActor",
                    "Viewer is blocked by the profile",
                ));
            }
        }
        let sql = format!(
            "SELECT fi.uri, fi.post_uri, fi.author, fi.kind, fi.sort_at FROM feed_item fi
             JOIN actor a ON a.id = fi.author LEFT JOIN post p ON p.uri = fi.post_uri
             WHERE fi.author = ?1 AND (fi.sort_at, fi.uri) < (?2, ?3) AND {condition}
             ORDER BY fi.sort_at DESC, fi.uri DESC LIMIT ?4"
        );
        let rows: Vec<Row> = h
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_map(params![id, cursor.0, cursor.1, limit], |r| {
                    Ok(Row {
                        uri: r.get(0)?,
                        post_uri: r.get(1)?,
                        author: r.get(2)?,
                        kind: r.get(3)?,
                        sort_at: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(XrpcError::internal)?;
        let mut out = feed_response(h, &rows, limit)?;
        // The pinned post leads the first page when asked for.
        if first_page && p.include_pins == Some(true) {
            let pinned = h
                .actor(id)
                .map_err(XrpcError::internal)?
                .and_then(|a| a.pinned_post)
                .filter(|u| {
                    u.starts_with(&format!(
                        "at://{}/",
                        crate::index::values::uri_did(u).unwrap_or_default()
                    ))
                });
            if let Some(uri) = pinned
                && let Some(post) = h.post_view(&uri).map_err(XrpcError::internal)?
                && let Some(feed) = out.get_mut("feed").and_then(Value::as_array_mut)
            {
                feed.retain(|f| f["post"]["uri"] != json!(uri));
                feed.insert(
                    0,
                    json!({ "post": post, "reason": { "$type": "app.bsky.feed.defs#reasonPin" } }),
                );
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Json(out))
}

/// (the viewer blocks `id`, `id` blocks the viewer)
pub fn block_state(h: &Hydrator<'_>, id: i64) -> XrpcResult<(bool, bool)> {
    let Some((viewer_did, viewer_id)) = h.viewer.clone() else {
        return Ok((false, false));
    };
    h.conn
        .prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM blocks b JOIN actor a ON a.did = b.subject_did WHERE b.author = ?1 AND a.id = ?2),
                    EXISTS(SELECT 1 FROM blocks WHERE author = ?2 AND subject_did = ?3)",
        )
        .and_then(|mut s| s.query_row(params![viewer_id, id, viewer_did], |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(XrpcError::internal)
}

pub async fn get_posts(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
) -> XrpcResult<Json<Value>> {
    let uris = repeated(uri.query(), "uris");
    if uris.is_empty() || uris.len() > 25 {
        return Err(XrpcError::invalid_request("uris must list 1 to 25 posts"));
    }
    let posts = hydrate(&state, viewer.did(), move |h| {
        let mut out = Vec::new();
        for u in &uris {
            if let Some(v) = h.post_view(u).map_err(XrpcError::internal)? {
                out.push(v);
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({ "posts": posts })))
}
