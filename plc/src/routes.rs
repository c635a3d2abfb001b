//! The PLC directory's HTTP API, shaped like the reference server's: JSON bodies, errors as
//! `{"message": ...}` with the same statuses.

use crate::store::{PlcStore, PlcStoreError};
use atproto::plc::{DocumentData, PlcError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

/// The reference server's JSON body limit (express.json's `100kb`).
const MAX_BODY: usize = 100 * 1024;

/// The directory's routes over `store`.
pub fn router(store: PlcStore) -> Router {
    Router::new()
        .route("/_health", get(health))
        .route("/{did}", get(did_doc).post(submit))
        .route("/{did}/data", get(did_data))
        .route("/{did}/log", get(op_log))
        .route("/{did}/log/audit", get(audit_log))
        .route("/{did}/log/last", get(last_op))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::cors::CorsLayer::permissive())
        .with_state(store)
}

struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn not_registered(did: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, format!("DID not registered: {did}"))
    }
}

impl From<PlcStoreError> for ApiError {
    fn from(e: PlcStoreError) -> Self {
        match e {
            // The reference crashes on an unparsable prev CID and so answers 500; a client
            // that tests against this directory sees the same.
            PlcStoreError::Rejected(PlcError::BadPrev(_)) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            PlcStoreError::Rejected(e) => ApiError::new(StatusCode::BAD_REQUEST, e.to_string()),
            PlcStoreError::Conflict => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            e => {
                tracing::error!(error = %e, "plc directory storage failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// JSON text built by serde directly, so operation fields and map entries keep their order
/// (`axum::Json` would too; this just avoids a second code path for the DID document).
fn json_response<T: Serialize>(content_type: &'static str, value: &T) -> ApiResult {
    let body = serde_json::to_string(value)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

const JSON: &str = "application/json; charset=utf-8";

async fn health(State(store): State<PlcStore>) -> Response {
    let version = env!("CARGO_PKG_VERSION");
    match store.health().await {
        Ok(()) => axum::Json(serde_json::json!({ "version": version })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "plc directory health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    serde_json::json!({ "version": version, "error": "Service Unavailable" }),
                ),
            )
                .into_response()
        }
    }
}

/// The state the DID's latest active operation leaves, or the reference's 404s.
async fn current_data(store: &PlcStore, did: &str) -> Result<DocumentData, ApiError> {
    let last = store
        .last_op(did.to_owned())
        .await?
        .ok_or_else(|| ApiError::not_registered(did))?;
    DocumentData::from_op(did, &last)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("DID not available: {did}")))
}

async fn did_doc(State(store): State<PlcStore>, Path(did): Path<String>) -> ApiResult {
    let doc = current_data(&store, &did)
        .await?
        .to_did_document()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    json_response("application/did+ld+json; charset=utf-8", &doc)
}

async fn did_data(State(store): State<PlcStore>, Path(did): Path<String>) -> ApiResult {
    json_response(JSON, &current_data(&store, &did).await?)
}

async fn op_log(State(store): State<PlcStore>, Path(did): Path<String>) -> ApiResult {
    let ops = store.ops(did.clone(), false).await?;
    if ops.is_empty() {
        return Err(ApiError::not_registered(&did));
    }
    let ops: Vec<_> = ops.into_iter().map(|o| o.op).collect();
    json_response(JSON, &ops)
}

async fn audit_log(State(store): State<PlcStore>, Path(did): Path<String>) -> ApiResult {
    let log = store.audit_log(did.clone()).await?;
    if log.is_empty() {
        return Err(ApiError::not_registered(&did));
    }
    json_response(JSON, &log)
}

async fn last_op(State(store): State<PlcStore>, Path(did): Path<String>) -> ApiResult {
    let last = store
        .last_op(did.clone())
        .await?
        .ok_or_else(|| ApiError::not_registered(&did))?;
    json_response(JSON, &last)
}

async fn submit(
    State(store): State<PlcStore>,
    Path(did): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    // Like express.json(), a body that is not declared JSON is not read at all, and what
    // reaches validation is then an empty object.
    let body = if is_json {
        body.to_vec()
    } else {
        b"{}".to_vec()
    };
    store.submit(did, body).await?;
    Ok((StatusCode::OK, "OK").into_response())
}
