//! Where the PDS's domain errors become XRPC errors: the one place that decides which name and
//! status a client sees. The names are the reference PDS's, so clients can tell a bad request
//! from a conflict (`InvalidSwap`) or a bad blob reference (`InvalidMimeType`, `InvalidSize`).

use crate::accounts::AccountError;
use crate::accounts::sessions::SessionError;
use crate::blobs::BlobError;
use crate::keys::KeyError;
use crate::plc_client::PlcError;
use crate::repo::import::ImportError;
use crate::repo::{CommitError, PrepareError};
use crate::sequencer::EmitError;
use axum::http::StatusCode;
use hearth_xrpc::XrpcError;

impl From<CommitError> for XrpcError {
    fn from(e: CommitError) -> Self {
        let message = e.to_string();
        match e {
            CommitError::RepoNotFound(_) => XrpcError::named("RepoNotFound", message),
            CommitError::CommitSwap(_)
            | CommitError::RecordSwap(_)
            | CommitError::RecordSwapAbsent => XrpcError::named("InvalidSwap", message),
            CommitError::DuplicatePath(_)
            | CommitError::RecordExists(_)
            | CommitError::KeyExists(_)
            | CommitError::RecordNotFound(_)
            | CommitError::InvalidPath(_)
            | CommitError::RecordRequired(_) => XrpcError::invalid_request(message),
            CommitError::BlobNotFound(_) => XrpcError::named("BlobNotFound", message),
            CommitError::BlobMimeType { .. } => XrpcError::named("InvalidMimeType", message),
            CommitError::BlobSize { .. } => XrpcError::named("InvalidSize", message),
            CommitError::TooLarge => XrpcError::payload_too_large(message),
            CommitError::Db(_)
            | CommitError::Key(_)
            | CommitError::Emit(_)
            | CommitError::Tree(_)
            | CommitError::Car(_) => XrpcError::internal(message),
        }
    }
}

impl From<AccountError> for XrpcError {
    fn from(e: AccountError) -> Self {
        let message = e.to_string();
        match e {
            AccountError::InvalidHandle(_) => XrpcError::named("InvalidHandle", message),
            AccountError::UnsupportedDomain(_) => XrpcError::named("UnsupportedDomain", message),
            AccountError::HandleNotAvailable(_) => XrpcError::named("HandleNotAvailable", message),
            AccountError::InvalidEmail(_) => XrpcError::named("InvalidEmail", message),
            AccountError::InvalidInviteCode(_) => XrpcError::named("InvalidInviteCode", message),
            AccountError::InvalidInput(_) => XrpcError::invalid_request(message),
            AccountError::NotFound => XrpcError::not_found("NotFound", message),
            AccountError::AlreadyExists => XrpcError::named("AlreadyExists", message),
            AccountError::InvalidToken => XrpcError::named("InvalidToken", message),
            AccountError::ExpiredToken => XrpcError::named("ExpiredToken", message),
            AccountError::TokenRequired => XrpcError::named("TokenRequired", message),
            // The server lacks the capability, whatever the request: 501, as for an
            // unimplemented method, named for what is missing.
            AccountError::EmailUnavailable => {
                XrpcError::new(StatusCode::NOT_IMPLEMENTED, "EmailNotConfigured", message)
            }
            AccountError::Commit(e) => e.into(),
            AccountError::Db(_)
            | AccountError::Emit(_)
            | AccountError::Plc(_)
            | AccountError::Password(_) => XrpcError::internal(message),
        }
    }
}

impl From<ImportError> for XrpcError {
    fn from(e: ImportError) -> Self {
        let message = e.to_string();
        match e {
            ImportError::WrongDid(_) | ImportError::Invalid(_) => {
                XrpcError::invalid_request(message)
            }
            ImportError::BadSignature => XrpcError::named("InvalidSignature", message),
            ImportError::TooLarge => XrpcError::payload_too_large(message),
            ImportError::NotDeactivated => XrpcError::named("AccountActive", message),
            ImportError::Db(_)
            | ImportError::Emit(_)
            | ImportError::Sign(_)
            | ImportError::Key(_) => XrpcError::internal(message),
        }
    }
}

