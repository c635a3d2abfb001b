//! The state an operation log arrives at, and its rendering as a DID document.

use super::PlcError;
use super::op::{PlcOp, Service};
use crate::crypto::{Algorithm, parse_did_key};
use crate::identity::{DidDocument, DocService, VerificationMethod};
use crate::syntax::Did;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// What `GET /{did}/data` serves: the DID and the fields of its latest operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentData {
    pub did: String,
    pub verification_methods: IndexMap<String, String>,
    pub rotation_keys: Vec<String>,
    pub also_known_as: Vec<String>,
    pub services: IndexMap<String, Service>,
}

const DID_CONTEXT: &str = "https://www.w3.org/ns/did/v1";
const MULTIKEY_CONTEXT: &str = "https://w3id.org/security/multikey/v1";
const P256_CONTEXT: &str = "https://w3id.org/security/suites/ecdsa-2019/v1";
const K256_CONTEXT: &str = "https://w3id.org/security/suites/secp256k1-2019/v1";

impl DocumentData {
    /// The state after `op`; `None` for a tombstone, which leaves no document.
    pub fn from_op(did: &str, op: &PlcOp) -> Option<DocumentData> {
        let op = op.normalize()?;
        Some(DocumentData {
            did: did.to_owned(),
            verification_methods: op.verification_methods,
            rotation_keys: op.rotation_keys,
            also_known_as: op.also_known_as,
            services: op.services,
        })
    }

    /// Renders the DID document the way the PLC directory serves it: `Multikey` verification
    /// methods with ids `{did}#{name}` and the did:key's multibase part verbatim, services with
    /// ids `#{name}`, both in the operation's order, and one suite context per key type used.
    pub fn to_did_document(&self) -> Result<DidDocument, PlcError> {
        let id: Did = self
            .did
            .parse()
            .map_err(|_| PlcError::ImproperDid("not a valid DID"))?;
        let mut context = vec![DID_CONTEXT.to_owned(), MULTIKEY_CONTEXT.to_owned()];
        let mut verification_method = Vec::with_capacity(self.verification_methods.len());
        for (name, key) in &self.verification_methods {
            let parsed = parse_did_key(key).map_err(|e| PlcError::UnsupportedKey {
                key: key.clone(),
                reason: e.to_string(),
            })?;
            let suite = match parsed.algorithm() {
                Algorithm::P256 => P256_CONTEXT,
                Algorithm::K256 => K256_CONTEXT,
            };
            if !context.iter().any(|c| c == suite) {
                context.push(suite.to_owned());
            }
            verification_method.push(VerificationMethod {
                id: format!("{}#{name}", self.did),
                kind: "Multikey".to_owned(),
                controller: self.did.clone(),
                public_key_multibase: Some(key.strip_prefix("did:key:").unwrap_or(key).to_owned()),
            });
        }
        let service = self
            .services
            .iter()
            .map(|(name, s)| DocService {
                id: format!("#{name}"),
                kind: s.kind.clone(),
                service_endpoint: serde_json::Value::String(s.endpoint.clone()),
            })
            .collect();
        Ok(DidDocument {
            context,
            id,
            also_known_as: self.also_known_as.clone(),
            verification_method,
            service,
        })
    }
}
