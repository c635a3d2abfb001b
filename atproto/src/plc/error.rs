//! Why an operation or a log was refused.

/// A refusal. The messages follow the reference server's where it has one, so a client sees
/// the same reasons from Hearth's directory as from plc.directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlcError {
    /// Not an operation of an accepted shape (wrong type, missing or extra fields, no `sig`).
    #[error("Not a valid operation: {0}")]
    Malformed(String),
    #[error(
        "Operation too large ({} bytes maximum in cbor encoding)",
        super::MAX_OP_BYTES
    )]
    TooLarge,
    /// One of the directory's size limits on an incoming operation.
    #[error("{0}")]
    Limit(String),
    #[error("Improperly formatted operation, {0}")]
    ImproperOperation(&'static str),
    /// `prev` names no operation that may be built on (absent, unknown, nullified, or a
    /// tombstone).
    #[error("Operations not correctly ordered")]
    Misordered,
    /// A fork attempted after the recovery window; the payload is the elapsed milliseconds.
    #[error(
        "Recovery operation occurred outside of the allowed 72 hr recovery window. Time lapsed: {0}"
    )]
    LateRecovery(i64),
    /// The genesis hash does not give the DID; the payload is the full-length DID it gives.
    #[error("Hash of genesis operation does not match DID identifier: {0}")]
    GenesisHash(String),
    /// No allowed key verifies the signature; the payload is the operation's JSON.
    #[error("Invalid signature on op: {0}")]
    InvalidSignature(String),
    #[error("Unsupported key type {key}: {reason}")]
    UnsupportedKey { key: String, reason: String },
    #[error("Improperly formatted did: {0}")]
    ImproperDid(&'static str),
    /// `prev` is not a CID at all. The reference server answers this with a 500, not a 400.
    #[error("invalid CID in prev: {0}")]
    BadPrev(String),
    #[error("{0}")]
    RateLimited(String),
    #[error("could not encode operation: {0}")]
    Encoding(String),
    /// An audit log whose entries do not match what the directory would have recorded.
    #[error("invalid audit log: {0}")]
    AuditLog(String),
}
