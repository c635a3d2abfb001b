//! `app.bsky.unspecced.*` the official client calls: configuration, trends and suggestions;
//! and the age-assurance state (Hearth runs no age assurance).

use super::feedgen::popular_generators;
use super::{db, hydrate, limit, offset_cursor};
use crate::auth::{OptionalViewer, Viewer};
use crate::state::{AppState, now_secs};
use crate::views::Hydrator;
use crate::views::trends::Trend;
use axum::Json;
use axum::extract::State;
use hearth_lexicons::bsky::{
    ActorsOutput, AgeAssuranceAccess, AgeAssuranceMetadata, AgeAssuranceState, FeedsOutput,
    GetAgeAssuranceStateOutput, GetConfigOutput, GetTrendingTopicsOutput, GetTrendsOutput,
    StarterPacksOutput, TrendView, TrendingTopic,
};
use hearth_xrpc::{XQuery, XrpcResult};
use serde::Deserialize;

/// Trends look at the posts of the last week...
const TREND_WINDOW_SECS: i64 = 7 * 24 * 3600;
/// ...at most this many of the most recent.
const TREND_SCAN: usize = 5000;

pub async fn get_config() -> Json<GetConfigOutput> {
    Json(GetConfigOutput {
        check_email_confirmed: false,
        live_now: Vec::new(),
    })
}

/// Percent-encodes a path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn trends(h: &mut Hydrator<'_>) -> XrpcResult<Vec<Trend>> {
    let since =
        atproto::syntax::Datetime::from_unix_millis((now_secs() - TREND_WINDOW_SECS) * 1000)
            .to_string();
    db(h.trending_tags(&since, TREND_SCAN))
}

fn topic_link(tag: &str) -> String {
    format!("/hashtag/{}", encode_segment(tag))
}

#[derive(Deserialize)]
pub struct LimitParams {
    limit: Option<u32>,
}

pub async fn get_trending_topics(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<LimitParams>,
) -> XrpcResult<Json<GetTrendingTopicsOutput>> {
    let limit = limit(p.limit, 10, 25)? as usize;
    let out = hydrate(&state, viewer.did(), move |h| {
        let topics: Vec<TrendingTopic> = trends(h)?
            .into_iter()
            .take(limit)
            .map(|t| TrendingTopic {
                topic: format!("#{}", t.tag),
                display_name: None,
                description: None,
                link: topic_link(&t.tag),
            })
            .collect();
        // Suggested: the most liked feeds.
        let (feeds, _) = popular_generators(h, None, 0, limit)?;
        let suggested: Vec<TrendingTopic> = feeds
            .into_iter()
            .filter_map(|f| {
                let rkey = f.uri.rsplit('/').next()?;
                Some(TrendingTopic {
                    link: format!("/profile/{}/feed/{}", f.creator.did, encode_segment(rkey)),
                    topic: f.display_name,
                    display_name: None,
                    description: None,
                })
            })
            .collect();
        Ok(GetTrendingTopicsOutput { topics, suggested })
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_trends(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<LimitParams>,
) -> XrpcResult<Json<GetTrendsOutput>> {
    let limit = limit(p.limit, 10, 25)? as usize;
    let out = hydrate(&state, viewer.did(), move |h| {
        let mut out = Vec::new();
        for t in trends(h)?.into_iter().take(limit) {
            let mut actors = Vec::new();
            for a in t.authors.iter().take(5) {
                if let Some(v) = db(h.profile_basic(*a))? {
                    actors.push(v);
                }
            }
            out.push(TrendView {
                display_name: format!("#{}", t.tag),
                link: topic_link(&t.tag),
                topic: t.tag,
                started_at: t.started_at,
                post_count: t.posts,
                status: None,
                category: None,
                actors,
            });
        }
        Ok(GetTrendsOutput { trends: out })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct PopularParams {
    limit: Option<u32>,
    cursor: Option<String>,
    query: Option<String>,
}

pub async fn get_popular_feed_generators(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<PopularParams>,
) -> XrpcResult<Json<FeedsOutput>> {
    let limit = limit(p.limit, 50, 100)? as usize;
    let offset = offset_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let (feeds, next) = popular_generators(h, p.query.as_deref(), offset, limit)?;
        Ok(FeedsOutput {
            feeds,
            cursor: next.map(|n| n.to_string()),
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_suggested_feeds(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<LimitParams>,
) -> XrpcResult<Json<FeedsOutput>> {
    let limit = limit(p.limit, 10, 25)? as usize;
    let out = hydrate(&state, viewer.did(), move |h| {
        let (feeds, _) = popular_generators(h, None, 0, limit)?;
        Ok(FeedsOutput {
            feeds,
            cursor: None,
        })
    })
    .await?;
    Ok(Json(out))
}

/// Starter packs are not indexed: there are none to suggest.
pub async fn get_suggested_starter_packs(
    XQuery(p): XQuery<LimitParams>,
) -> XrpcResult<Json<StarterPacksOutput>> {
    limit(p.limit, 10, 25)?;
    Ok(Json(StarterPacksOutput {
        starter_packs: Vec::new(),
    }))
}

#[derive(Deserialize)]
pub struct SuggestedUsersParams {
    limit: Option<u32>,
    #[allow(dead_code)]
    category: Option<String>,
}

/// The most followed accounts the viewer does not follow (categories are not distinguished).
pub async fn get_suggested_users(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<SuggestedUsersParams>,
) -> XrpcResult<Json<ActorsOutput>> {
    let limit = limit(p.limit, 25, 50)? as usize;
    let out = hydrate(&state, viewer.did(), move |h| {
        let (ids, _) = db(h.suggested_actors(0, limit))?;
        Ok(ActorsOutput {
            actors: db(h.profiles_shown(&ids))?,
            cursor: None,
        })
    })
    .await?;
    Ok(Json(out))
}

/// Hearth runs no age assurance, so it knows nothing about the account's.
pub async fn get_age_assurance_state(_viewer: Viewer) -> Json<AgeAssuranceState> {
    Json(AgeAssuranceState {
        last_initiated_at: None,
        status: "unknown".into(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeAssuranceParams {
    #[allow(dead_code)]
    country_code: String,
    #[allow(dead_code)]
    region_code: Option<String>,
}

pub async fn get_age_assurance(
    _viewer: Viewer,
    XQuery(_p): XQuery<AgeAssuranceParams>,
) -> Json<GetAgeAssuranceStateOutput> {
    Json(GetAgeAssuranceStateOutput {
        state: AgeAssuranceAccess {
            last_initiated_at: None,
            status: "unknown".into(),
            access: "unknown".into(),
        },
        metadata: AgeAssuranceMetadata::default(),
    })
}
