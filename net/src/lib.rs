//! The one outbound HTTP client for URLs a remote party names: DID documents (did:web), the
//! service endpoints and feed generators they list, and whatever comes later of the kind.
//! Anyone can publish such a document, so a request made from it must not reach this machine,
//! the operator's networks or a cloud's metadata service:
//!
//! - outside development only `https` URLs are fetched;
//! - the destination must be a public address ([`addr::classify`]): checked on the DNS answer
//!   and again on the connected socket, so neither a name that resolves to `127.0.0.1`, a
//!   literal IP, nor a rebinding DNS answer gets through;
//! - redirects are not followed (a redirect answer is an error);
//! - connect and total time are limited, and so are bodies, as they stream;
//! - errors say what failed, never which URL or address.
//!
//! Operator-configured URLs (the PLC directory, the AppView a PDS is set up with, relays) are
//! not remote-named and use [`Config::operator_client`]. Both clients, and the firehose
//! WebSocket client, trust the same roots ([`trust`](Config::websocket_tls)), and so does the
//! client of an S3-compatible bucket ([`s3`]).
//!
//! An operator whose own services live on a private network (the PDS and the AppView behind one
//! proxy, a staging domain mapped to loopback) names those hosts in `internal_hosts`
//! (`HEARTH_INTERNAL_HOSTS`): a listed host, or a subdomain of one, may resolve to a private
//! address. Nothing else may; there is no switch that allows every private address outside
//! development.

pub mod addr;
mod guard;
mod identity;
pub mod s3;
mod trust;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::Url;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use addr::{Class, classify, is_public};
pub use identity::identity_resolvers;

/// Why a remote-named request failed. The messages are safe to show to whoever caused the
/// request: they carry no URL, host or address.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("invalid URL")]
    BadUrl,
    #[error("only https URLs are allowed")]
    NotHttps,
    #[error("destination not allowed")]
    Forbidden,
    #[error("redirects are not followed")]
    Redirect,
    #[error("timed out")]
    Timeout,
    #[error("unreachable")]
    Unreachable,
    #[error("response too large")]
    TooLarge,
    /// Building the client (the operator's CA file): operator-facing, so it says which file.
    #[error("HTTP client setup: {0}")]
    Setup(String),
}

/// How the guarded client behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// Development: plain http and every address (loopback, private) allowed.
    pub dev: bool,
    /// Extra root certificates (a PEM file) trusted besides the built-in ones, for a private
    /// CA in tests or staging. Verification is never turned off.
    pub ca_certs: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Limit on a whole request, body included.
    pub timeout: Duration,
    /// Fixed DNS answers by host name (like curl's `--resolve`); they are checked like any
    /// other answer, so pointing a name at a private address does not make it reachable.
    pub resolve: HashMap<String, Vec<IpAddr>>,
    /// Hostnames the operator vouches for: each, and its subdomains, may resolve to private
    /// addresses (loopback included). Hostnames only; a literal IP in a URL is never internal.
    pub internal_hosts: Vec<String>,
    pub user_agent: String,
}

impl Config {
    pub fn new(dev: bool, user_agent: &str) -> Config {
        Config {
            dev,
            ca_certs: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            resolve: HashMap::new(),
            internal_hosts: Vec::new(),
            user_agent: user_agent.to_owned(),
        }
    }
}

/// The guarded client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RemoteClient {
    http: reqwest::Client,
    allow_http: bool,
    allow_private: bool,
}

impl RemoteClient {
    pub fn new(cfg: &Config) -> Result<RemoteClient, NetError> {
        RemoteClient::build(cfg, cfg.dev, cfg.dev)
    }

