//! `did=<DID>` TXT records: `_atproto.<handle>` names a handle's DID, `_lexicon.<authority>`
//! the DID that publishes a lexicon namespace's schemas.

use super::IdentityError;
use crate::syntax::Did;
use hickory_resolver::TokioResolver;
use std::sync::OnceLock;

/// Looks up `did=` TXT records with the system's DNS configuration.
#[derive(Default)]
pub struct DidTxt {
    // Built on first use: reading the system resolver configuration is only worth doing
    // when a DNS lookup actually happens.
    resolver: OnceLock<Result<TokioResolver, String>>,
}

impl DidTxt {
    /// The distinct DIDs of `name`'s `did=` TXT records, in the order DNS gave them; empty
    /// when there is no such record (or no such name). Values that are not DIDs are skipped.
    pub async fn dids(&self, name: &str) -> Result<Vec<Did>, IdentityError> {
        let resolver = self
            .resolver
            .get_or_init(|| {
                TokioResolver::builder_tokio()
                    .map(|b| b.build())
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| IdentityError::Dns(e.clone()))?;
        // The trailing dot keeps search domains from being appended.
        let lookup = match resolver.txt_lookup(format!("{name}.")).await {
            Ok(lookup) => lookup,
            Err(e) if e.is_no_records_found() => return Ok(Vec::new()),
            Err(e) => return Err(IdentityError::Dns(e.to_string())),
        };
        let mut found: Vec<Did> = Vec::new();
        for record in lookup.iter() {
            // One TXT record may be split into several character-strings.
            let text: String = record
                .txt_data()
                .iter()
                .map(|part| String::from_utf8_lossy(part))
                .collect();
            let Some(value) = text.trim().strip_prefix("did=") else {
                continue;
            };
            let Ok(did) = value.parse::<Did>() else {
                continue;
            };
            if !found.contains(&did) {
                found.push(did);
            }
        }
        Ok(found)
    }
}
