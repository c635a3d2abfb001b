//! The AppView's firehose consumer and service-auth under hostile input.
//!
//! A fake PDS (axum, port 0) serves `subscribeRepos` with frames crafted here: real commits
//! built with `atproto::repo::apply_writes` over `atproto::mst`, and commits signed with the
//! wrong key, whose ops do not invert to `prevData`, that break the chain, that claim a rev far
//! in the future, that are too large, for a deleted account; garbage, truncated and oversized
//! frames, unknown event types, error frames, replays. It also serves `describeServer` (so the
//! AppView treats it as a PDS), `listRepos`, `getRepo` (resyncs) and `resolveHandle` (handle
//! checks in development mode). A real PLC directory (the PDS crate's, port 0) holds genuine
//! did:plc documents for the test accounts. The AppView runs in-process on its own runtime, so
//! it can be stopped and restarted on the same data directory.
//!
//! Asserted: every invalid event is dropped and counted under its reason (`/xrpc/_health` →
//! `ingest.dropped`); valid events keep flowing and their records are served by
//! `app.bsky.feed.getPosts`; the consumer survives everything; a broken chain is repaired from
//! `getRepo` without losing what other accounts did (follower counts, notifications); and the
//! cursor survives a restart (the new instance resumes after the last sequence number and
//! re-indexes nothing).

use atproto::blockstore::{BlockStore, MemoryBlockStore};
use atproto::car::write_car;
use atproto::crypto::{Algorithm, Keypair};
use atproto::data::{Cid, cbor, cid_for_cbor, json::record_from_json};
use atproto::firehose::{self, Account as AccountEvent, Commit, Event, Identity, RepoOpWire};
use atproto::mst::Mst;

use atproto::repo::{CommitData, RecordWrite, WriteAction, apply_writes};
use atproto::syntax::{Datetime, Tid, TidClock};
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hearth_appview::config::{AppviewConfig, Scope};
use hearth_appview::state::AppState;
use hearth_testkit::{Cases, PlcIdentity, TestPlc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

/// Polls `f` until it holds, or fails the test naming `what`.
async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn now_iso() -> String {
    Datetime::now().to_string()
}

// ---------------------------------------------------------------------------------------------
// The fake PDS
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
enum Entry {
    Frame(Vec<u8>),
    /// The server closes the connection here.
    Close,
}

struct FakeInner {
    /// Frames in the order they are sent, each keyed by the highest sequence number sent up to
    /// and including it: a subscriber with cursor `c` gets every entry keyed above `c`.
    log: Mutex<Vec<(i64, Entry)>>,
    len: watch::Sender<usize>,
    next_seq: Mutex<i64>,
    repos: Mutex<HashMap<String, Vec<u8>>>,
    handles: Mutex<HashMap<String, String>>,
    /// The cursor of every subscription, in order.
    connects: Mutex<Vec<Option<i64>>>,
    get_repo_calls: AtomicUsize,
    list_repos_calls: AtomicUsize,
    /// `listRepos` answers an empty page with a cursor, forever.
    list_repos_loops: AtomicBool,
}

#[derive(Clone)]
struct FakePds {
    url: String,
    inner: Arc<FakeInner>,
}

impl FakePds {
    async fn start() -> FakePds {
        let (len, _) = watch::channel(0);
        let inner = Arc::new(FakeInner {
            log: Mutex::new(Vec::new()),
            len,
            next_seq: Mutex::new(0),
            repos: Mutex::default(),
            handles: Mutex::default(),
            connects: Mutex::default(),
            get_repo_calls: AtomicUsize::new(0),
            list_repos_calls: AtomicUsize::new(0),
            list_repos_loops: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/xrpc/com.atproto.sync.subscribeRepos", get(fake_subscribe))
            .route(
                "/xrpc/com.atproto.server.describeServer",
                get(|| async {
                    axum::Json(
                        json!({ "did": "did:web:fake.test", "availableUserDomains": [".test"] }),
                    )
                }),
            )
            .route("/xrpc/com.atproto.sync.listRepos", get(fake_list_repos))
            .route("/xrpc/com.atproto.sync.getRepo", get(fake_get_repo))
            .route(
                "/xrpc/com.atproto.identity.resolveHandle",
                get(fake_resolve_handle),
            )
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake PDS");
        let url = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakePds { url, inner }
    }

    fn push(&self, seq: Option<i64>, entry: Entry) {
        let mut log = self.inner.log.lock().expect("log");
        let key = log
            .last()
            .map(|(k, _)| *k)
            .unwrap_or(0)
            .max(seq.unwrap_or(0));
        log.push((key, entry));
        self.inner.len.send_replace(log.len());
    }

    fn next_seq(&self) -> i64 {
        let mut s = self.inner.next_seq.lock().expect("seq");
        *s += 1;
        *s
    }

    fn last_seq(&self) -> i64 {
        *self.inner.next_seq.lock().expect("seq")
    }

    /// Sends an event under the next sequence number, which it returns.
    fn emit(&self, mut event: Event) -> i64 {
        let seq = self.next_seq();
        match &mut event {
            Event::Commit(c) => c.seq = seq,
            Event::Sync(s) => s.seq = seq,
            Event::Identity(i) => i.seq = seq,
            Event::Account(a) => a.seq = seq,
            Event::Info(_) => {}
        }
        self.push(
            Some(seq),
            Entry::Frame(firehose::encode_event(&event).expect("encode")),
        );
        seq
    }

    /// Sends bytes as a frame (no sequence number of its own).
    fn emit_raw(&self, bytes: Vec<u8>) {
        self.push(None, Entry::Frame(bytes));
    }

    fn close(&self) {
        self.push(None, Entry::Close);
    }

    fn set_repo(&self, a: &Account) {
        self.inner
            .repos
            .lock()
            .expect("repos")
            .insert(a.did.clone(), a.car());
    }

    fn set_handle(&self, handle: &str, did: &str) {
        self.inner
            .handles
            .lock()
            .expect("handles")
            .insert(handle.to_owned(), did.to_owned());
    }

    fn connects(&self) -> Vec<Option<i64>> {
        self.inner.connects.lock().expect("connects").clone()
    }

    fn get_repo_calls(&self) -> usize {
        self.inner.get_repo_calls.load(Ordering::SeqCst)
    }
}

async fn fake_subscribe(
    State(f): State<Arc<FakeInner>>,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    let cursor = q.get("cursor").and_then(|c| c.parse::<i64>().ok());
    f.connects.lock().expect("connects").push(cursor);
    ws.max_message_size(64 << 20)
        .on_upgrade(move |socket| fake_stream(f, socket, cursor))
}

async fn fake_stream(f: Arc<FakeInner>, mut socket: WebSocket, cursor: Option<i64>) {
    let mut changes = f.len.subscribe();
    let mut idx = {
        let log = f.log.lock().expect("log");
        match cursor {
            Some(c) => log.iter().position(|(k, _)| *k > c).unwrap_or(log.len()),
            None => log.len(),
        }
    };
    loop {
        let pending: Vec<Entry> = {
            let log = f.log.lock().expect("log");
            let out = log[idx..].iter().map(|(_, e)| e.clone()).collect();
            idx = log.len();
            out
        };
        for e in pending {
            match e {
                Entry::Frame(b) => {
                    if socket.send(Message::Binary(b.into())).await.is_err() {
                        return;
                    }
                }
                Entry::Close => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            }
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { return },
            m = socket.recv() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                _ => {}
            },
        }
    }
}

async fn fake_list_repos(State(f): State<Arc<FakeInner>>) -> axum::Json<Value> {
    f.list_repos_calls.fetch_add(1, Ordering::SeqCst);
    if f.list_repos_loops.load(Ordering::SeqCst) {
        axum::Json(json!({ "repos": [], "cursor": "again" }))
    } else {
        axum::Json(json!({ "repos": [] }))
    }
}

async fn fake_get_repo(
    State(f): State<Arc<FakeInner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    f.get_repo_calls.fetch_add(1, Ordering::SeqCst);
    let did = q.get("did").cloned().unwrap_or_default();
    match f.repos.lock().expect("repos").get(&did) {
        Some(car) => (
            [(axum::http::header::CONTENT_TYPE, "application/vnd.ipld.car")],
            car.clone(),
        )
            .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "RepoNotFound", "message": "no such repo" })),
        )
            .into_response(),
    }
}

