//! Non-XRPC routes: health, the server's did:web document, hosted handles' atproto-did.

use crate::accounts::store;
use crate::db::DbError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde_json::{Value, json};

/// 200 while the database takes writes, 503 otherwise: what a load balancer or orchestrator
/// checks before sending traffic.
pub async fn health(State(state): State<AppState>) -> XrpcResult<Json<Value>> {
    crate::check_health(&state).await.map_err(|e| {
        XrpcError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("The database does not take writes: {e}"),
        )
    })?;
    Ok(Json(json!({ "version": env!("CARGO_PKG_VERSION") })))
}

/// The PDS's own did:web document.
pub async fn did_json(State(state): State<AppState>) -> Json<Value> {
    Json(hearth_xrpc::did_web_document(
        &state.service_did,
        &state.secrets.service_key.public().multikey(),
        &state.public_url,
        &[("atproto_pds", "AtprotoPersonalDataServer")],
    ))
}

/// `https://<handle>/.well-known/atproto-did` for handles this server hosts, by Host header.
pub async fn atproto_did(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> XrpcResult<Response> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase())
        .ok_or_else(|| XrpcError::not_found("NotFound", "No host"))?;
    let found = state
        .db
        .readers
        .read(move |c| Ok::<_, DbError>(store::by_handle(c, &host)?.map(|a| a.did)))
        .await?;
    match found {
        Some(did) => Ok(([(header::CONTENT_TYPE, "text/plain")], did).into_response()),
        None => Err(XrpcError::not_found("NotFound", "User not found")),
    }
}

pub async fn robots() -> &'static str {
    "# Hello!\n\n# Crawling the public API is allowed\nUser-agent: *\nAllow: /\n"
}

pub async fn root() -> &'static str {
    "This is an AT Protocol Personal Data Server (Hearth).\n\nMost API routes are under /xrpc/\n"
}
