//! The three operation shapes, their DAG-CBOR bytes, CIDs and the DID a genesis op names.

use super::PlcError;
use crate::data::{Cid, cbor, cid_for_cbor};
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// Length of the identifier part of a `did:plc` (after `did:plc:`).
pub const DID_PLC_ID_LEN: usize = 24;

/// A service entry of a `plc_operation`: `{type, endpoint}`.
///
/// Unknown fields are dropped rather than refused: the reference server's schema strips them
/// here (only the operation object itself is strict).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    #[serde(rename = "type")]
    pub kind: String,
    pub endpoint: String,
}

/// A regular create or update operation.
///
/// Maps are [`IndexMap`]s because the DID document lists verification methods and services in
/// the order the operation wrote them; DAG-CBOR encoding sorts keys regardless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    pub rotation_keys: Vec<String>,
    pub verification_methods: IndexMap<String, String>,
    pub also_known_as: Vec<String>,
    pub services: IndexMap<String, Service>,
    /// CID string of the previous operation; `None` (JSON `null`, which must be present) on a
    /// genesis operation.
    #[serde(deserialize_with = "present_nullable")]
    pub prev: Option<String>,
    /// base64url signature; `None` only while unsigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// Deactivates the DID for good (unless a recovery nullifies it in time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    pub prev: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// The deprecated genesis format (`type: "create"`), still found at the start of old logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyCreate {
    pub signing_key: String,
    pub recovery_key: String,
    pub handle: String,
    pub service: String,
    /// Always `null`.
    pub prev: (),
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

/// Any operation a PLC log can hold, tagged by its `type` field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PlcOp {
    #[serde(rename = "plc_operation")]
    Operation(Operation),
    #[serde(rename = "plc_tombstone")]
    Tombstone(Tombstone),
    #[serde(rename = "create")]
    LegacyCreate(LegacyCreate),
}

/// `Option<T>` that must be present (possibly `null`): zod's `.nullable()`, not `.optional()`.
/// A field with `deserialize_with` loses serde's "missing means None" default, which is the point.
fn present_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

impl From<Operation> for PlcOp {
    fn from(op: Operation) -> Self {
        PlcOp::Operation(op)
    }
}

impl From<Tombstone> for PlcOp {
    fn from(op: Tombstone) -> Self {
        PlcOp::Tombstone(op)
    }
}

impl From<LegacyCreate> for PlcOp {
    fn from(op: LegacyCreate) -> Self {
        PlcOp::LegacyCreate(op)
    }
}

impl PlcOp {
    /// Parses the JSON form from a value. `serde_json::Value` sorts object keys, so the
    /// order of `verificationMethods` and `services` (and so of the DID document's lists) is
    /// lost; parse the text with [`PlcOp::from_json_bytes`] where that order matters.
    pub fn from_json(value: &serde_json::Value) -> Result<PlcOp, PlcError> {
        PlcOp::deserialize(value).map_err(|e| PlcError::Malformed(e.to_string()))
    }

    /// Parses JSON text, keeping map entries in written order.
    pub fn from_json_bytes(json: &[u8]) -> Result<PlcOp, PlcError> {
        serde_json::from_slice(json).map_err(|e| PlcError::Malformed(e.to_string()))
    }

