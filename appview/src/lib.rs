//! Hearth's AppView: indexes firehoses (its own PDS's, or a relay's) into SQLite and serves the
//! `app.bsky.*` views the official client needs, and members-only spaces.

pub mod auth;
pub mod config;
pub mod index;
pub mod ingest;
pub mod metrics;
mod spaces_profiles;
pub mod state;
pub mod views;
pub mod xrpc;

use atproto::crypto::{Algorithm, keyfile};
use atproto::identity::IdentityError;
use config::AppviewConfig;
use std::sync::Arc;

/// Why the AppView could not start (or stopped serving).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("index database: {0}")]
    Db(#[from] hearth_db::DbError),
    #[error("service key: {0}")]
    Key(#[from] keyfile::KeyFileError),
    #[error("{0}")]
    Net(#[from] hearth_net::NetError),
    #[error("identity resolvers: {0}")]
    Identity(#[from] IdentityError),
    #[error("spaces: {0}")]
    Spaces(#[from] hearth_spaces::SetupError),
    #[error("web app: {0}")]
    Web(#[from] hearth_web::SetupError),
    #[error("space images: {0}")]
    Images(#[from] hearth_net::s3::S3Error),
    #[error("starting the ingest workers: {0}")]
    Workers(std::io::Error),
    #[error(transparent)]
    Serve(#[from] hearth_xrpc::server::ServeError),
}

const MIGRATIONS: &[&str] = &[
    include_str!("db/schema_v1.sql"),
    include_str!("db/schema_v2.sql"),
    include_str!("db/schema_v3.sql"),
    hearth_xrpc::auth::REPLAY_SCHEMA,
    include_str!("db/schema_v5.sql"),
];

pub fn build_state(cfg: AppviewConfig) -> Result<state::AppState, StartError> {
    let dir = cfg.data_dir.join("appview");
    for d in [&cfg.data_dir, &dir] {
        hearth_db::files::create_private_dir(d).map_err(|source| StartError::DataDir {
            path: d.display().to_string(),
            source,
        })?;
    }
    let index_path = dir.join("index.sqlite");
    // Ingest commits constantly; a checkpoint inside one of those commits (SQLite's default,
    // every 1,000 pages of WAL) stalls the single writer while it copies pages and fsyncs the
    // database file. A background thread checkpoints instead; the writer only does it itself
    // if the WAL grows past 32 MB.
    // The writer's page cache should hold an ingest transaction's dirty pages: when it
    // overflows, SQLite spills pages to the WAL mid-transaction and writes them again at
    // commit, and reads back index pages it has just evicted. The size was chosen with the
    // ingest benchmark (docs/benchmarks.md, "Index writer page cache").
    let connections = hearth_db::Connections {
        writer_cache_kib: 64 * 1024,
        ..hearth_db::Connections::with_readers(8)
    };
    let db = hearth_db::Db::open(&index_path, MIGRATIONS, connections, |conn| {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 8000")?;
        Ok(())
    })?;
    let replay = hearth_xrpc::auth::ReplayCache::load(&db)?;
    let checkpointer = Arc::new(());
    hearth_db::spawn_checkpointer(
        &index_path,
        "index-checkpoint",
        Arc::downgrade(&checkpointer),
    )?;
    // The signing key is kept beside the database, owner-only.
    let key = keyfile::load_or_generate(&dir.join("service.key"), Algorithm::K256)?;
    // Everything a DID document or a handle names goes through the guarded client; the PLC
    // directory and the firehoses, the operator's choices, through `http` (and the firehose
    // WebSocket through `websocket_tls`). All trust HEARTH_CA_CERTS.
    let net = cfg.net();
    let http = net.operator_client()?;
    let websocket_tls = net.websocket_tls()?;
    let remote = hearth_net::RemoteClient::new(&net)?;
    let (dids, handles) = hearth_net::identity_resolvers(&cfg.plc_url(), cfg.dev, &remote, &http)?;
    let dids = Arc::new(dids);
    let handles = Arc::new(
        cfg.handle_resolver
            .iter()
            .fold(handles, |h, url| h.with_xrpc_resolver(url)),
    );
    hearth_db::files::warn_if_loose(&cfg.data_dir);
    // Images are at most a few megabytes: the operator client's usual time limit, with room.
    let images_bucket = match cfg.images.settings().config()? {
        Some(s3) => Some(hearth_net::s3::ObjectStore::new(
            &s3,
            &net,
            std::time::Duration::from_secs(120),
        )?),
        None => None,
    };
    let auth = hearth_xrpc::auth::ServiceAuth::new(
        cfg.service_did(),
        dids.clone(),
        auth::audience,
        replay,
    );
    // Members-only spaces keep their own database file: private data never shares tables
    // with the public index.
    let spaces = hearth_spaces::Spaces::open(hearth_spaces::SpacesConfig {
        dir: dir.clone(),
        authority: cfg.service_did(),
        public_url: cfg.public_url(),
        smtp_url: cfg.smtp_url.clone(),
        smtp_from: cfg.smtp_from.clone(),
        limits: Default::default(),
        images_bucket,
    })?;
    let web = hearth_web::Web::open(
        hearth_web::WebConfig {
            dir: dir.clone(),
            public_url: cfg.public_url(),
            dev: cfg.dev,
        },
        hearth_web::Deps {
            spaces: spaces.clone(),
            dids: dids.clone(),
            handles: handles.clone(),
            remote: remote.clone(),
        },
    )?;
    Ok(state::AppState::new(state::Inner {
        service_did: cfg.service_did(),
        public_url: cfg.public_url(),
        db,
        key,
        dids,
        handles,
        http,
        websocket_tls,
        remote,
        stats: Default::default(),
        auth,
        spaces,
        web,
        cfg,
        _checkpointer: checkpointer,
    }))
}

/// Runs the AppView until `shutdown` completes, then shuts it down ([`shut_down`]).
pub async fn serve(
    cfg: AppviewConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let listener = hearth_xrpc::server::bind(&cfg.bind, cfg.port).await?;
    let state = build_state(cfg)?;
    let served = serve_until(state.clone(), listener, shutdown).await;
    shut_down(&state).await;
    served
}

pub async fn serve_on(
    state: state::AppState,
    listener: tokio::net::TcpListener,
) -> Result<(), StartError> {
    serve_until(state, listener, std::future::pending()).await
}

/// Runs the AppView on `listener` until `shutdown` completes and every request in flight has
/// been answered.
pub async fn serve_until(
    state: state::AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let local = listener
        .local_addr()
        .map_err(hearth_xrpc::server::ServeError::Serve)?;
    let app = start(&state)?;
    tracing::info!(url = %state.public_url, did = %state.service_did, "AppView listening on {local}");
    Ok(hearth_xrpc::server::serve_until(listener, app, shutdown).await?)
}

/// Starts ingest and the spaces' background work and returns the AppView's routes (its own and
/// the spaces'), to serve on a listener of its own or beside the PDS's behind one
/// (`hearth_xrpc::vhost`).
pub fn start(state: &state::AppState) -> Result<axum::Router, StartError> {
    ingest::start(state).map_err(StartError::Workers)?;
    hearth_spaces::start(&state.spaces)?;
    // Members' handles, names and avatars come from this AppView's public index.
    state
        .spaces
        .set_profile_lookup(std::sync::Arc::new(spaces_profiles::IndexProfiles {
            readers: state.db.readers.clone(),
            public_url: state.public_url.clone(),
        }));
    // The web app's pages are at `/`; the XRPC methods and the spaces' routes beside them.
    let app = xrpc::router(state.clone())
        .merge(hearth_spaces::router(
            state.spaces.clone(),
            state.auth.clone(),
        ))
        .merge(hearth_web::router(state.web.clone()));
    Ok(hearth_xrpc::metrics::record(app, "appview"))
}

/// A database of the AppView's that does not take writes.
#[derive(Debug, thiserror::Error)]
#[error("the {name} database does not take writes: {source}")]
pub struct Unhealthy {
    pub name: &'static str,
    pub source: hearth_db::DbError,
}

/// Whether the AppView can do its work: the index and the spaces database take writes.
pub async fn check_health(state: &state::AppState) -> Result<(), Unhealthy> {
    let (index, spaces) = tokio::join!(state.db.check_writable(), state.spaces.db.check_writable());
    index.map_err(|source| Unhealthy {
        name: "index",
        source,
    })?;
    spaces.map_err(|source| Unhealthy {
        name: "spaces",
        source,
    })
}

/// Winds the AppView down once it stopped taking requests: waits for the index and spaces
/// writes still queued and checkpoints both databases. Ingest needs nothing more: the next
/// start resumes each firehose from its stored cursor, as it does after a crash.
pub async fn shut_down(state: &state::AppState) {
    for (name, result) in [
        ("index", state.db.close().await),
        ("spaces", state.spaces.db.close().await),
    ] {
        if let Err(e) = result {
            tracing::warn!(error = %e, "AppView {name} database: final checkpoint failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    /// Outside development a did:web naming this machine is not fetched at all (the same
    /// document is served and resolves in development, so the refusal is the guard's).
    #[tokio::test]
    async fn did_web_refuses_loopback_in_production() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let did = format!("did:web:localhost%3A{port}");
        let doc = serde_json::json!({ "id": did }).to_string();
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
            doc.len()
        );
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let _ = sock.write_all(answer.as_bytes()).await;
                });
            }
        });
        let did: atproto::syntax::Did = did.parse().expect("did");
        for dev in [false, true] {
            let remote = hearth_net::RemoteClient::new(&hearth_net::Config::new(dev, "test"))
                .expect("client");
            let (dids, _) = hearth_net::identity_resolvers(
                "http://127.0.0.1:9",
                dev,
                &remote,
                &reqwest::Client::new(),
            )
            .expect("resolvers");
            let got = dids.resolve(&did).await;
            if dev {
                assert_eq!(got.expect("resolved in development").id, did);
            } else {
                assert!(got.is_err(), "refused in production");
                assert_eq!(connections.load(Ordering::SeqCst), 0, "never connected");
            }
        }
    }

    /// Version 3 rebuilds `post_agg`: an index made by an earlier version keeps its counters.
    #[test]
    fn schema_v3_keeps_counters() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index.sqlite");
        let mut conn = hearth_db::open(&path).expect("open");
        hearth_db::migrate(&mut conn, &MIGRATIONS[..2]).expect("v2");
        conn.execute(
            "INSERT INTO post_agg (post_uri, likes, reposts, replies, quotes) VALUES ('at://did:plc:a/app.bsky.feed.post/1', 3, 2, 1, 4), ('at://did:plc:a/app.bsky.feed.post/2', 0, 0, 0, 0)",
            [],
        )
        .expect("rows");
        hearth_db::migrate(&mut conn, MIGRATIONS).expect("v3");
        let row: (i64, i64, i64, i64) = conn
            .query_row(
                "SELECT likes, reposts, replies, quotes FROM post_agg WHERE post_uri = 'at://did:plc:a/app.bsky.feed.post/1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("kept");
        assert_eq!(row, (3, 2, 1, 4));
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM post_agg", [], |r| r.get(0))
            .expect("count");
        assert_eq!(
            rows, 1,
            "an all-zero row is not carried over (a missing row reads as zeros)"
        );
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len());
        // The upsert the index uses needs the rebuilt table's key.
        conn.execute(
            "INSERT INTO post_agg (post_uri, likes) VALUES ('at://did:plc:a/app.bsky.feed.post/1', MAX(0, -1)) ON CONFLICT (post_uri) DO UPDATE SET likes = MAX(0, likes + -1)",
            [],
        )
        .expect("upsert");
        let likes: i64 = conn
            .query_row("SELECT likes FROM post_agg", [], |r| r.get(0))
            .expect("likes");
        assert_eq!(likes, 2);
    }
}
