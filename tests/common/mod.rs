//! Shared harness for the PDS end-to-end tests: a local PLC directory and the PDS, each in its
//! own thread with its own Tokio runtime on a port-0 listener and a temporary data directory,
//! so a test can stop a server (dropping every task it spawned) and start it again on the same
//! data; plus an HTTP client that checks every error is `{"error","message"}` JSON, snapshots of
//! "what a refused request must not change", and a firehose reader.
#![allow(dead_code)]

use atproto::crypto::PublicKey;
use atproto::firehose::{Event, Frame, decode_frame};
use atproto::identity::DidDocument;
use futures::{SinkExt, StreamExt};
use hearth_pds::config::PdsConfig;
use hearth_pds::state::AppState;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub const ADMIN_PASSWORD: &str = "admin-secret";
pub const PASSWORD: &str = "correct horse battery";

/// Counts the cases a test ran and prints the total (`scripts/test` collects `cases run`).
pub struct Cases {
    name: &'static str,
    n: AtomicUsize,
}

impl Cases {
    pub fn new(name: &'static str) -> Cases {
        Cases {
            name,
            n: AtomicUsize::new(0),
        }
    }

    pub fn case(&self, what: &str) {
        let n = self.n.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!("  [{}] case {n}: {what}", self.name);
    }

    pub fn count(&self) -> usize {
        self.n.load(Ordering::Relaxed)
    }
}

impl Drop for Cases {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            println!("{}: {} cases run", self.name, self.count());
        }
    }
}

/// A server running on its own thread and runtime. Dropping it stops the server and every task
/// it spawned (the runtime shuts down), which is how a test "stops" a PDS in-process.
pub struct ServerThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `setup` on a fresh runtime; it returns a value for the caller and the future that
    /// serves until stopped.
    pub fn start<T, S, F1, F2>(setup: S) -> (ServerThread, T)
    where
        T: Send + 'static,
        S: FnOnce() -> F1 + Send + 'static,
        F1: Future<Output = (T, F2)>,
        F2: Future<Output = ()>,
    {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<T>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let (value, serve) = setup().await;
                let _ = ready_tx.send(value);
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_secs(10));
        });
        let value = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not start");
        (
            ServerThread {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            value,
        )
    }

    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The local PLC directory (`hearth_pds::plc_server`), on SQLite in a temporary directory.
pub struct Plc {
    pub url: String,
    _server: ServerThread,
    _dir: tempfile::TempDir,
}

pub fn start_plc() -> Plc {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plc.sqlite");
    let (server, addr) = ServerThread::start(move || async move {
        let store = hearth_pds::plc_server::PlcStore::open(&path).expect("plc store");
        // Tests create many identities quickly; plc.directory's per-DID limits are not the
        // subject here.
        store.set_rate_limits(false);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind plc");
        let addr: SocketAddr = listener.local_addr().expect("plc addr");
        let serve = async move {
            let _ = axum::serve(listener, hearth_pds::plc_server::router(store)).await;
        };
        (addr, serve)
    });
    Plc {
        url: format!("http://127.0.0.1:{}", addr.port()),
        _server: server,
        _dir: dir,
    }
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
        rate_limits: o.rate_limits,
    }
}

/// An in-process PDS.
pub struct Pds {
    pub url: String,
    pub port: u16,
    pub data_dir: PathBuf,
    /// The server's state, for reaching into the database and calling background jobs. `None`
    /// once stopped.
    pub state: Option<AppState>,
    pub http: reqwest::Client,
    server: Option<ServerThread>,
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
        url: format!("http://localhost:{port}"),
        port,
        data_dir: data_dir.to_path_buf(),
        state: Some(state),
        http: client(),
        server: Some(server),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// A test world: PLC, a data directory and a PDS on it.
pub struct World {
    pub plc: Plc,
    pub dir: tempfile::TempDir,
    pub pds: Pds,
}

impl World {
    pub fn new(o: Options) -> World {
        let plc = start_plc();
        let dir = tempfile::tempdir().expect("tempdir");
        let pds = start_pds(&plc.url, dir.path(), o);
        World { plc, dir, pds }
    }