async fn fake_resolve_handle(
    State(f): State<Arc<FakeInner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let handle = q.get("handle").cloned().unwrap_or_default();
    match f.handles.lock().expect("handles").get(&handle) {
        Some(did) => axum::Json(json!({ "did": did })).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "HandleNotFound", "message": "unknown" })),
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// The PLC directory and the accounts
// ---------------------------------------------------------------------------------------------

/// A test account: a real did:plc, its signing key, and its repository (kept here, as a PDS
/// would keep it).
struct Account {
    did: String,
    id: PlcIdentity,
    store: MemoryBlockStore,
    root: Option<Cid>,
    head: Option<Cid>,
    rev: Option<String>,
    clock: TidClock,
}

impl Account {
    async fn create(name: &str, plc: &str, pds: &FakePds) -> Account {
        let handle = format!("{name}.test");
        let id = PlcIdentity::register(plc, &handle, &pds.url, &[]).await;
        pds.set_handle(&handle, &id.did);
        Account {
            did: id.did.clone(),
            id,
            store: MemoryBlockStore::new(),
            root: None,
            head: None,
            rev: None,
            clock: TidClock::new(),
        }
    }

    async fn change_handle(&mut self, plc: &str, pds: &FakePds, handle: &str) {
        self.id
            .update(plc, |o| o.also_known_as = vec![format!("at://{handle}")])
            .await;
        pds.set_handle(handle, &self.did);
    }

    fn uri(&self, collection: &str, rkey: &str) -> String {
        format!("at://{}/{collection}/{rkey}", self.did)
    }

    fn rkey(&self) -> String {
        self.clock.next().to_string()
    }

    /// Builds a commit on the current head without making it the head.
    fn build(&self, writes: Vec<RecordWrite>, key: &Keypair, rev: Option<String>) -> CommitData {
        let mut mst = match self.root {
            Some(r) => Mst::load(&self.store, r),
            None => Mst::create(&self.store),
        };
        let rev = rev.unwrap_or_else(|| self.clock.next().to_string());
        apply_writes(&mut mst, &self.did, &rev, key, writes).expect("apply writes")
    }

    /// The firehose event for a commit built on the current head.
    fn event(&self, cd: &CommitData) -> Commit {
        let car = write_car(
            &cd.cid,
            cd.relevant_blocks.iter().map(|(c, b)| (c, b.as_slice())),
        )
        .expect("car");
        Commit {
            seq: 0,
            rebase: false,
            too_big: false,
            repo: self.did.clone(),
            commit: cd.cid,
            rev: cd.rev.clone(),
            since: self.rev.clone(),
            blocks: car,
            ops: cd.ops.iter().map(RepoOpWire::from).collect(),
            blobs: vec![],
            prev_data: Some(cd.prev_data),
            time: now_iso(),
        }
    }

