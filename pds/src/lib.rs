//! Hearth's personal data server: accounts, signed repositories in SQLite, blobs on disk, a
//! Sync 1.1 firehose, and proxying to the AppView.

pub mod accounts;
pub mod auth;
pub mod background;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod db;
pub mod email;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod oauth;
pub mod plc_client;
pub mod proxy;
pub mod read_after_write;
pub mod repo;
pub mod secrets;
pub mod sequencer;
pub mod state;
pub mod xrpc;

use atproto::identity::IdentityError;
use config::PdsConfig;
use std::time::Duration;

/// Why the PDS could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("secrets: {0}")]
    Secrets(#[from] secrets::SecretsError),
    #[error("database: {0}")]
    Db(#[from] db::DbError),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Net(#[from] hearth_net::NetError),
    #[error("identity resolvers: {0}")]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Mail(#[from] hearth_mail::MailError),
    #[error("{0}")]
    Serve(#[from] hearth_xrpc::server::ServeError),
    #[error("blob store: {0}")]
    BlobStore(String),
}

/// Limit on one blob's transfer to or from the bucket: long enough for the largest blob on a
/// slow link, short enough that a stuck endpoint does not hold a request forever.
const BLOB_TRANSFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// Builds the PDS's state from its configuration: opens (and migrates) the database, loads or
/// creates secrets.
pub fn build_state(cfg: PdsConfig) -> Result<state::AppState, StartError> {
    let data_dir = |source| StartError::DataDir {
        path: cfg.data_dir.display().to_string(),
        source,
    };
    hearth_db::files::create_private_dir(&cfg.data_dir).map_err(data_dir)?;
    let secrets = secrets::Secrets::load_or_create(&cfg.data_dir.join("secrets"))?;
    let db = db::open(&cfg.data_dir.join("pds.sqlite"), db::CONNECTIONS)?;
    let head = db.readers.read_blocking(sequencer::store::last)??;
    // Everything a DID document or a handle names goes through the guarded client; the PLC
    // directory and the configured AppViews, the operator's choices, through `http`. Both
    // trust HEARTH_CA_CERTS.
    let net = cfg.net();
    let http = net.operator_client()?;
    let remote = hearth_net::RemoteClient::new(&net)?;
    let (dids, handles) = hearth_net::identity_resolvers(&cfg.plc_url(), cfg.dev, &remote, &http)?;
    let dids = std::sync::Arc::new(dids);
    // Ids of service tokens already used, so a token from another server is spent once.
    let used: hearth_db::Db<()> = hearth_db::Db::open(
        &cfg.data_dir.join("used_tokens.sqlite"),
        &[hearth_xrpc::auth::REPLAY_SCHEMA],
        1,
        |_| Ok(()),
    )?;
    let service_auth = hearth_xrpc::auth::ServiceAuth::new(
        cfg.service_did(),
        dids.clone(),
        |_| hearth_xrpc::auth::Audience::Service(&["#atproto_pds"]),
        hearth_xrpc::auth::ReplayCache::load(&used)?,
    );
    hearth_db::files::warn_if_loose(&cfg.data_dir);
    let mut blobs = blobs::BlobStore::open(&cfg.data_dir).map_err(data_dir)?;
    let s3 = cfg
        .blobstore
        .settings()
        .config()
        .map_err(|e| StartError::BlobStore(e.to_string()))?;
    if let Some(s3) = &s3 {
        let objects = hearth_net::s3::ObjectStore::new(s3, &net, BLOB_TRANSFER_TIMEOUT)
            .map_err(|e| StartError::BlobStore(e.to_string()))?;
        blobs = blobs.with_objects(objects);
    }
    let location = s3
        .as_ref()
        .map(|s| format!("S3 bucket {} at {}", s.bucket, s.endpoint));
    blobs::BlobStore::note_location(&cfg.data_dir, location.as_deref()).map_err(data_dir)?;
    let mail = hearth_mail::MailConfig::new(
        cfg.smtp_url.as_deref(),
        cfg.smtp_from.as_deref(),
        &cfg.hostname,
    )?;
    let oauth = oauth::OAuthState::new(remote.clone(), dids.clone(), cfg.dev, &secrets.jwt_key);
    // The resource server expands tokens' includes from memory: the sets resolved before.
    oauth
        .permission_sets
        .load(db.readers.read_blocking(oauth::store::permission_sets)??);
    Ok(state::AppState::new(state::Inner {
        mail,
        outbox: std::sync::Arc::default(),
        oauth: std::sync::Arc::new(oauth),
        service_did: cfg.service_did(),
        public_url: cfg.public_url(),
        handle_domains: cfg.handle_domains(),
        db,
        secrets,
        tids: std::sync::Arc::default(),
        clock: clock::Clock::System,
        sequencer: sequencer::Sequencer::new(head),
        keys: std::sync::Arc::default(),
        lexicons: atproto::lexicon::Catalog::official(),
        blobs,
        plc: plc_client::PlcClient::new(&cfg.plc_url(), http.clone()),
        limits: limits::RateLimits::new(cfg.rate_limits),
        dids,
        service_auth,
        handles,
        http,
        remote,
        cfg,
    }))
}

/// Runs the PDS until `shutdown` completes, then shuts it down ([`shut_down`]).
pub async fn serve(
    cfg: PdsConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let listener = hearth_xrpc::server::bind(&cfg.bind, cfg.port).await?;
    let state = build_state(cfg)?;
    let closing = state.clone();
    let shutdown = async move {
        shutdown.await;
        closing.sequencer.close();
    };
    let served = serve_until(state.clone(), listener, shutdown).await;
    shut_down(&state).await;
    served
}

/// Runs the PDS on an already bound listener (tests bind port 0 and read the port back).
pub async fn serve_on(
    state: state::AppState,
    listener: tokio::net::TcpListener,
) -> Result<(), StartError> {
    serve_until(state, listener, std::future::pending()).await
}

/// Runs the PDS on `listener` until `shutdown` completes and every request in flight has been
/// answered.
pub async fn serve_until(
    state: state::AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let local = listener
        .local_addr()
        .map_err(hearth_xrpc::server::ServeError::Serve)?;
    let app = start(&state);
    tracing::info!(url = %state.public_url, did = %state.service_did, "PDS listening on {local}");
    Ok(hearth_xrpc::server::serve_until(listener, app, shutdown).await?)
}

/// Starts the PDS's background work and returns its routes, to serve on a listener of its own
/// or beside the AppView's behind one (`hearth_xrpc::vhost`).
pub fn start(state: &state::AppState) -> axum::Router {
    background::spawn_all(state);
    hearth_xrpc::metrics::record(xrpc::router(state.clone()), "pds")
}

/// Whether the PDS can do its work: its database takes writes.
pub async fn check_health(state: &state::AppState) -> Result<(), db::DbError> {
    state.db.check_writable().await
}

/// How long shutdown waits for firehose subscribers to take their close frame.
const SUBSCRIBERS_GRACE: Duration = Duration::from_secs(2);

/// Winds the PDS down once it stopped taking requests: ends every firehose subscription with a
/// close frame (they reconnect with their cursor and miss nothing), waits for the writes still
/// queued, and checkpoints the database. Problems are logged: the process is exiting anyway,
/// and every acknowledged write is already durable.
pub async fn shut_down(state: &state::AppState) {
    state.sequencer.close();
    let deadline = tokio::time::Instant::now() + SUBSCRIBERS_GRACE;
    while state.sequencer.subscribers() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Err(e) = state.db.close().await {
        tracing::warn!(error = %e, "PDS database: final checkpoint failed");
    }
}
