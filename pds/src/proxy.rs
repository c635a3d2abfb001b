//! Forwarding XRPC calls the PDS does not serve itself to the service that does: the one named
//! by the `atproto-proxy` header (`did#service`), or the configured AppView (`app.bsky.*`) or
//! Hearth AppView (`social.hearth.*`), with a service-auth token signed by the user's
//! repository key. Two methods get more than forwarding, as on the reference PDS: getFeed's
//! token is for the feed generator, and four views get the user's newest writes added
//! (read-after-write).

use crate::auth::{AccessAuth, OptionalAccess};
use crate::read_after_write::{self as raw, Local, Method as RawMethod, Params, Quoted};
use crate::state::{AppState, now_secs};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use hearth_xrpc::{XrpcError, XrpcResult};
use serde_json::{Value, json};
use std::time::Duration;

/// Largest request body forwarded.
const MAX_FORWARD_BODY: usize = 10 * 1024 * 1024;
/// Largest upstream answer read into memory to add local writes to.
const MAX_MUNGE_BODY: usize = 10 * 1024 * 1024;
/// Largest answer streamed back from a service a DID document names.
const MAX_REMOTE_ANSWER: usize = 20 * 1024 * 1024;
/// How long the PDS waits on a lookup it makes itself (the feed generator, quoted posts).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(15);
const REPO_REV: &str = "atproto-repo-rev";
const GET_FEED: &str = "app.bsky.feed.getFeed";
const GET_FEED_SKELETON: &str = "app.bsky.feed.getFeedSkeleton";

/// Signs a service-auth token as the account. Every proxied call (most of what a client
/// reads) mints one, so a cached key is used without taking a database connection; signing
/// runs on a blocking thread either way.
pub async fn mint_for(
    state: &AppState,
    account: i64,
    did: &str,
    aud: &str,
    lxm: Option<&str>,
    now: i64,
    ttl: i64,
) -> XrpcResult<String> {
    let st = state.clone();
    let (did, aud, lxm) = (did.to_owned(), aud.to_owned(), lxm.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        let key = match st.keys.cached(account) {
            Some(key) => key,
            None => st
                .db
                .readers
                .read_blocking(|c| st.keys.get(c, account))
                .map_err(XrpcError::internal)?
                .map_err(XrpcError::internal)?,
        };
        Ok(atproto::auth::mint(
            &key,
            &did,
            &aud,
            lxm.as_deref(),
            now,
            ttl,
        ))
    })
    .await
    .map_err(XrpcError::internal)?
}

/// Namespaces that manage the account or the repository: answered here or not at all.
fn never_proxied(nsid: &str) -> bool {
    [
        "com.atproto.server.",
        "com.atproto.identity.",
        "com.atproto.admin.",
        "com.atproto.repo.",
        "com.atproto.sync.",
        "app.bsky.actor.getPreferences",
        "app.bsky.actor.putPreferences",
    ]
    .iter()
    .any(|p| nsid.starts_with(p))
}

/// The service a call goes to.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Base URL, without a trailing slash.
    pub base: String,
    /// The `aud` of tokens for it.
    pub aud: String,
    /// Named by a DID document (anyone's), not by the operator: reached only through the
    /// guarded client, and its answers are size-limited.
    pub remote: bool,
}

impl Upstream {
    fn configured(base: &str, aud: String) -> Upstream {
        Upstream {
            base: base.trim_end_matches('/').to_owned(),
            aud,
            remote: false,
        }
    }

    /// `{base}/xrpc/{nsid}` with the query as given.
    fn url(&self, nsid: &str, query: Option<&str>) -> XrpcResult<reqwest::Url> {
        let mut url = hearth_net::endpoint_url(&self.base, &format!("/xrpc/{nsid}"))
            .map_err(|_| bad_service_url())?;
        url.set_query(query);
        Ok(url)
    }

    fn request(
        &self,
        state: &AppState,
        method: Method,
        url: &reqwest::Url,
    ) -> XrpcResult<reqwest::RequestBuilder> {
        if self.remote {
            return state
                .remote
                .request(method, url)
                .map_err(|e| unreachable(&self.base, &e));
        }
        Ok(state.http.request(method, url.clone()))
    }

    async fn send(
        &self,
        state: &AppState,
        req: reqwest::RequestBuilder,
    ) -> XrpcResult<reqwest::Response> {
        if self.remote {
            return state
                .remote
                .send(req)
                .await
                .map_err(|e| unreachable(&self.base, &e));
        }
        req.send()
            .await
            .map_err(|e| unreachable(&self.base, &hearth_net::error_of(&e)))
    }

