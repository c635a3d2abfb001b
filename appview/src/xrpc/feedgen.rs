//! Feed generators: their views, and `app.bsky.feed.getFeed`, which asks the generator for a
//! skeleton and hydrates it.

use super::actor::visible_actor;
use super::{at_uri, db, desc_cursor, hydrate, limit, make_cursor, offset_cursor};
use crate::auth::OptionalViewer;
use crate::state::AppState;
use crate::views::Hydrator;
use crate::views::feed::FeedItem;
use atproto::identity::DidDocument;
use atproto::syntax::Did;
use axum::Json;
use axum::extract::State;
use axum::http::header::{ACCEPT_LANGUAGE, AUTHORIZATION};
use axum::http::{HeaderMap, StatusCode};
use hearth_lexicons::bsky::{FeedOutput, FeedsOutput, GeneratorView, GetFeedGeneratorOutput};
use hearth_xrpc::{XQuery, XrpcError, XrpcResult, repeated};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use serde_json::Value;
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

/// The generator's `#bsky_fg` endpoint, from its DID document.
async fn generator_endpoint(state: &AppState, service_did: &str) -> XrpcResult<reqwest::Url> {
    let did: Did = service_did.parse().map_err(|_| {
        XrpcError::invalid_request(format!("invalid feed generator DID: {service_did}"))
    })?;
    let doc = state.dids.resolve(&did).await.map_err(|_| {
        XrpcError::invalid_request(format!("could not resolve identity: {service_did}"))
    })?;
    skeleton_url(&state.remote, &doc).ok_or_else(|| {
        XrpcError::invalid_request(format!(
            "invalid feed generator service details in did document: {service_did}"
        ))
    })
}

/// Where the generator a document describes serves skeletons: its `#bsky_fg` endpoint, which
/// the guarded client must accept (https outside development, no private literal address;
/// names are checked when resolved).
fn skeleton_url(remote: &hearth_net::RemoteClient, doc: &DidDocument) -> Option<reqwest::Url> {
    let service = doc.service("bsky_fg")?;
    if service.kind != "BskyFeedGenerator" {
        return None;
    }
    let endpoint = service.service_endpoint.as_str()?;
    let url = hearth_net::endpoint_url(endpoint, "/xrpc/app.bsky.feed.getFeedSkeleton").ok()?;
    remote.check(url.as_str()).ok()
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
) -> XrpcResult<Json<FeedOutput>> {
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
    let mut url = generator_endpoint(&state, &service_did).await?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("feed", &p.feed);
        q.append_pair("limit", &limit.to_string());
        if let Some(c) = p.cursor.as_deref().filter(|c| !c.is_empty()) {
            q.append_pair("cursor", c);
        }
    }
    let mut req = state
        .remote
        .request(reqwest::Method::GET, &url)
        .map_err(|_| upstream("feed unavailable"))?
        .timeout(GENERATOR_TIMEOUT);
    // The caller's PDS minted the token for this generator: pass it on, and only then.
    if aud.as_deref() == Some(service_did.as_str())
        && let Some(auth) = headers.get(AUTHORIZATION)
    {
        req = req.header(AUTHORIZATION, auth.clone());
    }
    if let Some(lang) = headers.get(ACCEPT_LANGUAGE) {
        req = req.header(ACCEPT_LANGUAGE, lang.clone());
    }
    let res = state
        .remote
        .send(req)
        .await
        .map_err(|_| upstream("feed unavailable"))?;
    let status = res.status();
    let body = hearth_net::read_capped(res, MAX_SKELETON_BYTES)
        .await
        .map_err(|_| upstream("feed unavailable"))?;
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
        Ok(FeedOutput { feed, cursor })
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
) -> XrpcResult<Json<GetFeedGeneratorOutput>> {
    at_uri(&p.feed)?;
    let uri = p.feed.clone();
    let view = hydrate(&state, viewer.did(), move |h| db(h.generator_view(&uri)))
        .await?
        .ok_or_else(|| XrpcError::invalid_request("could not find feed"))?;
    // Valid and online as far as we can tell without calling it: its DID document names a
    // feed generator service.
    let ok = generator_endpoint(&state, &view.did).await.is_ok();
    Ok(Json(GetFeedGeneratorOutput {
        view,
        is_online: ok,
        is_valid: ok,
    }))
}

pub async fn get_feed_generators(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
) -> XrpcResult<Json<FeedsOutput>> {
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
        Ok(FeedsOutput {
            feeds: views,
            cursor: None,
        })
    })
    .await?;
    Ok(Json(out))
}

/// A generator's view, unless its creator may not be shown to the viewer.
fn generator_shown(h: &mut Hydrator<'_>, uri: &str) -> XrpcResult<Option<GeneratorView>> {
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
) -> XrpcResult<Json<FeedsOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        if db(h.blocked_with(id))? {
            return Ok(FeedsOutput {
                feeds: Vec::new(),
                cursor: None,
            });
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
        Ok(FeedsOutput {
            feeds,
            cursor: next,
        })
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
) -> XrpcResult<(Vec<GeneratorView>, Option<usize>)> {
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
) -> XrpcResult<Json<FeedsOutput>> {
    let limit = limit(p.limit, 50, 100)? as usize;
    let offset = offset_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let (feeds, next) = popular_generators(h, None, offset, limit)?;
        Ok(FeedsOutput {
            feeds,
            cursor: next.map(|n| n.to_string()),
        })
    })
    .await?;
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::skeleton_url;
    use atproto::identity::DidDocument;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn doc(endpoint: &str) -> DidDocument {
        serde_json::from_value(serde_json::json!({
            "id": "did:web:feeds.example.com",
            "service": [{ "id": "#bsky_fg", "type": "BskyFeedGenerator", "serviceEndpoint": endpoint }]
        }))
        .expect("document")
    }

    /// A generator endpoint whose name resolves to this machine passes every check a URL
    /// alone allows (it is a name, not an address), and still never gets a connection.
    #[tokio::test]
    async fn feedgen_refuses_private_dns_names() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((_sock, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        let mut cfg = hearth_net::Config::new(false, "test");
        cfg.resolve.insert(
            "feeds.internal.example".into(),
            vec!["10.0.0.7".parse().unwrap()],
        );
        let remote = hearth_net::RemoteClient::new(&cfg).expect("client");
        for host in ["localhost.", "feeds.internal.example"] {
            let url = skeleton_url(&remote, &doc(&format!("https://{host}:{port}")))
                .expect("a DNS name passes the URL checks");
            let req = remote.request(reqwest::Method::GET, &url).expect("request");
            assert!(
                matches!(remote.send(req).await, Err(hearth_net::NetError::Forbidden)),
                "{host}"
            );
        }
        assert_eq!(connections.load(Ordering::SeqCst), 0, "never connected");
        // Literal private addresses and plain http are refused before any lookup.
        for endpoint in [
            format!("https://127.0.0.1:{port}"),
            format!("https://[::ffff:127.0.0.1]:{port}"),
            "https://169.254.169.254".to_owned(),
            "http://feeds.example.com".to_owned(),
            "https://feeds.example.com#".to_owned(),
        ] {
            assert!(
                skeleton_url(&remote, &doc(&endpoint)).is_none(),
                "{endpoint}"
            );
        }
        assert_eq!(
            skeleton_url(&remote, &doc("https://feeds.example.com/")).map(|u| u.to_string()),
            Some("https://feeds.example.com/xrpc/app.bsky.feed.getFeedSkeleton".to_owned())
        );
    }
}
