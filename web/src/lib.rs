//! Hearth's web app: server-rendered pages over the spaces service, for organizers and members
//! in a browser. The AppView mounts [`router`] at `/`; every page calls the spaces service in
//! process ([`hearth_spaces::Spaces`], whose operations check the gate themselves) with the
//! signed-in viewer's DID. See `docs/web.md`.
//!
//! | module | holds |
//! | --- | --- |
//! | [`session`] | server-side sessions (their own `web.sqlite`), the session cookie, the [`session::Viewer`] extractor |
//! | [`csrf`] | the CSRF token check and the same-origin check of state-changing requests |
//! | [`identity`] | handle → DID → PDS, through the AppView's resolvers |
//! | [`app_password`] | signing in with an app password at the account's own PDS |
//! | [`assets`] | the stylesheet and script, under content-hashed names |
//! | [`pages`] | the pages, one module per family |
//! | [`qr`] | invite links' QR codes, as inline SVG |
//! | [`http`] | the router, the headers every answer carries, the one error page |

pub mod app_password;
pub mod assets;
pub mod csrf;
pub mod http;
pub mod identity;
pub mod oauth;
pub mod pages;
pub mod qr;
pub mod session;

use atproto::identity::{DidResolver, HandleResolver};
use std::path::PathBuf;
use std::sync::Arc;

pub use http::router;

/// Why the web app could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("web sessions database: {0}")]
    Db(#[from] hearth_db::DbError),
    #[error("web OAuth client key: {0}")]
    Key(#[from] atproto::crypto::keyfile::KeyFileError),
}

/// Where and how the web app runs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The AppView's data directory (`<data_dir>/appview`): `web.sqlite` goes here.
    pub dir: PathBuf,
    /// The AppView's public URL (`http://localhost:2584` in development).
    pub public_url: String,
    /// Development: plain http, no `Secure` cookies, `localhost` redirected to `127.0.0.1`.
    pub dev: bool,
}

/// The narrow things the pages use: the spaces service, and the resolvers and guarded client
/// for reaching a signing-in account's PDS.
#[derive(Clone)]
pub struct Deps {
    pub spaces: hearth_spaces::Spaces,
    pub dids: Arc<DidResolver>,
    pub handles: Arc<HandleResolver>,
    pub remote: hearth_net::RemoteClient,
}

/// The web app's handle (cheap to clone).
#[derive(Clone)]
pub struct Web(Arc<Inner>);

pub struct Inner {
    pub spaces: hearth_spaces::Spaces,
    pub dids: Arc<DidResolver>,
    pub handles: Arc<HandleResolver>,
    pub remote: hearth_net::RemoteClient,
    pub sessions: session::Sessions,
    /// The OAuth client signing people in at their own servers.
    pub oauth: oauth::OAuth,
    /// The origin pages are served from (and state-changing requests must come from): the
    /// public URL, with `localhost` as `127.0.0.1` in development.
    pub origin: String,
    pub dev: bool,
    /// Sign-in attempts, by client address and by account.
    pub limits: hearth_xrpc::ratelimit::RateLimits,
    /// Live-update streams open at once ([`pages::live::MAX_STREAMS`]).
    pub live: Arc<tokio::sync::Semaphore>,
}

impl std::ops::Deref for Web {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Web {
    /// Opens (creating and migrating) the sessions database.
    pub fn open(cfg: WebConfig, deps: Deps) -> Result<Web, SetupError> {
        let sessions = session::Sessions::open(&cfg.dir.join("web.sqlite"), !cfg.dev)?;
        let origin = web_origin(&cfg.public_url, cfg.dev);
        let oauth = oauth::OAuth::open(
            &cfg.dir,
            oauth::registration(&cfg.dir, &origin, cfg.dev)?,
            cfg.dev,
            deps.remote.clone(),
            deps.dids.clone(),
            deps.handles.clone(),
        )?;
        Ok(Web(Arc::new(Inner {
            spaces: deps.spaces,
            dids: deps.dids,
            handles: deps.handles,
            remote: deps.remote,
            sessions,
            oauth,
            origin,
            dev: cfg.dev,
            limits: hearth_xrpc::ratelimit::RateLimits::new(true),
            live: Arc::new(tokio::sync::Semaphore::new(pages::live::MAX_STREAMS)),
        })))
    }
}

/// The origin the web app is used at: the public URL without a trailing slash; in development
/// `localhost` becomes `127.0.0.1`, because OAuth loopback redirect URIs must name the IP and
/// cookies are kept per host.
pub fn web_origin(public_url: &str, dev: bool) -> String {
    let url = public_url.trim_end_matches('/');
    if dev && let Some(rest) = url.strip_prefix("http://localhost") {
        return format!("http://127.0.0.1{rest}");
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn origin_is_the_loopback_ip_in_development_only() {
        assert_eq!(
            super::web_origin("http://localhost:2584/", true),
            "http://127.0.0.1:2584"
        );
        assert_eq!(
            super::web_origin("http://localhost:2584", false),
            "http://localhost:2584"
        );
        assert_eq!(
            super::web_origin("https://hearth.example", true),
            "https://hearth.example"
        );
    }
}