    fn advance(&mut self, cd: &CommitData) {
        self.store.extend(cd.new_blocks.clone());
        self.root = Some(cd.data);
        self.head = Some(cd.cid);
        self.rev = Some(cd.rev.clone());
    }

    /// A genuine commit: made the head, and returned as its firehose event.
    fn commit(&mut self, writes: Vec<RecordWrite>) -> Event {
        let cd = self.build(writes, &self.id.key, None);
        let ev = self.event(&cd);
        self.advance(&cd);
        Event::Commit(Box::new(ev))
    }

    /// The whole repository as `getRepo` serves it.
    fn car(&self) -> Vec<u8> {
        let head = self.head.expect("repo has a commit");
        let mut mst = Mst::load(&self.store, self.root.expect("root"));
        let mut blocks = mst.node_blocks().expect("nodes");
        for (_, cid) in mst.leaves().expect("leaves") {
            blocks.push((
                cid,
                self.store.get_block(&cid).expect("get").expect("record"),
            ));
        }
        blocks.push((
            head,
            self.store.get_block(&head).expect("get").expect("commit"),
        ));
        write_car(&head, blocks.iter().map(|(c, b)| (c, b.as_slice()))).expect("car")
    }
}

fn record(v: Value) -> (Cid, Vec<u8>) {
    let ipld = record_from_json(&v).expect("record");
    let bytes = cbor::encode(&ipld).expect("encode");
    (cid_for_cbor(&bytes), bytes)
}

fn create(collection: &str, rkey: &str, v: Value) -> RecordWrite {
    RecordWrite {
        action: WriteAction::Create,
        collection: collection.into(),
        rkey: rkey.into(),
        record: Some(record(v)),
    }
}

fn update(collection: &str, rkey: &str, v: Value) -> RecordWrite {
    RecordWrite {
        action: WriteAction::Update,
        ..create(collection, rkey, v)
    }
}

fn delete(collection: &str, rkey: &str) -> RecordWrite {
    RecordWrite {
        action: WriteAction::Delete,
        collection: collection.into(),
        rkey: rkey.into(),
        record: None,
    }
}

const POST: &str = "app.bsky.feed.post";

fn post(text: &str) -> Value {
    json!({ "$type": POST, "text": text, "createdAt": now_iso() })
}

fn profile(name: &str) -> Value {
    json!({ "$type": "app.bsky.actor.profile", "displayName": name })
}

// ---------------------------------------------------------------------------------------------
// The AppView, in-process, on its own runtime
// ---------------------------------------------------------------------------------------------

struct Appview {
    rt: Option<tokio::runtime::Runtime>,
    state: AppState,
    url: String,
    http: reqwest::Client,
}

