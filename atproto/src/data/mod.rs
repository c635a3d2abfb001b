//! The atproto data model: values, their DAG-CBOR and JSON encodings, and content identifiers.
//!
//! A value is an [`Ipld`] tree (from `ipld-core`, the IPLD community's shared type), so that
//! blocks decoded here can be handed to any IPLD tooling without conversion. DAG-CBOR goes
//! through `serde_ipld_dagcbor`, which sorts map keys canonically when encoding and refuses
//! non-DAG-CBOR constructs (tags other than 42, indefinite lengths, undefined) when decoding.
//! The atproto-specific rules on top of plain DAG-CBOR (no floats, `$type`, blob shape) are
//! enforced in [`validate`].

pub mod blob;
pub mod cbor;
pub mod cid;
pub mod json;
pub mod validate;

pub use self::blob::BlobRef;
pub use self::cid::{
    CBOR_CODEC, RAW_CODEC, cid_for_cbor, cid_for_raw, cid_from_bytes, cid_from_str, parse_cid,
};
pub use ::cid::Cid;
pub use ipld_core::ipld::Ipld;

/// Why a value is not valid atproto data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DataError {
    #[error("invalid DAG-CBOR: {0}")]
    Cbor(String),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("floating-point numbers are not allowed in atproto data")]
    Float,
    #[error("integer out of range")]
    IntegerRange,
    #[error("invalid $link: {0}")]
    Link(String),
    #[error("invalid $bytes: {0}")]
    Bytes(String),
    #[error("invalid $type: {0}")]
    Type(String),
    #[error("invalid blob: {0}")]
    Blob(String),
    #[error("a record must be an object")]
    NotObject,
    #[error("invalid CID: {0}")]
    Cid(String),
    #[error("data nested too deeply")]
    TooDeep,
}

/// Nesting beyond this is refused: it stops stack exhaustion from hostile input, and no
/// legitimate record comes near it (the reference caps lexicon depth far lower).
pub const MAX_DEPTH: usize = 128;
