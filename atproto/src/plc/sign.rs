//! Building, signing and verifying operations.

use super::PlcError;
use super::op::{Operation, PlcOp, Service, Tombstone, ensure_atproto_prefix, ensure_http_prefix};
use crate::crypto::{Keypair, PublicKey, parse_did_key};
use crate::data::Cid;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use indexmap::IndexMap;

impl Operation {
    /// An unsigned operation carrying the atproto fields: signing key `#atproto`, the handle
    /// as `at://` alias, and the PDS as service `#atproto_pds` (the reference
    /// `formatAtprotoOp`).
    pub fn atproto(
        signing_key: &PublicKey,
        handle: &str,
        pds: &str,
        rotation_keys: Vec<String>,
        prev: Option<&Cid>,
    ) -> Operation {
        Operation {
            rotation_keys,
            verification_methods: IndexMap::from([("atproto".to_owned(), signing_key.did_key())]),
            also_known_as: vec![ensure_atproto_prefix(handle)],
            services: IndexMap::from([(
                "atproto_pds".to_owned(),
                Service {
                    kind: "AtprotoPersonalDataServer".to_owned(),
                    endpoint: ensure_http_prefix(pds),
                },
            )]),
            prev: prev.map(Cid::to_string),
            sig: None,
        }
    }
}

impl PlcOp {
    /// Signs the operation's unsigned DAG-CBOR with `key` (ECDSA over SHA-256, low-S, 64-byte
    /// compact) and stores the signature as unpadded base64url. Any previous `sig` is replaced.
    pub fn signed(mut self, key: &Keypair) -> Result<PlcOp, PlcError> {
        let sig = key.sign(&self.unsigned_cbor()?);
        self.set_sig(Some(URL_SAFE_NO_PAD.encode(sig)));
        Ok(self)
    }
}

/// Signs a genesis operation and returns it with the DID it creates.
pub fn create_genesis(op: Operation, key: &Keypair) -> Result<(String, PlcOp), PlcError> {
    let op = PlcOp::Operation(Operation { prev: None, ..op }).signed(key)?;
    let did = op.did()?;
    Ok((did, op))
}

/// Builds and signs an update on top of `last`: its fields (legacy format converted) as the
/// starting point, changed by `edit`, with `prev` set to `last`'s CID.
pub fn update_op(
    last: &PlcOp,
    key: &Keypair,
    edit: impl FnOnce(&mut Operation),
) -> Result<PlcOp, PlcError> {
    let prev = last.cid()?;
    let mut next = last.normalize().ok_or(PlcError::Misordered)?;
    edit(&mut next);
    next.prev = Some(prev.to_string());
    next.sig = None;
    PlcOp::Operation(next).signed(key)
}

/// A signed tombstone whose `prev` is `prev`.
pub fn tombstone_op(prev: &Cid, key: &Keypair) -> Result<PlcOp, PlcError> {
    PlcOp::Tombstone(Tombstone {
        prev: prev.to_string(),
        sig: None,
    })
    .signed(key)
}

/// Decodes a `sig` field strictly: unpadded base64url with zero trailing bits, nothing else
/// (no padding, whitespace or standard-alphabet characters), so every signature has exactly
/// one spelling.
pub fn decode_sig(sig: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(sig).ok()
}

/// Checks `op`'s signature against each of `allowed` (did:key strings) in order and returns
/// the first key that verifies it (the reference `assureValidSig`).
///
/// Refused like the current reference: a missing or non-canonical base64url `sig`, DER
/// signatures, and high-S signatures. A key in `allowed` that does not parse verifies nothing.
pub fn verify_sig<'a>(op: &PlcOp, allowed: &'a [String]) -> Result<&'a str, PlcError> {
    let invalid = || PlcError::InvalidSignature(op.to_json().to_string());
    let sig = op.sig().and_then(decode_sig).ok_or_else(invalid)?;
    let data = op.unsigned_cbor()?;
    for did_key in allowed {
        let Ok(key) = parse_did_key(did_key) else {
            continue;
        };
        if key.verify(&data, &sig).is_ok() {
            return Ok(did_key);
        }
    }
    Err(invalid())
}
