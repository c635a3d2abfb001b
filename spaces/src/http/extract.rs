//! What every social.hearth handler takes, in order: the service-auth token (`Caller`:
//! signature, `aud`, `lxm`, `exp`; a fresh `jti` on every write; the per-DID rate limit), then
//! the input, validated against the method's lexicon before any field is read. Validation and
//! parse errors name the field and the rule, never the value, so no private text comes back
//! in an error.

use super::HttpState;
use atproto::syntax::Datetime;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use hearth_xrpc::XrpcError;
use hearth_xrpc::auth::{Viewer, outlives_write_limit};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest JSON input (a post is at most 30 KB of text plus facets).
const MAX_INPUT_BYTES: usize = 256 * 1024;

fn nsid_of(path: &str) -> &str {
    path.strip_prefix("/xrpc/").unwrap_or_default()
}

/// The authenticated caller of a social.hearth method.
pub struct Caller(pub String);

impl FromRequestParts<HttpState> for Caller {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, XrpcError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let write = parts.method == Method::POST;
        // The rate limit comes before the token id is recorded: a refused request leaves
        // nothing behind.
        if !state.spaces.limits.did(&viewer.did, write) {
            return Err(XrpcError::rate_limited());
        }
        // Service tokens are short-lived: a PDS proxying mints one per call (60 s), and
        // getServiceAuth allows at most an hour. A token valid for longer would be a standing
        // credential if it leaked.
        if outlives_write_limit(viewer.exp, Datetime::unix_now_secs()) {
            return Err(XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "BadJwtExpiration",
                "Service tokens for social.hearth methods may be valid for at most an hour",
            ));
        }
        // A write needs a token never seen before: a captured token cannot be replayed.
        if write {
            state.auth.first_use(&viewer)?;
        }
        Ok(Caller(viewer.did))
    }
}

/// A JSON input, validated against the method's lexicon.
pub struct Input<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Input<T> {
    type Rejection = XrpcError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, XrpcError> {
        let nsid = nsid_of(req.uri().path()).to_owned();
        let bytes = hearth_xrpc::json_body(req, MAX_INPUT_BYTES).await?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|_| XrpcError::invalid_request("Input is not valid JSON"))?;
        let data = atproto::data::json::from_json(&json)
            .map_err(|_| XrpcError::invalid_request("Input is not valid atproto data"))?;
        hearth_lexicons::catalog()
            .validate_input(&nsid, &data)
            .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
        serde_json::from_value(json)
            .map(Input)
            .map_err(|_| XrpcError::invalid_request("Input does not match the method's schema"))
    }
}

/// Query parameters, validated against the method's lexicon.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, XrpcError> {
        let nsid = nsid_of(parts.uri.path());
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        hearth_lexicons::catalog()
            .validate_params(nsid, &pairs)
            .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(v)| Params(v))
            .map_err(|_| XrpcError::invalid_request("Parameters do not match the method's schema"))
    }
}