    /// Calls a query method as the user and returns its JSON answer; an XRPC error from the
    /// service is passed on as it came.
    pub async fn query(
        &self,
        state: &AppState,
        auth: &AccessAuth,
        nsid: &str,
        params: &[(&str, &str)],
    ) -> XrpcResult<Value> {
        let token = mint_for(
            state,
            auth.account,
            &auth.did,
            &self.aud,
            Some(nsid),
            now_secs(),
            60,
        )
        .await?;
        let req = self
            .request(state, Method::GET, &self.url(nsid, None)?)?
            .query(params)
            .bearer_auth(token)
            .timeout(LOOKUP_TIMEOUT);
        let res = self.send(state, req).await?;
        let status = res.status();
        let body = read_limited(res, MAX_MUNGE_BODY).await?;
        let value: Option<Value> = serde_json::from_slice(&body).ok();
        if status.is_success() {
            return value.ok_or_else(|| upstream_failure("Upstream service sent invalid JSON"));
        }
        Err(passed_on_error(status, value.as_ref()))
    }
}

fn upstream_failure(message: &str) -> XrpcError {
    XrpcError::new(StatusCode::BAD_GATEWAY, "UpstreamFailure", message)
}

/// One answer for every way an upstream cannot be reached (refused address, closed port,
/// timeout, TLS): the caller learns nothing about what is behind a URL it named.
fn unreachable(base: &str, e: &hearth_net::NetError) -> XrpcError {
    tracing::warn!(url = %base, error = %e, "upstream service unreachable");
    upstream_failure("Upstream service unreachable")
}

fn bad_service_url() -> XrpcError {
    XrpcError::invalid_request("could not resolve proxy did service url")
}

/// An upstream XRPC error, with its status, name and message.
fn passed_on_error(status: reqwest::StatusCode, body: Option<&Value>) -> XrpcError {
    let name = body.and_then(|b| b["error"].as_str());
    let message = body
        .and_then(|b| b["message"].as_str())
        .or(name)
        .unwrap_or("Upstream service failed");
    match (name, StatusCode::from_u16(status.as_u16())) {
        (Some(name), Ok(s)) if s.is_client_error() || s.is_server_error() => {
            XrpcError::new(s, name, message)
        }
        _ => upstream_failure(message),
    }
}

/// Reads a response body of at most `max` bytes.
async fn read_limited(res: reqwest::Response, max: usize) -> XrpcResult<Vec<u8>> {
    hearth_net::read_capped(res, max)
        .await
        .map_err(|e| match e {
            hearth_net::NetError::TooLarge => upstream_failure("Upstream response too large"),
            _ => upstream_failure("Upstream response cut short"),
        })
}

/// The service an `atproto-proxy` header names: `did#service`.
struct ProxyHeader {
    did: atproto::syntax::Did,
    service: String,
}

/// The `atproto-proxy` header, checked for form only (no lookup).
fn proxy_header(headers: &HeaderMap) -> XrpcResult<Option<ProxyHeader>> {
    let Some(v) = headers.get("atproto-proxy") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| XrpcError::invalid_request("Malformed atproto-proxy header"))?;
    let (did, service) = v
        .split_once('#')
        .ok_or_else(|| XrpcError::invalid_request("atproto-proxy must be did#service"))?;
    let did: atproto::syntax::Did = did
        .parse()
        .ok()
        .filter(|_| !service.is_empty() && !service.contains('#'))
        .ok_or_else(|| XrpcError::invalid_request("atproto-proxy must be did#service"))?;
    Ok(Some(ProxyHeader {
        did,
        service: service.to_owned(),
    }))
}

/// The service a call goes to as an OAuth `rpc:` permission names it (`did#service`): the
/// `atproto-proxy` header's, else the configured AppView's. Known before any lookup, so a call
/// the grant does not allow costs nothing.
fn scope_audience(state: &AppState, nsid: &str, proxy: Option<&ProxyHeader>) -> String {
    match proxy {
        Some(p) => format!("{}#{}", p.did, p.service),
        None if hearth_lexicons::is_hearth_method(nsid) => {
            let (_, did) = state.cfg.spaces_appview();
            format!("{did}#{}", hearth_lexicons::SERVICE_ID)
        }
        None => format!("{}#bsky_appview", state.cfg.appview_did),
    }
}

