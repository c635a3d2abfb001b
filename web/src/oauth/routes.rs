//! The OAuth routes: `/oauth/login` (to the account's own authorization server), the
//! `/oauth/callback` it sends the browser back to, the confidential client's metadata document
//! and JWKS, and sharing an announcement publicly (`/share`).

use super::{CallbackParams, OAuthError, POST_SCOPE, SIGN_IN_SCOPE};
use crate::Web;
use crate::csrf;
use crate::http::error::WebError;
use crate::http::extract::{Form, PeerIp};
use crate::pages::signin::{signed_in, signin_page};
use crate::pages::{Layout, render};
use crate::session::{self, Viewer, safe_next};
use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_xrpc::ratelimit::Limit;
use serde::Deserialize;
use std::time::Instant;

/// The cookie that binds a pending sign-in to the browser that started it: a callback whose
/// `state` is not this browser's is refused (no one can sign someone else in to their account).
pub const STATE_COOKIE: &str = "hearth_oauth_state";

/// OAuth sign-ins from one address: a burst of 20, then one every 10 seconds (each costs
/// outbound requests).
const PER_IP: Limit = Limit {
    capacity: 20.0,
    per_secs: 200.0,
};

impl From<OAuthError> for WebError {
    fn from(e: OAuthError) -> WebError {
        match e {
            OAuthError::Db(e) => e.into(),
            OAuthError::Key => WebError::Internal,
            e => WebError::BadRequest(e.to_string()),
        }
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    handle: String,
    next: Option<String>,
}

fn with_state_cookie(web: &Web, redirect: &str, state: &str) -> Response {
    let mut res = Redirect::to(redirect).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        web.sessions
            .cookie_named(STATE_COOKIE, state, super::PENDING_SECS),
    );
    res
}

/// `GET /oauth/login?handle=&next=`: resolves the account and sends the browser to its
/// authorization server; a failure is shown on the sign-in page.
pub async fn login(
    State(web): State<Web>,
    PeerIp(ip): PeerIp,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    let ip = ip.map(|i| i.to_string()).unwrap_or_default();
    let again = |status, msg: String| {
        signin_page(
            &web,
            &headers,
            status,
            next.clone(),
            q.handle.clone(),
            Some(msg),
        )
    };
    if !web.limits.check("web-oauth-ip", &ip, PER_IP, 1.0) {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            WebError::RateLimited.to_string(),
        );
    }
    let began = Instant::now();
    match web.oauth.start(&q.handle, &next, SIGN_IN_SCOPE, None).await {
        Ok(s) => {
            tracing::info!("web oauth: login took {:.1} ms", ms(began));
            with_state_cookie(&web, &s.redirect, &s.state)
        }
        Err(e) => {
            tracing::info!(error = %e, "web oauth: sign-in could not start");
            again(StatusCode::BAD_REQUEST, e.to_string())
        }
    }
}

/// `GET /oauth/callback`: the authorization server's answer. A sign-in ends in a new session;
/// more scope for a session already signed in is kept with it.
pub async fn callback(
    State(web): State<Web>,
    headers: HeaderMap,
    Query(p): Query<CallbackParams>,
) -> Result<Response, WebError> {
    let ours = session::cookie(&headers, STATE_COOKIE).unwrap_or("");
    if !csrf::token_matches(ours, p.state.as_deref().unwrap_or("")) {
        return Err(OAuthError::UnknownState.into());
    }
    let began = Instant::now();
    let finished = web.oauth.finish(&p).await.inspect_err(|e| {
        tracing::info!(error = %e, "web oauth: callback refused");
    })?;
    tracing::info!("web oauth: callback took {:.1} ms", ms(began));
    let next = finished.next.clone();
    let mut res = if let Some(key) = finished.session_key.clone() {
        web.oauth
            .keep(finished, key, now() + session::LIFETIME_SECS)
            .await?;
        Redirect::to(&next).into_response()
    } else {
        let created = web
            .sessions
            .create(&finished.account.did, &finished.account.handle)
            .await?;
        let key = created.session.key().to_vec();
        web.oauth
            .keep(finished, key, now() + session::LIFETIME_SECS)
            .await?;
        signed_in(&web, created, &next)
    };
    res.headers_mut().append(
        header::SET_COOKIE,
        web.sessions.cookie_named(STATE_COOKIE, "", 0),
    );
    Ok(res)
}

