//! The AppView's HTTP surface: thin handlers that parse, hydrate views, and map errors.

mod actor;
mod feed;
mod feedgen;
mod graph;
mod labeler;
mod notification;
mod thread;
mod unspecced;
mod well_known;

use crate::state::AppState;
use crate::views::Hydrator;
use axum::Router;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_xrpc::{XrpcError, XrpcResult};
use rusqlite::OptionalExtension;

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
            // One read transaction for the whole view: one consistent snapshot, and one WAL
            // read lock instead of one per statement (a timeline page runs hundreds).
            let txn = conn.unchecked_transaction().map_err(XrpcError::internal)?;
            let mut h =
                Hydrator::new(&txn, viewer.as_deref(), &base).map_err(XrpcError::internal)?;
            let out = f(&mut h);
            drop(h);
            // Read-only: ending it cannot lose anything, so its error is not the caller's.
            let _ = txn.finish();
            out
        })
        .await
}

/// The rev of the viewer's own repository as this index has applied it. Read before the view
/// is built, so everything up to it is in the view: the viewer's PDS adds only what is newer.
pub async fn viewer_rev(state: &AppState, viewer: Option<&str>) -> Option<HeaderValue> {
    let did = viewer?.to_owned();
    let rev: Option<String> = state
        .db
        .readers
        .read(move |c| {
            c.prepare_cached("SELECT rev FROM actor WHERE did = ?1")
                .and_then(|mut s| s.query_row([&did], |r| r.get(0)).optional())
                .map(Option::flatten)
                .map_err(hearth_db::DbError::from)
        })
        .await
        .ok()?;
    HeaderValue::from_str(&rev?).ok()
}

/// A response carrying `atproto-repo-rev` (errors too: the PDS answers a NotFound for a post
/// we have not indexed yet from its own records), for read-after-write on the viewer's PDS.
pub fn with_repo_rev<T: IntoResponse>(rev: Option<HeaderValue>, r: XrpcResult<T>) -> Response {
    let mut res = r.into_response();
    if let Some(rev) = rev {
        res.headers_mut().insert("atproto-repo-rev", rev);
    }
    res
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

/// A keyset cursor `<time>::<key>` for lists ordered newest first: stable across equal
/// timestamps. No cursor starts above every time.
pub fn desc_cursor(c: Option<&str>) -> XrpcResult<(String, String)> {
    match c {
        None | Some("") => Ok(("9999".into(), String::new())),
        Some(c) => c
            .split_once("::")
            .filter(|(t, k)| !t.is_empty() && !k.is_empty())
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .ok_or_else(|| XrpcError::invalid_request("Malformed cursor")),
    }
}

pub fn make_cursor(time: &str, key: &str) -> String {
    format!("{time}::{key}")
}

/// An offset cursor, for rankings that have no stable key.
pub fn offset_cursor(c: Option<&str>) -> XrpcResult<usize> {
    match c {
        None | Some("") => Ok(0),
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 100_000)
            .ok_or_else(|| XrpcError::invalid_request("Malformed cursor")),
    }
}

/// Checks an `at-uri` parameter.
pub fn at_uri(s: &str) -> XrpcResult<()> {
    s.parse::<atproto::syntax::AtUri>()
        .map(|_| ())
        .map_err(|_| XrpcError::invalid_request(format!("Invalid AT-URI: {s}")))
}

/// Maps a database error inside a hydration closure.
pub fn db<T>(r: rusqlite::Result<T>) -> XrpcResult<T> {
    r.map_err(XrpcError::internal)
}