/// Where a call goes.
async fn target(state: &AppState, nsid: &str, proxy: Option<ProxyHeader>) -> XrpcResult<Upstream> {
    if let Some(ProxyHeader { did, service }) = proxy {
        // The reference PDS names the bare DID as the audience whatever the service (its
        // "phase 1" of service auth); services accept it, and Hearth's AppView accepts both.
        let aud = did.to_string();
        // The configured AppViews are known without a lookup.
        if aud == state.cfg.appview_did && service == "bsky_appview" {
            return Ok(Upstream::configured(&state.cfg.appview_url, aud));
        }
        let (spaces_url, spaces_did) = state.cfg.spaces_appview();
        if aud == spaces_did && service == hearth_lexicons::SERVICE_ID {
            return Ok(Upstream::configured(&spaces_url, aud));
        }
        // Why a lookup failed stays in the log: the error names the document's URL.
        let doc = state.dids.resolve(&did).await.map_err(|e| {
            tracing::info!(did = %did, error = %e, "proxy DID did not resolve");
            XrpcError::invalid_request("could not resolve proxy did")
        })?;
        let endpoint = doc.service_endpoint(&service).ok_or_else(|| {
            XrpcError::invalid_request(format!("proxy did has no service #{service}"))
        })?;
        // Checked here so a malformed endpoint fails before a token is minted for it.
        hearth_net::endpoint_url(endpoint, "/").map_err(|_| bad_service_url())?;
        return Ok(Upstream {
            base: endpoint.trim_end_matches('/').to_owned(),
            aud,
            remote: true,
        });
    }
    if hearth_lexicons::is_hearth_method(nsid) {
        // Spaces may live on a different AppView from app.bsky.* (a PDS on Bluesky's AppView
        // with spaces on Hearth's); the service id tells a combined AppView which it serves.
        let (url, did) = state.cfg.spaces_appview();
        return Ok(Upstream::configured(
            &url,
            format!("{did}#{}", hearth_lexicons::SERVICE_ID),
        ));
    }
    if nsid.starts_with("app.bsky.") {
        return Ok(Upstream::configured(
            &state.cfg.appview_url,
            state.cfg.appview_did.clone(),
        ));
    }
    Err(XrpcError::not_implemented(format!(
        "Method not implemented: {nsid}"
    )))
}

/// The feed generator's DID for getFeed, from the AppView that serves the feed.
async fn feed_generator_did(
    state: &AppState,
    auth: &AccessAuth,
    upstream: &Upstream,
    query: Option<&str>,
) -> XrpcResult<String> {
    let feed = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "feed")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            XrpcError::invalid_request("Error: Params must have the property \"feed\"")
        })?;
    let view = upstream
        .query(
            state,
            auth,
            "app.bsky.feed.getFeedGenerator",
            &[("feed", &feed)],
        )
        .await?;
    view["view"]["did"]
        .as_str()
        .filter(|d| d.parse::<atproto::syntax::Did>().is_ok())
        .map(str::to_owned)
        .ok_or_else(|| XrpcError::named("UnknownFeed", "could not resolve feed did"))
}

/// Response headers passed back to the client.
fn passed_headers(from: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LANGUAGE,
        header::CACHE_CONTROL,
        header::RETRY_AFTER,
    ] {
        if let Some(v) = from.get(&name) {
            headers.insert(name, v.clone());
        }
    }
    for name in [REPO_REV, "atproto-content-labelers"] {
        if let Some(v) = from.get(name) {
            headers.insert(HeaderName::from_static(name), v.clone());
        }
    }
    headers
}

/// The upstream answer, streamed through; a remote service's is cut off past a size limit.
fn stream_response(res: reqwest::Response, remote: bool) -> Response {
    let status = res.status();
    let headers = passed_headers(res.headers());
    let body = if remote {
        Body::from_stream(
            hearth_net::capped_stream(res, MAX_REMOTE_ANSWER).map_err(std::io::Error::other),
        )
    } else {
        Body::from_stream(res.bytes_stream().map_err(std::io::Error::other))
    };
    let mut response = body.into_response();
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    response
}

fn buffered_response(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response {
    let mut response = Body::from(body).into_response();
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/json") || ct.contains("+json")
        })
}

