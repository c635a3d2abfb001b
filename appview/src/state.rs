//! Shared state handed to every handler and background task explicitly (no globals).

use crate::config::AppviewConfig;
use crate::ingest::stats::IngestStats;
use atproto::crypto::Keypair;
use atproto::identity::{DidResolver, HandleResolver};
use hearth_db::Db;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub cfg: AppviewConfig,
    pub db: Db<()>,
    pub service_did: String,
    pub public_url: String,
    /// The AppView's own key (`#atproto` in its DID document).
    pub key: Keypair,
    pub dids: Arc<DidResolver>,
    pub handles: Arc<HandleResolver>,
    /// For operator-configured services: the PLC directory, firehoses.
    pub http: reqwest::Client,
    /// TLS for `wss://` firehoses: the same roots as `http`.
    pub websocket_tls: tokio_tungstenite::Connector,
    /// For whatever a DID document or handle names (`hearth_net`: public addresses only).
    pub remote: hearth_net::RemoteClient,
    pub stats: IngestStats,
    /// Verifies service-auth tokens, and refuses write tokens used before (replays).
    pub auth: hearth_xrpc::auth::ServiceAuth,
    /// Members-only spaces: their own database, images and email.
    pub spaces: hearth_spaces::Spaces,
    /// The web app's sessions and what its pages use (mounted at `/`).
    pub web: hearth_web::Web,
    /// The index's background checkpointer runs while this lives.
    pub _checkpointer: Arc<()>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The current time as an atproto datetime string (millisecond precision, UTC).
pub fn now_iso() -> String {
    atproto::syntax::Datetime::now().to_string()
}

/// Unix time in seconds.
pub fn now_secs() -> i64 {
    atproto::syntax::Datetime::unix_now_secs()
}
