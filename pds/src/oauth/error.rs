//! What can go wrong in the authorization server's flows, named by the OAuth error each one
//! is answered with (RFC 6749 §5.2, RFC 9126, RFC 9449). The HTTP edge maps them once
//! (`http::oauth_error`).

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// A parameter is missing, repeated or malformed.
    #[error("{0}")]
    InvalidRequest(String),
    /// The client could not be identified or authenticated.
    #[error("{0}")]
    InvalidClient(String),
    /// The client's metadata document is unusable (unreachable, too large, invalid).
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// The code or refresh token is unknown, expired, spent, or not this client's.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// The DPoP proof is missing, malformed, replayed, or of another key.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// The proof lacks the current nonce: the client retries with the one sent alongside.
    #[error("Authorization server requires nonce in DPoP proof")]
    UseDpopNonce,
    /// The pushed request is unknown, expired or already used.
    #[error("{0}")]
    InvalidRequestUri(String),
    #[error("Too many attempts, try again later")]
    RateLimited,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl OAuthError {
    /// The OAuth error code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) | OAuthError::RateLimited => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidClientMetadata(_) => "invalid_client_metadata",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            OAuthError::UseDpopNonce => "use_dpop_nonce",
            OAuthError::InvalidRequestUri(_) => "invalid_request_uri",
            OAuthError::Db(_) => "server_error",
        }
    }
}

impl From<hearth_oauth::client_metadata::ClientMetadataError> for OAuthError {
    fn from(e: hearth_oauth::client_metadata::ClientMetadataError) -> Self {
        use hearth_oauth::client_metadata::ClientMetadataError as E;
        match e {
            E::BadClientId | E::LoopbackNotAllowed => OAuthError::InvalidClient(e.to_string()),
            _ => OAuthError::InvalidClientMetadata(e.to_string()),
        }
    }
}