/// The fallback for `/xrpc/{nsid}`.
pub async fn forward(
    State(state): State<AppState>,
    auth: OptionalAccess,
    req: Request,
) -> XrpcResult<Response> {
    let nsid = req
        .uri()
        .path()
        .strip_prefix("/xrpc/")
        .unwrap_or_default()
        .to_owned();
    if nsid.parse::<atproto::syntax::Nsid>().is_err() {
        return Err(XrpcError::not_found("NotFound", "Not a valid XRPC method"));
    }
    if never_proxied(&nsid) {
        return Err(XrpcError::not_implemented(format!(
            "Method not implemented: {nsid}"
        )));
    }
    let proxy = proxy_header(req.headers())?;
    // Calls that go nowhere say so whoever asks.
    if proxy.is_none() && !nsid.starts_with("social.hearth.") && !nsid.starts_with("app.bsky.") {
        return Err(XrpcError::not_implemented(format!(
            "Method not implemented: {nsid}"
        )));
    }
    // As on the reference PDS, proxying is for signed-in users only: otherwise anyone could
    // make this server call whatever a DID document names.
    let auth = auth
        .0
        .ok_or_else(|| XrpcError::auth_required("Authentication Required"))?;
    auth.require_rpc(&nsid, &scope_audience(&state, &nsid, proxy.as_ref()))?;
    let upstream = target(&state, &nsid, proxy).await?;
    let query = req.uri().query().map(str::to_owned);
    let url = upstream.url(&nsid, query.as_deref())?;
    let method = req.method().clone();
    if method != Method::GET && method != Method::POST && method != Method::HEAD {
        return Err(XrpcError::invalid_request("XRPC methods are GET or POST"));
    }
    let mut out = upstream.request(&state, method.clone(), &url)?;
    for name in [
        header::CONTENT_TYPE,
        header::ACCEPT,
        header::ACCEPT_LANGUAGE,
        HeaderName::from_static("atproto-accept-labelers"),
    ] {
        if let Some(v) = req.headers().get(&name) {
            out = out.header(name, v);
        }
    }
    // getFeed's token is for the feed generator, which the AppView passes it on to: the
    // generator may personalize the feed for the user, but must not be able to call the
    // AppView as them.
    let (aud, lxm) = if nsid == GET_FEED {
        let generator = feed_generator_did(&state, &auth, &upstream, query.as_deref()).await?;
        (generator, GET_FEED_SKELETON.to_owned())
    } else {
        (upstream.aud.clone(), nsid.clone())
    };
    let token = mint_for(
        &state,
        auth.account,
        &auth.did,
        &aud,
        Some(&lxm),
        now_secs(),
        60,
    )
    .await?;
    out = out.bearer_auth(token);
    if method == Method::POST {
        let body = axum::body::to_bytes(req.into_body(), MAX_FORWARD_BODY)
            .await
            .map_err(|_| XrpcError::payload_too_large("Request body too large to forward"))?;
        out = out.body(body);
    }
    let res = upstream.send(&state, out).await?;
    if let Some(m) = RawMethod::of(&nsid)
        && method == Method::GET
        && res.headers().contains_key(REPO_REV)
    {
        return with_local_writes(&state, &auth, &upstream, m, &nsid, query.as_deref(), res).await;
    }
    Ok(stream_response(res, upstream.remote))
}

/// Looks up the records the user's new posts quote, as embed views; whatever cannot be found
/// shows as not found, as on the reference PDS.
async fn quoted_records(
    state: &AppState,
    auth: &AccessAuth,
    upstream: &Upstream,
    local: &Local,
) -> Quoted {
    let mut out = Quoted::new();
    let uris = local.quoted_uris();
    let posts: Vec<&str> = uris
        .iter()
        .map(String::as_str)
        .filter(|u| u.contains("/app.bsky.feed.post/"))
        .take(25)
        .collect();
    if !posts.is_empty() {
        let params: Vec<(&str, &str)> = posts.iter().map(|u| ("uris", *u)).collect();
        if let Ok(res) = upstream
            .query(state, auth, "app.bsky.feed.getPosts", &params)
            .await
        {
            for p in res["posts"].as_array().into_iter().flatten() {
                if let (Some(uri), Some(v)) = (p["uri"].as_str(), raw::view_record_of_post(p)) {
                    out.insert(uri.to_owned(), v);
                }
            }
        }
    }
    for uri in &uris {
        let found = if uri.contains("/app.bsky.feed.generator/") {
            upstream
                .query(
                    state,
                    auth,
                    "app.bsky.feed.getFeedGenerator",
                    &[("feed", uri)],
                )
                .await
                .ok()
                .map(|r| (r["view"].clone(), "app.bsky.feed.defs#generatorView"))
        } else if uri.contains("/app.bsky.graph.list/") {
            upstream
                .query(state, auth, "app.bsky.graph.getList", &[("list", uri)])
                .await
                .ok()
                .map(|r| (r["list"].clone(), "app.bsky.graph.defs#listView"))
        } else {
            None
        };
        if let Some((mut view, kind)) = found
            && let Some(o) = view.as_object_mut()
        {
            o.insert("$type".into(), json!(kind));
            out.insert(uri.clone(), view);
        }
    }
    out
}

