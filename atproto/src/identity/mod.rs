//! Identity: DID documents, and resolving DIDs and handles over the network.
//!
//! - [`DidDocument`] reads any DID document and answers what atproto asks of it (handle, PDS,
//!   other services, signing key).
//! - [`DidResolver`] fetches documents for `did:plc` (from a PLC directory) and `did:web`
//!   (from `/.well-known/did.json`) and caches them for a while.
//! - [`HandleResolver`] maps a handle to a DID by DNS TXT (`_atproto.{handle}`), then by
//!   HTTPS (`/.well-known/atproto-did`).
//! - [`DidTxt`] reads `did=` TXT records (`_atproto.<handle>`, `_lexicon.<authority>`).
//!
//! Both resolvers are HTTP clients only; serving these documents is the services' business.

mod cache;
mod did_resolver;
mod dns;
mod document;
mod handle_resolver;
mod http;

#[cfg(test)]
mod tests;

pub use did_resolver::{DidResolver, DidResolverConfig, did_web_url};
pub use dns::DidTxt;
pub use document::{DidDocument, DocService, PDS_SERVICE_TYPE, VerificationMethod};
pub use handle_resolver::HandleResolver;

use crate::crypto::CryptoError;

/// Why an identity could not be resolved or used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("unsupported DID method: {0}")]
    UnsupportedMethod(String),
    #[error("invalid did:web: {0}")]
    InvalidDidWeb(String),
    #[error("DID not found: {0}")]
    DidNotFound(String),
    /// The DID existed but was deactivated (a PLC tombstone, or HTTP 410).
    #[error("DID deactivated: {0}")]
    DidDeactivated(String),
    #[error("document id {found} does not match the requested DID {expected}")]
    DidMismatch { expected: String, found: String },
    #[error("handle not found: {0}")]
    HandleNotFound(String),
    #[error("handle {handle} has several DIDs in DNS")]
    AmbiguousHandle { handle: String },
    #[error("handle TLD is not allowed: {0}")]
    DisallowedTld(String),
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    #[error("the document has no #atproto signing key")]
    NoSigningKey,
    #[error("signing key: {0}")]
    Key(#[from] CryptoError),
    #[error("HTTP {status} from {url}")]
    HttpStatus { status: u16, url: String },
    #[error("response from {0} is too large")]
    TooLarge(String),
    #[error("network: {0}")]
    Network(String),
    #[error("DNS: {0}")]
    Dns(String),
    #[error("resolver setup: {0}")]
    Setup(String),
    /// The last look-up of this DID failed moments ago; it is not tried again yet.
    #[error("resolution failed recently: {0}")]
    RecentlyFailed(String),
}
