//! Feed generators: their views, and `app.bsky.feed.getFeed`, which asks the generator for a
//! skeleton and hydrates it.

use super::actor::visible_actor;
use super::{at_uri, db, desc_cursor, hydrate, limit, make_cursor, offset_cursor, with_cursor};
use crate::auth::OptionalViewer;
use crate::state::AppState;
use crate::views::Hydrator;
use crate::views::feed::FeedItem;
use atproto::syntax::Did;
use axum::Json;
use axum::extract::State;
use axum::http::header::{ACCEPT_LANGUAGE, AUTHORIZATION};
use axum::http::{HeaderMap, StatusCode};
use hearth_xrpc::{XQuery, XrpcError, XrpcResult, repeated};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::IpAddr;
use std::time::Duration;

/// Largest skeleton accepted from a feed generator.
const MAX_SKELETON_BYTES: usize = 2 * 1024 * 1024;
/// How long a feed generator may take.
const GENERATOR_TIMEOUT: Duration = Duration::from_secs(15);
/// Most feeds one getFeedGenerators call hydrates.
const MAX_FEEDS: usize = 100;

fn upstream(message: &str) -> XrpcError {
    XrpcError::new(StatusCode::BAD_GATEWAY, "UpstreamFailure", message)
}

fn unknown_feed() -> XrpcError {
    XrpcError::named("UnknownFeed", "could not find feed")
}

/// Whether a host is this machine or a private network (refused outside development, so a
/// generator's DID document cannot point the AppView at internal services).
fn is_internal_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// The generator's `#bsky_fg` endpoint, from its DID document.
async fn generator_endpoint(state: &AppState, service_did: &str) -> XrpcResult<reqwest::Url> {
    let did: Did = service_did.parse().map_err(|_| {
        XrpcError::invalid_request(format!("invalid feed generator DID: {service_did}"))
    })?;
    let doc = state.dids.resolve(&did).await.map_err(|_| {
        XrpcError::invalid_request(format!("could not resolve identity: {service_did}"))
    })?;
    let invalid = || {
        XrpcError::invalid_request(format!(
            "invalid feed generator service details in did document: {service_did}"
        ))
    };
    let service = doc.service("bsky_fg").ok_or_else(invalid)?;
    if service.kind != "BskyFeedGenerator" {
        return Err(invalid());
    }
    let endpoint = service.service_endpoint.as_str().ok_or_else(invalid)?;
    let url = reqwest::Url::parse(endpoint.trim_end_matches('/')).map_err(|_| invalid())?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => state.cfg.dev,
        _ => false,
    };
    let host_ok = url
        .host_str()
        .is_some_and(|h| state.cfg.dev || !is_internal_host(h));
    if !scheme_ok || !host_ok {
        return Err(invalid());
    }
    Ok(url)
}

async fn read_limited(mut res: reqwest::Response, max: usize) -> Option<Vec<u8>> {
    if res.content_length().is_some_and(|l| l as usize > max) {
        return None;
    }
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await.ok()? {
        if out.len() + chunk.len() > max {
            return None;
        }
        out.extend_from_slice(&chunk);
    }
    Some(out)
}

