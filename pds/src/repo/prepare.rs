//! Turning a client's JSON record into a checked, encoded block, off the writer thread.

use atproto::data::{BlobRef, Cid, Ipld, blob, cbor, cid_for_cbor, json};
use atproto::lexicon::{Catalog, ValidationError};

/// Records larger than this (encoded) are refused, as the reference does.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Why a record was refused. Each message is what the client is shown.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("Invalid record: {0}")]
    Invalid(String),
    #[error("Record must be an object")]
    NotAnObject,
    #[error("Invalid $type: expected {expected}, got {got}")]
    WrongType { expected: String, got: String },
    #[error("Record is missing $type")]
    MissingType,
    #[error(
        "Public records may not reference members-only space content \
         (at:// URIs under /space/social.hearth.space/)"
    )]
    SpaceReference,
    #[error("Lexicon not found: lex:{0}")]
    UnknownLexicon(String),
    #[error("Record is {0} bytes; the limit is {MAX_RECORD_BYTES}")]
    TooLarge(usize),
    #[error("encoding the record: {0}")]
    Encode(String),
}

/// A record ready to commit.
#[derive(Debug, Clone)]
pub struct PreparedWrite {
    pub cid: Cid,
    pub bytes: Vec<u8>,
    pub blobs: Vec<BlobRef>,
    /// Whether the record was checked against a known lexicon.
    pub validated: bool,
}

/// Validates and encodes one record. `validate`: `Some(true)` requires a known lexicon and
/// validity; `Some(false)` skips the lexicon; `None` validates known types and lets unknown
/// collections through (the spec's default).
pub fn prepare_record(
    lexicons: &Catalog,
    collection: &str,
    rkey: &str,
    record: &serde_json::Value,
    validate: Option<bool>,
) -> Result<PreparedWrite, PrepareError> {
    let value = json::record_from_json(record).map_err(|e| PrepareError::Invalid(e.to_string()))?;
    let Ipld::Map(map) = &value else {
        return Err(PrepareError::NotAnObject);
    };
    match map.get("$type") {
        Some(Ipld::String(t)) if t == collection => {}
        Some(Ipld::String(t)) => {
            return Err(PrepareError::WrongType {
                expected: collection.to_owned(),
                got: t.clone(),
            });
        }
        _ => return Err(PrepareError::MissingType),
    }
    // Members-only spaces: nothing public may point into one (a reply, a quote, a like, a
    // link), or the private half would leak its identifiers and thread structure.
    if hearth_lexicons::references_space(&value) {
        return Err(PrepareError::SpaceReference);
    }
    let validated = match validate {
        Some(false) => false,
        _ => match lexicons.validate_record(collection, rkey, &value) {
            Ok(()) => true,
            Err(ValidationError::UnknownCollection(_)) if validate.is_none() => false,
            Err(ValidationError::UnknownCollection(_)) => {
                return Err(PrepareError::UnknownLexicon(collection.to_owned()));
            }
            Err(e) => return Err(PrepareError::Invalid(e.to_string())),
        },
    };
    let bytes = cbor::encode(&value).map_err(|e| PrepareError::Encode(e.to_string()))?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(PrepareError::TooLarge(bytes.len()));
    }
    Ok(PreparedWrite {
        cid: cid_for_cbor(&bytes),
        blobs: blob::collect(&value),
        bytes,
        validated,
    })
}
