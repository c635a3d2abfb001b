//! XRPC server conventions shared by Hearth's PDS and AppView: every failure is
//! `{"error": "Name", "message": "..."}` with the right status, and request bodies and query
//! strings that do not parse become such errors rather than axum's plain-text rejections.

mod error;
mod extract;
mod host;

pub use error::{XrpcError, XrpcResult};
pub use extract::{MAX_JSON_BYTES, XJson, XQuery, repeated};
pub use host::{PublicHost, did_web_document};
