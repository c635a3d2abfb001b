//! `app.bsky.actor.*`: profiles.

use super::{db, hydrate, limit, offset_cursor, viewer_rev, with_repo_rev};
use crate::auth::OptionalViewer;
use crate::state::AppState;
use crate::views::Hydrator;
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use hearth_lexicons::bsky::{ActorsOutput, GetProfilesOutput, TypeaheadOutput};
use hearth_xrpc::{XQuery, XrpcError, XrpcResult, repeated};
use serde::Deserialize;

/// Finds an actor by DID or handle and checks it may be shown.
pub fn visible_actor(h: &mut Hydrator<'_>, ident: &str) -> XrpcResult<i64> {
    let id = h
        .resolve_actor(ident)
        .map_err(XrpcError::internal)?
        .ok_or_else(|| XrpcError::invalid_request("Profile not found"))?;
    let row = h
        .actor(id)
        .map_err(XrpcError::internal)?
        .ok_or_else(|| XrpcError::invalid_request("Profile not found"))?;
    match row.status.as_deref() {
        None => Ok(id),
        Some("takendown") | Some("suspended") => Err(XrpcError::named(
            "AccountTakedown",
            "Account has been suspended",
        )),
        Some("deactivated") => Err(XrpcError::named(
            "AccountDeactivated",
            "Account is deactivated",
        )),
        Some(_) => Err(XrpcError::invalid_request("Profile not found")),
    }
}

#[derive(Deserialize)]
pub struct ProfileParams {
    actor: String,
}

pub async fn get_profile(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ProfileParams>,
) -> Response {
    let rev = viewer_rev(&state, viewer.did()).await;
    let v = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        h.profile_detailed(id)
            .map_err(XrpcError::internal)?
            .ok_or_else(|| XrpcError::invalid_request("Profile not found"))
    })
    .await;
    with_repo_rev(rev, v.map(Json))
}

pub async fn get_profiles(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
) -> XrpcResult<Json<GetProfilesOutput>> {
    let actors = repeated(uri.query(), "actors");
    if actors.is_empty() || actors.len() > 25 {
        return Err(XrpcError::invalid_request(
            "actors must list 1 to 25 accounts",
        ));
    }
    let profiles = hydrate(&state, viewer.did(), move |h| {
        let mut out = Vec::new();
        for a in &actors {
            if let Ok(id) = visible_actor(h, a)
                && let Some(v) = h.profile_detailed(id).map_err(XrpcError::internal)?
            {
                out.push(v);
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Json(GetProfilesOutput { profiles }))
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    term: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn search_actors(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<SearchParams>,
) -> XrpcResult<Json<ActorsOutput>> {
    let limit = limit(p.limit, 25, 100)? as usize;
    let offset = offset_cursor(p.cursor.as_deref())?;
    let q = p.q.or(p.term).unwrap_or_default();
    let out = hydrate(&state, viewer.did(), move |h| {
        let (ids, next) = db(h.search_actors(&q, offset, limit))?;
        let actors = db(h.profiles_shown(&ids))?;
        Ok(ActorsOutput {
            actors,
            cursor: next.map(|n| n.to_string()),
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn search_actors_typeahead(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<SearchParams>,
) -> XrpcResult<Json<TypeaheadOutput>> {
    let limit = limit(p.limit, 10, 100)? as usize;
    let q = p.q.or(p.term).unwrap_or_default();
    let out = hydrate(&state, viewer.did(), move |h| {
        let (ids, _) = db(h.search_actors(&q, 0, limit))?;
        let mut actors = Vec::new();
        for id in ids {
            if let Some(v) = db(h.profile_basic(id))? {
                actors.push(v);
            }
        }
        Ok(TypeaheadOutput { actors })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct PageParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn get_suggestions(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<PageParams>,
) -> XrpcResult<Json<ActorsOutput>> {
    let limit = limit(p.limit, 50, 100)? as usize;
    let offset = offset_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let (ids, next) = db(h.suggested_actors(offset, limit))?;
        let actors = db(h.profiles_shown(&ids))?;
        Ok(ActorsOutput {
            actors,
            cursor: next.map(|n| n.to_string()),
        })
    })
    .await?;
    Ok(Json(out))
}
