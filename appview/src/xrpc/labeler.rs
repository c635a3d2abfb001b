//! `app.bsky.labeler.getServices`.

use super::{db, hydrate};
use crate::auth::OptionalViewer;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use hearth_lexicons::bsky::GetServicesOutput;
use hearth_xrpc::{XQuery, XrpcError, XrpcResult, repeated};
use serde::Deserialize;

/// Most labelers one call describes.
const MAX_DIDS: usize = 100;

#[derive(Deserialize)]
pub struct ServicesParams {
    detailed: Option<bool>,
}

pub async fn get_services(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
    XQuery(p): XQuery<ServicesParams>,
) -> XrpcResult<Json<GetServicesOutput>> {
    let dids = repeated(uri.query(), "dids");
    if dids.len() > MAX_DIDS {
        return Err(XrpcError::invalid_request(format!(
            "dids may list at most {MAX_DIDS} accounts"
        )));
    }
    for d in &dids {
        d.parse::<atproto::syntax::Did>()
            .map_err(|_| XrpcError::invalid_request(format!("Invalid DID: {d}")))?;
    }
    let detailed = p.detailed.unwrap_or(false);
    let out = hydrate(&state, viewer.did(), move |h| {
        let mut views = Vec::new();
        for d in &dids {
            if let Some(id) = db(h.actor_id(d))?
                && let Some(v) = db(h.labeler_view(id, detailed))?
            {
                views.push(v);
            }
        }
        Ok(GetServicesOutput { views })
    })
    .await?;
    Ok(Json(out))
}
