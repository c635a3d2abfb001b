//! What the account flows and invite codes refuse or fail with.

use crate::db::DbError;
use crate::email::CodeError;
use crate::plc_client::PlcError;
use crate::repo::CommitError;
use crate::sequencer::EmitError;

/// Why an account flow refused or failed. The messages of the first group are what clients
/// are shown.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    InvalidHandle(&'static str),
    #[error("Handle must end with one of: {0}")]
    UnsupportedDomain(String),
    #[error("{0}")]
    HandleNotAvailable(&'static str),
    #[error("{0}")]
    InvalidEmail(&'static str),
    #[error("{0}")]
    InvalidInviteCode(&'static str),
    /// A required or malformed input field.
    #[error("{0}")]
    InvalidInput(&'static str),
    #[error("Account not found")]
    NotFound,
    #[error("An account with this DID already exists on this server")]
    AlreadyExists,
    #[error("Token is invalid")]
    InvalidToken,
    #[error("Token is expired")]
    ExpiredToken,
    #[error("A confirmation code from the current email address is required")]
    TokenRequired,
    #[error("This server cannot send email (no SMTP server is configured); ask its operator")]
    EmailUnavailable,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Emit(#[from] EmitError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Plc(#[from] PlcError),
    #[error("hashing the password: {0}")]
    Password(String),
}

impl From<CodeError> for AccountError {
    fn from(e: CodeError) -> Self {
        match e {
            CodeError::Invalid => AccountError::InvalidToken,
            CodeError::Expired => AccountError::ExpiredToken,
            CodeError::Db(e) => AccountError::Db(e),
        }
    }
}
