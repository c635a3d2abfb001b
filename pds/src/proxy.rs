//! Forwarding XRPC calls the PDS does not serve itself to the service that does: the one named
//! by the `atproto-proxy` header (`did#service`), or the configured AppView, with a
//! service-auth token signed by the user's repository key.

use crate::auth::OptionalAccess;
use crate::state::{AppState, now_secs};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, Method, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use hearth_xrpc::{XrpcError, XrpcResult};

/// Largest request body forwarded.
const MAX_FORWARD_BODY: usize = 10 * 1024 * 1024;

/// Signs a service-auth token as the account.
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
    let key = tokio::task::spawn_blocking(move || {
        st.db.readers.read_blocking(|c| st.keys.get(c, account))
    })
    .await
    .map_err(XrpcError::internal)?
    .map_err(XrpcError::internal)?
    .map_err(XrpcError::internal)?;
    Ok(atproto::auth::mint(&key, did, aud, lxm, now, ttl))
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

/// Where a call goes: (base URL, audience DID).
async fn target(state: &AppState, nsid: &str, headers: &HeaderMap) -> XrpcResult<(String, String)> {
    if let Some(v) = headers.get("atproto-proxy") {
        let v = v
            .to_str()
            .map_err(|_| XrpcError::invalid_request("Malformed atproto-proxy header"))?;
        let (did, service) = v
            .split_once('#')
            .ok_or_else(|| XrpcError::invalid_request("atproto-proxy must be did#service"))?;
        let parsed: atproto::syntax::Did = did
            .parse()
            .ok()
            .filter(|_| !service.is_empty())
            .ok_or_else(|| XrpcError::invalid_request("atproto-proxy must be did#service"))?;
        // The configured AppView is known without a lookup.
        if did == state.cfg.appview_did && service == "bsky_appview" {
            return Ok((state.cfg.appview_url.clone(), did.to_owned()));
        }
        let doc = state.dids.resolve(&parsed).await.map_err(|e| {
            XrpcError::invalid_request(format!("Could not resolve proxy DID {did}: {e}"))
        })?;
        let endpoint = doc.service_endpoint(service).ok_or_else(|| {
            XrpcError::invalid_request(format!("Proxy DID {did} has no service #{service}"))
        })?;
        return Ok((endpoint.trim_end_matches('/').to_owned(), did.to_owned()));
    }
    if nsid.starts_with("app.bsky.") || nsid.starts_with("social.hearth.") {
        return Ok((
            state.cfg.appview_url.trim_end_matches('/').to_owned(),
            state.cfg.appview_did.clone(),
        ));
    }
    Err(XrpcError::not_implemented(format!(
        "Method not implemented: {nsid}"
    )))
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
    let (base, aud) = target(&state, &nsid, req.headers()).await?;
    let url = match req.uri().query() {
        Some(q) => format!("{base}/xrpc/{nsid}?{q}"),
        None => format!("{base}/xrpc/{nsid}"),
    };
    let method = req.method().clone();
    if method != Method::GET && method != Method::POST && method != Method::HEAD {
        return Err(XrpcError::invalid_request("XRPC methods are GET or POST"));
    }
    let mut out = state.http.request(method.clone(), &url);
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
    if let Some(a) = &auth.0 {
        let token = mint_for(&state, a.account, &a.did, &aud, Some(&nsid), now_secs(), 60).await?;
        out = out.bearer_auth(token);
    }
    if method == Method::POST {
        let body = axum::body::to_bytes(req.into_body(), MAX_FORWARD_BODY)
            .await
            .map_err(|_| XrpcError::payload_too_large("Request body too large to forward"))?;
        out = out.body(body);
    }
    let res = out.send().await.map_err(|e| {
        tracing::warn!(url = %base, error = %e, "upstream service unreachable");
        XrpcError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            "UpstreamFailure",
            "Upstream service unreachable",
        )
    })?;
    let status = res.status();
    let mut headers = HeaderMap::new();
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LANGUAGE,
        header::CACHE_CONTROL,
    ] {
        if let Some(v) = res.headers().get(&name) {
            headers.insert(name, v.clone());
        }
    }
    for name in ["atproto-repo-rev", "atproto-content-labelers"] {
        if let Some(v) = res.headers().get(name) {
            headers.insert(HeaderName::from_static(name), v.clone());
        }
    }
    let stream = res.bytes_stream().map_err(std::io::Error::other);
    let mut response = Body::from_stream(stream).into_response();
    *response.status_mut() = status;
    response.headers_mut().extend(headers);
    Ok(response)
}
