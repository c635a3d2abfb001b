//! The one mapping of the service's refusals onto XRPC errors.

use crate::model::SpaceError;
use hearth_xrpc::XrpcError;

/// Maps the service's refusals onto XRPC errors. Internal failures are logged by
/// `XrpcError::internal` and answered generically.
pub fn xrpc_error(e: SpaceError) -> XrpcError {
    match e {
        SpaceError::NotMember => XrpcError::forbidden(SpaceError::NotMember.to_string()),
        SpaceError::NotFound(m) => XrpcError::not_found("NotFound", m),
        SpaceError::Forbidden(m) => XrpcError::forbidden(m),
        SpaceError::Invalid(m) => XrpcError::invalid_request(m),
        SpaceError::Named(name, m) => XrpcError::named(name, m),
        SpaceError::RateLimited => XrpcError::rate_limited(),
        e @ (SpaceError::Db(_) | SpaceError::Sqlite(_) | SpaceError::Io(_)) => {
            XrpcError::internal(e)
        }
    }
}
