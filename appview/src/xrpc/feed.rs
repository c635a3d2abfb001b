//! `app.bsky.feed.*`: timelines, author feeds, posts.

use super::actor::visible_actor;
use super::{
    db, desc_cursor, hydrate, limit, make_cursor, offset_cursor, viewer_rev, with_repo_rev,
};
use crate::auth::{OptionalViewer, Viewer};
use crate::state::AppState;
use crate::views::Hydrator;
use crate::views::feed::FeedItem;
use crate::views::post::{padded, placeholders};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use hearth_lexicons::bsky::{
    FeedOutput, FeedReason, FeedViewPost, GetLikesOutput, GetQuotesOutput, GetRepostedByOutput,
    Like, PostsOutput,
};
use hearth_xrpc::{XQuery, XrpcError, XrpcResult, repeated};
use rusqlite::{Connection, params};
use serde::Deserialize;
use std::collections::HashSet;

/// Cursors are `<sortAt>::<uri>`: stable across equal timestamps.
fn parse_cursor(c: Option<&str>) -> XrpcResult<(String, String)> {
    desc_cursor(c)
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
        ..FeedItem::default()
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
    // The followed accounts and how much they posted, in one pass over the follows.
    let mut follows: HashSet<i64> = HashSet::new();
    let mut followed_posts: i64 = 0;
    let mut stmt = conn.prepare_cached(
        "SELECT a.id, COALESCE(g.posts, 0) FROM follows f JOIN actor a ON a.did = f.subject_did
         LEFT JOIN profile_agg g ON g.actor = a.id WHERE f.author = ?1",
    )?;
    let mut rows = stmt.query([viewer])?;
    while let Some(r) = rows.next()? {
        // A repeated follow of one account counts its posts once.
        if follows.insert(r.get(0)?) {
            followed_posts += r.get::<_, i64>(1)?;
        }
    }
    drop(rows);
    follows.insert(viewer);
    let total: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(rowid), 0) FROM feed_item")?
        .query_row([], |r| r.get(0))?;
    if total == 0 || followed_posts * 50 >= total {
        scan_plan(conn, &follows, cursor, limit)
    } else {
        merge_plan(conn, &follows, cursor, limit)
    }
}

fn feed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        uri: r.get(0)?,
        post_uri: r.get(1)?,
        author: r.get(2)?,
        kind: r.get(3)?,
        sort_at: r.get(4)?,
    })
}

/// Newest first, as both plans page: by time, then URI.
fn newest_first(rows: &mut [Row]) {
    rows.sort_by(|a, b| (&b.sort_at, &b.uri).cmp(&(&a.sort_at, &a.uri)));
}

/// The timeline from the global time index, keeping the followed accounts' entries: up to 50
/// index entries per result, each decided from the index alone (it holds the author); only the
/// kept ones are read from the table, in one query.
fn scan_plan(
    conn: &Connection,
    follows: &HashSet<i64>,
    cursor: &(String, String),
    limit: u32,
) -> rusqlite::Result<Vec<Row>> {
    let mut kept = Vec::with_capacity(limit as usize);
    let mut stmt = conn.prepare_cached(
        "SELECT rowid, author FROM feed_item INDEXED BY feed_item_sort_author
         WHERE (sort_at, uri) < (?1, ?2) ORDER BY sort_at DESC, uri DESC",
    )?;
    let mut rows = stmt.query(params![cursor.0, cursor.1])?;
    while let Some(r) = rows.next()? {
        if follows.contains(&r.get::<_, i64>(1)?) {
            kept.push(r.get::<_, i64>(0)?);
            if kept.len() as u32 >= limit {
                break;
            }
        }
    }
    drop(rows);
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT uri, post_uri, author, kind, sort_at FROM feed_item WHERE rowid IN ({})",
        placeholders(0, kept.len())
    ))?;
    let mut out = stmt
        .query_map(rusqlite::params_from_iter(padded(&kept)), feed_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    newest_first(&mut out);
    Ok(out)
}

