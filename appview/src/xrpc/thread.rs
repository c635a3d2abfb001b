//! Threads: `app.bsky.feed.getPostThread`, `app.bsky.unspecced.getPostThreadV2` and
//! `getPostThreadOtherV2`.

use super::{at_uri, db, hydrate, viewer_rev, with_repo_rev};
use crate::auth::OptionalViewer;
use crate::state::AppState;
use crate::views::thread::{ReplySort, V2Params};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use hearth_lexicons::bsky::{
    GetPostThreadOtherV2Output, GetPostThreadOutput, GetPostThreadV2Output, ThreadNode,
};
use hearth_xrpc::{XQuery, XrpcError, XrpcResult};
use serde::Deserialize;

fn bounded(v: Option<u32>, default: u32, max: u32, name: &str) -> XrpcResult<u32> {
    match v.unwrap_or(default) {
        n if n <= max => Ok(n),
        _ => Err(XrpcError::invalid_request(format!(
            "{name} must be between 0 and {max}"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadParams {
    uri: String,
    depth: Option<u32>,
    parent_height: Option<u32>,
}

pub async fn get_post_thread(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ThreadParams>,
) -> Response {
    let rev = viewer_rev(&state, viewer.did()).await;
    with_repo_rev(rev, post_thread(&state, &viewer, p).await)
}

async fn post_thread(
    state: &AppState,
    viewer: &OptionalViewer,
    p: ThreadParams,
) -> XrpcResult<Json<GetPostThreadOutput>> {
    let depth = bounded(p.depth, 6, 1000, "depth")?;
    let height = bounded(p.parent_height, 80, 1000, "parentHeight")?;
    at_uri(&p.uri)?;
    let out = hydrate(state, viewer.did(), move |h| {
        let not_found = || XrpcError::named("NotFound", format!("Post not found: {}", p.uri));
        let thread = db(h.thread_v1(&p.uri, depth, height))?.ok_or_else(not_found)?;
        let root = db(h.post_row(&p.uri))?
            .and_then(|r| r.reply_root)
            .unwrap_or_else(|| p.uri.clone());
        let threadgate = match thread {
            ThreadNode::Post(_) => db(h.threadgate_view(&root))?,
            _ => None,
        };
        Ok(GetPostThreadOutput { thread, threadgate })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadV2Params {
    anchor: String,
    above: Option<bool>,
    below: Option<u32>,
    branching_factor: Option<u32>,
    sort: Option<String>,
}

pub async fn get_post_thread_v2(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ThreadV2Params>,
) -> XrpcResult<Json<GetPostThreadV2Output>> {
    at_uri(&p.anchor)?;
    let params = V2Params {
        above: p.above.unwrap_or(true),
        below: bounded(p.below, 6, 20, "below")?,
        branching: bounded(p.branching_factor, 10, 100, "branchingFactor")?,
        sort: match p.sort.as_deref() {
            Some("newest") => ReplySort::Newest,
            Some("top") => ReplySort::Top,
            _ => ReplySort::Oldest,
        },
    };
    let out = hydrate(&state, viewer.did(), move |h| {
        let t = db(h.thread_v2(&p.anchor, params))?;
        Ok(GetPostThreadV2Output {
            thread: t.items,
            threadgate: t.threadgate,
            has_other_replies: t.has_other_replies,
        })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct ThreadOtherParams {
    anchor: String,
}

pub async fn get_post_thread_other_v2(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ThreadOtherParams>,
) -> XrpcResult<Json<GetPostThreadOtherV2Output>> {
    at_uri(&p.anchor)?;
    let out = hydrate(&state, viewer.did(), move |h| {
        Ok(GetPostThreadOtherV2Output {
            thread: db(h.thread_other_v2(&p.anchor))?,
        })
    })
    .await?;
    Ok(Json(out))
}
