//! The two places the client checks where it is about to connect: the DNS answer (so a name
//! that resolves to a private address reaches nothing) and the connected socket's peer (so a
//! literal IP, a redirect or anything that bypassed the resolver cannot either).

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

/// Resolves names with the system resolver (or a fixed answer) and keeps only the addresses
/// the policy allows.
pub(crate) struct GuardedResolver {
    pub(crate) allow_private: bool,
    pub(crate) fixed: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let allow_private = self.allow_private;
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

/// A connector layer that refuses a connection whose peer is not a public address, before a
/// byte of the request is written.
#[derive(Clone)]
pub(crate) struct CheckPeerLayer {
    pub(crate) allow_private: bool,
}

impl<S> tower::Layer<S> for CheckPeerLayer {
    type Service = CheckPeer<S>;
    fn layer(&self, inner: S) -> CheckPeer<S> {
        CheckPeer {
            inner,
            allow_private: self.allow_private,
        }
    }
}

#[derive(Clone)]
pub(crate) struct CheckPeer<S> {
    inner: S,
    allow_private: bool,
}

impl<S, R, C> tower::Service<R> for CheckPeer<S>
where
    S: tower::Service<R, Response = C, Error = BoxError>,
    S::Future: Send + 'static,
    C: hyper_util::client::legacy::connect::Connection + Send + 'static,
{
    type Response = C;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let allow_private = self.allow_private;
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
