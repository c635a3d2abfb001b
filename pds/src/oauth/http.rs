//! The OAuth HTTP edge: thin handlers that parse, call the flow modules and map their errors
//! once to the OAuth error JSON (`{"error", "error_description"}`).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use hearth_oauth::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};

/// `/.well-known/oauth-authorization-server`: the PDS is its own authorization server, its
/// public URL the issuer.
pub async fn authorization_server(State(state): State<AppState>) -> impl IntoResponse {
    Json(AuthorizationServerMetadata::for_pds(&state.public_url))
}

/// `/.well-known/oauth-protected-resource`.
pub async fn protected_resource(State(state): State<AppState>) -> impl IntoResponse {
    Json(ProtectedResourceMetadata::for_pds(
        &state.public_url,
        &state.public_url,
    ))
}

/// The OAuth routes, merged into the PDS's router.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(authorization_server),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource),
        )
}