    /// The scheme and address rules are separate so tests can check the address guard on
    /// plain-http servers with private addresses refused.
    fn build(
        cfg: &Config,
        allow_http: bool,
        allow_private: bool,
    ) -> Result<RemoteClient, NetError> {
        let internal = Arc::new(guard::InternalHosts::parse(&cfg.internal_hosts)?);
        let http = cfg
            .client_builder()?
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!allow_http)
            // A proxy would resolve and connect on our behalf, past both checks.
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver {
                allow_private,
                internal: internal.clone(),
                fixed: Arc::new(
                    cfg.resolve
                        .iter()
                        .map(|(k, v)| (k.trim_end_matches('.').to_ascii_lowercase(), v.clone()))
                        .collect(),
                ),
            }))
            .connector_layer(guard::CheckPeerLayer {
                allow_private,
                internal,
            })
            .build()
            .map_err(|e| NetError::Setup(e.to_string()))?;
        Ok(RemoteClient {
            http,
            allow_http,
            allow_private,
        })
    }

    /// The underlying client, for libraries that take a `reqwest::Client` (identity
    /// resolution): every connection it makes is still checked.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.http
    }

    /// Parses `url` and checks what can be checked before connecting: the scheme, and a
    /// literal IP host.
    pub fn check(&self, url: &str) -> Result<Url, NetError> {
        let url = Url::parse(url).map_err(|_| NetError::BadUrl)?;
        self.check_url(&url)?;
        Ok(url)
    }

    fn check_url(&self, url: &Url) -> Result<(), NetError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err(NetError::NotHttps),
            _ => return Err(NetError::BadUrl),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(NetError::BadUrl);
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(NetError::BadUrl),
        };
        if let Some(ip) = literal
            && !self.allow_private
            && !is_public(ip)
        {
            return Err(NetError::Forbidden);
        }
        Ok(())
    }

    /// A request to a checked URL; send it with [`RemoteClient::send`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &Url,
    ) -> Result<reqwest::RequestBuilder, NetError> {
        self.check_url(url)?;
        Ok(self.http.request(method, url.clone()))
    }

    /// Sends a request; a redirect answer is an error, as is anything the guard refused.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, NetError> {
        let res = req.send().await.map_err(|e| error_of(&e))?;
        if res.status().is_redirection() {
            return Err(NetError::Redirect);
        }
        Ok(res)
    }
}

/// What a reqwest error means to the caller, without its URL.
pub fn error_of(e: &reqwest::Error) -> NetError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<guard::Forbidden>() {
            return NetError::Forbidden;
        }
        source = s.source();
    }
    if e.is_timeout() {
        return NetError::Timeout;
    }
    if e.is_builder() {
        // https_only refuses a plain-http URL (or a redirect to one) as a builder error.
        return NetError::NotHttps;
    }
    NetError::Unreachable
}

/// A service endpoint a document names, with `path` (starting with `/`) appended to its own
/// path. The endpoint must be a bare base: no query, fragment or credentials, which a string
/// join would let swallow or rewrite the path.
pub fn endpoint_url(endpoint: &str, path: &str) -> Result<Url, NetError> {
    let mut url = Url::parse(endpoint).map_err(|_| NetError::BadUrl)?;
    if url.cannot_be_a_base()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || !matches!(url.scheme(), "http" | "https")
    {
        return Err(NetError::BadUrl);
    }
    let joined = format!("{}{path}", url.path().trim_end_matches('/'));
    url.set_path(&joined);
    Ok(url)
}

/// Reads a whole body of at most `max` bytes.
pub async fn read_capped(res: reqwest::Response, max: usize) -> Result<Vec<u8>, NetError> {
    let mut out = Vec::new();
    let mut body = capped_stream(res, max);
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// The body as a stream that fails once it passes `max` bytes (or up front, when the
/// declared length already does).
pub fn capped_stream(
    res: reqwest::Response,
    max: usize,
) -> impl Stream<Item = Result<Bytes, NetError>> + Send + 'static {
    let declared_too_large = res.content_length().is_some_and(|l| l > max as u64);
    let mut seen = 0usize;
    let body = res.bytes_stream();
    let head = futures::stream::iter(declared_too_large.then_some(Err(NetError::TooLarge)));
    head.chain(body.map(move |chunk| {
        let chunk = chunk.map_err(|e| error_of(&e))?;
        seen += chunk.len();
        if seen > max {
            return Err(NetError::TooLarge);
        }
        Ok(chunk)
    }))
    .scan(false, |done, item| {
        // Nothing after the first error.
        if *done {
            return futures::future::ready(None);
        }
        *done = item.is_err();
        futures::future::ready(Some(item))
    })
}

#[cfg(test)]
mod tests;
