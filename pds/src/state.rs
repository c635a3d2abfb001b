//! Shared state handed to every handler explicitly (no globals).

use crate::accounts::service::Accounts;
use crate::accounts::sessions::Sessions;
use crate::blobs::BlobStore;
use crate::clock::Clock;
use crate::config::PdsConfig;
use crate::db::Db;
use crate::email::Mailroom;
use crate::keys::KeyCache;
use crate::limits::RateLimits;
use crate::repo::Committer;
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
    pub tids: Arc<TidClock>,
    pub clock: Clock,
    pub sequencer: Sequencer,
    pub keys: Arc<KeyCache>,
    pub lexicons: &'static Catalog,
    pub blobs: BlobStore,
    /// For operator-configured services: the PLC directory, the AppViews, relays.
    pub http: reqwest::Client,
    /// For whatever a DID document or handle names (`hearth_net`: public addresses only).
    pub remote: hearth_net::RemoteClient,
    pub limits: RateLimits,
    pub plc: crate::plc_client::PlcClient,
    pub dids: Arc<atproto::identity::DidResolver>,
    /// Verifies service tokens other servers mint for us (createAccount of a migrating DID).
    pub service_auth: hearth_xrpc::auth::ServiceAuth,
    pub handles: atproto::identity::HandleResolver,
    /// The SMTP settings; `None`: the PDS sends no email.
    pub mail: Option<hearth_mail::MailConfig>,
    /// Woken when a commit queued email.
    pub outbox: Arc<tokio::sync::Notify>,
    /// The OAuth authorization server's client cache, replay cache and nonces.
    pub oauth: Arc<crate::oauth::OAuthState>,
    /// DPoP nonces and spent proof ids (OAuth token endpoint and resource server).
    pub dpop: Arc<crate::auth::oauth::DpopGuard>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// What committing to a repository needs of the server.
    pub fn committer(&self) -> Committer {
        Committer {
            keys: self.keys.clone(),
            sequencer: self.sequencer.clone(),
            tids: self.tids.clone(),
            clock: self.clock,
        }
    }

    /// What the account flows need of the server.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.db,
            plc: &self.plc,
            rotation_key: &self.secrets.plc_rotation_key,
            public_url: &self.public_url,
            handle_domains: &self.handle_domains,
            invite_required: self.cfg.invite_required,
            sequencer: &self.sequencer,
            committer: self.committer(),
            blobs: &self.blobs,
            keys: &self.keys,
            clock: self.clock,
            mail: self.mailroom(),
        }
    }

    /// What sending account email needs of the server.
    pub fn mailroom(&self) -> Mailroom<'_> {
        Mailroom {
            enabled: self.mail.is_some(),
            code_key: &self.secrets.jwt_key,
            outbox: &self.outbox,
            hostname: &self.cfg.hostname,
        }
    }

    /// What issuing and rotating session tokens needs of the server.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions {
            writer: &self.db.writer,
            jwt_key: &self.secrets.jwt_key,
            service_did: &self.service_did,
            clock: self.clock,
        }
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

// The proxy still names the clock through here.
pub use crate::clock::now_secs;
