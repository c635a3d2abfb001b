//! Inter-service authentication: the short-lived JWTs a PDS signs with the user's repository key
//! so that another service (an AppView, a feed generator) knows who is calling, for which
//! method, and for which audience.

mod service_jwt;

pub use service_jwt::{Claims, Expectation, MAX_JTI_LEN, check_claims, mint, peek_claims, verify};

/// Why a token was refused. The names are the XRPC error names the reference uses.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("malformed token: {0}")]
    BadJwt(String),
    #[error("token signature is invalid")]
    BadJwtSignature,
    #[error("token has expired")]
    JwtExpired,
    #[error("token audience does not match this service")]
    BadJwtAudience,
    #[error("token is not for this method")]
    BadJwtLexiconMethod,
}

impl AuthError {
    /// The XRPC error name.
    pub fn error_name(&self) -> &'static str {
        match self {
            AuthError::BadJwt(_) => "BadJwt",
            AuthError::BadJwtSignature => "BadJwtSignature",
            AuthError::JwtExpired => "JwtExpired",
            AuthError::BadJwtAudience => "BadJwtAudience",
            AuthError::BadJwtLexiconMethod => "BadJwtLexiconMethod",
        }
    }
}
