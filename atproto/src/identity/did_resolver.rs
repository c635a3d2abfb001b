//! Resolving `did:plc` and `did:web` to DID documents, with a cache.

use super::IdentityError;
use super::cache::TtlCache;
use super::document::DidDocument;
use super::http::{client, get_capped};
use crate::syntax::Did;
use std::sync::Arc;
use std::time::Duration;

/// Real DID documents are a few KiB; this leaves generous room.
const MAX_DOC_BYTES: usize = 256 * 1024;

/// Where and how [`DidResolver`] looks DIDs up.
#[derive(Clone, Debug)]
pub struct DidResolverConfig {
    /// Base URL of the PLC directory, e.g. `https://plc.directory` or a local one.
    pub plc_url: String,
    /// Fetch every did:web over plain http (development only). `localhost` and `127.0.0.1`
    /// are always fetched over http.
    pub insecure_did_web: bool,
    /// Per-request time limit.
    pub timeout: Duration,
    /// How long a resolved document is served from memory.
    pub cache_ttl: Duration,
    pub cache_capacity: usize,
    /// How long a failed look-up is remembered: anyone can name any DID in a token or an
    /// event, and must not be able to make us ask the directory about it again and again.
    pub failure_ttl: Duration,
    /// The client for did:web documents. Anyone can name a did:web host, so a service gives
    /// its guarded client here (public addresses only, no redirects); unset, the resolver's
    /// own client is used, as for the PLC directory, which is the operator's choice.
    pub web_client: Option<reqwest::Client>,
    /// The client for the PLC directory: a service gives its operator client here, so a
    /// directory behind the operator's own CA is trusted; unset, the resolver's own client.
    pub plc_client: Option<reqwest::Client>,
}

impl Default for DidResolverConfig {
    fn default() -> Self {
        DidResolverConfig {
            plc_url: "https://plc.directory".to_owned(),
            insecure_did_web: false,
            timeout: Duration::from_secs(10),
            cache_ttl: Duration::from_secs(60 * 60),
            cache_capacity: 10_000,
            failure_ttl: Duration::from_secs(60),
            web_client: None,
            plc_client: None,
        }
    }
}

/// Resolves DIDs to documents; cheap to share behind an `Arc`.
pub struct DidResolver {
    config: DidResolverConfig,
    http: reqwest::Client,
    cache: TtlCache<Did, Arc<DidDocument>>,
    /// DIDs whose last look-up failed, and how.
    failed: TtlCache<Did, Failure>,
}

impl DidResolver {
    pub fn new(config: DidResolverConfig) -> Result<DidResolver, IdentityError> {
        Ok(DidResolver {
            http: client(config.timeout)?,
            cache: TtlCache::new(config.cache_ttl, config.cache_capacity),
            failed: TtlCache::new(config.failure_ttl, config.cache_capacity),
            config,
        })
    }

    pub fn config(&self) -> &DidResolverConfig {
        &self.config
    }

    /// The document for `did`, from the cache when fresh. A DID whose look-up failed within
    /// [`DidResolverConfig::failure_ttl`] fails again without a fetch.
    pub async fn resolve(&self, did: &Did) -> Result<Arc<DidDocument>, IdentityError> {
        if let Some(doc) = self.cached(did) {
            return Ok(doc);
        }
        if let Some(failure) = self.failed.get(did) {
            return Err(failure.error(did));
        }
        self.refresh(did).await
    }

    /// Like [`DidResolver::refresh`], but only if the cached document is at least `min_age`
    /// old (else the cached one), and never for a DID that failed recently. For callers that
    /// refresh on a bad signature, which anyone can cause with a forged token.
    pub async fn refresh_stale(
        &self,
        did: &Did,
        min_age: Duration,
    ) -> Result<Arc<DidDocument>, IdentityError> {
        if let Some((doc, age)) = self.cache.get_with_age(did)
            && age < min_age
        {
            return Ok(doc);
        }
        if let Some(failure) = self.failed.get(did) {
            return Err(failure.error(did));
        }
        self.refresh(did).await
    }

    /// The cached document for `did`, if fresh; never fetches. For callers off the async
    /// runtime that look up the same few documents constantly (a firehose consumer's workers)
    /// and would otherwise enter the runtime for every event.
    pub fn cached(&self, did: &Did) -> Option<Arc<DidDocument>> {
        self.cache.get(did)
    }