impl Appview {
    fn start(dir: &Path, plc: &str, firehoses: Vec<String>) -> Appview {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind AppView");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        // Parsed like the command line, so settings added later keep their defaults.
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            cfg: AppviewConfig,
        }
        let port_s = port.to_string();
        let hosts = firehoses.join(",");
        let args = [
            "appview",
            "--appview-hostname",
            "localhost",
            "--appview-port",
            &port_s,
            "--appview-bind",
            "127.0.0.1",
            "--appview-data-dir",
            dir.to_str().expect("utf-8 path"),
            "--appview-plc-url",
            plc,
            "--firehoses",
            &hosts,
            "--scope",
            "network",
            "--appview-dev",
        ];
        let cfg = <Cli as clap::Parser>::try_parse_from(args)
            .expect("AppView settings")
            .cfg;
        assert_eq!(cfg.scope, Scope::Network);
        let state = hearth_appview::build_state(cfg).expect("AppView state");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let st = state.clone();
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            if let Err(e) = hearth_appview::serve_on(st, listener).await {
                panic!("AppView stopped: {e}");
            }
        });
        Appview {
            rt: Some(rt),
            state,
            url: format!("http://localhost:{port}"),
            http: reqwest::Client::new(),
        }
    }

    /// Stops every task of this instance (the ingest threads end when their queues close).
    fn stop(mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }

    async fn get(&self, nsid: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}/xrpc/{nsid}", self.url))
            .query(query)
            .send()
            .await
            .expect("AppView reachable");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn dropped(&self) -> HashMap<String, u64> {
        let (status, health) = self.get("_health", &[]).await;
        assert_eq!(status, 200, "health: {health}");
        serde_json::from_value(health["ingest"]["dropped"].clone()).expect("dropped counters")
    }

    async fn dropped_for(&self, reason: &str) -> u64 {
        self.dropped().await.get(reason).copied().unwrap_or(0)
    }

    /// Waits until `reason` has been counted `n` times.
    async fn wait_dropped(&self, reason: &str, n: u64) {
        eventually(&format!("{n} events dropped as {reason}"), || async {
            self.dropped_for(reason).await >= n
        })
        .await;
        let got = self.dropped_for(reason).await;
        assert_eq!(got, n, "{reason} counted {got} times, expected {n}");
    }

    /// The URIs `getPosts` returns of those asked for.
    async fn posts(&self, uris: &[&str]) -> Vec<String> {
        let q: Vec<(&str, &str)> = uris.iter().map(|u| ("uris", *u)).collect();
        let (status, body) = self.get("app.bsky.feed.getPosts", &q).await;
        assert_eq!(status, 200, "getPosts: {body}");
        body["posts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["uri"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn wait_posts(&self, what: &str, uris: &[&str], want: &[&str]) {
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        eventually(what, || async {
            let mut got = self.posts(uris).await;
            got.sort();
            got == want
        })
        .await;
    }

    async fn profile(&self, actor: &str) -> (u16, Value) {
        self.get("app.bsky.actor.getProfile", &[("actor", actor)])
            .await
    }

    /// Notifications addressed to `did`, read from the index.
    async fn notification_count(&self, did: &str) -> i64 {
        let did = did.to_owned();
        self.state
            .db
            .readers
            .read(move |c| {
                c.query_row(
                    "SELECT COUNT(*) FROM notification n JOIN actor a ON a.id = n.recipient WHERE a.did = ?1",
                    [did],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(hearth_db::DbError::from)
            })
            .await
            .expect("count notifications")
    }

    /// The cursor stored for a host (firehoses are keyed by their `ws://` URL).
    async fn stored_cursor(&self, host: &str) -> Option<i64> {
        let host = host.replacen("http://", "ws://", 1);
        self.state
            .db
            .readers
            .read(move |c| {
                rusqlite::OptionalExtension::optional(c.query_row(
                    "SELECT seq FROM firehose_cursor WHERE host = ?1",
                    [host],
                    |r| r.get::<_, i64>(0),
                ))
                .map_err(hearth_db::DbError::from)
            })
            .await
            .expect("read cursor")
    }
}

fn stat(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// What a refused case sends.
enum Input<'a> {
    /// An event, under the next sequence number of `host`.
    Event(&'a FakePds, Event),
    /// Bytes sent as a frame by `host`.
    Raw(&'a FakePds, Vec<u8>),
}

/// An input the consumer must drop and count under `reason`.
struct Refusal<'a> {
    what: &'static str,
    reason: &'static str,
    input: Input<'a>,
}

impl<'a> Refusal<'a> {
    fn event(what: &'static str, reason: &'static str, host: &'a FakePds, event: Event) -> Self {
        Refusal {
            what,
            reason,
            input: Input::Event(host, event),
        }
    }

    fn raw(what: &'static str, reason: &'static str, host: &'a FakePds, bytes: Vec<u8>) -> Self {
        Refusal {
            what,
            reason,
            input: Input::Raw(host, bytes),
        }
    }
}

/// Sends each input in turn and waits until it is counted under its reason (`counted` holds
/// each reason's count so far, and is brought up to date).
async fn assert_dropped(
    cases: &Cases,
    av: &Appview,
    counted: &mut HashMap<String, u64>,
    table: Vec<Refusal<'_>>,
) {
    for Refusal {
        what,
        reason,
        input,
    } in table
    {
        cases.case(what);
        match input {
            Input::Event(host, event) => {
                host.emit(event);
            }
            Input::Raw(host, bytes) => host.emit_raw(bytes),
        }
        let n = counted.entry(reason.to_owned()).or_insert(0);
        *n += 1;
        eprintln!("    waiting for {what} to be dropped as {reason}");
        av.wait_dropped(reason, *n).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The firehose scenario
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_firehose_is_dropped_counted_and_survived() {
    let harness = tokio::runtime::Runtime::new().expect("runtime");
    harness.block_on(hostile_firehose());
}

async fn hostile_firehose() {
    let cases = Cases::new("appview_hostile firehose");
    let mut counted: HashMap<String, u64> = HashMap::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url();
    let pds = FakePds::start().await;
    let mut alice = Account::create("alice", plc, &pds).await;
    let mut bob = Account::create("bob", plc, &pds).await;
    let mut dave = Account::create("dave", plc, &pds).await;
    let mallory = Keypair::generate(Algorithm::K256);
    // Another PDS the AppView follows, which hosts none of these accounts.
    let evil = FakePds::start().await;
    evil.inner.list_repos_loops.store(true, Ordering::SeqCst);
    let hosts = vec![pds.url.clone(), evil.url.clone()];

    let av = Appview::start(dir.path(), plc, hosts.clone());
    eventually("the AppView subscribes", || async {
        !pds.connects().is_empty() && !evil.connects().is_empty()
    })
    .await;
    assert_eq!(
        pds.connects(),
        vec![Some(0)],
        "a new consumer replays a PDS from 0"
    );

    // --- valid commits flow ---
    let a1 = alice.rkey();
    pds.emit(alice.commit(vec![
        create("app.bsky.actor.profile", "self", profile("Alice")),
        create(POST, &a1, post("hello from alice")),
    ]));
    let b1 = bob.rkey();
    pds.emit(bob.commit(vec![
        create("app.bsky.actor.profile", "self", profile("Bob")),
        create(POST, &b1, post("bob's first")),
    ]));
    let d1 = dave.rkey();
    pds.emit(dave.commit(vec![create(POST, &d1, post("dave was here"))]));
    let (a1_uri, b1_uri, d1_uri) = (
        alice.uri(POST, &a1),
        bob.uri(POST, &b1),
        dave.uri(POST, &d1),
    );
    av.wait_posts(
        "the first valid commits are indexed",
        &[&a1_uri, &b1_uri, &d1_uri],
        &[&a1_uri, &b1_uri, &d1_uri],
    )
    .await;
    let (_, got) = av.get("app.bsky.feed.getPosts", &[("uris", &b1_uri)]).await;
    let b1_cid = got["posts"][0]["cid"].as_str().expect("cid").to_owned();
    // Alice follows Bob and likes his post: Bob gets a follower and two notifications.
    let (f1, l1) = (alice.rkey(), alice.rkey());
    pds.emit(alice.commit(vec![
        create(
            "app.bsky.graph.follow",
            &f1,
            json!({ "$type": "app.bsky.graph.follow", "subject": bob.did, "createdAt": now_iso() }),
        ),
        create(
            "app.bsky.feed.like",
            &l1,
            json!({ "$type": "app.bsky.feed.like", "subject": { "uri": b1_uri, "cid": b1_cid }, "createdAt": now_iso() }),
        ),
    ]));
    eventually("bob has a follower", || async {
        av.profile(&bob.did).await.1["followersCount"] == json!(1)
    })
    .await;
    eventually("bob is notified of the follow and the like", || async {
        av.notification_count(&bob.did).await == 2
    })
    .await;
    eventually(
        "handles are verified (through the PDS, in development)",
        || async { av.profile(&alice.did).await.1["handle"] == json!("alice.test") },
    )
    .await;
    assert_eq!(av.dropped().await, HashMap::new(), "nothing dropped so far");

    // --- commits of Bob's that are refused ---
    let evil_rkey = bob.rkey();
    let forged = bob.build(
        vec![create(POST, &evil_rkey, post("not bob"))],
        &mallory,
        None,
    );
    // Ops that do not invert to prevData: one of two creates left out.
    let (b2, b3) = (bob.rkey(), bob.rkey());
    let partial = bob.build(
        vec![
            create(POST, &b2, post("two")),
            create(POST, &b3, post("three")),
        ],
        &bob.id.key,
        None,
    );
    let mut partial = bob.event(&partial);
    partial.ops.truncate(1);
    let b3b = bob.rkey();
    let lying = bob.build(vec![create(POST, &b3b, post("three b"))], &bob.id.key, None);
    let mut lying = bob.event(&lying);
    lying.ops[0].cid = Some(record(post("something else")).0);
    let b3c = bob.rkey();
    let swapped = bob.build(vec![create(POST, &b3c, post("three c"))], &bob.id.key, None);
    let mut swapped = bob.event(&swapped);
    swapped.commit = record(post("not a commit")).0;
    let future = Tid::from_parts(
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_micros() as u64)
            + 86_400_000_000,
        0,
    );
    let later = bob.rkey();
    let ahead = bob.build(
        vec![create(POST, &later, post("from tomorrow"))],
        &bob.id.key,
        Some(future.to_string()),
    );
    let commit = |c| Event::Commit(Box::new(c));
    assert_dropped(
        &cases,
        &av,
        &mut counted,
        vec![
            Refusal::event(
                "a commit signed by the wrong key",
                "bad_signature",
                &pds,
                commit(bob.event(&forged)),
            ),
            Refusal::event(
                "ops that do not invert to prevData",
                "inversion_mismatch",
                &pds,
                commit(partial),
            ),
            Refusal::event(
                "an op naming a record the commit does not hold",
                "missing_block",
                &pds,
                commit(lying),
            ),
            Refusal::event(
                "a `commit` field that is not the commit the blocks carry",
                "commit_mismatch",
                &pds,
                commit(swapped),
            ),
            Refusal::event(
                "a rev a day in the future",
                "future_rev",
                &pds,
                commit(bob.event(&ahead)),
            ),
        ],
    )
    .await;

    // --- and Bob's genuine next commit still applies ---
    let b4 = bob.rkey();
    let b4_event = bob.commit(vec![create(POST, &b4, post("bob, still here"))]);
    pds.emit(b4_event.clone());
    let b4_uri = bob.uri(POST, &b4);
    av.wait_posts(
        "a valid commit after the refused ones is indexed",
        &[
            &b4_uri,
            &bob.uri(POST, &evil_rkey),
            &bob.uri(POST, &b2),
            &bob.uri(POST, &b3),
            &bob.uri(POST, &b3b),
            &bob.uri(POST, &b3c),
            &bob.uri(POST, &later),
        ],
        &[&b4_uri],
    )
    .await;

    // --- a record key the repository tree allows but no record URI may carry ---
    let b4b = bob.rkey();
    pds.emit(bob.commit(vec![
        create(POST, "..", post("dot dot")),
        create(POST, &b4b, post("next to it")),
    ]));
    let (dots_uri, b4b_uri) = (bob.uri(POST, ".."), bob.uri(POST, &b4b));
    av.wait_posts(
        "a record with an invalid key is left out, its neighbour indexed",
        &[&dots_uri, &b4b_uri],
        &[&b4b_uri],
    )
    .await;

    // --- malformed and unwelcome frames, and an oversized record block ---
    let valid = firehose::encode_event(&b4_event).expect("encode");
    let frame = |header: Value, body: Value| {
        let mut f = cbor::to_vec(&header).expect("header");
        f.extend(cbor::to_vec(&body).expect("body"));
        f
    };
    // Over the decoder's 5 MB ceiling: a byte string header claiming 6,000,000 bytes.
    let mut huge = cbor::to_vec(&json!({ "op": 1, "t": "#commit" })).expect("header");
    huge.extend(vec![0x5a, 0x00, 0x5b, 0x8d, 0x80]);
    huge.extend(vec![0u8; 6_000_000]);
    let Event::Commit(mut not_did) = b4_event.clone() else {
        unreachable!()
    };
    not_did.repo = "not a did".into();
    let big = alice.rkey();
    let oversized = alice.build(
        vec![create(POST, &big, post(&"x".repeat(2_100_000)))],
        &alice.id.key,
        None,
    );
    assert_dropped(
        &cases,
        &av,
        &mut counted,
        vec![
            Refusal::raw(
                "bytes that are not CBOR",
                "malformed_frame",
                &pds,
                vec![0xff, 0x00, 0x13, 0x37, 0xde, 0xad],
            ),
            Refusal::raw(
                "half a frame",
                "malformed_frame",
                &pds,
                valid[..valid.len() / 2].to_vec(),
            ),
            Refusal::raw(
                "an event type this consumer does not know",
                "unknown_type",
                &pds,
                frame(
                    json!({ "op": 1, "t": "#future" }),
                    json!({ "seq": 999_999, "whatever": true }),
                ),
            ),
            Refusal::raw(
                "a #commit body of the wrong shape",
                "malformed_frame",
                &pds,
                frame(
                    json!({ "op": 1, "t": "#commit" }),
                    json!({ "seq": "seven", "repo": 12 }),
                ),
            ),
            Refusal::raw(
                "an unknown op",
                "malformed_frame",
                &pds,
                frame(json!({ "op": 7 }), json!({})),
            ),
            Refusal::raw(
                "a frame over the size ceiling (the connection is kept)",
                "malformed_frame",
                &pds,
                huge,
            ),
            Refusal::raw(
                "a replayed frame (an old sequence number)",
                "stale_seq",
                &pds,
                valid.clone(),
            ),
            Refusal::event(
                "a replayed commit under a new sequence number",
                "stale_rev",
                &pds,
                b4_event.clone(),
            ),
            Refusal::event(
                "a commit whose repo is not a DID",
                "bad_did",
                &pds,
                Event::Commit(not_did),
            ),
            Refusal::event(
                "a record block over the size limit",
                "too_large",
                &pds,
                commit(alice.event(&oversized)),
            ),
        ],
    )
    .await;
    let a2 = alice.rkey();
    pds.emit(alice.commit(vec![create(POST, &a2, post("alice after the noise"))]));
    let a2_uri = alice.uri(POST, &a2);
    av.wait_posts(
        "valid commits flow after malformed and oversized frames",
        &[&a2_uri, &alice.uri(POST, &big)],
        &[&a2_uri],
    )
    .await;
    assert_eq!(pds.connects().len(), 1, "no reconnection was needed");

    // --- a broken chain: two commits never sent, then one that does not follow ---
    let resyncs_before = stat(&av.state.stats.resyncs);
    let get_repo_before = pds.get_repo_calls();
    let b5 = bob.rkey();
    let _missed1 = bob.commit(vec![create(POST, &b5, post("sent while you were away"))]);
    let _missed2 = bob.commit(vec![
        delete(POST, &b1),
        update("app.bsky.actor.profile", "self", profile("Robert")),
    ]);
    pds.set_repo(&bob);
    let b6 = bob.rkey();
    pds.emit(bob.commit(vec![create(POST, &b6, post("after the gap"))]));
    av.wait_dropped("broken_chain", 1).await;
    let (b5_uri, b6_uri) = (bob.uri(POST, &b5), bob.uri(POST, &b6));
    av.wait_posts(
        "after a resync from getRepo, bob's records are exactly his repository's",
        &[&b1_uri, &b4_uri, &b4b_uri, &dots_uri, &b5_uri, &b6_uri],
        &[&b4_uri, &b4b_uri, &b5_uri, &b6_uri],
    )
    .await;
    assert_eq!(
        stat(&av.state.stats.resyncs),
        resyncs_before + 1,
        "one resync"
    );
    assert_eq!(pds.get_repo_calls(), get_repo_before + 1, "one getRepo");
    eventually("the resynced profile is served", || async {
        av.profile(&bob.did).await.1["displayName"] == json!("Robert")
    })
    .await;
    let (_, bob_profile) = av.profile(&bob.did).await;
    assert_eq!(
        bob_profile["followersCount"],
        json!(1),
        "a resync keeps what others did: bob's follower ({bob_profile})"
    );
    assert_eq!(
        av.notification_count(&bob.did).await,
        2,
        "a resync keeps the notifications bob received"
    );

    // --- an error frame: the consumer reconnects from its cursor and carries on ---
    let before_error = pds.last_seq();
    pds.emit_raw(firehose::encode_error("ConsumerTooSlow", Some("go away")).expect("error frame"));
    pds.close();
    eventually("the consumer reconnects after an error frame", || async {
        pds.connects().len() == 2
    })
    .await;
    assert_eq!(
        pds.connects()[1],
        Some(before_error),
        "it resumes after the last event it saw"
    );
    let a3 = alice.rkey();
    pds.emit(alice.commit(vec![create(POST, &a3, post("after the reconnect"))]));
    let a3_uri = alice.uri(POST, &a3);
    av.wait_posts(
        "valid commits flow after a reconnect",
        &[&a3_uri],
        &[&a3_uri],
    )
    .await;
    av.wait_dropped("error_frame", 1).await;

    // --- another host speaks for accounts it does not host: refused ---
    let resyncs_before = stat(&av.state.stats.resyncs);
    let a5 = alice.rkey();
    let stolen = alice.build(
        vec![create(POST, &a5, post("alice, relayed"))],
        &alice.id.key,
        None,
    );
    let mut ev = Box::new(alice.event(&stolen));
    ev.since = Some("2222222222222".into());
    assert_dropped(
        &cases,
        &av,
        &mut counted,
        vec![
            Refusal::event(
                "another host deletes an account",
                "wrong_host",
                &evil,
                Event::Account(AccountEvent {
                    seq: 0,
                    did: alice.did.clone(),
                    time: now_iso(),
                    active: false,
                    status: Some("deleted".into()),
                }),
            ),
            Refusal::event(
                "another host relays a genuine commit",
                "wrong_host",
                &evil,
                Event::Commit(ev.clone()),
            ),
            Refusal::event(
                "another host changes a handle",
                "wrong_host",
                &evil,
                Event::Identity(Identity {
                    seq: 0,
                    did: alice.did.clone(),
                    time: now_iso(),
                    handle: Some("mallory.test".into()),
                }),
            ),
            Refusal::event(
                "another host sends a #sync",
                "wrong_host",
                &evil,
                Event::Sync(atproto::firehose::Sync {
                    seq: 0,
                    did: bob.did.clone(),
                    blocks: vec![],
                    rev: "7777777777777".into(),
                    time: now_iso(),
                }),
            ),
        ],
    )
    .await;
    // A genuine commit of one account relabelled as another's, with a `since` that breaks the
    // chain: refused on its signature, not answered with a resync.
    ev.repo = bob.did.clone();
    assert_dropped(
        &cases,
        &av,
        &mut counted,
        vec![Refusal::event(
            "a commit relabelled as another account's",
            "bad_signature",
            &pds,
            Event::Commit(ev),
        )],
    )
    .await;
    assert_eq!(
        stat(&av.state.stats.resyncs),
        resyncs_before,
        "no resync was forced"
    );
    let (status, body) = av.profile(&alice.did).await;
    assert_eq!(status, 200, "alice is still there: {body}");
    av.wait_posts(
        "alice's posts are untouched",
        &[&a1_uri, &a3_uri],
        &[&a1_uri, &a3_uri],
    )
    .await;
    assert!(av.posts(&[&alice.uri(POST, &a5)]).await.is_empty());

    // --- a deleted account: its content goes, and its later commits are refused ---
    pds.emit(Event::Account(AccountEvent {
        seq: 0,
        did: dave.did.clone(),
        time: now_iso(),
        active: false,
        status: Some("deleted".into()),
    }));
    av.wait_posts("a deleted account's posts are gone", &[&d1_uri], &[])
        .await;
    let (status, body) = av.profile(&dave.did).await;
    assert_eq!(status, 400, "deleted profile: {body}");
    let d2 = dave.rkey();
    assert_dropped(
        &cases,
        &av,
        &mut counted,
        vec![Refusal::event(
            "a commit of a deleted account",
            "inactive_account",
            &pds,
            dave.commit(vec![create(POST, &d2, post("from beyond"))]),
        )],
    )
    .await;
    assert!(av.posts(&[&dave.uri(POST, &d2)]).await.is_empty());

    // --- an identity event: the new handle is picked up ---
    alice.change_handle(plc, &pds, "alice2.test").await;
    pds.emit(Event::Identity(Identity {
        seq: 0,
        did: alice.did.clone(),
        time: now_iso(),
        handle: Some("alice2.test".into()),
    }));
    eventually("the identity event refreshes alice's handle", || async {
        av.profile(&alice.did).await.1["handle"] == json!("alice2.test")
    })
    .await;

    // --- everything refused was counted under its reason, and nothing else was dropped ---
    let expected: HashMap<String, u64> = [
        ("bad_signature", 2),
        ("commit_mismatch", 1),
        ("wrong_host", 4),
        ("inversion_mismatch", 1),
        ("missing_block", 1),
        ("future_rev", 1),
        ("malformed_frame", 5),
        ("unknown_type", 1),
        ("stale_seq", 1),
        ("stale_rev", 1),
        ("bad_did", 1),
        ("too_large", 1),
        ("broken_chain", 1),
        ("error_frame", 1),
        ("inactive_account", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(av.dropped().await, expected, "dropped counters");

    // A host whose listRepos pages never end (empty pages, the same cursor) was asked once
    // or twice, not forever.
    let listed = evil.inner.list_repos_calls.load(Ordering::SeqCst);
    assert!((1..=2).contains(&listed), "listRepos asked {listed} times");

    // --- restart on the same data directory: resume after the last event, re-index nothing ---
    let last = pds.last_seq();
    eventually("the cursor is stored", || async {
        av.stored_cursor(&pds.url).await == Some(last)
            && av.stored_cursor(&evil.url).await == Some(evil.last_seq())
    })
    .await;
    let applied_before = stat(&av.state.stats.commits_applied);
    assert!(applied_before >= 8, "commits applied: {applied_before}");
    av.stop();
    let get_repo_before = pds.get_repo_calls();
    let connects_before = pds.connects().len();
    let av = Appview::start(dir.path(), plc, hosts.clone());
    eventually("the restarted AppView subscribes", || async {
        pds.connects().len() > connects_before
    })
    .await;
    assert_eq!(
        pds.connects().last().copied().flatten(),
        Some(last),
        "the restarted AppView resumes after the last sequence number"
    );
    let all = [&a1_uri, &a2_uri, &a3_uri, &b4_uri, &b5_uri, &b6_uri].map(String::as_str);
    av.wait_posts("the index survives the restart", &all, &all)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stat(&av.state.stats.events), 0, "no event was replayed");
    assert_eq!(
        stat(&av.state.stats.commits_applied),
        0,
        "nothing re-indexed"
    );
    assert_eq!(stat(&av.state.stats.resyncs), 0, "no resync");
    assert_eq!(pds.get_repo_calls(), get_repo_before, "no getRepo");
    let a4 = alice.rkey();
    pds.emit(alice.commit(vec![create(POST, &a4, post("after the restart"))]));
    let a4_uri = alice.uri(POST, &a4);
    av.wait_posts(
        "new commits apply after the restart",
        &[&a4_uri],
        &[&a4_uri],
    )
    .await;
    assert_eq!(stat(&av.state.stats.commits_applied), 1);
    assert_eq!(
        av.dropped().await,
        HashMap::new(),
        "the new instance dropped nothing"
    );
    av.stop();
}

// ---------------------------------------------------------------------------------------------
// Service-auth tokens against the AppView's HTTP surface
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_service_tokens_are_refused() {
    let harness = tokio::runtime::Runtime::new().expect("runtime");
    harness.block_on(bad_tokens());
}

async fn bad_tokens() {
    let cases = Cases::new("appview_hostile service tokens");
    let dir = tempfile::tempdir().expect("tempdir");
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url();
    let pds = FakePds::start().await;
    let alice = Account::create("alice", plc, &pds).await;
    let av = Appview::start(dir.path(), plc, vec![]);
    let aud = av.state.service_did.clone();
    let now = hearth_appview::state::now_secs();
    const TIMELINE: &str = "app.bsky.feed.getTimeline";
    const PROFILE: &str = "app.bsky.actor.getProfile";

    let call = |nsid: &'static str, token: Option<String>| {
        let av = &av;
        let alice_did = alice.did.clone();
        async move {
            let mut req = av.http.get(format!("{}/xrpc/{nsid}", av.url));
            if nsid == PROFILE {
                req = req.query(&[("actor", alice_did.as_str())]);
            }
            if let Some(t) = token {
                req = req.header("authorization", t);
            }
            let res = req.send().await.expect("AppView reachable");
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let bearer = |t: String| Some(format!("Bearer {t}"));
    let mint = |key: &Keypair, aud: &str, lxm: Option<&str>, iat: i64, ttl: i64| {
        atproto::auth::mint(key, &alice.did, aud, lxm, iat, ttl)
    };

    // The genuine article works, with or without the service fragment.
    for a in [aud.clone(), format!("{aud}#bsky_appview")] {
        let (status, body) = call(
            TIMELINE,
            bearer(mint(&alice.id.key, &a, Some(TIMELINE), now, 60)),
        )
        .await;
        assert_eq!(status, 200, "valid token for {a}: {body}");
        assert!(body["feed"].is_array(), "{body}");
    }

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    // A PDS access token as a PDS mints it: HS256 under a secret only the PDS holds. The
    // signature is 32 arbitrary bytes: the AppView must refuse the token for its kind, before
    // any signature check.
    let session = format!(
        "{}.{}.{}",
        b64(json!({ "alg": "HS256", "typ": "at+jwt" })),
        b64(json!({
            "scope": "com.atproto.access",
            "sub": alice.did,
            "aud": "did:web:fake.test",
            "iat": now,
            "exp": now + 3600,
        })),
        URL_SAFE_NO_PAD.encode([7u8; 32])
    );
    let stranger = Keypair::generate(Algorithm::K256);
    let unknown_issuer = atproto::auth::mint(
        &stranger,
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        &aud,
        Some(TIMELINE),
        now,
        60,
    );
    let alg_none = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "JWT" })),
        b64(json!({ "iss": alice.did, "aud": aud, "exp": now + 60, "iat": now, "lxm": TIMELINE }))
    );
    // Each refused with 401 and its error name.
    let refused: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "AuthMissing"),
        (
            "not a bearer token",
            Some("Basic YWxpY2U6cGFzcw==".into()),
            "AuthMissing",
        ),
        ("garbage", bearer("not.a.jwt".into()), "BadJwt"),
        (
            "wrong audience",
            bearer(mint(
                &alice.id.key,
                "did:web:elsewhere.example",
                Some(TIMELINE),
                now,
                60,
            )),
            "BadJwtAudience",
        ),
        (
            "wrong service fragment",
            bearer(mint(
                &alice.id.key,
                &format!("{aud}#atproto_labeler"),
                Some(TIMELINE),
                now,
                60,
            )),
            "BadJwtAudience",
        ),
        (
            "wrong lexicon method",
            bearer(mint(
                &alice.id.key,
                &aud,
                Some("app.bsky.feed.getAuthorFeed"),
                now,
                60,
            )),
            "BadJwtLexiconMethod",
        ),
        (
            "no lexicon method",
            bearer(mint(&alice.id.key, &aud, None, now, 60)),
            "BadJwtLexiconMethod",
        ),
        (
            "expired",
            bearer(mint(&alice.id.key, &aud, Some(TIMELINE), now - 600, 60)),
            "JwtExpired",
        ),
        (
            "signed by another key",
            bearer(mint(&stranger, &aud, Some(TIMELINE), now, 60)),
            "BadJwtSignature",
        ),
        (
            "issuer that does not exist",
            bearer(unknown_issuer),
            "BadJwtSignature",
        ),
        (
            "a PDS session token (typ at+jwt)",
            bearer(session.clone()),
            "BadJwt",
        ),
        ("an unsigned token (alg none)", bearer(alg_none), "BadJwt"),
    ];
    for (what, token, want) in refused {
        cases.case(what);
        let (status, body) = call(TIMELINE, token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some(want)),
            "{what}: {body}"
        );
        assert!(body["message"].is_string(), "{what}: message: {body}");
    }
    // An endpoint that allows anonymous reads still refuses a bad token rather than ignoring
    // it.
    let (status, body) = call(PROFILE, bearer(session)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("BadJwt")),
        "{body}"
    );
    let (status, body) = call(
        PROFILE,
        bearer(mint(&alice.id.key, &aud, Some(TIMELINE), now, 60)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("BadJwtLexiconMethod")),
        "a token for another method: {body}"
    );
    av.stop();
}
