//! The PDS harness: an in-process PDS on its own thread and runtime on a port-0 listener and a
//! temporary data directory, so a test can stop it (dropping every task it spawned) and start
//! it again on the same data; with a PLC directory, and snapshots of "what a refused request
//! must not change". The generic pieces (cases, XRPC client, firehose reader) are
//! `hearth_testkit`'s.
#![allow(dead_code)]

use hearth_pds::config::PdsConfig;
use hearth_pds::state::AppState;
pub use hearth_testkit::*;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// The local PLC directory, in memory on a port-0 listener.
pub fn start_plc() -> TestPlc {
    TestPlc::spawn().expect("PLC directory")
}

/// Settings a test may change; everything else is `HEARTH_DEV`-style local defaults.
#[derive(Clone)]
pub struct Options {
    pub rate_limits: bool,
    pub blob_max_bytes: u64,
    pub backfill_hours: u64,
    /// Reuse a port (restarts keep the service DID, so old tokens stay valid).
    pub port: Option<u16>,
    /// The `app.bsky.*` AppView: (URL, DID). Default: nothing listening.
    pub appview: Option<(String, String)>,
    /// The `social.hearth.*` AppView (`HEARTH_SPACES_APPVIEW_*`); default unset.
    pub spaces_appview: Option<(String, String)>,
    /// `HEARTH_DEV`; default on. Off, outbound calls a DID document names are guarded as in
    /// production.
    pub dev: bool,
    /// `HEARTH_SMTP_URL`; default unset (the PDS sends no email).
    pub smtp: Option<String>,
    /// Where blob bytes live; default on disk.
    pub blobstore: hearth_pds::config::BlobStoreArgs,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rate_limits: false,
            blob_max_bytes: 50 * 1024 * 1024,
            backfill_hours: 72,
            port: None,
            appview: None,
            spaces_appview: None,
            dev: true,
            smtp: None,
            blobstore: Default::default(),
        }
    }
}

pub fn config(plc_url: &str, data_dir: &Path, port: u16, o: &Options) -> PdsConfig {
    PdsConfig {
        hostname: "localhost".into(),
        port,
        bind: "127.0.0.1".into(),
        data_dir: data_dir.to_path_buf(),
        plc_url: Some(plc_url.to_owned()),
        handle_domains: Vec::new(),
        // Nothing listens on the discard port: proxied calls fail fast and cleanly.
        appview_url: o
            .appview
            .as_ref()
            .map_or_else(|| "http://127.0.0.1:9".into(), |a| a.0.clone()),
        appview_did: o
            .appview
            .as_ref()
            .map_or_else(|| "did:web:appview.invalid".into(), |a| a.1.clone()),
        spaces_appview_url: o.spaces_appview.as_ref().map(|a| a.0.clone()),
        spaces_appview_did: o.spaces_appview.as_ref().map(|a| a.1.clone()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        invite_required: false,
        crawlers: Vec::new(),
        dev: o.dev,
        blob_max_bytes: o.blob_max_bytes,
        backfill_hours: o.backfill_hours,
        trust_proxy: false,
        client_ip_header: None,
        ca_certs: None,
        internal_hosts: Vec::new(),
        rate_limits: o.rate_limits,
        smtp_url: o.smtp.clone(),
        smtp_from: Some("Hearth Test <hearth@localhost>".into()),
        blobstore: o.blobstore.clone(),
    }
}

/// An in-process PDS; its XRPC client (`get`, `post`, `create_account`, ...) is reached
/// through `Deref`.
pub struct Pds {
    pub xrpc: Xrpc,
    pub data_dir: PathBuf,
    /// The server's state, for reaching into the database and calling background jobs. `None`
    /// once stopped.
    pub state: Option<AppState>,
    server: Option<ServerThread>,
}

impl Deref for Pds {
    type Target = Xrpc;

    fn deref(&self) -> &Xrpc {
        &self.xrpc
    }
}

pub fn start_pds(plc_url: &str, data_dir: &Path, o: Options) -> Pds {
    let (plc, dir, opts) = (plc_url.to_owned(), data_dir.to_path_buf(), o.clone());
    let (server, (state, port)) = ServerThread::start(move || async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port.unwrap_or(0)))
            .await
            .expect("bind pds");
        let port = listener.local_addr().expect("pds addr").port();
        let state =
            hearth_pds::build_state(config(&plc, &dir, port, &opts)).expect("build pds state");
        let serving = state.clone();
        let serve = async move {
            if let Err(e) = hearth_pds::serve_on(serving, listener).await {
                eprintln!("pds stopped: {e}");
            }
        };
        ((state, port), serve)
    });
    Pds {
        xrpc: Xrpc::local(port),
        data_dir: data_dir.to_path_buf(),
        state: Some(state),
        server: Some(server),
    }
}

/// A test world: PLC, a data directory and a PDS on it.
pub struct World {
    pub plc: TestPlc,
    pub dir: tempfile::TempDir,
    pub pds: Pds,
}