/// The timeline merged from each followed account's own time index.
fn merge_plan(
    conn: &Connection,
    follows: &HashSet<i64>,
    cursor: &(String, String),
    limit: u32,
) -> rusqlite::Result<Vec<Row>> {
    let mut out = Vec::with_capacity(limit as usize);
    let mut stmt = conn.prepare_cached(
        "SELECT uri, post_uri, author, kind, sort_at FROM feed_item WHERE author = ?1 AND (sort_at, uri) < (?2, ?3)
         ORDER BY sort_at DESC, uri DESC LIMIT ?4",
    )?;
    for a in follows {
        for r in stmt.query_map(params![a, cursor.0, cursor.1, limit], feed_row)? {
            out.push(r?);
        }
    }
    newest_first(&mut out);
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
) -> Response {
    let rev = viewer_rev(&state, Some(&viewer.did)).await;
    with_repo_rev(rev, timeline(&state, &viewer, p).await)
}

async fn timeline(
    state: &AppState,
    viewer: &Viewer,
    p: TimelineParams,
) -> XrpcResult<Json<FeedOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = parse_cursor(p.cursor.as_deref())?;
    let out = hydrate(state, Some(&viewer.did), move |h| {
        let Some(me) = h.viewer_id().filter(|id| *id >= 0) else {
            return Ok(FeedOutput::default());
        };
        let rows = timeline_rows(h.conn, me, &cursor, limit).map_err(XrpcError::internal)?;
        feed_response(h, &rows, limit)
    })
    .await?;
    Ok(Json(out))
}

fn feed_response(h: &mut Hydrator<'_>, rows: &[Row], limit: u32) -> XrpcResult<FeedOutput> {
    let items: Vec<FeedItem> = rows.iter().map(to_item).collect();
    Ok(FeedOutput {
        feed: h.feed(&items).map_err(XrpcError::internal)?,
        cursor: next_cursor(rows, limit),
    })
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
) -> Response {
    let rev = viewer_rev(&state, viewer.did()).await;
    with_repo_rev(rev, author_feed(&state, &viewer, p).await)
}

