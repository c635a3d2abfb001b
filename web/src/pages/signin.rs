//! Signing in and out. The sign-in page asks for a handle; the app-password path proves an
//! app password at the account's own PDS ([`crate::app_password`]) and then makes a new
//! session. (The OAuth path joins here: it ends the same way, by [`start_session`].)

use super::{Layout, render};
use crate::Web;
use crate::csrf;
use crate::http::error::WebError;
use crate::http::extract::{Form, PeerIp};
use crate::session::{self, Viewer, safe_next};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_xrpc::ratelimit::Limit;
use serde::Deserialize;

/// Sign-in attempts from one address: a burst of 20, then one every 10 seconds.
const PER_IP: Limit = Limit {
    capacity: 20.0,
    per_secs: 200.0,
};
/// Sign-in attempts for one account: a burst of 5, then one a minute.
const PER_ACCOUNT: Limit = Limit {
    capacity: 5.0,
    per_secs: 300.0,
};

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    layout: Layout,
    next: String,
    handle: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// The signed-out forms' token: the pre-session cookie's, or a new one (and its cookie).
fn pre_token(web: &Web, headers: &HeaderMap) -> (String, Option<header::HeaderValue>) {
    match session::cookie(headers, csrf::PRE_COOKIE) {
        Some(t) => (t.to_owned(), None),
        None => {
            let t = session::random_token();
            let c = web
                .sessions
                .cookie_named(csrf::PRE_COOKIE, &t, csrf::PRE_LIFETIME_SECS);
            (t, Some(c))
        }
    }
}

pub(crate) fn signin_page(
    web: &Web,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    handle: String,
    error: Option<String>,
) -> Response {
    let (token, set) = pre_token(web, headers);
    let mut layout = Layout::bare("Sign in");
    layout.csrf = token;
    let mut res = render(&SignIn {
        layout,
        next,
        handle,
        error,
    });
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(crate::http::csp::SIGNIN_CSP),
    );
    if let Some(c) = set {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// `GET /signin?next=`.
pub async fn page(State(web): State<Web>, headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let next = safe_next(q.next.as_deref());
    signin_page(&web, &headers, StatusCode::OK, next, String::new(), None)
}

#[derive(Deserialize)]
pub struct AppPasswordForm {
    csrf: String,
    handle: String,
    password: String,
    next: Option<String>,
}

/// `POST /signin/app-password`.
pub async fn app_password(
    State(web): State<Web>,
    PeerIp(ip): PeerIp,
    headers: HeaderMap,
    Form(f): Form<AppPasswordForm>,
) -> Result<Response, WebError> {
    let expected = session::cookie(&headers, csrf::PRE_COOKIE).unwrap_or("");
    csrf::check(&headers, &web.origin, expected, &f.csrf)?;
    let next = safe_next(f.next.as_deref());
    let handle = f.handle.trim().to_owned();
    let again = |status, msg: String| {
        signin_page(
            &web,
            &headers,
            status,
            next.clone(),
            handle.clone(),
            Some(msg),
        )
    };
    let ip = ip.map(|i| i.to_string()).unwrap_or_default();
    if !web.limits.check("web-signin-ip", &ip, PER_IP, 1.0)
        || !web.limits.check(
            "web-signin-account",
            &handle.to_ascii_lowercase(),
            PER_ACCOUNT,
            1.0,
        )
    {
        return Ok(again(
            StatusCode::TOO_MANY_REQUESTS,
            WebError::RateLimited.to_string(),
        ));
    }
    let account = match crate::identity::resolve(&web.dids, &web.handles, &handle).await {
        Ok(a) => a,
        Err(e) => return Ok(again(StatusCode::BAD_REQUEST, e.to_string())),
    };
    if let Err(e) = crate::app_password::verify(&web.remote, &account, &f.password).await {
        return Ok(again(StatusCode::UNAUTHORIZED, e.to_string()));
    }
    start_session(&web, &account.did, &account.handle, &next).await
}

/// Ends a sign-in: a new session (never the id the browser came with), its cookie, the
/// signed-out token's cookie cleared, and on to `next`.
pub async fn start_session(
    web: &Web,
    did: &str,
    handle: &str,
    next: &str,
) -> Result<Response, WebError> {
    let created = web.sessions.create(did, handle).await?;
    Ok(signed_in(web, created, next))
}

/// The answer that ends a sign-in with the session just `created`.
pub(crate) fn signed_in(web: &Web, created: session::Created, next: &str) -> Response {
    let mut res = Redirect::to(next).into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, created.set_cookie);
    h.append(
        header::SET_COOKIE,
        web.sessions.cookie_named(csrf::PRE_COOKIE, "", 0),
    );
    res
}

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

/// `POST /signout`: deletes the session and its cookie.
pub async fn signout(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<SignOutForm>,
) -> Result<Response, WebError> {
    csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    // The grant is revoked at the account's server; the session ends here whatever it answers.
    if let Err(e) = web.oauth.sign_out(v.key()).await {
        tracing::info!(error = %e, "web: OAuth revocation at sign-out failed");
    }
    web.sessions.end(&v).await?;
    let mut res = Redirect::to("/").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, web.sessions.clear_cookie());
    Ok(res)
}