impl From<SessionError> for XrpcError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Revoked | SessionError::AppPasswordRevoked => {
                XrpcError::invalid_token(e.to_string())
            }
            SessionError::Expired => XrpcError::expired_token(),
            SessionError::Db(e) => XrpcError::internal(e),
        }
    }
}

impl From<BlobError> for XrpcError {
    fn from(e: BlobError) -> Self {
        let message = e.to_string();
        match e {
            BlobError::Read(_) | BlobError::Empty => XrpcError::invalid_request(message),
            BlobError::TooLarge(_) => XrpcError::payload_too_large(message),
            BlobError::Io(_) | BlobError::Hash(_) | BlobError::Remote(_) => {
                XrpcError::internal(message)
            }
        }
    }
}

impl From<PrepareError> for XrpcError {
    fn from(e: PrepareError) -> Self {
        let message = e.to_string();
        match e {
            PrepareError::SpaceReference => XrpcError::named("SpaceReferenceNotAllowed", message),
            PrepareError::TooLarge(_) => XrpcError::payload_too_large(message),
            PrepareError::Encode(_) => XrpcError::internal(message),
            PrepareError::Invalid(_)
            | PrepareError::NotAnObject
            | PrepareError::WrongType { .. }
            | PrepareError::MissingType
            | PrepareError::UnknownLexicon(_) => XrpcError::invalid_request(message),
        }
    }
}

impl From<KeyError> for XrpcError {
    fn from(e: KeyError) -> Self {
        XrpcError::internal(e)
    }
}

impl From<PlcError> for XrpcError {
    fn from(e: PlcError) -> Self {
        XrpcError::internal(e)
    }
}