/// Milliseconds since `t`, for the log lines the benchmark figures are read from.
fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn now() -> i64 {
    atproto::syntax::Datetime::unix_now_secs()
}

/// `GET /oauth/client-metadata.json`: the confidential client's `client_id` document (none for
/// the loopback client of development).
pub async fn client_metadata(State(web): State<Web>) -> Result<Response, WebError> {
    let doc = web
        .oauth
        .registration()
        .metadata_document()
        .ok_or(WebError::NotFound)?;
    Ok(public_json(doc))
}

/// `GET /oauth/jwks.json`: the public key the client's assertions are signed with.
pub async fn jwks(State(web): State<Web>) -> Response {
    public_json(web.oauth.registration().jwks())
}

fn public_json(v: serde_json::Value) -> Response {
    let mut res = Json(v).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=300"),
    );
    res
}

/// The share page of the post `uri`.
pub fn share_href(uri: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("post", uri)
        .finish();
    format!("/share?{q}")
}

#[derive(Template)]
#[template(path = "share.html")]
struct Share {
    layout: Layout,
    post: String,
    text: String,
    handle: String,
    posted: Option<String>,
}

#[derive(Deserialize)]
pub struct ShareQuery {
    post: String,
}

/// The text of an announcement the viewer wrote, read through the spaces gate. Only the
/// author's own words are shared, and only them: no link, no name, nothing of the space.
async fn own_text(web: &Web, viewer: &Viewer, uri: &str) -> Result<String, WebError> {
    let t = web.spaces.thread(&viewer.did, uri, 1, None).await?;
    let root = t.thread.root;
    if root.uri != uri || root.author.did != viewer.did {
        return Err(WebError::Forbidden(
            "Only the author of a post can share it publicly".into(),
        ));
    }
    Ok(root.text)
}

/// `GET /share?post=`: says plainly what will become public, and asks.
pub async fn share_page(
    State(web): State<Web>,
    viewer: Viewer,
    Query(q): Query<ShareQuery>,
) -> Result<Response, WebError> {
    let text = own_text(&web, &viewer, &q.post).await?;
    let mut res = render(&Share {
        layout: Layout::signed_in("Share publicly", &viewer),
        handle: viewer.handle.clone(),
        post: q.post,
        text,
        posted: None,
    });
    // The form's answer may redirect to the account's authorization server (the first time).
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(crate::http::csp::SIGNIN_CSP),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct ShareForm {
    csrf: String,
    post: String,
}

/// `POST /share`: the first time, asks the account's server for permission to post (and comes
/// back to the page); then writes the post to the viewer's own repository.
pub async fn share(
    State(web): State<Web>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<ShareForm>,
) -> Result<Response, WebError> {
    csrf::check(&headers, &web.origin, &viewer.csrf, &f.csrf)?;
    let text = own_text(&web, &viewer, &f.post).await?;
    let key = viewer.key().to_vec();
    if !web.oauth.has_scope(&key, POST_SCOPE).await? {
        let back = share_href(&f.post);
        let scope = format!("{SIGN_IN_SCOPE} {POST_SCOPE}");
        let s = web
            .oauth
            .start(&viewer.did, &back, &scope, Some(key))
            .await?;
        return Ok(with_state_cookie(&web, &s.redirect, &s.state));
    }
    let uri = web.oauth.create_post(&key, &text).await?;
    Ok(render(&Share {
        layout: Layout::signed_in("Shared publicly", &viewer),
        handle: viewer.handle.clone(),
        post: f.post,
        text,
        posted: Some(uri),
    }))
}