/// Adds the user's writes newer than the AppView's `atproto-repo-rev` to its answer. Anything
/// that goes wrong here returns the AppView's answer as it was.
async fn with_local_writes(
    state: &AppState,
    auth: &AccessAuth,
    upstream: &Upstream,
    m: RawMethod,
    nsid: &str,
    query: Option<&str>,
    res: reqwest::Response,
) -> XrpcResult<Response> {
    let status = res.status();
    // A thread the AppView cannot find may be the user's own post, not indexed yet.
    let thread_not_found = m == RawMethod::PostThread && status == reqwest::StatusCode::BAD_REQUEST;
    if !(status.is_success() || thread_not_found) || !is_json(res.headers()) {
        return Ok(stream_response(res, upstream.remote));
    }
    let Some(rev) = res
        .headers()
        .get(REPO_REV)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return Ok(stream_response(res, upstream.remote));
    };
    // The AppView is usually up to date: then the answer streams through untouched.
    let (st, account) = (state.clone(), auth.account);
    let public_url = state.public_url.clone();
    let loaded = st
        .db
        .readers
        .read(move |c| raw::load(c, account, &rev, &public_url))
        .await;
    let local = match loaded {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(stream_response(res, upstream.remote)),
        Err(e) => {
            tracing::warn!(error = %e, "read-after-write: could not read local writes");
            return Ok(stream_response(res, upstream.remote));
        }
    };
    let headers = passed_headers(res.headers());
    let body = read_limited(res, MAX_MUNGE_BODY).await?;
    let original = |headers, body| buffered_response(status, headers, body);
    let Ok(upstream_body) = serde_json::from_slice::<Value>(&body) else {
        return Ok(original(headers, body));
    };
    let params = Params::parse(query);
    // Profiles hold no posts: nothing quoted to look up.
    let quoted = match m {
        RawMethod::Profile => Quoted::new(),
        _ => quoted_records(state, auth, upstream, &local).await,
    };
    let munged = if thread_not_found {
        if upstream_body["error"].as_str() != Some("NotFound") {
            return Ok(original(headers, body));
        }
        let uri = params.uri.as_deref().unwrap_or_default();
        let Some(mut thread) = local.thread_of_local(uri, &quoted) else {
            return Ok(original(headers, body));
        };
        if let Some(parent) = local.parent_of(uri) {
            let mut q = vec![("uri", parent.as_str()), ("depth", "0")];
            if let Some(h) = params.parent_height.as_deref() {
                q.push(("parentHeight", h));
            }
            // The parent is context: without it the post still shows.
            if let Ok(p) = upstream
                .query(state, auth, "app.bsky.feed.getPostThread", &q)
                .await
                && let Some(o) = thread.as_object_mut()
                && p["thread"].is_object()
            {
                o.insert("parent".into(), p["thread"].clone());
            }
        }
        json!({ "thread": thread })
    } else {
        match m {
            RawMethod::Timeline => local.munge_timeline(upstream_body, &params, &quoted),
            RawMethod::AuthorFeed => local.munge_author_feed(upstream_body, &params, &quoted),
            RawMethod::PostThread => local.munge_thread(upstream_body, &quoted),
            RawMethod::Profile => local.munge_profile(upstream_body),
        }
    };
    // The official client validates every answer: never send one that would fail.
    let valid = atproto::data::json::from_json(&munged)
        .map_err(|e| e.to_string())
        .and_then(|v| {
            state
                .lexicons
                .validate_output(nsid, &v)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = valid {
        tracing::warn!(method = %nsid, error = %e, "read-after-write: merged answer invalid, sending the AppView's");
        return Ok(original(headers, body));
    }
    let Ok(bytes) = serde_json::to_vec(&munged) else {
        return Ok(original(headers, body));
    };
    let mut headers = headers;
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(lag) = local
        .lag_ms()
        .and_then(|l| HeaderValue::from_str(&l.to_string()).ok())
    {
        headers.insert(HeaderName::from_static("atproto-upstream-lag"), lag);
    }
    Ok(buffered_response(StatusCode::OK, headers, bytes))
}