async fn author_feed(
    state: &AppState,
    viewer: &OptionalViewer,
    p: AuthorFeedParams,
) -> XrpcResult<Json<FeedOutput>> {
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
    let out = hydrate(state, viewer.did(), move |h| {
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
            {
                out.feed.retain(|f| f.post.uri != uri);
                out.feed.insert(
                    0,
                    FeedViewPost {
                        post,
                        reply: None,
                        reason: Some(FeedReason::Pin),
                        feed_context: None,
                        req_id: None,
                    },
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
) -> XrpcResult<Json<PostsOutput>> {
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
    Ok(Json(PostsOutput {
        posts,
        cursor: None,
    }))
}

/// A datetime as the views emit it (normalised), falling back to when it was indexed.
fn datetime_or(created: &str, indexed: &str) -> String {
    crate::index::values::normalize_datetime(created).unwrap_or_else(|| indexed.to_owned())
}

/// Whether the author of the record at `uri` has a block with the viewer.
fn subject_blocked(h: &mut Hydrator<'_>, uri: &str) -> XrpcResult<bool> {
    let Some(did) = crate::index::values::uri_did(uri) else {
        return Ok(false);
    };
    match db(h.actor_id(did))? {
        Some(id) => db(h.blocked_with(id)),
        None => Ok(false),
    }
}

#[derive(Deserialize)]
pub struct SubjectParams {
    uri: String,
    cid: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// One page of (uri, author, createdAt, indexedAt) rows of likes or reposts of a subject.
fn interaction_rows(
    h: &Hydrator<'_>,
    table: &str,
    p: &SubjectParams,
    cursor: &(String, String),
    limit: u32,
) -> XrpcResult<Vec<(String, i64, String, String)>> {
    let sql = format!(
        "SELECT uri, author, created_at, indexed_at FROM {table}
         WHERE subject_uri = ?1 AND (?2 IS NULL OR subject_cid = ?2) AND (indexed_at, uri) < (?3, ?4)
         ORDER BY indexed_at DESC, uri DESC LIMIT ?5"
    );
    db(h.conn.prepare_cached(&sql).and_then(|mut s| {
        s.query_map(params![p.uri, p.cid, cursor.0, cursor.1, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect()
    }))
}

fn page_cursor(rows: &[(String, i64, String, String)], limit: u32) -> Option<String> {
    (rows.len() as u32 >= limit)
        .then(|| rows.last().map(|r| make_cursor(&r.3, &r.0)))
        .flatten()
}

pub async fn get_likes(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<SubjectParams>,
) -> XrpcResult<Json<GetLikesOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    super::at_uri(&p.uri)?;
    let out = hydrate(&state, viewer.did(), move |h| {
        if subject_blocked(h, &p.uri)? {
            return Ok(GetLikesOutput {
                uri: p.uri,
                cid: p.cid,
                cursor: None,
                likes: Vec::new(),
            });
        }
        let rows = interaction_rows(h, "likes", &p, &cursor, limit)?;
        let mut likes = Vec::new();
        for (_, author, created, indexed) in &rows {
            if db(h.shown(*author))?
                && let Some(actor) = db(h.profile(*author))?
            {
                likes.push(Like {
                    indexed_at: indexed.clone(),
                    created_at: datetime_or(created, indexed),
                    actor,
                });
            }
        }
        Ok(GetLikesOutput {
            cursor: page_cursor(&rows, limit),
            uri: p.uri,
            cid: p.cid,
            likes,
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_reposted_by(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<SubjectParams>,
) -> XrpcResult<Json<GetRepostedByOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    super::at_uri(&p.uri)?;
    let out = hydrate(&state, viewer.did(), move |h| {
        if subject_blocked(h, &p.uri)? {
            return Ok(GetRepostedByOutput {
                uri: p.uri,
                cid: p.cid,
                cursor: None,
                reposted_by: Vec::new(),
            });
        }
        let rows = interaction_rows(h, "reposts", &p, &cursor, limit)?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let actors = db(h.profiles_shown(&ids))?;
        Ok(GetRepostedByOutput {
            cursor: page_cursor(&rows, limit),
            uri: p.uri,
            cid: p.cid,
            reposted_by: actors,
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_quotes(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<SubjectParams>,
) -> XrpcResult<Json<GetQuotesOutput>> {
    use crate::index::values::str_at;
    use crate::views::post::{POST_COLUMNS, PostRow};
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    super::at_uri(&p.uri)?;
    let out = hydrate(&state, viewer.did(), move |h| {
        if subject_blocked(h, &p.uri)? {
            return Ok(GetQuotesOutput {
                uri: p.uri,
                cid: p.cid,
                cursor: None,
                posts: Vec::new(),
            });
        }
        // Quotes the quoted post's author detached are not listed.
        let detached: Vec<String> = db(h
            .conn
            .prepare_cached("SELECT record FROM postgate WHERE post_uri = ?1")
            .and_then(|mut s| {
                rusqlite::OptionalExtension::optional(
                    s.query_row([&p.uri], |r| r.get::<_, Vec<u8>>(0)),
                )
            }))?
        .and_then(|b| atproto::data::cbor::decode(&b).ok())
        .and_then(|g| match crate::index::values::at(&g, &["detachedEmbeddingUris"]) {
            Some(atproto::data::Ipld::List(l)) => Some(
                l.iter()
                    .filter_map(|u| match u {
                        atproto::data::Ipld::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
        let sql = format!(
            "SELECT {POST_COLUMNS}, sort_at FROM post
             WHERE embed_uri = ?1 AND (sort_at, uri) < (?2, ?3) ORDER BY sort_at DESC, uri DESC LIMIT ?4"
        );
        let rows: Vec<(PostRow, String)> = db(h.conn.prepare_cached(&sql).and_then(|mut s| {
            s.query_map(params![p.uri, cursor.0, cursor.1, limit], |r| {
                Ok((PostRow::from_row(r)?, r.get(8)?))
            })?
            .collect()
        }))?;
        let mut posts = Vec::new();
        for (row, _) in &rows {
            if detached.contains(&row.uri) || !db(h.shown(row.author))? {
                continue;
            }
            if let Some(cid) = &p.cid {
                let quoted_cid = atproto::data::cbor::decode(&row.record).ok().and_then(|r| {
                    str_at(&r, &["embed", "record", "cid"])
                        .or_else(|| str_at(&r, &["embed", "record", "record", "cid"]))
                        .map(str::to_owned)
                });
                if quoted_cid.as_deref() != Some(cid.as_str()) {
                    continue;
                }
            }
            if let Some(v) = db(h.post_view_of(row, 0))? {
                posts.push(v);
            }
        }
        let next = (rows.len() as u32 >= limit)
            .then(|| rows.last().map(|(r, t)| make_cursor(t, &r.uri)))
            .flatten();
        Ok(GetQuotesOutput {
            uri: p.uri,
            cid: p.cid,
            cursor: next,
            posts,
        })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct ActorPageParams {
    actor: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn get_actor_likes(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<FeedOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        // Only the account itself may list its likes, as in the reference.
        let not_found = || XrpcError::invalid_request("Profile not found");
        let id = db(h.resolve_actor(&p.actor))?.ok_or_else(not_found)?;
        let did = db(h.actor(id))?.map(|a| a.did).ok_or_else(not_found)?;
        if h.viewer_did() != Some(did.as_str()) {
            return Err(not_found());
        }
        let rows: Vec<(String, String, String)> = db(h
            .conn
            .prepare_cached(
                "SELECT uri, subject_uri, indexed_at FROM likes
                 WHERE author = ?1 AND (indexed_at, uri) < (?2, ?3)
                 ORDER BY indexed_at DESC, uri DESC LIMIT ?4",
            )
            .and_then(|mut s| {
                s.query_map(params![id, cursor.0, cursor.1, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            }))?;
        let items: Vec<FeedItem> = rows
            .iter()
            .filter(|r| r.1.contains("/app.bsky.feed.post/"))
            .map(|r| FeedItem::post(r.1.clone()))
            .collect();
        let feed = db(h.feed(&items))?;
        let next = (rows.len() as u32 >= limit)
            .then(|| rows.last().map(|r| make_cursor(&r.2, &r.0)))
            .flatten();
        Ok(FeedOutput { feed, cursor: next })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct ListFeedParams {
    list: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Most list members whose posts a list feed merges.
const LIST_FEED_MEMBERS: i64 = 5000;

pub async fn get_list_feed(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ListFeedParams>,
) -> XrpcResult<Json<FeedOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = parse_cursor(p.cursor.as_deref())?;
    super::at_uri(&p.list)?;
    let out = hydrate(&state, viewer.did(), move |h| {
        if db(h.list_row(&p.list))?.is_none() {
            return Err(XrpcError::named("UnknownList", "List not found"));
        }
        let members: Vec<i64> = db(h
            .conn
            .prepare_cached(
                "SELECT a.id FROM list_item li JOIN actor a ON a.did = li.subject_did
                 WHERE li.list_uri = ?1 LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![p.list, LIST_FEED_MEMBERS], |r| r.get(0))?
                    .collect()
            }))?;
        let mut rows = Vec::new();
        {
            let mut stmt = db(h.conn.prepare_cached(
                "SELECT uri, post_uri, author, kind, sort_at FROM feed_item
                 WHERE author = ?1 AND kind = 'post' AND (sort_at, uri) < (?2, ?3)
                 ORDER BY sort_at DESC, uri DESC LIMIT ?4",
            ))?;
            for m in members {
                let page = db(stmt
                    .query_map(params![m, cursor.0, cursor.1, limit], |r| {
                        Ok(Row {
                            uri: r.get(0)?,
                            post_uri: r.get(1)?,
                            author: r.get(2)?,
                            kind: r.get(3)?,
                            sort_at: r.get(4)?,
                        })
                    })
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>()))?;
                rows.extend(page);
            }
        }
        rows.sort_by(|a, b| (&b.sort_at, &b.uri).cmp(&(&a.sort_at, &a.uri)));
        rows.truncate(limit as usize);
        feed_response(h, &rows, limit)
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct SearchPostsParams {
    q: String,
    sort: Option<String>,
    since: Option<String>,
    until: Option<String>,
    mentions: Option<String>,
    author: Option<String>,
    lang: Option<String>,
    domain: Option<String>,
    url: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Whether a post links to exactly `url` (trailing slashes aside).
fn record_links_url(record: &atproto::data::Ipld, url: &str) -> bool {
    use crate::index::values::{at, str_at, type_of};
    let norm = |u: &str| u.trim_end_matches('/').to_owned();
    let want = norm(url);
    let mut urls: Vec<&str> = Vec::new();
    if let Some(atproto::data::Ipld::List(facets)) = at(record, &["facets"]) {
        for f in facets {
            if let Some(atproto::data::Ipld::List(features)) = at(f, &["features"]) {
                for feat in features {
                    if type_of(feat) == Some("app.bsky.richtext.facet#link")
                        && let Some(u) = str_at(feat, &["uri"])
                    {
                        urls.push(u);
                    }
                }
            }
        }
    }
    for path in [
        &["embed", "external", "uri"][..],
        &["embed", "media", "external", "uri"],
    ] {
        if let Some(u) = str_at(record, path) {
            urls.push(u);
        }
    }
    urls.into_iter().any(|u| norm(u) == want)
}

pub async fn search_posts(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
    XQuery(p): XQuery<SearchPostsParams>,
) -> XrpcResult<Json<PostsOutput>> {
    use crate::views::post::{POST_COLUMNS, PostRow};
    use crate::views::search::{
        fts_match, parse_post_query, record_in_lang, record_links_domain, record_mentions,
        time_bound,
    };
    use rusqlite::types::Value as Sql;

    let limit = limit(p.limit, 25, 100)?;
    let top = p.sort.as_deref() == Some("top");
    let pq = parse_post_query(&p.q);
    let bad = |what: &str| XrpcError::named("BadQueryString", format!("Invalid {what}"));
    let since = match p.since.or(pq.since) {
        Some(s) => Some(time_bound(&s).ok_or_else(|| bad("since"))?),
        None => None,
    };
    let until = match p.until.or(pq.until) {
        Some(s) => Some(time_bound(&s).ok_or_else(|| bad("until"))?),
        None => None,
    };
    let author = p.author.or(pq.from);
    let mentions = p.mentions.or(pq.mentions);
    let lang = p.lang.or(pq.lang);
    let domain = p.domain.or(pq.domain).map(|d| d.to_ascii_lowercase());
    let url = p.url;
    let tags: Vec<String> = repeated(uri.query(), "tag")
        .into_iter()
        .map(|t| t.trim_start_matches('#').to_lowercase())
        .collect();
    let fts = fts_match(&pq.terms, false);
    let (offset, keyset) = if top {
        (offset_cursor(p.cursor.as_deref())?, None)
    } else {
        let (t, k) = desc_cursor(p.cursor.as_deref())?;
        let k = if p.cursor.is_some() {
            k.parse::<i64>()
                .map_err(|_| XrpcError::invalid_request("Malformed cursor"))?
        } else {
            i64::MAX
        };
        (0, Some((t, k)))
    };
    let out = hydrate(&state, viewer.did(), move |h| {
        let empty = || Ok(PostsOutput::default());
        // `me` stands for the viewer, as in the official client's search syntax.
        let mut resolve = |ident: &str| -> XrpcResult<Option<(i64, String)>> {
            let ident = match (ident, h.viewer_did()) {
                ("me", Some(v)) => v.to_owned(),
                (i, _) => i.to_owned(),
            };
            let Some(id) = db(h.resolve_actor(&ident))? else {
                return Ok(None);
            };
            Ok(db(h.actor(id))?.map(|a| (id, a.did)))
        };
        let author = match author.as_deref() {
            Some(a) => match resolve(a)? {
                Some((id, _)) => Some(id),
                None => return empty(),
            },
            None => None,
        };
        let mentions = match mentions.as_deref() {
            Some(m) => match resolve(m)? {
                Some((_, did)) => Some(did),
                None => return empty(),
            },
            None => None,
        };
        if fts.is_none() && author.is_none() {
            // Nothing to narrow the search to: no results rather than the whole index.
            return empty();
        }
        let cols: Vec<String> = POST_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect();
        let mut sql = format!("SELECT {}, p.sort_at, p.id FROM ", cols.join(", "));
        let mut args: Vec<Sql> = Vec::new();
        match &fts {
            Some(m) => {
                sql.push_str(
                    "post_fts JOIN post p ON p.id = post_fts.rowid WHERE post_fts MATCH ?",
                );
                args.push(Sql::Text(m.clone()));
            }
            None => sql.push_str("post p WHERE 1"),
        }
        if let Some(a) = author {
            sql.push_str(" AND p.author = ?");
            args.push(Sql::Integer(a));
        }
        if let Some(s) = &since {
            sql.push_str(" AND p.sort_at >= ?");
            args.push(Sql::Text(s.clone()));
        }
        if let Some(u) = &until {
            sql.push_str(" AND p.sort_at < ?");
            args.push(Sql::Text(u.clone()));
        }
        let window = limit as i64 * 3 + 1;
        match &keyset {
            Some((t, k)) => {
                sql.push_str(
                    " AND (p.sort_at, p.id) < (?, ?) ORDER BY p.sort_at DESC, p.id DESC LIMIT ?",
                );
                args.extend([Sql::Text(t.clone()), Sql::Integer(*k), Sql::Integer(window)]);
            }
            None => {
                sql.push_str(
                    " ORDER BY COALESCE((SELECT g.likes + 2 * g.reposts + g.replies + g.quotes
                                FROM post_agg g WHERE g.post_uri = p.uri), 0) DESC,
                               p.sort_at DESC, p.id DESC LIMIT ? OFFSET ?",
                );
                args.extend([Sql::Integer(window), Sql::Integer(offset as i64)]);
            }
        }
        let rows: Vec<(PostRow, String, i64)> =
            db(h.conn.prepare_cached(&sql).and_then(|mut s| {
                s.query_map(rusqlite::params_from_iter(args), |r| {
                    Ok((PostRow::from_row(r)?, r.get(8)?, r.get(9)?))
                })?
                .collect()
            }))?;
        let mut posts = Vec::new();
        let mut consumed = 0;
        for (row, _, _) in &rows {
            if posts.len() as u32 >= limit {
                break;
            }
            consumed += 1;
            if !db(h.shown(row.author))? {
                continue;
            }
            let needs_record = mentions.is_some()
                || lang.is_some()
                || domain.is_some()
                || url.is_some()
                || !tags.is_empty();
            if needs_record {
                let Ok(rec) = atproto::data::cbor::decode(&row.record) else {
                    continue;
                };
                let post_tags: Vec<String> = crate::views::trends::tags_of(&rec)
                    .into_iter()
                    .map(|t| t.trim_start_matches('#').to_lowercase())
                    .collect();
                let keep = mentions.as_deref().is_none_or(|m| record_mentions(&rec, m))
                    && lang.as_deref().is_none_or(|l| record_in_lang(&rec, l))
                    && domain
                        .as_deref()
                        .is_none_or(|d| record_links_domain(&rec, d))
                    && url.as_deref().is_none_or(|u| record_links_url(&rec, u))
                    && tags.iter().all(|t| post_tags.contains(t));
                if !keep {
                    continue;
                }
            }
            if let Some(v) = db(h.post_view_of(row, 0))? {
                posts.push(v);
            }
        }
        let more = consumed < rows.len() || rows.len() as i64 == window;
        let next = if !more {
            None
        } else if top {
            Some((offset + consumed).to_string())
        } else {
            rows.get(consumed.saturating_sub(1))
                .map(|(_, t, id)| make_cursor(t, &id.to_string()))
        };
        Ok(PostsOutput {
            posts,
            cursor: next,
        })
    })
    .await?;
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both timeline plans page through the same entries in the same order, including past a
    /// stretch of newest entries by accounts the viewer does not follow.
    #[test]
    fn timeline_plans_agree_page_by_page() {
        let mut conn = Connection::open_in_memory().expect("open");
        hearth_db::migrate(&mut conn, crate::MIGRATIONS).expect("migrate");
        let mut expected: Vec<(String, String)> = Vec::new();
        let follows: HashSet<i64> = (1..=5).collect();
        for i in 0..400i64 {
            // The newest hundred entries are by unfollowed accounts; ties in time are common.
            let author = if i >= 300 { 10 + i % 5 } else { 1 + i % 12 };
            let sort_at = format!("2026-01-01T00:{:02}:00.000Z", (i / 7) % 60 + i / 420);
            let uri = format!("at://did:plc:a{author}/app.bsky.feed.post/{i:05}");
            let kind = if i % 4 == 0 { "repost" } else { "post" };
            conn.execute(
                "INSERT INTO feed_item (uri, post_uri, author, kind, sort_at) VALUES (?1, ?1, ?2, ?3, ?4)",
                params![uri, author, kind, sort_at],
            )
            .expect("insert");
            if follows.contains(&author) {
                expected.push((sort_at, uri));
            }
        }
        expected.sort_by(|a, b| b.cmp(a));
        for plan in [scan_plan, merge_plan] {
            let mut seen: Vec<(String, String)> = Vec::new();
            let mut cursor = ("9999".to_owned(), String::new());
            loop {
                let page = plan(&conn, &follows, &cursor, 7).expect("page");
                assert!(page.iter().all(|r| follows.contains(&r.author)));
                seen.extend(page.iter().map(|r| (r.sort_at.clone(), r.uri.clone())));
                match page.last() {
                    Some(last) if page.len() == 7 => {
                        cursor = (last.sort_at.clone(), last.uri.clone());
                    }
                    _ => break,
                }
            }
            assert_eq!(seen, expected);
        }
    }
}