#[derive(Deserialize)]
pub struct GetFeedParams {
    feed: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A skeleton entry as the generator sent it.
struct SkeletonItem {
    post: String,
    repost: Option<String>,
    pin: bool,
    context: Option<String>,
}

fn parse_skeleton(
    v: &Value,
    limit: usize,
) -> Option<(Vec<SkeletonItem>, Option<String>, Option<String>)> {
    let feed = v.get("feed")?.as_array()?;
    let mut items = Vec::new();
    for entry in feed.iter().take(limit) {
        let Some(post) = entry
            .get("post")
            .and_then(Value::as_str)
            .filter(|u| u.parse::<atproto::syntax::AtUri>().is_ok())
        else {
            continue;
        };
        let reason = entry.get("reason");
        let kind = reason.and_then(|r| r.get("$type")).and_then(Value::as_str);
        let repost = match kind {
            Some("app.bsky.feed.defs#skeletonReasonRepost") => reason
                .and_then(|r| r.get("repost"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        items.push(SkeletonItem {
            post: post.to_owned(),
            repost,
            pin: kind == Some("app.bsky.feed.defs#skeletonReasonPin"),
            context: entry
                .get("feedContext")
                .and_then(Value::as_str)
                .filter(|c| c.len() <= 2000)
                .map(str::to_owned),
        });
    }
    let cursor = v
        .get("cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let req_id = v
        .get("reqId")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty() && r.len() <= 100)
        .map(str::to_owned);
    Some((items, cursor, req_id))
}

pub async fn get_feed(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    headers: HeaderMap,
    XQuery(p): XQuery<GetFeedParams>,
) -> XrpcResult<Json<Value>> {
    let limit = limit(p.limit, 50, 100)?;
    at_uri(&p.feed)?;
    if !p.feed.contains("/app.bsky.feed.generator/") {
        return Err(unknown_feed());
    }
    let uri = p.feed.clone();
    let service_did: String = hydrate(&state, None, move |h| {
        db(h.conn
            .prepare_cached("SELECT service_did FROM feed_generator WHERE uri = ?1")
            .and_then(|mut s| s.query_row([&uri], |r| r.get(0)).optional()))
    })
    .await?
    .ok_or_else(unknown_feed)?;
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let aud = token
        .as_deref()
        .and_then(|t| atproto::auth::peek_claims(t).ok())
        .map(|c| c.aud.split('#').next().unwrap_or_default().to_owned());
    // auth.rs verified the token and its method; it must also be meant for this feed's
    // generator (minted by the caller's PDS) or for this AppView, not for some other service.
    if viewer.0.is_some()
        && !aud
            .as_deref()
            .is_some_and(|a| a == service_did || a == state.service_did)
    {
        return Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "BadJwtAudience",
            "Token is not meant for this feed",
        ));
    }
    let endpoint = generator_endpoint(&state, &service_did).await?;

    let mut url = endpoint;
    url.set_path(&format!(
        "{}/xrpc/app.bsky.feed.getFeedSkeleton",
        url.path().trim_end_matches('/')
    ));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("feed", &p.feed);
        q.append_pair("limit", &limit.to_string());
        if let Some(c) = p.cursor.as_deref().filter(|c| !c.is_empty()) {
            q.append_pair("cursor", c);
        }
    }
    let mut req = state.http.get(url).timeout(GENERATOR_TIMEOUT);
    // The caller's PDS minted the token for this generator: pass it on, and only then.
    if aud.as_deref() == Some(service_did.as_str())
        && let Some(auth) = headers.get(AUTHORIZATION)
    {
        req = req.header(AUTHORIZATION, auth.clone());
    }
    if let Some(lang) = headers.get(ACCEPT_LANGUAGE) {
        req = req.header(ACCEPT_LANGUAGE, lang.clone());
    }
    let res = req.send().await.map_err(|_| upstream("feed unavailable"))?;
    let status = res.status();
    let body = read_limited(res, MAX_SKELETON_BYTES)
        .await
        .ok_or_else(|| upstream("feed unavailable"))?;
    if !status.is_success() {
        if let Ok(v) = serde_json::from_slice::<Value>(&body)
            && v.get("error").and_then(Value::as_str) == Some("UnknownFeed")
        {
            let message = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("could not find feed");
            return Err(XrpcError::named("UnknownFeed", message));
        }
        return Err(upstream("feed unavailable"));
    }
    let skeleton: Value =
        serde_json::from_slice(&body).map_err(|_| upstream("feed returned an invalid skeleton"))?;
    let (items, cursor, req_id) = parse_skeleton(&skeleton, limit as usize)
        .ok_or_else(|| upstream("feed returned an invalid skeleton"))?;

    let out = hydrate(&state, viewer.did(), move |h| {
        let mut feed_items = Vec::with_capacity(items.len());
        for it in items {
            let repost = match &it.repost {
                Some(r) => {
                    let row: Option<(i64, String, String)> = db(h
                        .conn
                        .prepare_cached(
                            "SELECT author, subject_uri, indexed_at FROM reposts WHERE uri = ?1",
                        )
                        .and_then(|mut s| {
                            s.query_row([r], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                                .optional()
                        }))?;
                    match row {
                        Some((author, subject, at)) if subject == it.post => {
                            Some((r.clone(), author, at))
                        }
                        // A repost we do not know, or of another post: the entry is dropped.
                        _ => continue,
                    }
                }
                None => None,
            };
            feed_items.push(FeedItem {
                post_uri: it.post,
                repost,
                pin: it.pin,
                feed_context: it.context,
                req_id: req_id.clone(),
            });
        }
        let feed = db(h.feed(&feed_items))?;
        Ok(with_cursor(json!({ "feed": feed }), cursor))
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct GeneratorParams {
    feed: String,
}

pub async fn get_feed_generator(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<GeneratorParams>,
) -> XrpcResult<Json<Value>> {
    at_uri(&p.feed)?;
    let uri = p.feed.clone();
    let view = hydrate(&state, viewer.did(), move |h| db(h.generator_view(&uri)))
        .await?
        .ok_or_else(|| XrpcError::invalid_request("could not find feed"))?;
    let did = view["did"].as_str().unwrap_or_default().to_owned();
    // Valid and online as far as we can tell without calling it: its DID document names a
    // feed generator service.
    let ok = generator_endpoint(&state, &did).await.is_ok();
    Ok(Json(json!({ "view": view, "isOnline": ok, "isValid": ok })))
}

pub async fn get_feed_generators(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
) -> XrpcResult<Json<Value>> {
    let feeds = repeated(uri.query(), "feeds");
    if feeds.len() > MAX_FEEDS {
        return Err(XrpcError::invalid_request(format!(
            "feeds may list at most {MAX_FEEDS} generators"
        )));
    }
    for f in &feeds {
        at_uri(f)?;
    }
    let out = hydrate(&state, viewer.did(), move |h| {
        let mut views = Vec::new();
        for f in &feeds {
            if let Some(v) = generator_shown(h, f)? {
                views.push(v);
            }
        }
        Ok(json!({ "feeds": views }))
    })
    .await?;
    Ok(Json(out))
}

/// A generator's view, unless its creator may not be shown to the viewer.
fn generator_shown(h: &mut Hydrator<'_>, uri: &str) -> XrpcResult<Option<Value>> {
    let author: Option<i64> = db(h
        .conn
        .prepare_cached("SELECT author FROM feed_generator WHERE uri = ?1")
        .and_then(|mut s| s.query_row([uri], |r| r.get(0)).optional()))?;
    match author {
        Some(a) if db(h.shown(a))? => db(h.generator_view(uri)),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
pub struct ActorFeedsParams {
    actor: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn get_actor_feeds(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ActorFeedsParams>,
) -> XrpcResult<Json<Value>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        if db(h.blocked_with(id))? {
            return Ok(json!({ "feeds": [] }));
        }
        let rows: Vec<(String, String)> = db(h
            .conn
            .prepare_cached(
                "SELECT uri, indexed_at FROM feed_generator
                 WHERE author = ?1 AND (indexed_at, uri) < (?2, ?3)
                 ORDER BY indexed_at DESC, uri DESC LIMIT ?4",
            )
            .and_then(|mut s| {
                s.query_map(params![id, cursor.0, cursor.1, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            }))?;
        let mut feeds = Vec::new();
        for (uri, _) in &rows {
            if let Some(v) = db(h.generator_view(uri))? {
                feeds.push(v);
            }
        }
        let next = (rows.len() as u32 >= limit)
            .then(|| rows.last().map(|(u, t)| make_cursor(t, u)))
            .flatten();
        Ok(with_cursor(json!({ "feeds": feeds }), next))
    })
    .await?;
    Ok(Json(out))
}

/// Feed generators by how many likes they have (then newest), optionally only those whose
/// name or description contains `query`; offsets count raw rows.
pub fn popular_generators(
    h: &mut Hydrator<'_>,
    query: Option<&str>,
    offset: usize,
    limit: usize,
) -> XrpcResult<(Vec<Value>, Option<usize>)> {
    let pattern = query.map(str::trim).filter(|q| !q.is_empty()).map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let window = limit * 2 + 1;
    let uris: Vec<(String, i64)> = db(h
        .conn
        .prepare_cached(
            "SELECT f.uri, f.author FROM feed_generator f LEFT JOIN post_agg g ON g.post_uri = f.uri
             WHERE ?1 IS NULL OR f.display_name LIKE ?1 ESCAPE '\\' OR f.description LIKE ?1 ESCAPE '\\'
             ORDER BY COALESCE(g.likes, 0) DESC, f.indexed_at DESC, f.uri LIMIT ?2 OFFSET ?3",
        )
        .and_then(|mut s| {
            s.query_map(params![pattern, window as i64, offset as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
        }))?;
    let mut feeds = Vec::new();
    let mut consumed = 0;
    for (uri, author) in &uris {
        if feeds.len() >= limit {
            break;
        }
        consumed += 1;
        if !db(h.shown(*author))? {
            continue;
        }
        if let Some(v) = db(h.generator_view(uri))? {
            feeds.push(v);
        }
    }
    let more = consumed < uris.len() || uris.len() == window;
    Ok((feeds, more.then_some(offset + consumed)))
}

#[derive(Deserialize)]
pub struct PageParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn get_suggested_feeds(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<PageParams>,
) -> XrpcResult<Json<Value>> {
    let limit = limit(p.limit, 50, 100)? as usize;
    let offset = offset_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let (feeds, next) = popular_generators(h, None, offset, limit)?;
        Ok(with_cursor(
            json!({ "feeds": feeds }),
            next.map(|n| n.to_string()),
        ))
    })
    .await?;
    Ok(Json(out))
}
