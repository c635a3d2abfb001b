//! Where the client checks where it is about to connect, before any connection is made: the
//! destination a connection is asked for (a literal IP is refused before connecting) and the
//! DNS answer for a name (so a name that resolves to a private address reaches nothing). The
//! connected socket's peer is checked again afterwards, failing closed, in case anything
//! bypassed both.

use crate::NetError;
use crate::addr::is_public;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a connection was not made: the destination is not a public address. Kept out of
/// messages shown to callers (it would tell them what an internal name resolves to).
#[derive(Debug, thiserror::Error)]
#[error("destination address not allowed")]
pub(crate) struct Forbidden;

/// The hostnames the operator vouches for ([`crate::Config::internal_hosts`]): each entry
/// matches itself and its subdomains.
#[derive(Debug, Default)]
pub(crate) struct InternalHosts(Vec<String>);

impl InternalHosts {
    /// Refuses anything that is not a hostname: an address, a wildcard. A list that could be
    /// read as "every private address" is a setup error, not a policy. Empty entries (an unset
    /// variable, a trailing comma) are skipped.
    pub(crate) fn parse(entries: &[String]) -> Result<InternalHosts, NetError> {
        let mut out = Vec::new();
        for entry in entries {
            let host = entry
                .trim()
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            let bad = |why: &str| NetError::Setup(format!("internal host {entry:?}: {why}"));
            if entry.trim().is_empty() {
                continue;
            }
            if !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                || host.split('.').any(str::is_empty)
            {
                return Err(bad("not a hostname (no wildcards, ports or addresses)"));
            }
            // A last label a URL parser reads as a number makes the whole name an IPv4
            // address (`10.0.0`, `0x7f.1`): addresses are never vouched for by name.
            let last = host.rsplit('.').next().unwrap_or_default();
            if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
                return Err(bad("an address, not a hostname"));
            }
            out.push(host);
        }
        Ok(InternalHosts(out))
    }

    pub(crate) fn contains(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.0.iter().any(|h| {
            host.eq_ignore_ascii_case(h)
                || (host.len() > h.len()
                    && host.as_bytes()[host.len() - h.len() - 1] == b'.'
                    && host[host.len() - h.len()..].eq_ignore_ascii_case(h))
        })
    }
}

