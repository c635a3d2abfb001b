//! Turning a client's JSON record into a checked, encoded block, off the writer thread.

use atproto::data::{BlobRef, Cid, Ipld, blob, cbor, cid_for_cbor, json};
use atproto::lexicon::{Catalog, ValidationError};
use hearth_xrpc::XrpcError;

/// Records larger than this (encoded) are refused, as the reference does.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

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
) -> Result<PreparedWrite, XrpcError> {
    let value = json::record_from_json(record)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid record: {e}")))?;
    let Ipld::Map(map) = &value else {
        return Err(XrpcError::invalid_request("Record must be an object"));
    };
    match map.get("$type") {
        Some(Ipld::String(t)) if t == collection => {}
        Some(Ipld::String(t)) => {
            return Err(XrpcError::invalid_request(format!(
                "Invalid $type: expected {collection}, got {t}"
            )));
        }
        _ => return Err(XrpcError::invalid_request("Record is missing $type")),
    }
    // Members-only spaces: nothing public may point into one (a reply, a quote, a like, a
    // link), or the private half would leak its identifiers and thread structure.
    if hearth_lexicons::references_space(&value) {
        return Err(XrpcError::named(
            "SpaceReferenceNotAllowed",
            "Public records may not reference members-only space content \
             (at:// URIs under /space/social.hearth.space/)",
        ));
    }
    let validated = match validate {
        Some(false) => false,
        _ => match lexicons.validate_record(collection, rkey, &value) {
            Ok(()) => true,
            Err(ValidationError::UnknownCollection(_)) if validate.is_none() => false,
            Err(ValidationError::UnknownCollection(_)) => {
                return Err(XrpcError::invalid_request(format!(
                    "Lexicon not found: lex:{collection}"
                )));
            }
            Err(e) => return Err(XrpcError::invalid_request(format!("Invalid record: {e}"))),
        },
    };
    let bytes = cbor::encode(&value).map_err(XrpcError::internal)?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(XrpcError::payload_too_large(format!(
            "Record is {} bytes; the limit is {MAX_RECORD_BYTES}",
            bytes.len()
        )));
    }
    Ok(PreparedWrite {
        cid: cid_for_cbor(&bytes),
        blobs: blob::collect(&value),
        bytes,
        validated,
    })
}
