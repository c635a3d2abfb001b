//! Several services behind one listener, told apart by the hostname a request names: one TLS
//! front (Fly, Caddy, nginx) can then serve the PDS, its handle subdomains and the AppView on a
//! single upstream port. A request for a hostname no service claims is refused (421
//! Misdirected Request), never handed to whichever service happens to be first: a did:web
//! document or a proxied call answered by the wrong service is worse than an error.

use crate::XrpcError;
use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tower::ServiceExt;

/// Routes requests to services by hostname: exact names first, then the longest matching
/// suffix (such as `.example.org` for handle subdomains).
#[derive(Clone, Default)]
pub struct HostRouter {
    exact: Vec<(String, Router)>,
    suffixes: Vec<(String, Router)>,
}

impl HostRouter {
    pub fn new() -> HostRouter {
        HostRouter::default()
    }

    /// Sends requests for `hostname` (any port) to `router`.
    pub fn host(mut self, hostname: &str, router: Router) -> HostRouter {
        self.exact.push((normalize(hostname), router));
        self
    }

    /// Sends requests for any hostname ending in `suffix` (e.g. `.example.org`; a leading dot
    /// is added if missing, so the bare domain itself does not match) to `router`.
    pub fn suffix(mut self, suffix: &str, router: Router) -> HostRouter {
        let mut suffix = normalize(suffix);
        if !suffix.starts_with('.') {
            suffix.insert(0, '.');
        }
        self.suffixes.push((suffix, router));
        // Longest first, so the most specific suffix wins.
        self.suffixes
            .sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        self
    }

    /// The router for `hostname`, if some service claims it.
    fn pick(&self, hostname: &str) -> Option<&Router> {
        self.exact
            .iter()
            .find(|(h, _)| h == hostname)
            .or_else(|| self.suffixes.iter().find(|(s, _)| hostname.ends_with(s)))
            .map(|(_, r)| r)
    }

    /// One router that dispatches every request.
    pub fn into_router(self) -> Router {
        let this = Arc::new(self);
        Router::new().fallback(move |req: Request| {
            let this = this.clone();
            async move { this.dispatch(req).await }
        })
    }

    async fn dispatch(&self, req: Request) -> Response {
        let Some(hostname) = request_host(&req) else {
            return XrpcError::invalid_request("The request names no host").into_response();
        };
        match self.pick(&hostname) {
            Some(router) => match router.clone().oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            },
            None => XrpcError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "MisdirectedRequest",
                format!("This server does not serve {hostname}"),
            )
            .into_response(),
        }
    }
}

/// The hostname a request is for, lowercased, without port or trailing dot: the `Host` header
/// (HTTP/1.1), else the URI's authority (HTTP/2 `:authority`, absolute-form requests).
pub fn request_host(req: &Request) -> Option<String> {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))?;
    let host = strip_port(raw.trim());
    let host = normalize(host);
    (!host.is_empty()).then_some(host)
}

fn strip_port(authority: &str) -> &str {
    // Userinfo never belongs in a Host header; tolerate it in an absolute URI's authority.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]:2583`.
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.split(':').next().unwrap_or(authority)
}

fn normalize(hostname: &str) -> String {
    hostname.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;

    fn service(name: &'static str) -> Router {
        Router::new()
            .route("/whoami", get(move || async move { name }))
            .route(
                "/host",
                get(|headers: axum::http::HeaderMap| async move {
                    headers
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                }),
            )
    }

    fn hosts() -> Router {
        HostRouter::new()
            .host("pds.example.org", service("pds"))
            .host("appview.example.org", service("appview"))
            .suffix("example.org", service("handles"))
            .suffix(".deep.example.org", service("deep"))
            .into_router()
    }

    async fn call(app: &Router, host: Option<&str>, uri: &str) -> (StatusCode, String) {
        let mut req = Request::builder().uri(uri);
        if let Some(h) = host {
            req = req.header(header::HOST, h);
        }
        let res = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn each_hostname_reaches_its_service() {
        let app = hosts();
        for (host, want) in [
            ("pds.example.org", "pds"),
            ("PDS.Example.ORG", "pds"),
            ("pds.example.org.", "pds"),
            ("pds.example.org:2583", "pds"),
            ("appview.example.org", "appview"),
            ("appview.example.org:443", "appview"),
            // Handle subdomains (for /.well-known/atproto-did); exact names win over suffixes.
            ("alice.example.org", "handles"),
            ("a.b.example.org", "handles"),
            // The longest suffix wins.
            ("x.deep.example.org", "deep"),
        ] {
            assert_eq!(
                call(&app, Some(host), "/whoami").await,
                (StatusCode::OK, want.to_owned()),
                "{host}"
            );
        }
        // The service sees the request as sent.
        assert_eq!(
            call(&app, Some("pds.example.org:2583"), "/host").await.1,
            "pds.example.org:2583"
        );
        // HTTP/2 and absolute-form requests name the host in the URI.
        assert_eq!(
            call(&app, None, "https://appview.example.org/whoami").await,
            (StatusCode::OK, "appview".to_owned())
        );
    }

    #[tokio::test]
    async fn unknown_or_missing_hosts_are_refused() {
        let app = hosts();
        for host in [
            "example.org",
            "evil.org",
            "pds.example.org.evil.org",
            "notexample.org",
            "127.0.0.1:2583",
            "[::1]:2583",
        ] {
            let (status, body) = call(&app, Some(host), "/whoami").await;
            assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).expect("XRPC error body");
            assert_eq!(v["error"], "MisdirectedRequest", "{host}");
        }
        let (status, body) = call(&app, None, "/whoami").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("InvalidRequest"), "{body}");
        let (status, _) = call(&app, Some(""), "/whoami").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn ports_and_ipv6_literals_are_stripped() {
        assert_eq!(strip_port("a.org:80"), "a.org");
        assert_eq!(strip_port("a.org"), "a.org");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("[::1]"), "::1");
        assert_eq!(strip_port("user@a.org:1"), "a.org");
    }
}