impl From<EmitError> for XrpcError {
    fn from(e: EmitError) -> Self {
        XrpcError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atproto::data::cid_for_cbor;
    use axum::http::StatusCode;

    /// Each domain error with the XRPC name and status a client sees for it.
    fn table() -> Vec<(XrpcError, &'static str, StatusCode)> {
        let cid = cid_for_cbor(b"\xa0");
        let bad = StatusCode::BAD_REQUEST;
        let internal = StatusCode::INTERNAL_SERVER_ERROR;
        vec![
            (
                CommitError::RepoNotFound("did:plc:x".into()).into(),
                "RepoNotFound",
                bad,
            ),
            (CommitError::CommitSwap(cid).into(), "InvalidSwap", bad),
            (CommitError::RecordSwap(cid).into(), "InvalidSwap", bad),
            (CommitError::RecordSwapAbsent.into(), "InvalidSwap", bad),
            (
                CommitError::DuplicatePath("a/b".into()).into(),
                "InvalidRequest",
                bad,
            ),
            (
                CommitError::RecordExists("a/b".into()).into(),
                "InvalidRequest",
                bad,
            ),
            (
                CommitError::KeyExists("a/b".into()).into(),
                "InvalidRequest",
                bad,
            ),
            (
                CommitError::RecordNotFound("a/b".into()).into(),
                "InvalidRequest",
                bad,
            ),
            (
                CommitError::InvalidPath("a/b".into()).into(),
                "InvalidRequest",
                bad,
            ),
            (
                CommitError::RecordRequired("a/b".into()).into(),
                "InvalidRequest",
                bad,
            ),
            (CommitError::BlobNotFound(cid).into(), "BlobNotFound", bad),
            (
                CommitError::BlobMimeType {
                    stored: "image/png".into(),
                    declared: "image/jpeg".into(),
                }
                .into(),
                "InvalidMimeType",
                bad,
            ),
            (
                CommitError::BlobSize {
                    stored: 1,
                    declared: 2,
                }
                .into(),
                "InvalidSize",
                bad,
            ),
            (
                CommitError::TooLarge.into(),
                "PayloadTooLarge",
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                CommitError::Car("x".into()).into(),
                "InternalServerError",
                internal,
            ),
            (
                AccountError::InvalidHandle("x").into(),
                "InvalidHandle",
                bad,
            ),
            (
                AccountError::UnsupportedDomain(".test".into()).into(),
                "UnsupportedDomain",
                bad,
            ),
            (
                AccountError::HandleNotAvailable("x").into(),
                "HandleNotAvailable",
                bad,
            ),
            (AccountError::InvalidEmail("x").into(), "InvalidEmail", bad),
            (
                AccountError::InvalidInviteCode("x").into(),
                "InvalidInviteCode",
                bad,
            ),
            (
                AccountError::InvalidInput("x").into(),
                "InvalidRequest",
                bad,
            ),
            (
                AccountError::NotFound.into(),
                "NotFound",
                StatusCode::NOT_FOUND,
            ),
            (AccountError::InvalidToken.into(), "InvalidToken", bad),
            (AccountError::ExpiredToken.into(), "ExpiredToken", bad),
            (AccountError::TokenRequired.into(), "TokenRequired", bad),
            (
                AccountError::EmailUnavailable.into(),
                "EmailNotConfigured",
                StatusCode::NOT_IMPLEMENTED,
            ),
            (
                AccountError::Commit(CommitError::TooLarge).into(),
                "PayloadTooLarge",
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                AccountError::Password("x".into()).into(),
                "InternalServerError",
                internal,
            ),
            (
                PrepareError::SpaceReference.into(),
                "SpaceReferenceNotAllowed",
                bad,
            ),
            (PrepareError::MissingType.into(), "InvalidRequest", bad),
            (
                PrepareError::UnknownLexicon("a.b.c".into()).into(),
                "InvalidRequest",
                bad,
            ),
            (
                PrepareError::TooLarge(2_000_000).into(),
                "PayloadTooLarge",
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (SessionError::Revoked.into(), "InvalidToken", bad),
            (SessionError::AppPasswordRevoked.into(), "InvalidToken", bad),
            (SessionError::Expired.into(), "ExpiredToken", bad),
            (BlobError::Read("x".into()).into(), "InvalidRequest", bad),
            (BlobError::Empty.into(), "InvalidRequest", bad),
            (
                BlobError::TooLarge(5).into(),
                "PayloadTooLarge",
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                BlobError::Io(std::io::Error::other("x")).into(),
                "InternalServerError",
                internal,
            ),
            (KeyError::Missing(1).into(), "InternalServerError", internal),
            (
                EmitError::Encode("x".into()).into(),
                "InternalServerError",
                internal,
            ),
        ]
    }

    #[test]
    fn each_domain_error_has_its_xrpc_name_and_status() {
        for (err, name, status) in table() {
            assert_eq!((err.error.as_str(), err.status), (name, status), "{err}");
        }
    }

    #[test]
    fn messages_clients_rely_on_are_unchanged() {
        let cid = cid_for_cbor(b"\xa0");
        let cases: Vec<(XrpcError, String)> = vec![
            (
                CommitError::RepoNotFound("did:plc:x".into()).into(),
                "Could not find repo: did:plc:x".into(),
            ),
            (
                CommitError::CommitSwap(cid).into(),
                format!("Commit was at {cid}"),
            ),
            (
                CommitError::RecordSwapAbsent.into(),
                "Record was not present".into(),
            ),
            (
                CommitError::RecordExists("a/b".into()).into(),
                "Record already exists at a/b".into(),
            ),
            (
                CommitError::BlobSize {
                    stored: 1,
                    declared: 2,
                }
                .into(),
                "Referenced Size does not match stored blob. Expected: 1, Got: 2".into(),
            ),
            (
                BlobError::TooLarge(5).into(),
                "Blob is larger than the limit of 5 bytes".into(),
            ),
            (BlobError::Empty.into(), "Blob is empty".into()),
            (
                SessionError::Revoked.into(),
                "Token has been revoked".into(),
            ),
            (SessionError::Expired.into(), "Token has expired".into()),
            (
                PrepareError::SpaceReference.into(),
                "Public records may not reference members-only space content (at:// URIs under /space/social.hearth.space/)".into(),
            ),
            (
                PrepareError::WrongType {
                    expected: "a.b.c".into(),
                    got: "x.y.z".into(),
                }
                .into(),
                "Invalid $type: expected a.b.c, got x.y.z".into(),
            ),
            (
                AccountError::UnsupportedDomain(".a.test, .b.test".into()).into(),
                "Handle must end with one of: .a.test, .b.test".into(),
            ),
            // Internal detail never reaches the client.
            (
                CommitError::Car("secret path".into()).into(),
                "Internal Server Error".into(),
            ),
        ];
        for (err, message) in cases {
            assert_eq!(err.message, message);
        }
    }
}
