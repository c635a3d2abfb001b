//! Resolving handles to DIDs: DNS TXT `_atproto.{handle}`, then HTTPS
//! `/.well-known/atproto-did`.

use super::IdentityError;
use super::dns::DidTxt;
use super::http::{client, get_capped};
use crate::syntax::handle::INVALID_HANDLE;
use crate::syntax::{Did, Handle};
use std::collections::HashMap;
use std::time::Duration;

/// A DID is at most 2048 characters; allow a little whitespace around it.
const MAX_WELL_KNOWN_BYTES: usize = 4096;

/// Where a handle is looked up instead of the network, for tests and local setups.
#[derive(Clone, Debug)]
enum Override {
    /// Fetch `{base}/.well-known/atproto-did` (e.g. a local HTTP server) instead of
    /// `https://{handle}/...`.
    WellKnownBase(String),
    /// Answer with this DID, as if DNS said so.
    Did(Did),
}

/// Maps handles to the DIDs they claim. The answer is only the handle's side of the
/// bidirectional check: callers must still see the DID document name the handle.
pub struct HandleResolver {
    http: reqwest::Client,
    dns_enabled: bool,
    dns: DidTxt,
    overrides: HashMap<String, Override>,
    /// Services asked first, in order, with `com.atproto.identity.resolveHandle` (see
    /// [`HandleResolver::with_xrpc_resolver`]).
    xrpc: Vec<String>,
}

impl HandleResolver {
    pub fn new(timeout: Duration) -> Result<HandleResolver, IdentityError> {
        Ok(HandleResolver {
            http: client(timeout)?,
            dns_enabled: true,
            dns: DidTxt::default(),
            overrides: HashMap::new(),
            xrpc: Vec::new(),
        })
    }

    /// Fetches `/.well-known/atproto-did` with `http`: a handle names any host, so a service
    /// gives its guarded client here (public addresses only, no redirects).
    pub fn with_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Skips the DNS step (machines without DNS, tests).
    pub fn without_dns(mut self) -> Self {
        self.dns_enabled = false;
        self
    }

    /// Resolves `handle` through `{base_url}/.well-known/atproto-did` (http allowed), e.g. a
    /// test server on 127.0.0.1, and skips DNS for it.
    pub fn with_well_known_base(mut self, handle: &str, base_url: &str) -> Self {
        self.overrides.insert(
            handle.to_ascii_lowercase(),
            Override::WellKnownBase(base_url.trim_end_matches('/').to_owned()),
        );
        self
    }

    /// Asks the service at `base_url` (`com.atproto.identity.resolveHandle`) first, as the
    /// official OAuth client asks its handle resolver; DNS and the well-known endpoint are still
    /// tried when it has no answer. Its answer is one side of the check like any other: the DID
    /// document must still name the handle. Called again, adds another service, asked after
    /// the ones before it.
    pub fn with_xrpc_resolver(mut self, base_url: &str) -> Self {
        self.xrpc.push(base_url.trim_end_matches('/').to_owned());
        self
    }

    /// Resolves `handle` to `did` without any lookup.
    pub fn with_static_did(mut self, handle: &str, did: Did) -> Self {
        self.overrides
            .insert(handle.to_ascii_lowercase(), Override::Did(did));
        self
    }

    /// The DID `handle` claims: from DNS if a `did=` TXT record exists, otherwise from the
    /// well-known HTTPS endpoint.
    pub async fn resolve(&self, handle: &Handle) -> Result<Did, IdentityError> {
        let name = handle.as_str().to_ascii_lowercase();
        match self.overrides.get(&name) {
            Some(Override::Did(did)) => return Ok(did.clone()),
            Some(Override::WellKnownBase(base)) => {
                return self
                    .well_known(&format!("{base}/.well-known/atproto-did"))
                    .await?
                    .ok_or(IdentityError::HandleNotFound(name));
            }
            None => {}
        }
        if name == INVALID_HANDLE || !handle.allowed_tld() {
            return Err(IdentityError::DisallowedTld(name));
        }
        for base in &self.xrpc {
            if let Some(did) = self.ask_xrpc(base, &name).await? {
                return Ok(did);
            }
        }
        if self.dns_enabled {
            match self.resolve_dns(&name).await {
                Ok(Some(did)) => return Ok(did),
                // Several different DIDs is a broken setup, not a reason to ask HTTPS.
                Err(e @ IdentityError::AmbiguousHandle { .. }) => return Err(e),
                // No record, or DNS unreachable: the HTTPS method may still answer.
                Ok(None) | Err(_) => {}
            }
        }
        self.well_known(&format!("https://{name}/.well-known/atproto-did"))
            .await?
            .ok_or(IdentityError::HandleNotFound(name))
    }

    /// The DID in `_atproto.{handle}`'s `did=` TXT record, if there is exactly one.
    pub async fn resolve_dns(&self, handle: &str) -> Result<Option<Did>, IdentityError> {
        let mut dids = self.dns.dids(&format!("_atproto.{handle}")).await?;
        match dids.len() {
            0 | 1 => Ok(dids.pop()),
            _ => Err(IdentityError::AmbiguousHandle {
                handle: handle.to_owned(),
            }),
        }
    }

    async fn ask_xrpc(&self, base: &str, handle: &str) -> Result<Option<Did>, IdentityError> {
        #[derive(serde::Deserialize)]
        struct Answer {
            did: String,
        }
        // Handles are checked syntax (letters, digits, dots, hyphens): nothing to escape.
        let url = format!("{base}/xrpc/com.atproto.identity.resolveHandle?handle={handle}");
        let (status, body) =
            match get_capped(&self.http, &url, "application/json", MAX_WELL_KNOWN_BYTES).await {
                Ok(r) => r,
                Err(IdentityError::Network(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
        if status != 200 {
            return Ok(None);
        }
        Ok(serde_json::from_slice::<Answer>(&body)
            .ok()
            .and_then(|a| a.did.parse().ok()))
    }

    async fn well_known(&self, url: &str) -> Result<Option<Did>, IdentityError> {
        let (status, body) =
            match get_capped(&self.http, url, "text/plain", MAX_WELL_KNOWN_BYTES).await {
                Ok(r) => r,
                // An unreachable host simply has no well-known answer.
                Err(IdentityError::Network(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
        if status != 200 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&body);
        let first = text.lines().next().unwrap_or_default().trim();
        Ok(first.parse::<Did>().ok())
    }
}
