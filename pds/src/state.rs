//! Shared state handed to every handler explicitly (no globals).

use crate::blobs::BlobStore;
use crate::config::PdsConfig;
use crate::db::Db;
use crate::keys::KeyCache;
use crate::limits::RateLimits;
use crate::secrets::Secrets;
use crate::sequencer::Sequencer;
use atproto::lexicon::Catalog;
use atproto::syntax::TidClock;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub cfg: PdsConfig,
    pub db: Db,
    pub secrets: Secrets,
    pub service_did: String,
    pub public_url: String,
    pub handle_domains: Vec<String>,
    pub tids: TidClock,
    pub sequencer: Sequencer,
    pub keys: KeyCache,
    pub lexicons: &'static Catalog,
    pub blobs: BlobStore,
    /// For operator-configured services: the PLC directory, the AppViews, relays.
    pub http: reqwest::Client,
    /// For whatever a DID document or handle names (`hearth_net`: public addresses only).
    pub remote: hearth_net::RemoteClient,
    pub limits: RateLimits,
    pub plc: crate::plc_client::PlcClient,
    pub dids: atproto::identity::DidResolver,
    pub handles: atproto::identity::HandleResolver,
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

/// Unix time in seconds.
pub fn now_secs() -> i64 {
    atproto::syntax::Datetime::unix_now_secs()
}

/// The current time as an atproto datetime string (millisecond precision, UTC).
pub fn now_iso() -> String {
    atproto::syntax::Datetime::now().to_string()
}
