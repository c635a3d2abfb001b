//! Request body and query extractors whose failures are XRPC errors, not axum's plain text.

use crate::error::XrpcError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// Largest JSON body accepted (applyWrites with many records stays well under this).
pub const MAX_JSON_BYTES: usize = 2 * 1024 * 1024;

/// A JSON request body.
pub struct XJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for XJson<T> {
    type Rejection = XrpcError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, XrpcError> {
        let bytes = json_body(req, MAX_JSON_BYTES).await?;
        serde_json::from_slice(&bytes)
            .map(XJson)
            .map_err(|e| XrpcError::invalid_request(format!("Invalid JSON body: {e}")))
    }
}

/// A request's JSON body, unparsed: refused unless it says it is JSON and is at most `limit`
/// bytes long.
pub async fn json_body(req: Request, limit: usize) -> Result<Bytes, XrpcError> {
    let is_json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(XrpcError::invalid_request(
            "Expected a JSON body (Content-Type: application/json)",
        ));
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| {
            XrpcError::payload_too_large(format!("Request body is larger than {limit} bytes"))
        })
}

/// Query parameters.
pub struct XQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for XQuery<T> {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, XrpcError> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_from(q).map(XQuery)
    }
}

fn serde_urlencoded_from<T: DeserializeOwned>(q: &str) -> Result<T, XrpcError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{q}")
            .parse()
            .map_err(|_| XrpcError::invalid_request("Bad query string"))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| XrpcError::invalid_request(format!("Invalid parameters: {}", e.body_text())))
}

/// All values of a parameter that may repeat (`uris=a&uris=b`), which axum's query extractor
/// cannot express.
pub fn repeated(query: Option<&str>, name: &str) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
        .map(|(_, v)| v.into_owned())
        .collect()
}