    /// Stops the PDS and starts it again on the same data directory and port.
    pub fn restart(&mut self, mut o: Options) {
        let port = self.pds.port;
        self.pds.stop();
        o.port = Some(port);
        self.pds = start_pds(&self.plc.url, self.dir.path(), o);
    }
}

impl Drop for Pds {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A signed-in account.
#[derive(Clone, Debug)]
pub struct Account {
    pub did: String,
    pub handle: String,
    pub access: String,
    pub refresh: String,
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Res {
    async fn from(r: reqwest::Response) -> Res {
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res { status, body, text }
    }

    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {}: {}",
            self.status,
            self.text
        );
        self.body
    }

    /// Asserts an XRPC error: the status, the error name, and a string message.
    pub fn err(&self, status: u16, name: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {name}, got {}: {}",
            self.status,
            self.text
        );
        assert_xrpc_error(&self.body, &self.text);
        assert_eq!(
            self.body["error"].as_str(),
            Some(name),
            "wrong error name: {}",
            self.text
        );
    }
}

/// Every error body is exactly an object with string `error` and `message`.
pub fn assert_xrpc_error(body: &Value, text: &str) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not a JSON object: {text:?}"));
    assert!(
        obj.get("error").is_some_and(Value::is_string),
        "no error name: {text}"
    );
    assert!(
        obj.get("message").is_some_and(Value::is_string),
        "no message: {text}"
    );
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

    pub fn xrpc(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.url)
    }

    pub async fn get(&self, nsid_and_query: &str, token: Option<&str>) -> Res {
        let mut req = self.http.get(self.xrpc(nsid_and_query));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Res::from(req.send().await.expect("GET")).await
    }

    pub async fn post(&self, nsid: &str, token: Option<&str>, body: &Value) -> Res {
        let mut req = self.http.post(self.xrpc(nsid)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Res::from(req.send().await.expect("POST")).await
    }

    /// POST with raw bytes and a chosen content type (None: no header).
    pub async fn post_raw(
        &self,
        nsid: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Res {
        let mut req = self.http.post(self.xrpc(nsid)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Res::from(req.send().await.expect("POST")).await
    }

    pub async fn admin_post(&self, nsid: &str, body: &Value) -> Res {
        let req = self
            .http
            .post(self.xrpc(nsid))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(body);
        Res::from(req.send().await.expect("POST")).await
    }

    /// The server still answers: no handler panic or stuck writer took it down.
    pub async fn assert_healthy(&self) {
        let r = self.get("_health", None).await;
        assert_eq!(r.status, StatusCode::OK, "health: {}", r.text);
    }

    pub async fn create_account(&self, name: &str) -> Account {
        let handle = format!("{name}.test");
        let v = self
            .post(
                "com.atproto.server.createAccount",
                None,
                &json!({ "handle": handle, "email": format!("{name}@example.com"), "password": PASSWORD }),
            )
            .await
            .ok();
        Account {
            did: v["did"].as_str().expect("did").to_owned(),
            handle,
            access: v["accessJwt"].as_str().expect("accessJwt").to_owned(),
            refresh: v["refreshJwt"].as_str().expect("refreshJwt").to_owned(),
        }
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Res {
        self.post(
            "com.atproto.server.createSession",
            None,
            &json!({ "identifier": identifier, "password": password }),
        )
        .await
    }

    /// Creates a record, expecting success; returns the response body.
    pub async fn create_record(&self, a: &Account, collection: &str, record: Value) -> Value {
        self.post(
            "com.atproto.repo.createRecord",
            Some(&a.access),
            &json!({ "repo": a.did, "collection": collection, "record": record }),
        )
        .await
        .ok()
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

    /// A raw HTTP/1.1 request, bytes as given (no client-side path normalisation).
    pub async fn raw(&self, request_line_and_headers: &str) -> Res {
        raw_http(self.port, request_line_and_headers).await
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

/// Sends a request over a plain TCP connection and parses the response (status and body;
/// chunked bodies are de-chunked).
pub async fn raw_http(port: u16, head: &str) -> Res {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Res {
        status: StatusCode::from_u16(status).expect("status"),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        text: body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The repository signing key of `did`, from the PLC directory's DID document.
pub async fn plc_key(plc_url: &str, did: &str) -> PublicKey {
    let doc: DidDocument = client()
        .get(format!("{plc_url}/{did}"))
        .send()
        .await
        .expect("plc get")
        .json()
        .await
        .expect("did doc");
    doc.signing_key().expect("signing key")
}

/// One frame read from the firehose.
#[derive(Debug)]
pub enum Got {
    Frame(Frame),
    Closed,
    Timeout,
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `subscribeRepos` with an optional raw cursor string.
pub async fn subscribe(port: u16, cursor: Option<&str>) -> Ws {
    let url = match cursor {
        Some(c) => format!("ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos?cursor={c}"),
        None => format!("ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos"),
    };
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connect");
    ws
}

/// The next frame, decoded; `Closed` at the end of the stream.
pub async fn next_frame(ws: &mut Ws, wait: Duration) -> Got {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Got::Timeout,
            Ok(None) | Ok(Some(Err(_))) => return Got::Closed,
            Ok(Some(Ok(Message::Binary(b)))) => {
                return Got::Frame(decode_frame(&b).expect("frame decodes"));
            }
            Ok(Some(Ok(Message::Close(_)))) => return Got::Closed,
            Ok(Some(Ok(Message::Ping(p)))) => {
                let _ = ws.send(Message::Pong(p)).await;
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Every event with a sequence number from `cursor` up to `until_seq`, in arrival order.
pub async fn replay(port: u16, cursor: i64, until_seq: i64) -> Vec<Event> {
    let mut ws = subscribe(port, Some(&cursor.to_string())).await;
    let mut out = Vec::new();
    loop {
        match next_frame(&mut ws, Duration::from_secs(20)).await {
            Got::Frame(Frame::Event(e)) => {
                let seq = e.seq();
                out.push(e);
                if seq.is_some_and(|s| s >= until_seq) {
                    break;
                }
            }
            Got::Frame(other) => panic!("unexpected frame in replay: {other:?}"),
            Got::Closed => panic!("stream closed during replay"),
            Got::Timeout => panic!(
                "replay stalled after {} events (waiting for seq {until_seq})",
                out.len()
            ),
        }
    }
    let _ = ws.close(None).await;
    out
}

/// Checks a `#commit` the way a relay does: the CAR's commit is signed by `key`, and inverting
/// the ops on the new tree lands on `prevData`. Returns the commit's data root.
pub fn verify_commit_event(c: &atproto::firehose::Commit, key: &PublicKey) -> atproto::data::Cid {
    let ops: Vec<_> = c
        .ops
        .iter()
        .map(|o| o.to_op().expect("known op action"))
        .collect();
    let v = atproto::repo::verify_commit_car(&c.blocks, &ops, c.prev_data, Some(key))
        .unwrap_or_else(|e| panic!("commit seq {} of {} does not verify: {e}", c.seq, c.repo));
    assert_eq!(v.commit_cid, c.commit, "CAR root is the commit");
    assert_eq!(v.did, c.repo);
    assert_eq!(v.rev, c.rev);
    v.data
}

/// Checks a replay: contiguous sequence numbers from `first`, each `#commit` verified and
/// chained (`since` is the repository's previous rev, `prevData` its previous data root).
pub async fn check_replay(plc_url: &str, events: &[Event], first: i64) -> usize {
    let mut keys = HashMap::new();
    let mut revs: HashMap<String, (String, atproto::data::Cid)> = HashMap::new();
    let mut commits = 0;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e.seq(),
            Some(first + i as i64),
            "events arrive in sequence order"
        );
        if let Event::Commit(c) = e {
            if !keys.contains_key(&c.repo) {
                keys.insert(c.repo.clone(), plc_key(plc_url, &c.repo).await);
            }
            let data = verify_commit_event(c, &keys[&c.repo]);
            if let Some((prev_rev, prev_data)) = revs.get(&c.repo) {
                assert_eq!(c.since.as_deref(), Some(prev_rev.as_str()), "since chains");
                assert_eq!(c.prev_data, Some(*prev_data), "prevData chains");
                assert!(c.rev > *prev_rev, "revs increase");
            }
            revs.insert(c.repo.clone(), (c.rev.clone(), data));
            commits += 1;
        }
    }
    commits
}

/// A post record that passes the lexicon.
pub fn post(text: &str) -> Value {
    json!({ "$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-01-01T00:00:00.000Z" })
}

/// The account-deletion code mailed to an account (this PDS keeps it in `email_token`).
pub async fn email_token(pds: &Pds, did: &str) -> String {
    let d = did.to_owned();
    pds.state()
        .db
        .readers
        .read(move |c| {
            c.query_row(
                "SELECT token FROM email_token WHERE purpose = 'delete_account' AND account = (SELECT id FROM account WHERE did = ?1)",
                [d],
                |r| r.get(0),
            )
            .map_err(hearth_pds::db::DbError::from)
        })
        .await
        .expect("email token")
}
