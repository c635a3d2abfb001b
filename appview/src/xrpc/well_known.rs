//! Health, the AppView's DID document, and image links.

use crate::state::AppState;
use atproto::syntax::Did;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde_json::{Value, json};

pub async fn health(State(state): State<AppState>) -> XrpcResult<Json<Value>> {
    state
        .db
        .readers
        .read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(hearth_db::DbError::from)
        })
        .await?;
    Ok(Json(
        json!({ "version": env!("CARGO_PKG_VERSION"), "ingest": state.stats.snapshot() }),
    ))
}

/// `#atproto` is the AppView's key; `#bsky_appview` and `#hearth_appview` are where clients
/// (through their PDS) reach it.
pub async fn did_json(State(state): State<AppState>) -> Json<Value> {
    Json(hearth_xrpc::did_web_document(
        &state.service_did,
        &state.key.public().multikey(),
        &state.public_url,
        &[
            ("bsky_notif", "BskyNotificationService"),
            ("bsky_appview", "BskyAppView"),
            (hearth_lexicons::SERVICE_ID, hearth_lexicons::SERVICE_TYPE),
        ],
    ))
}

/// Public images are the owner's PDS blobs; this redirects to them so view JSON needs no
/// DID resolution.
pub async fn image(
    State(state): State<AppState>,
    Path((_kind, did, cid)): Path<(String, String, String)>,
) -> XrpcResult<Response> {
    let cid = cid.split('@').next().unwrap_or_default();
    let cid =
        atproto::data::parse_cid(cid).map_err(|_| XrpcError::invalid_request("Invalid CID"))?;
    let did: Did = did
        .parse()
        .map_err(|_| XrpcError::invalid_request("Invalid DID"))?;
    let doc = state
        .dids
        .resolve(&did)
        .await
        .map_err(|_| XrpcError::not_found("NotFound", "Unknown account"))?;
    let pds = doc
        .pds_endpoint()
        .ok_or_else(|| XrpcError::not_found("NotFound", "Account has no PDS"))?;
    let url = format!(
        "{}/xrpc/com.atproto.sync.getBlob?did={did}&cid={cid}",
        pds.trim_end_matches('/')
    );
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "public, max-age=3600".into()),
        ],
    )
        .into_response())
}