    /// The JSON form as a value (object keys sorted).
    pub fn to_json(&self) -> serde_json::Value {
        // Every field is a string, list, map or null, which JSON always represents.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The JSON text, fields and map entries in order, as logs and the HTTP API carry it.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            PlcOp::Operation(_) => "plc_operation",
            PlcOp::Tombstone(_) => "plc_tombstone",
            PlcOp::LegacyCreate(_) => "create",
        }
    }

    pub fn sig(&self) -> Option<&str> {
        match self {
            PlcOp::Operation(o) => o.sig.as_deref(),
            PlcOp::Tombstone(o) => o.sig.as_deref(),
            PlcOp::LegacyCreate(o) => o.sig.as_deref(),
        }
    }

    pub(crate) fn set_sig(&mut self, sig: Option<String>) {
        match self {
            PlcOp::Operation(o) => o.sig = sig,
            PlcOp::Tombstone(o) => o.sig = sig,
            PlcOp::LegacyCreate(o) => o.sig = sig,
        }
    }

    /// The `prev` CID string; `None` for a genesis operation.
    pub fn prev(&self) -> Option<&str> {
        match self {
            PlcOp::Operation(o) => o.prev.as_deref(),
            PlcOp::Tombstone(o) => Some(&o.prev),
            PlcOp::LegacyCreate(_) => None,
        }
    }

    pub fn is_tombstone(&self) -> bool {
        matches!(self, PlcOp::Tombstone(_))
    }

    /// DAG-CBOR of the operation as it stands (with `sig` if signed).
    pub fn to_cbor(&self) -> Result<Vec<u8>, PlcError> {
        cbor::to_vec(self).map_err(|e| PlcError::Encoding(e.to_string()))
    }

    /// DAG-CBOR of the operation without its `sig` field: the bytes a signature covers.
    pub fn unsigned_cbor(&self) -> Result<Vec<u8>, PlcError> {
        let mut unsigned = self.clone();
        unsigned.set_sig(None);
        unsigned.to_cbor()
    }

    /// The CID other operations name in `prev`: CIDv1, dag-cbor, sha-256 of the signed op.
    pub fn cid(&self) -> Result<Cid, PlcError> {
        Ok(cid_for_cbor(&self.to_cbor()?))
    }

    /// The DID this operation would create: `did:plc:` + the first 24 base32 characters of
    /// SHA-256 over the signed operation's DAG-CBOR.
    pub fn did(&self) -> Result<String, PlcError> {
        self.did_with_len(DID_PLC_ID_LEN)
    }

    /// Like [`PlcOp::did`], keeping `len` characters of the hash (at most 52, the whole
    /// hash). The server accepts any DID that is a prefix of the full-length one.
    pub fn did_with_len(&self, len: usize) -> Result<String, PlcError> {
        let hash = Sha256::digest(self.to_cbor()?);
        let b32 = multibase::encode(multibase::Base::Base32Lower, hash);
        // Strip the multibase prefix `b`; what is left is RFC 4648 base32, lowercase, unpadded.
        let b32 = b32.get(1..).unwrap_or_default();
        let end = len.min(b32.len());
        Ok(format!("did:plc:{}", &b32[..end]))
    }

    /// The legacy format converted to a regular operation, as the reference library does
    /// (rotation keys `[recoveryKey, signingKey]`, `at://` and `https://` prefixes added). Other
    /// operations are returned unchanged; tombstones have no regular form.
    pub fn normalize(&self) -> Option<Operation> {
        match self {
            PlcOp::Operation(o) => Some(o.clone()),
            PlcOp::Tombstone(_) => None,
            PlcOp::LegacyCreate(l) => Some(Operation {
                rotation_keys: vec![l.recovery_key.clone(), l.signing_key.clone()],
                verification_methods: IndexMap::from([(
                    "atproto".to_owned(),
                    l.signing_key.clone(),
                )]),
                also_known_as: vec![ensure_atproto_prefix(&l.handle)],
                services: IndexMap::from([(
                    "atproto_pds".to_owned(),
                    Service {
                        kind: "AtprotoPersonalDataServer".to_owned(),
                        endpoint: ensure_http_prefix(&l.service),
                    },
                )]),
                prev: None,
                sig: l.sig.clone(),
            }),
        }
    }
}

/// `https://` unless the string already names http or https (the reference library's rule).
pub fn ensure_http_prefix(s: &str) -> String {
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_owned()
    } else {
        format!("https://{s}")
    }
}

/// `at://` + the handle, dropping a mistaken http(s) scheme (the reference library's rule).
pub fn ensure_atproto_prefix(s: &str) -> String {
    if s.starts_with("at://") {
        return s.to_owned();
    }
    // JavaScript's `replace` with a string pattern swaps the first occurrence only.
    let stripped = s.replacen("http://", "", 1).replacen("https://", "", 1);
    format!("at://{stripped}")
}
