//! XRPC server conventions shared by Hearth's services (the PDS, the AppView, spaces): every
//! failure is `{"error": "Name", "message": "..."}` with the right status, request bodies and
//! query strings that do not parse become such errors rather than axum's plain-text
//! rejections, and inter-service calls are authenticated the same way everywhere.

pub mod auth;
mod error;
mod extract;
mod host;
pub mod metrics;
pub mod ratelimit;
pub mod server;
pub mod vhost;

pub use error::{XrpcError, XrpcResult};
pub use extract::{MAX_JSON_BYTES, XJson, XQuery, json_body, repeated};
pub use host::{PublicHost, did_web_document};
