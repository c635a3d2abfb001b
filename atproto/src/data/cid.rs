//! Content identifiers as atproto uses them: CIDv1, SHA-256, DAG-CBOR for data, raw for blobs.

use super::DataError;
use ::cid::Cid;
use ::cid::multihash::Multihash;
use sha2::{Digest, Sha256};

/// Multicodec code for DAG-CBOR.
pub const CBOR_CODEC: u64 = 0x71;
/// Multicodec code for raw bytes (blobs).
pub const RAW_CODEC: u64 = 0x55;
const SHA2_256: u64 = 0x12;

fn cid_v1(codec: u64, bytes: &[u8]) -> Cid {
    let digest = Sha256::digest(bytes);
    // A 32-byte digest always fits a 64-byte multihash, so `wrap` cannot fail here.
    let mh = Multihash::<64>::wrap(SHA2_256, &digest).unwrap_or_default();
    Cid::new_v1(codec, mh)
}

/// The CID of a DAG-CBOR block.
pub fn cid_for_cbor(bytes: &[u8]) -> Cid {
    cid_v1(CBOR_CODEC, bytes)
}

/// The CID of a blob's raw bytes.
pub fn cid_for_raw(bytes: &[u8]) -> Cid {
    cid_v1(RAW_CODEC, bytes)
}

/// Parses a CID string, accepting only what atproto allows in data: CIDv1 with the DAG-CBOR or
/// raw codec and a SHA-256 hash. (CIDv0 appears nowhere in atproto data.)
pub fn parse_cid(s: &str) -> Result<Cid, DataError> {
    let cid = cid_from_str(s)?;
    check_cid(&cid)?;
    Ok(cid)
}

/// Decodes a binary CID that fills `bytes` exactly, of any version and codec. The `cid`
/// crate's own parsers stop after the hash and ignore what follows, so two different inputs
/// would read as one CID.
pub fn cid_from_bytes(bytes: &[u8]) -> Result<Cid, DataError> {
    let mut rest = bytes;
    let cid = Cid::read_bytes(&mut rest).map_err(|e| DataError::Cid(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DataError::Cid("bytes after the hash".into()));
    }
    Ok(cid)
}

/// Decodes a multibase CID string, of any version and codec, with nothing after the hash
/// (and none of the `cid` crate's leniency for an `/ipfs/` path around it).
pub fn cid_from_str(s: &str) -> Result<Cid, DataError> {
    let bad = |e: &dyn std::fmt::Display| DataError::Cid(e.to_string());
    // A legacy CIDv0 string is bare base58btc, with no multibase prefix.
    let bytes = if s.len() == 46 && s.starts_with("Qm") {
        multibase::Base::Base58Btc.decode(s).map_err(|e| bad(&e))?
    } else {
        multibase::decode(s).map_err(|e| bad(&e))?.1
    };
    cid_from_bytes(&bytes)
}

/// Checks a decoded CID against the atproto "blessed" formats.
pub fn check_cid(cid: &Cid) -> Result<(), DataError> {
    if cid.version() != ::cid::Version::V1 {
        return Err(DataError::Cid("only CIDv1 is allowed".into()));
    }
    if cid.codec() != CBOR_CODEC && cid.codec() != RAW_CODEC {
        return Err(DataError::Cid(format!(
            "unsupported codec 0x{:x}",
            cid.codec()
        )));
    }
    if cid.hash().code() != SHA2_256 || cid.hash().size() != 32 {
        return Err(DataError::Cid("hash must be SHA-256".into()));
    }
    Ok(())
}