    /// Fetches the document for `did` now, bypassing and then updating the cache (use it
    /// when a signature fails to verify with the cached key, or after an identity event).
    pub async fn refresh(&self, did: &Did) -> Result<Arc<DidDocument>, IdentityError> {
        match self.fetch(did).await {
            Ok(doc) => {
                let doc = Arc::new(doc);
                self.failed.remove(did);
                self.cache.insert(did.clone(), doc.clone());
                Ok(doc)
            }
            Err(e) => {
                self.failed.insert(did.clone(), Failure::of(&e));
                // A DID that is gone must not keep resolving from memory.
                if matches!(
                    e,
                    IdentityError::DidNotFound(_) | IdentityError::DidDeactivated(_)
                ) {
                    self.cache.remove(did);
                }
                Err(e)
            }
        }
    }

    /// Drops what is known of `did`, its document and any recent failure to fetch it, so
    /// that the next look-up fetches (for when the document is known to have changed).
    pub fn forget(&self, did: &Did) {
        self.cache.remove(did);
        self.failed.remove(did);
    }

    async fn fetch(&self, did: &Did) -> Result<DidDocument, IdentityError> {
        let (url, http) = match did.method() {
            "plc" => (
                format!("{}/{}", self.config.plc_url.trim_end_matches('/'), did),
                self.config.plc_client.as_ref().unwrap_or(&self.http),
            ),
            "web" => (
                did_web_url(did, self.config.insecure_did_web)?,
                self.config.web_client.as_ref().unwrap_or(&self.http),
            ),
            other => return Err(IdentityError::UnsupportedMethod(other.to_owned())),
        };
        let accept = "application/did+ld+json, application/json";
        let (status, body) = get_capped(http, &url, accept, MAX_DOC_BYTES).await?;
        match status {
            200 => {}
            404 => return Err(IdentityError::DidNotFound(did.to_string())),
            410 => return Err(IdentityError::DidDeactivated(did.to_string())),
            status => return Err(IdentityError::HttpStatus { status, url }),
        }
        let doc: DidDocument = serde_json::from_slice(&body)
            .map_err(|e| IdentityError::InvalidDocument(e.to_string()))?;
        // A server (or a redirect) answering with someone else's document must not be able
        // to impersonate this DID.
        if doc.id != *did {
            return Err(IdentityError::DidMismatch {
                expected: did.to_string(),
                found: doc.id.to_string(),
            });
        }
        Ok(doc)
    }
}

/// A remembered failed look-up. A DID that is gone stays gone for callers that act on that
/// (an indexer drops its events); anything else says it failed recently.
#[derive(Clone)]
enum Failure {
    NotFound,
    Deactivated,
    Other(String),
}

impl Failure {
    fn of(e: &IdentityError) -> Failure {
        match e {
            IdentityError::DidNotFound(_) => Failure::NotFound,
            IdentityError::DidDeactivated(_) => Failure::Deactivated,
            other => Failure::Other(other.to_string()),
        }
    }

    fn error(&self, did: &Did) -> IdentityError {
        match self {
            Failure::NotFound => IdentityError::DidNotFound(did.to_string()),
            Failure::Deactivated => IdentityError::DidDeactivated(did.to_string()),
            Failure::Other(why) => IdentityError::RecentlyFailed(why.clone()),
        }
    }
}

/// The URL of a did:web document. atproto allows only host-level did:web (no path), with an
/// optional port written `%3A`: `did:web:localhost%3A8080` is
/// `http://localhost:8080/.well-known/did.json`. Plain http is used for `localhost` and
/// `127.0.0.1`, and for every host when `insecure` is set.
pub fn did_web_url(did: &Did, insecure: bool) -> Result<String, IdentityError> {
    let bad = |why: &str| IdentityError::InvalidDidWeb(format!("{did}: {why}"));
    if did.method() != "web" {
        return Err(IdentityError::UnsupportedMethod(did.method().to_owned()));
    }
    let id = did.identifier();
    if id.contains(':') {
        return Err(bad("paths are not supported in atproto"));
    }
    let decoded = id.replace("%3A", ":").replace("%3a", ":");
    let (host, port) = match decoded.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (decoded.as_str(), None),
    };
    let host_ok = !host.is_empty()
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if !host_ok {
        return Err(bad("not a hostname"));
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(bad("bad port"));
    }
    let host = host.to_ascii_lowercase();
    // URL parsers read a host whose last label is a number (`10.0.0.5`, `167772165`,
    // `0xa.0.0.5`) as an IPv4 address. Such a did:web would have us open a connection (and a
    // TLS handshake) to whatever address its author chose before any check of the peer, so
    // outside development it is refused here; real did:web hosts are domain names.
    let last = host.rsplit('.').next().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x");
    if numeric && !insecure {
        return Err(bad("an IP address, not a hostname"));
    }
    let scheme = if insecure || host == "localhost" || host == "127.0.0.1" {
        "http"
    } else {
        "https"
    };
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}/.well-known/did.json"),
        None => format!("{scheme}://{host}/.well-known/did.json"),
    })
}