impl World {
    pub fn new(o: Options) -> World {
        let plc = start_plc();
        let dir = tempfile::tempdir().expect("tempdir");
        let pds = start_pds(plc.url(), dir.path(), o);
        World { plc, dir, pds }
    }

    /// Stops the PDS and starts it again on the same data directory and port.
    pub fn restart(&mut self, mut o: Options) {
        let port = self.pds.port;
        self.pds.stop();
        o.port = Some(port);
        self.pds = start_pds(self.plc.url(), self.dir.path(), o);
    }
}

impl Drop for Pds {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Pds {
    pub fn state(&self) -> &AppState {
        self.state.as_ref().expect("pds is running")
    }

    pub fn stop(&mut self) {
        // Drop our handle on the state first so the database closes with the server.
        self.state = None;
        if let Some(mut s) = self.server.take() {
            s.stop();
        }
    }

    pub async fn snapshot(&self, did: &str) -> Snapshot {
        let head = self
            .get(&format!("com.atproto.sync.getLatestCommit?did={did}"), None)
            .await;
        let d = did.to_owned();
        let (records, blobs, events) = self
            .state()
            .db
            .readers
            .read(move |c| {
                let get = |r: &rusqlite::Row<'_>| r.get::<_, i64>(0);
                let records = c.query_row(
                    "SELECT COUNT(*) FROM record WHERE account = (SELECT id FROM account WHERE did = ?1)",
                    [&d],
                    get,
                )?;
                let blobs = c.query_row(
                    "SELECT COUNT(*) FROM blob WHERE account = (SELECT id FROM account WHERE did = ?1)",
                    [&d],
                    get,
                )?;
                let events = c.query_row("SELECT COUNT(*) FROM repo_seq", [], get)?;
                Ok::<_, hearth_pds::db::DbError>((records, blobs, events))
            })
            .await
            .expect("snapshot query");
        Snapshot {
            head: head.body["cid"].as_str().map(str::to_owned),
            rev: head.body["rev"].as_str().map(str::to_owned),
            records,
            blobs,
            events,
            seq: self.state().sequencer.head(),
        }
    }
}

/// Runs a table of refusals against `pds`: each row gets its status and XRPC error, changes
/// nothing for `did` (see [`Snapshot`]), and leaves the server answering.
pub async fn assert_refused(
    cases: &Cases,
    pds: &Pds,
    did: &str,
    table: impl IntoIterator<Item = Refusal>,
) {
    for row in table {
        cases.case(&row.what);
        let before = pds.snapshot(did).await;
        let res = pds.send(&row.call).await;
        assert_eq!(
            (res.status.as_u16(), res.body["error"].as_str()),
            (row.status, Some(row.error)),
            "{}: {}",
            row.what,
            res.text
        );
        assert_xrpc_error(&res.body, &res.text);
        let after = pds.snapshot(did).await;
        assert_eq!(before, after, "{}: state changed", row.what);
        pds.assert_healthy().await;
    }
}

/// What a refused request must leave alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub head: Option<String>,
    pub rev: Option<String>,
    pub records: i64,
    pub blobs: i64,
    pub events: i64,
    pub seq: i64,
}

/// Asks for an account-deletion code and reads it from the mail `smtp` received (the PDS must
/// have been started with it).
pub async fn delete_code(pds: &Pds, smtp: &smtp::Smtp, account: &Account) -> String {
    let email = email_of(account);
    let seen = smtp.to(&email).len();
    let res = pds
        .post(
            "com.atproto.server.requestAccountDelete",
            Some(&account.access),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "requestAccountDelete: {}", res.text);
    smtp.next_code(&email, seen).await.1
}

/// The address [`Xrpc::create_account`] gives an account.
pub fn email_of(account: &Account) -> String {
    format!("{}@example.com", account.handle.trim_end_matches(".test"))
}

/// The grant row the authorization server would have written: the resource server looks it
/// up for every request.
pub fn add_grant(pds: &Pds, did: &str, scope: &str, jkt: &str, expires_at: i64) -> String {
    let id = format!("g{}", hex::encode(rand::random::<[u8; 8]>()));
    let g = hearth_pds::oauth::store::Grant {
        id: id.clone(),
        account: 0,
        client_id: "http://localhost".into(),
        client_name: None,
        scope: scope.to_owned(),
        dpop_jkt: jkt.to_owned(),
        confidential: false,
        created_at: 0,
        refreshed_at: 0,
        expires_at,
        refresh_expires_at: expires_at,
    };
    let did = did.to_owned();
    let conn = rusqlite::Connection::open(pds.data_dir.join("pds.sqlite")).expect("open db");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("busy timeout");
    let account: i64 = conn
        .query_row("SELECT id FROM account WHERE did = ?1", [&did], |r| {
            r.get(0)
        })
        .expect("account");
    hearth_pds::oauth::store::insert_grant(
        &conn,
        &hearth_pds::oauth::store::Grant { account, ..g },
        id.as_bytes(),
    )
    .expect("grant");
    id
}
