//! The AppView's HTTP surface: thin handlers that parse, hydrate views, and map errors.

mod actor;
mod feed;
mod well_known;

use crate::state::AppState;
use crate::views::Hydrator;
use axum::Router;
use axum::routing::get;
use hearth_xrpc::{XrpcError, XrpcResult};

/// Runs `f` with a hydrator for the viewer on a reader connection (a blocking thread).
pub async fn hydrate<T, F>(state: &AppState, viewer: Option<&str>, f: F) -> XrpcResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut Hydrator<'_>) -> XrpcResult<T> + Send + 'static,
{
    let viewer = viewer.map(str::to_owned);
    let base = state.public_url.clone();
    state
        .db
        .readers
        .read(move |conn| {
            let mut h =
                Hydrator::new(conn, viewer.as_deref(), &base).map_err(XrpcError::internal)?;
            f(&mut h)
        })
        .await
}

/// Parses a `limit` with the lexicon's bounds.
pub fn limit(v: Option<u32>, default: u32, max: u32) -> XrpcResult<u32> {
    match v.unwrap_or(default) {
        l if (1..=max).contains(&l) => Ok(l),
        _ => Err(XrpcError::invalid_request(format!(
            "limit must be between 1 and {max}"
        ))),
    }
}

pub fn router(state: AppState) -> Router {
    let x = |nsid: &str| format!("/xrpc/{nsid}");
    Router::new()
        .route("/xrpc/_health", get(well_known::health))
        .route("/.well-known/did.json", get(well_known::did_json))
        .route("/img/{kind}/plain/{did}/{cid}", get(well_known::image))
        .route(&x("app.bsky.actor.getProfile"), get(actor::get_profile))
        .route(&x("app.bsky.actor.getProfiles"), get(actor::get_profiles))
        .route(&x("app.bsky.feed.getTimeline"), get(feed::get_timeline))
        .route(
            &x("app.bsky.feed.getAuthorFeed"),
            get(feed::get_author_feed),
        )
        .route(&x("app.bsky.feed.getPosts"), get(feed::get_posts))
        .fallback(|| async { XrpcError::not_implemented("Method not implemented") })
        .with_state(state)
}
