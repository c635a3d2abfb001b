//! DID documents, read leniently, with the lookups atproto needs from them.

use super::IdentityError;
use crate::crypto::PublicKey;
use crate::syntax::{Did, Handle};
use serde::{Deserialize, Deserializer, Serialize};

/// A DID document. Unknown fields are ignored and optional ones default to empty, so
/// documents from any DID method load; only `id` is required (and must be a valid DID).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    #[serde(
        rename = "@context",
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub context: Vec<String>,
    pub id: Did,
    #[serde(default)]
    pub also_known_as: Vec<String>,
    #[serde(default)]
    pub verification_method: Vec<VerificationMethod>,
    #[serde(default)]
    pub service: Vec<DocService>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub controller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_multibase: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocService {
    pub id: String,
    /// DID Core allows a list of types; the first is kept.
    #[serde(rename = "type", default, deserialize_with = "first_of_one_or_many")]
    pub kind: String,
    /// A URL string for every atproto service; DID Core also allows maps and lists.
    #[serde(default)]
    pub service_endpoint: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<serde_json::Value>),
}

impl OneOrMany {
    fn strings(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            // Non-string entries (e.g. inline JSON-LD contexts) carry nothing atproto reads.
            OneOrMany::Many(v) => v
                .into_iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
        }
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(OneOrMany::deserialize(d)?.strings())
}

fn first_of_one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(OneOrMany::deserialize(d)?
        .strings()
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// The service type atproto requires for `#atproto_pds`.
pub const PDS_SERVICE_TYPE: &str = "AtprotoPersonalDataServer";

impl DidDocument {
    /// Whether a method or service `id` (`#name` or `{did}#name`) names fragment `name`.
    fn id_matches(&self, id: &str, fragment: &str) -> bool {
        match id.split_once('#') {
            Some((prefix, frag)) => {
                frag == fragment && (prefix.is_empty() || prefix == self.id.as_str())
            }
            None => false,
        }
    }

    /// The fragment a caller asked for, given as `name`, `#name` or `{did}#name`.
    fn fragment<'a>(&self, id: &'a str) -> &'a str {
        match id.split_once('#') {
            Some((_, frag)) => frag,
            None => id,
        }
    }

    /// The account's claimed handle: the first `at://` entry of `alsoKnownAs`, if it is a
    /// valid handle. Claimed only: confirm it resolves back to this DID before trusting it.
    pub fn handle(&self) -> Option<Handle> {
        let aka = self
            .also_known_as
            .iter()
            .find_map(|a| a.strip_prefix("at://"))?;
        aka.parse().ok()
    }

    /// The service entry with id `id` (`#atproto_labeler`, `atproto_labeler` or the form with
    /// the DID in front all match, on either side).
    pub fn service(&self, id: &str) -> Option<&DocService> {
        let fragment = self.fragment(id);
        self.service
            .iter()
            .find(|s| self.id_matches(&s.id, fragment))
    }

    /// The URL of service `id`, when it is a string.
    pub fn service_endpoint(&self, id: &str) -> Option<&str> {
        self.service(id)?.service_endpoint.as_str()
    }

    /// The account's PDS: service `#atproto_pds` of type `AtprotoPersonalDataServer`.
    pub fn pds_endpoint(&self) -> Option<&str> {
        let service = self.service("atproto_pds")?;
        if service.kind != PDS_SERVICE_TYPE {
            return None;
        }
        service.service_endpoint.as_str()
    }

    /// The verification method with id `id` (same matching as [`DidDocument::service`]).
    pub fn verification_method(&self, id: &str) -> Option<&VerificationMethod> {
        let fragment = self.fragment(id);
        self.verification_method
            .iter()
            .find(|m| self.id_matches(&m.id, fragment))
    }

    /// The repository signing key: verification method `#atproto`.
    pub fn signing_key(&self) -> Result<PublicKey, IdentityError> {
        let method = self
            .verification_method("atproto")
            .ok_or(IdentityError::NoSigningKey)?;
        let multibase = method
            .public_key_multibase
            .as_deref()
            .ok_or(IdentityError::NoSigningKey)?;
        Ok(PublicKey::from_verification_method(
            &method.kind,
            multibase,
        )?)
    }
}