/// Resolves names with the system resolver (or a fixed answer) and keeps only the addresses
/// the policy allows.
pub(crate) struct GuardedResolver {
    pub(crate) allow_private: bool,
    pub(crate) internal: Arc<InternalHosts>,
    pub(crate) fixed: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let allow_private = self.allow_private || self.internal.contains(&host);
        let fixed = self.fixed.get(&host).cloned();
        Box::pin(async move {
            let ips: Vec<IpAddr> = match fixed {
                Some(ips) => ips,
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await?
                    .map(|a| a.ip())
                    .collect(),
            };
            let allowed: Vec<SocketAddr> = ips
                .into_iter()
                .filter(|ip| allow_private || is_public(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                tracing::debug!(host = %host, "refused: the name resolves to no public address");
                return Err(Box::new(Forbidden) as BoxError);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// What a connection is asked for: a literal address, or a name (which goes through the
/// resolver).
#[derive(Debug, PartialEq)]
enum Destination {
    Ip(IpAddr),
    Name(String),
}

/// The destination of a connection request. reqwest hands connector layers its destination
/// URI in a type whose only accessor is its `Debug` form (`Unnameable(<uri>)`); anything that
/// does not read as that is `None`, and the connection is refused (the check fails closed).
fn destination(req: &impl std::fmt::Debug) -> Option<Destination> {
    let text = format!("{req:?}");
    let uri: http::Uri = text
        .strip_prefix("Unnameable(")?
        .strip_suffix(')')?
        .parse()
        .ok()?;
    let host = uri.host()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Some(match bare.parse::<IpAddr>() {
        Ok(ip) => Destination::Ip(ip),
        Err(_) => Destination::Name(host.to_ascii_lowercase()),
    })
}

/// A connector layer that refuses a literal non-public destination before connecting, and a
/// connection whose peer is not a public address (or, for a host the operator vouched for,
/// any address) before a byte of TLS or of the request is written.
#[derive(Clone)]
pub(crate) struct CheckPeerLayer {
    pub(crate) allow_private: bool,
    pub(crate) internal: Arc<InternalHosts>,
}

impl<S> tower::Layer<S> for CheckPeerLayer {
    type Service = CheckPeer<S>;
    fn layer(&self, inner: S) -> CheckPeer<S> {
        CheckPeer {
            inner,
            allow_private: self.allow_private,
            internal: self.internal.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct CheckPeer<S> {
    inner: S,
    allow_private: bool,
    internal: Arc<InternalHosts>,
}

impl<S, R, C> tower::Service<R> for CheckPeer<S>
where
    S: tower::Service<R, Response = C, Error = BoxError>,
    S::Future: Send + 'static,
    R: std::fmt::Debug,
    C: hyper_util::client::legacy::connect::Connection + Send + 'static,
{
    type Response = C;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let allow_private = if self.allow_private {
            true
        } else {
            match destination(&req) {
                Some(Destination::Ip(ip)) if is_public(ip) => false,
                Some(Destination::Name(host)) => self.internal.contains(&host),
                // A literal private address, or a destination that cannot be read: refused
                // before any connection is made.
                other => {
                    tracing::debug!(destination = ?other, "refused before connecting");
                    return Box::pin(async { Err(Box::new(Forbidden) as BoxError) });
                }
            }
        };
        let connecting = self.inner.call(req);
        Box::pin(async move {
            let conn = connecting.await?;
            let mut extras = http::Extensions::new();
            conn.connected().get_extras(&mut extras);
            let peer = extras
                .get::<hyper_util::client::legacy::connect::HttpInfo>()
                .map(|i| i.remote_addr().ip());
            // A connection whose peer cannot be read is refused too: the check fails closed.
            match peer {
                Some(ip) if allow_private || is_public(ip) => Ok(conn),
                _ => {
                    tracing::debug!(peer = ?peer, "refused: connected to a non-public address");
                    Err(Box::new(Forbidden) as BoxError)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_hosts_match_themselves_and_subdomains_only() {
        let hosts = InternalHosts::parse(&["Hearth.Test".into(), ".corp.example.".into()])
            .expect("hostnames");
        for yes in [
            "hearth.test",
            "pds.hearth.test",
            "a.b.HEARTH.test",
            "hearth.test.",
            "corp.example",
            "x.corp.example",
        ] {
            assert!(hosts.contains(yes), "{yes}");
        }
        for no in [
            "evilhearth.test",
            "hearth.test.evil",
            "test",
            "example",
            "corp.example.org",
            "127.0.0.1",
        ] {
            assert!(!hosts.contains(no), "{no}");
        }
    }

    #[test]
    fn internal_hosts_are_hostnames_never_addresses_or_wildcards() {
        for bad in [
            ".",
            "*",
            "*.hearth.test",
            "10.0.0.5",
            "10.0.0",
            "0x7f.1",
            "::1",
            "[::1]",
            "host:443",
            "a..b",
            "a b",
        ] {
            let got = InternalHosts::parse(&[bad.to_owned()]);
            assert!(matches!(got, Err(NetError::Setup(_))), "{bad:?}: {got:?}");
        }
    }

    /// The form reqwest gives a connector layer its destination in.
    #[derive(Debug)]
    struct Unnameable(#[allow(dead_code, reason = "read through Debug")] http::Uri);

    #[test]
    fn destinations_read_from_the_connector_request() {
        let dest = |s: &str| destination(&Unnameable(s.parse().expect("uri")));
        assert_eq!(
            dest("https://PDS.hearth.test/"),
            Some(Destination::Name("pds.hearth.test".into()))
        );
        assert_eq!(
            dest("https://127.0.0.1:8443/x"),
            Some(Destination::Ip("127.0.0.1".parse().expect("ip")))
        );
        assert_eq!(
            dest("http://[::1]:80/"),
            Some(Destination::Ip("::1".parse().expect("ip")))
        );
        assert_eq!(destination(&"https://example.com/"), None, "fails closed");
    }
}
