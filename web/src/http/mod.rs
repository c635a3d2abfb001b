//! The web app's HTTP surface: the routes and the headers every answer carries; beside them,
//! the policies (`csp`), the extractors the pages share (`extract`) and the one error page
//! (`error::WebError`). Pages import those modules, never this one, so the router that names
//! the pages is the only way in here.

pub mod csp;
pub mod error;
pub mod extract;

use crate::Web;
use crate::pages;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use csp::CSP;

/// Every page (see `docs/web.md`). The AppView merges it into its own router, so it names no
/// fallback: unknown paths get the AppView's answer.
pub fn router(web: Web) -> Router {
    let dev = web.dev;
    Router::new()
        .route("/", get(pages::home::home))
        .route("/seen", post(pages::home::mark_seen))
        .route("/signin", get(pages::signin::page))
        .route("/signin/app-password", post(pages::signin::app_password))
        .route("/signout", post(pages::signin::signout))
        .route("/oauth/login", get(crate::oauth::routes::login))
        .route("/oauth/callback", get(crate::oauth::routes::callback))
        .route(
            "/oauth/client-metadata.json",
            get(crate::oauth::routes::client_metadata),
        )
        .route("/oauth/jwks.json", get(crate::oauth::routes::jwks))
        .route(
            "/share",
            get(crate::oauth::routes::share_page).post(crate::oauth::routes::share),
        )
        .route("/assets/{name}", get(crate::assets::serve))
        .route("/i/{token}", get(pages::invite::landing))
        .route("/i/{token}/join", post(pages::invite::join))
        .route("/s/{skey}", get(pages::space::space))
        .route(
            "/s/{skey}/welcome",
            get(pages::invite::question).post(pages::invite::answer_question),
        )
        .route("/events", get(pages::live::events))
        .route("/s/{skey}/c/{rkey}", get(pages::space::channel))
        .route(
            "/s/{skey}/c/{rkey}/events",
            get(pages::live::channel_events),
        )
        .route(
            "/s/{skey}/c/{rkey}/post",
            post(pages::space::post).layer(DefaultBodyLimit::max(pages::space::COMPOSER_BYTES)),
        )
        .route("/s/{skey}/p/{author}/{rkey}", get(pages::space::thread))
        .route(
            "/s/{skey}/p/{author}/{rkey}/reply",
            post(pages::space::reply).layer(DefaultBodyLimit::max(pages::space::COMPOSER_BYTES)),
        )
        .route(
            "/s/{skey}/p/{author}/{rkey}/react",
            post(pages::space::react),
        )
        .route(
            "/s/{skey}/p/{author}/{rkey}/answer",
            post(pages::space::answer),
        )
        .route("/s/{skey}/img/{cid}", get(pages::space::image))
        .merge(organizer_routes())
        .layer(middleware::from_fn(move |req, next| {
            headers(dev, req, next)
        }))
        .with_state(web)
}

/// The organizer, moderation and settings pages.
fn organizer_routes() -> Router<Web> {
    use pages::{invites, members, moderation, new_space, settings};
    Router::new()
        .route("/spaces/new", get(new_space::page).post(new_space::create))
        .route("/s/{skey}/invite", get(invites::page).post(invites::create))
        .route("/s/{skey}/invite/revoke", post(invites::revoke))
        .route("/s/{skey}/members", get(members::page))
        .route("/s/{skey}/members/role", post(members::set_role))
        .route("/s/{skey}/members/remove", post(members::remove))
        .route("/s/{skey}/members/ban", post(members::ban))
        .route("/s/{skey}/requests", get(members::requests))
        .route("/s/{skey}/requests/decide", post(members::decide))
        .route("/s/{skey}/audit", get(members::audit))
        .route("/s/{skey}/export", get(members::export))
        .route("/s/{skey}/moderation", get(moderation::queue))
        .route("/s/{skey}/moderation/resolve", post(moderation::resolve))
        .route(
            "/s/{skey}/p/{author}/{rkey}/report",
            get(moderation::report_page).post(moderation::report),
        )
        .route("/settings", get(settings::page).post(settings::save))
        .route("/settings/level", post(settings::set_level))
}

/// Sends development's `localhost` to `127.0.0.1` (where sessions and OAuth live), and adds the
/// security headers; answers that set no `Cache-Control` are `private, no-store` (pages may hold
/// private content; the assets set their own).
async fn headers(dev: bool, req: Request, next: Next) -> Response {
    if dev && matches!(*req.method(), Method::GET | Method::HEAD) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if let Some(port) = host.strip_prefix("localhost") {
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            return Redirect::temporary(&format!("http://127.0.0.1{port}{path}")).into_response();
        }
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // A page that sets its own policy (the sign-in page) keeps it.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    res
}