pub fn router(state: AppState) -> Router {
    let x = |nsid: &str| format!("/xrpc/{nsid}");
    Router::new()
        .route("/xrpc/_health", get(well_known::health))
        .route("/.well-known/did.json", get(well_known::did_json))
        .route("/img/{kind}/plain/{did}/{cid}", get(well_known::image))
        // app.bsky.actor
        .route(&x("app.bsky.actor.getProfile"), get(actor::get_profile))
        .route(&x("app.bsky.actor.getProfiles"), get(actor::get_profiles))
        .route(&x("app.bsky.actor.searchActors"), get(actor::search_actors))
        .route(
            &x("app.bsky.actor.searchActorsTypeahead"),
            get(actor::search_actors_typeahead),
        )
        .route(
            &x("app.bsky.actor.getSuggestions"),
            get(actor::get_suggestions),
        )
        // app.bsky.feed
        .route(&x("app.bsky.feed.getTimeline"), get(feed::get_timeline))
        .route(
            &x("app.bsky.feed.getAuthorFeed"),
            get(feed::get_author_feed),
        )
        .route(&x("app.bsky.feed.getPosts"), get(feed::get_posts))
        .route(
            &x("app.bsky.feed.getPostThread"),
            get(thread::get_post_thread),
        )
        .route(&x("app.bsky.feed.getLikes"), get(feed::get_likes))
        .route(
            &x("app.bsky.feed.getRepostedBy"),
            get(feed::get_reposted_by),
        )
        .route(&x("app.bsky.feed.getQuotes"), get(feed::get_quotes))
        .route(
            &x("app.bsky.feed.getActorLikes"),
            get(feed::get_actor_likes),
        )
        .route(&x("app.bsky.feed.searchPosts"), get(feed::search_posts))
        .route(&x("app.bsky.feed.getListFeed"), get(feed::get_list_feed))
        .route(&x("app.bsky.feed.getFeed"), get(feedgen::get_feed))
        .route(
            &x("app.bsky.feed.getFeedGenerator"),
            get(feedgen::get_feed_generator),
        )
        .route(
            &x("app.bsky.feed.getFeedGenerators"),
            get(feedgen::get_feed_generators),
        )
        .route(
            &x("app.bsky.feed.getActorFeeds"),
            get(feedgen::get_actor_feeds),
        )
        .route(
            &x("app.bsky.feed.getSuggestedFeeds"),
            get(feedgen::get_suggested_feeds),
        )
        // app.bsky.graph
        .route(&x("app.bsky.graph.getFollows"), get(graph::get_follows))
        .route(&x("app.bsky.graph.getFollowers"), get(graph::get_followers))
        .route(
            &x("app.bsky.graph.getKnownFollowers"),
            get(graph::get_known_followers),
        )
        .route(&x("app.bsky.graph.getBlocks"), get(graph::get_blocks))
        .route(&x("app.bsky.graph.getMutes"), get(graph::get_mutes))
        .route(&x("app.bsky.graph.getLists"), get(graph::get_lists))
        .route(&x("app.bsky.graph.getList"), get(graph::get_list))
        .route(
            &x("app.bsky.graph.getListMutes"),
            get(graph::get_list_mutes),
        )
        .route(
            &x("app.bsky.graph.getListBlocks"),
            get(graph::get_list_blocks),
        )
        .route(
            &x("app.bsky.graph.getRelationships"),
            get(graph::get_relationships),
        )
        .route(
            &x("app.bsky.graph.getSuggestedFollowsByActor"),
            get(graph::get_suggested_follows_by_actor),
        )
        .route(
            &x("app.bsky.graph.getActorStarterPacks"),
            get(graph::get_actor_starter_packs),
        )
        .route(
            &x("app.bsky.graph.getListsWithMembership"),
            get(graph::get_lists_with_membership),
        )
        .route(
            &x("app.bsky.graph.getStarterPacks"),
            get(graph::get_starter_packs),
        )
        .route(
            &x("app.bsky.graph.getStarterPacksWithMembership"),
            get(graph::get_starter_packs_with_membership),
        )
        // app.bsky.notification
        .route(
            &x("app.bsky.notification.listNotifications"),
            get(notification::list_notifications),
        )
        .route(
            &x("app.bsky.notification.getUnreadCount"),
            get(notification::get_unread_count),
        )
        .route(
            &x("app.bsky.notification.updateSeen"),
            post(notification::update_seen),
        )
        .route(
            &x("app.bsky.notification.getPreferences"),
            get(notification::get_preferences),
        )
        .route(
            &x("app.bsky.notification.putPreferencesV2"),
            post(notification::put_preferences_v2),
        )
        .route(
            &x("app.bsky.notification.putPreferences"),
            post(notification::put_preferences),
        )
        .route(
            &x("app.bsky.notification.listActivitySubscriptions"),
            get(notification::list_activity_subscriptions),
        )
        .route(
            &x("app.bsky.notification.registerPush"),
            post(notification::register_push),
        )
        .route(
            &x("app.bsky.notification.unregisterPush"),
            post(notification::register_push),
        )
        // app.bsky.labeler
        .route(
            &x("app.bsky.labeler.getServices"),
            get(labeler::get_services),
        )
        // app.bsky.unspecced and age assurance
        .route(
            &x("app.bsky.unspecced.getConfig"),
            get(unspecced::get_config),
        )
        .route(
            &x("app.bsky.unspecced.getPostThreadV2"),
            get(thread::get_post_thread_v2),
        )
        .route(
            &x("app.bsky.unspecced.getPostThreadOtherV2"),
            get(thread::get_post_thread_other_v2),
        )
        .route(
            &x("app.bsky.unspecced.getTrendingTopics"),
            get(unspecced::get_trending_topics),
        )
        .route(
            &x("app.bsky.unspecced.getTrends"),
            get(unspecced::get_trends),
        )
        .route(
            &x("app.bsky.unspecced.getPopularFeedGenerators"),
            get(unspecced::get_popular_feed_generators),
        )
        .route(
            &x("app.bsky.unspecced.getSuggestedFeeds"),
            get(unspecced::get_suggested_feeds),
        )
        .route(
            &x("app.bsky.unspecced.getSuggestedStarterPacks"),
            get(unspecced::get_suggested_starter_packs),
        )
        .route(
            &x("app.bsky.unspecced.getOnboardingSuggestedStarterPacks"),
            get(unspecced::get_suggested_starter_packs),
        )
        .route(
            &x("app.bsky.unspecced.getSuggestedUsers"),
            get(unspecced::get_suggested_users),
        )
        .route(
            &x("app.bsky.unspecced.getSuggestedUsersForExplore"),
            get(unspecced::get_suggested_users),
        )
        .route(
            &x("app.bsky.unspecced.getSuggestedUsersForDiscover"),
            get(unspecced::get_suggested_users),
        )
        .route(
            &x("app.bsky.unspecced.getSuggestedUsersForSeeMore"),
            get(unspecced::get_suggested_users),
        )
        .route(
            &x("app.bsky.unspecced.getSuggestedOnboardingUsers"),
            get(unspecced::get_suggested_users),
        )
        .route(
            &x("app.bsky.unspecced.getAgeAssuranceState"),
            get(unspecced::get_age_assurance_state),
        )
        .route(
            &x("app.bsky.ageassurance.getState"),
            get(unspecced::get_age_assurance),
        )
        .method_not_allowed_fallback(|| async {
            XrpcError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "InvalidRequest",
                "Wrong HTTP method for this XRPC method",
            )
        })
        .fallback(|| async { XrpcError::not_implemented("Method not implemented") })
        .with_state(state)
}
