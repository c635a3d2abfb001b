//! The AppView's read views, through its router, against an index seeded directly.
//!
//! Each test builds an AppView state on a temporary directory, runs a real PLC directory
//! (`hearth_testkit::TestPlc`) holding genuine did:plc documents for the test accounts (so service
//! tokens are checked by `auth.rs` exactly as in production), writes records into the index
//! with `hearth_appview::index`, and calls the XRPC handlers with `tower::ServiceExt::oneshot`.
//! Every successful response is validated against the official lexicons; the behaviour
//! (blocks, thread gates, hidden replies, counts, cursors, notifications, the feed generator
//! round trip) is asserted case by case.

use atproto::crypto::Keypair;
use atproto::data::{cbor, cid_for_cbor, cid_for_raw, json::record_from_json};
use atproto::syntax::{Datetime, TidClock};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use hearth_appview::config::{AppviewConfig, Scope};
use hearth_appview::index::{self, Rec};
use hearth_appview::state::{AppState, now_iso, now_secs};
use hearth_testkit::{PlcIdentity, TestPlc};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Account {
    did: String,
    handle: String,
    key: Arc<Keypair>,
}

struct World {
    state: AppState,
    plc: String,
    _directory: TestPlc,
    clock: TidClock,
    /// An hour ago, in unix milliseconds: records claim times from here on.
    t0: i64,
    _dir: tempfile::TempDir,
}

/// Validates a response body against the method's output schema in the official lexicons.
fn validate(nsid: &str, body: &Value) {
    let ipld = atproto::data::json::from_json(body)
        .unwrap_or_else(|e| panic!("{nsid}: output is not atproto data: {e}\n{body:#}"));
    atproto::lexicon::Catalog::official()
        .validate_output(nsid, &ipld)
        .unwrap_or_else(|e| panic!("{nsid}: output does not match the lexicon: {e}\n{body:#}"));
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let directory = TestPlc::spawn().expect("PLC directory");
        let plc = directory.url().to_owned();
        let cfg = AppviewConfig {
            hostname: "localhost".into(),
            port: 2584,
            bind: "127.0.0.1".into(),
            data_dir: dir.path().to_path_buf(),
            plc_url: Some(plc.clone()),
            firehoses: Vec::new(),
            scope: Scope::Network,
            dev: true,
            ca_certs: None,
            internal_hosts: Vec::new(),
            handle_resolver: Vec::new(),
            images: Default::default(),
            smtp_url: None,
            smtp_from: None,
        };
        let state = hearth_appview::build_state(cfg).expect("AppView state");
        World {
            state,
            plc,
            _directory: directory,
            clock: TidClock::new(),
            t0: (now_secs() - 3600) * 1000,
            _dir: dir,
        }
    }

    /// A datetime `secs` after `t0`.
    fn at(&self, secs: i64) -> String {
        Datetime::from_unix_millis(self.t0 + secs * 1000).to_string()
    }

    /// Registers a did:plc at the PLC directory, with extra services.
    async fn account_with(&self, handle: &str, services: &[(&str, &str, &str)]) -> Account {
        let id = PlcIdentity::register(&self.plc, handle, "http://127.0.0.1:9", services).await;
        let account = Account {
            did: id.did,
            handle: id.handle,
            key: Arc::new(id.key),
        };
        // The account exists in the index with its handle (ingest would verify it).
        let (did, handle) = (account.did.clone(), account.handle.clone());
        self.write(move |conn| {
            let id = index::actor_id(conn, &did, &now_iso())?;
            conn.execute(
                "UPDATE actor SET handle = ?2 WHERE id = ?1",
                rusqlite::params![id, handle],
            )?;
            index::refresh_actor_search(conn, id)
        })
        .await;
        account
    }

    async fn account(&self, handle: &str) -> Account {
        self.account_with(handle, &[]).await
    }

    async fn write<F>(&self, f: F)
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<()> + Send + 'static,
    {
        self.state
            .db
            .writer
            .run(move |txn| f(txn.conn).map_err(hearth_db::DbError::from))
            .await
            .expect("index write");
    }

    /// Indexes a record as the firehose consumer would; returns (uri, cid).
    async fn put(
        &self,
        author: &Account,
        collection: &str,
        rkey: Option<&str>,
        value: Value,
    ) -> (String, String) {
        let rkey = rkey
            .map(str::to_owned)
            .unwrap_or_else(|| self.clock.next().to_string());
        let ipld = record_from_json(&value).expect("valid record");
        let bytes = cbor::encode(&ipld).expect("encode");
        let cid = cid_for_cbor(&bytes).to_string();
        let uri = format!("at://{}/{collection}/{rkey}", author.did);
        let (u, c, did, coll) = (
            uri.clone(),
            cid.clone(),
            author.did.clone(),
            collection.to_owned(),
        );
        self.write(move |conn| {
            let cache = index::RunCache::new();
            let id = cache.actor_id(conn, &did)?;
            let rec = Rec {
                uri: &u,
                cid: &c,
                author: id,
                author_did: &did,
                rkey: &rkey,
                value: &ipld,
                bytes: &bytes,
                cache: &cache,
            };
            index::create(conn, &coll, &rec)
        })
        .await;
        (uri, cid)
    }

    async fn delete(&self, collection: &str, uri: &str) {
        let (c, u) = (collection.to_owned(), uri.to_owned());
        self.write(move |conn| index::delete(conn, &c, &u)).await;
    }

    async fn post(
        &self,
        author: &Account,
        secs: i64,
        text: &str,
        extra: Value,
    ) -> (String, String) {
        let mut v =
            json!({ "$type": "app.bsky.feed.post", "text": text, "createdAt": self.at(secs) });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        self.put(author, "app.bsky.feed.post", None, v).await
    }

    async fn reply(
        &self,
        author: &Account,
        secs: i64,
        text: &str,
        root: &(String, String),
        parent: &(String, String),
    ) -> (String, String) {
        self.post(
            author,
            secs,
            text,
            json!({ "reply": {
                "root": { "uri": root.0, "cid": root.1 },
                "parent": { "uri": parent.0, "cid": parent.1 },
            }}),
        )
        .await
    }

    async fn like(&self, author: &Account, subject: &(String, String)) -> String {
        self.put(
            author,
            "app.bsky.feed.like",
            None,
            json!({ "$type": "app.bsky.feed.like", "subject": { "uri": subject.0, "cid": subject.1 }, "createdAt": now_iso() }),
        )
        .await
        .0
    }

    async fn repost(&self, author: &Account, subject: &(String, String)) -> String {
        self.put(
            author,
            "app.bsky.feed.repost",
            None,
            json!({ "$type": "app.bsky.feed.repost", "subject": { "uri": subject.0, "cid": subject.1 }, "createdAt": now_iso() }),
        )
        .await
        .0
    }

    async fn follow(&self, author: &Account, subject: &Account) -> String {
        self.put(
            author,
            "app.bsky.graph.follow",
            None,
            json!({ "$type": "app.bsky.graph.follow", "subject": subject.did, "createdAt": now_iso() }),
        )
        .await
        .0
    }

    async fn block(&self, author: &Account, subject: &Account) -> String {
        self.put(
            author,
            "app.bsky.graph.block",
            None,
            json!({ "$type": "app.bsky.graph.block", "subject": subject.did, "createdAt": now_iso() }),
        )
        .await
        .0
    }

    async fn profile(&self, author: &Account, name: &str, description: &str) {
        self.put(
            author,
            "app.bsky.actor.profile",
            Some("self"),
            json!({ "$type": "app.bsky.actor.profile", "displayName": name, "description": description }),
        )
        .await;
    }

    async fn set_status(&self, who: &Account, status: &str) {
        let (did, status) = (who.did.clone(), status.to_owned());
        self.write(move |conn| {
            conn.execute(
                "UPDATE actor SET status = ?2 WHERE did = ?1",
                rusqlite::params![did, status],
            )
            .map(|_| ())
        })
        .await;
    }

    fn token(&self, who: &Account, aud: &str, lxm: &str) -> String {
        atproto::auth::mint(&who.key, &who.did, aud, Some(lxm), now_secs(), 120)
    }

    async fn request(
        &self,
        method: &str,
        nsid: &str,
        query: &[(&str, &str)],
        auth: Option<String>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url =
            reqwest::Url::parse_with_params(&format!("http://x/xrpc/{nsid}"), query).expect("url");
        let path = match url.query() {
            Some(q) if !q.is_empty() => format!("{}?{q}", url.path()),
            _ => url.path().to_owned(),
        };
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = auth {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let res = hearth_appview::xrpc::router(self.state.clone())
            .oneshot(req)
            .await
            .expect("router");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("{nsid}: body is not JSON: {bytes:?}"))
        };
        (status, v)
    }

    /// A GET as `viewer` (or anonymously).
    async fn get(
        &self,
        nsid: &str,
        query: &[(&str, &str)],
        viewer: Option<&Account>,
    ) -> (StatusCode, Value) {
        let auth = viewer.map(|v| self.token(v, &self.state.service_did, nsid));
        self.request("GET", nsid, query, auth, None).await
    }

    /// A GET that must succeed with a lexicon-valid body.
    async fn ok(&self, nsid: &str, query: &[(&str, &str)], viewer: Option<&Account>) -> Value {
        let (status, body) = self.get(nsid, query, viewer).await;
        assert_eq!(status, StatusCode::OK, "{nsid} {query:?}: {body}");
        validate(nsid, &body);
        body
    }

    /// A GET that must fail with `status` and XRPC error `name`.
    async fn err(
        &self,
        nsid: &str,
        query: &[(&str, &str)],
        viewer: Option<&Account>,
        status: StatusCode,
        name: &str,
    ) {
        let (s, body) = self.get(nsid, query, viewer).await;
        assert_eq!(s, status, "{nsid} {query:?}: {body}");
        assert_eq!(body["error"], name, "{nsid} {query:?}: {body}");
        assert!(body["message"].is_string(), "{nsid}: {body}");
    }

    async fn procedure(&self, nsid: &str, viewer: &Account, body: Value) -> (StatusCode, Value) {
        let auth = self.token(viewer, &self.state.service_did, nsid);
        self.request("POST", nsid, &[], Some(auth), Some(body))
            .await
    }
}

/// The URIs of the posts in a list of views.
fn uris(list: &Value, path: &[&str]) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| {
                    let mut cur = v;
                    for p in path {
                        cur = cur.get(*p)?;
                    }
                    cur.as_str().map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn dids(list: &Value) -> Vec<String> {
    uris(list, &["did"])
}

// ---------------------------------------------------------------------------------------------
// The seeded network
// ---------------------------------------------------------------------------------------------

struct Net {
    w: World,
    alice: Account,
    bob: Account,
    carol: Account,
    dave: Account,
    eve: Account,
    mallory: Account,
    zed: Account,
    /// Alice's root post, with a thread gate (only accounts she follows may reply; Carol's
    /// reply hidden).
    root: (String, String),
    /// Bob's reply to the root (allowed), Alice liked it.
    r_bob: (String, String),
    /// Carol's reply to the root: hidden by Alice.
    r_carol: (String, String),
    /// Dave's reply to Bob's.
    r_dave: (String, String),
    /// Eve's reply to the root: Alice does not follow Eve, so it breaks the gate.
    r_eve: (String, String),
    /// Mallory's reply, written before the gate; Mallory blocks Alice.
    r_mallory: (String, String),
    /// Carol's quote of the root.
    quote: (String, String),
    /// Carol's repost of the root.
    carol_repost: String,
    /// Dave's post mentioning Alice.
    mention: (String, String),
    /// Bob's post with an image.
    image_post: (String, String),
    list: String,
}

async fn network() -> Net {
    let w = World::new().await;
    let alice = w.account("alice.test").await;
    let bob = w.account("bob.test").await;
    let carol = w.account("carol.test").await;
    let dave = w.account("dave.test").await;
    let eve = w.account("eve.test").await;
    let mallory = w.account("mallory.test").await;
    let zed = w.account("zed.test").await;
    for (a, name) in [
        (&alice, "Alice"),
        (&bob, "Bob"),
        (&carol, "Carol"),
        (&dave, "Dave"),
        (&eve, "Eve"),
        (&mallory, "Mallory"),
        (&zed, "Zed"),
    ] {
        w.profile(a, name, &format!("{name} writes about things"))
            .await;
    }
    for (a, b) in [
        (&alice, &bob),
        (&alice, &carol),
        (&alice, &dave),
        (&bob, &alice),
        (&carol, &alice),
        (&dave, &alice),
        (&eve, &alice),
        (&bob, &carol),
        (&zed, &alice),
    ] {
        w.follow(a, b).await;
    }
    w.block(&mallory, &alice).await;

    let root = w
        .post(
            &alice,
            0,
            "hello world #rust",
            json!({
                "langs": ["en"],
                "facets": [{
                    "index": { "byteStart": 12, "byteEnd": 17 },
                    "features": [{ "$type": "app.bsky.richtext.facet#tag", "tag": "rust" }],
                }],
            }),
        )
        .await;
    let r_mallory = w.reply(&mallory, 1, "early reply", &root, &root).await;
    let r_bob = w.reply(&bob, 3, "bob replies", &root, &root).await;
    let r_carol = w.reply(&carol, 4, "carol replies", &root, &root).await;
    let root_rkey = root.0.rsplit('/').next().expect("rkey").to_owned();
    w.put(
        &alice,
        "app.bsky.feed.threadgate",
        Some(&root_rkey),
        json!({
            "$type": "app.bsky.feed.threadgate",
            "post": root.0,
            "allow": [{ "$type": "app.bsky.feed.threadgate#followingRule" }],
            "hiddenReplies": [r_carol.0],
            "createdAt": w.at(2),
        }),
    )
    .await;
    let r_dave = w
        .reply(&dave, 5, "dave replies to bob", &root, &r_bob)
        .await;
    let r_eve = w.reply(&eve, 6, "eve was not invited", &root, &root).await;
    w.like(&alice, &r_bob).await;
    for a in [&bob, &carol, &dave, &zed] {
        w.like(a, &root).await;
    }
    let carol_repost = w.repost(&carol, &root).await;
    let quote = w
        .post(
            &carol,
            7,
            "look at this",
            json!({ "embed": { "$type": "app.bsky.embed.record", "record": { "uri": root.0, "cid": root.1 } } }),
        )
        .await;
    let mention = w
        .post(
            &dave,
            8,
            "hi alice",
            json!({ "facets": [{
                "index": { "byteStart": 3, "byteEnd": 8 },
                "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": alice.did }],
            }]}),
        )
        .await;
    let image = json!({
        "$type": "blob",
        "ref": { "$link": cid_for_raw(b"a picture").to_string() },
        "mimeType": "image/jpeg",
        "size": 9,
    });
    let image_post = w
        .post(
            &bob,
            9,
            "a rusty picture #Rust",
            json!({
                "embed": { "$type": "app.bsky.embed.images", "images": [{ "alt": "rust", "image": image, "aspectRatio": { "width": 4, "height": 3 } }] },
                "tags": ["rust"],
            }),
        )
        .await;
    let (list, _) = w
        .put(
            &alice,
            "app.bsky.graph.list",
            None,
            json!({ "$type": "app.bsky.graph.list", "purpose": "app.bsky.graph.defs#curatelist", "name": "Friends", "description": "people", "createdAt": now_iso() }),
        )
        .await;
    for member in [&bob, &carol] {
        w.put(
            &alice,
            "app.bsky.graph.listitem",
            None,
            json!({ "$type": "app.bsky.graph.listitem", "subject": member.did, "list": list, "createdAt": now_iso() }),
        )
        .await;
    }
    w.put(
        &carol,
        "app.bsky.labeler.service",
        Some("self"),
        json!({ "$type": "app.bsky.labeler.service", "policies": { "labelValues": ["spam"] }, "createdAt": now_iso() }),
    )
    .await;
    w.set_status(&zed, "deactivated").await;
    Net {
        w,
        alice,
        bob,
        carol,
        dave,
        eve,
        mallory,
        zed,
        root,
        r_bob,
        r_carol,
        r_dave,
        r_eve,
        r_mallory,
        quote,
        carol_repost,
        mention,
        image_post,
        list,
    }
}

/// The URIs in a nested `#threadViewPost`'s replies, depth first.
fn reply_uris(thread: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(replies) = thread["replies"].as_array() {
        for r in replies {
            if let Some(u) = r["post"]["uri"].as_str() {
                out.push(u.to_owned());
            }
            out.extend(reply_uris(r));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_thread_applies_gate_hidden_replies_and_blocks() {
    let n = network().await;
    let w = &n.w;
    let nsid = "app.bsky.feed.getPostThread";
    let q = [("uri", n.root.0.as_str())];

    // Bob: the allowed replies and Mallory's (older than the gate); not Carol's hidden one,
    // not Eve's, which broke the gate.
    let t = w.ok(nsid, &q, Some(&n.bob)).await;
    assert_eq!(t["thread"]["$type"], "app.bsky.feed.defs#threadViewPost");
    let seen: HashSet<String> = reply_uris(&t["thread"]).into_iter().collect();
    let want: HashSet<String> = [&n.r_bob.0, &n.r_dave.0, &n.r_mallory.0]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(seen, want);
    assert_eq!(t["threadgate"]["record"]["post"], n.root.0);
    // Dave's reply nests under Bob's; Alice liked Bob's.
    let bob_node = t["thread"]["replies"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["post"]["uri"] == n.r_bob.0))
        .expect("bob's reply");
    assert_eq!(bob_node["replies"][0]["post"]["uri"], n.r_dave.0);
    assert!(bob_node["threadContext"]["rootAuthorLike"].is_string());
    assert_eq!(t["thread"]["post"]["viewer"]["replyDisabled"], false);

    // Anonymous: the same.
    let t = w.ok(nsid, &q, None).await;
    let seen: HashSet<String> = reply_uris(&t["thread"]).into_iter().collect();
    assert_eq!(seen, want);

    // Alice, the root's author, sees everything except the account that blocks her.
    let t = w.ok(nsid, &q, Some(&n.alice)).await;
    let seen: HashSet<String> = reply_uris(&t["thread"]).into_iter().collect();
    let want_alice: HashSet<String> = [&n.r_bob.0, &n.r_dave.0, &n.r_carol.0, &n.r_eve.0]
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(seen, want_alice);

    // Carol sees her own hidden reply.
    let t = w.ok(nsid, &q, Some(&n.carol)).await;
    assert!(reply_uris(&t["thread"]).contains(&n.r_carol.0));
    assert!(!reply_uris(&t["thread"]).contains(&n.r_eve.0));

    // Eve may not reply (she is not followed by Alice).
    let t = w.ok(nsid, &q, Some(&n.eve)).await;
    assert_eq!(t["thread"]["post"]["viewer"]["replyDisabled"], true);

    // Mallory blocks Alice: the root is a blocked post for her.
    let t = w.ok(nsid, &q, Some(&n.mallory)).await;
    assert_eq!(t["thread"]["$type"], "app.bsky.feed.defs#blockedPost");
    assert_eq!(t["thread"]["author"]["did"], n.alice.did);
    assert!(t["thread"]["author"]["viewer"]["blocking"].is_string());

    // From Dave's reply, Mallory sees Bob's reply and, above it, the blocked root.
    let t = w
        .ok(nsid, &[("uri", n.r_dave.0.as_str())], Some(&n.mallory))
        .await;
    assert_eq!(t["thread"]["parent"]["post"]["uri"], n.r_bob.0);
    assert_eq!(
        t["thread"]["parent"]["parent"]["$type"],
        "app.bsky.feed.defs#blockedPost"
    );

    // Alice, viewing Mallory's reply's thread: the anchor itself is blocked.
    let t = w
        .ok(nsid, &[("uri", n.r_mallory.0.as_str())], Some(&n.alice))
        .await;
    assert_eq!(t["thread"]["$type"], "app.bsky.feed.defs#blockedPost");

    // parentHeight and depth bound the tree.
    let t = w
        .ok(
            nsid,
            &[("uri", n.r_dave.0.as_str()), ("parentHeight", "1")],
            None,
        )
        .await;
    assert_eq!(t["thread"]["parent"]["post"]["uri"], n.r_bob.0);
    assert!(t["thread"]["parent"].get("parent").is_none());
    let t = w
        .ok(nsid, &[("uri", n.root.0.as_str()), ("depth", "0")], None)
        .await;
    assert!(t["thread"].get("replies").is_none());
    let t = w
        .ok(nsid, &[("uri", n.root.0.as_str()), ("depth", "1")], None)
        .await;
    assert!(reply_uris(&t["thread"]).iter().all(|u| *u != n.r_dave.0));

    // A missing parent shows as not found.
    w.delete("app.bsky.feed.post", &n.r_bob.0).await;
    let t = w.ok(nsid, &[("uri", n.r_dave.0.as_str())], None).await;
    assert_eq!(
        t["thread"]["parent"]["$type"],
        "app.bsky.feed.defs#notFoundPost"
    );

    // Errors.
    let missing = format!("at://{}/app.bsky.feed.post/3zzzzzzzzzzzz", n.alice.did);
    w.err(
        nsid,
        &[("uri", &missing)],
        None,
        StatusCode::BAD_REQUEST,
        "NotFound",
    )
    .await;
    w.err(
        nsid,
        &[("uri", "not a uri")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
    w.err(
        nsid,
        &[("uri", n.root.0.as_str()), ("depth", "1001")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
    w.err(
        nsid,
        &[("uri", n.root.0.as_str()), ("depth", "-1")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
    w.err(nsid, &[], None, StatusCode::BAD_REQUEST, "InvalidRequest")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_thread_v2_is_flat_and_offers_hidden_replies() {
    let n = network().await;
    let w = &n.w;
    let nsid = "app.bsky.unspecced.getPostThreadV2";

    let t = w
        .ok(nsid, &[("anchor", n.root.0.as_str())], Some(&n.bob))
        .await;
    let items = t["thread"].as_array().expect("items");
    let order: Vec<(String, i64)> = items
        .iter()
        .map(|i| {
            (
                i["uri"].as_str().unwrap_or_default().to_owned(),
                i["depth"].as_i64().unwrap_or(99),
            )
        })
        .collect();
    // The anchor, then Bob's own reply first (viewer bump) with Dave's under it, then Mallory's.
    assert_eq!(
        order,
        vec![
            (n.root.0.clone(), 0),
            (n.r_bob.0.clone(), 1),
            (n.r_dave.0.clone(), 2),
            (n.r_mallory.0.clone(), 1),
        ]
    );
    assert_eq!(t["hasOtherReplies"], true);
    assert!(t["threadgate"]["uri"].is_string());
    assert_eq!(
        items[0]["value"]["$type"],
        "app.bsky.unspecced.defs#threadItemPost"
    );
    assert_eq!(items[0]["value"]["opThread"], true);
    assert_eq!(items[1]["value"]["opThread"], false);
    assert_eq!(items[0]["value"]["hiddenByThreadgate"], false);

    // From Dave's reply: parents above with negative depths.
    let t = w.ok(nsid, &[("anchor", n.r_dave.0.as_str())], None).await;
    let order: Vec<i64> = t["thread"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["depth"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(order, vec![-2, -1, 0]);
    let t = w
        .ok(
            nsid,
            &[("anchor", n.r_dave.0.as_str()), ("above", "false")],
            None,
        )
        .await;
    assert_eq!(t["thread"].as_array().map(Vec::len), Some(1));
    assert_eq!(t["thread"][0]["value"]["moreParents"], true);

    // below=1: Dave's reply is not there, and Bob's counts it as more.
    let t = w
        .ok(
            nsid,
            &[("anchor", n.root.0.as_str()), ("below", "1")],
            Some(&n.bob),
        )
        .await;
    let bob = t["thread"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["uri"] == n.r_bob.0))
        .expect("bob's reply");
    assert_eq!(bob["value"]["moreReplies"], 1);

    // The hidden reply comes from the "other" endpoint, marked.
    let o = w
        .ok(
            "app.bsky.unspecced.getPostThreadOtherV2",
            &[("anchor", n.root.0.as_str())],
            Some(&n.bob),
        )
        .await;
    assert_eq!(uris(&o["thread"], &["uri"]), vec![n.r_carol.0.clone()]);
    assert_eq!(o["thread"][0]["value"]["hiddenByThreadgate"], true);

    // Blocked and missing anchors.
    let t = w
        .ok(nsid, &[("anchor", n.root.0.as_str())], Some(&n.mallory))
        .await;
    assert_eq!(
        t["thread"][0]["value"]["$type"],
        "app.bsky.unspecced.defs#threadItemBlocked"
    );
    let missing = format!("at://{}/app.bsky.feed.post/3zzzzzzzzzzzz", n.alice.did);
    let t = w.ok(nsid, &[("anchor", &missing)], None).await;
    assert_eq!(
        t["thread"][0]["value"]["$type"],
        "app.bsky.unspecced.defs#threadItemNotFound"
    );

    for sort in ["newest", "oldest", "top"] {
        w.ok(
            nsid,
            &[
                ("anchor", n.root.0.as_str()),
                ("sort", sort),
                ("branchingFactor", "1"),
            ],
            Some(&n.alice),
        )
        .await;
    }
    w.err(
        nsid,
        &[("anchor", n.root.0.as_str()), ("below", "21")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
    w.err(
        nsid,
        &[("anchor", n.root.0.as_str()), ("branchingFactor", "101")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Likes, reposts, quotes
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_list_and_page() {
    let n = network().await;
    let w = &n.w;

    let likes = w
        .ok(
            "app.bsky.feed.getLikes",
            &[("uri", n.root.0.as_str())],
            None,
        )
        .await;
    let mut likers = uris(&likes["likes"], &["actor", "did"]);
    likers.sort();
    let mut want = vec![n.bob.did.clone(), n.carol.did.clone(), n.dave.did.clone()];
    want.sort();
    assert_eq!(likers, want, "the deactivated account's like is left out");
    assert_eq!(likes["uri"], n.root.0);

    // Page one at a time: every liker once, then the end.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut q = vec![("uri", n.root.0.as_str()), ("limit", "1")];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page = w.ok("app.bsky.feed.getLikes", &q, None).await;
        seen.extend(uris(&page["likes"], &["actor", "did"]));
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, want);

    // The CID filter.
    let q = [("uri", n.root.0.as_str()), ("cid", n.quote.1.as_str())];
    let likes = w.ok("app.bsky.feed.getLikes", &q, None).await;
    assert_eq!(likes["likes"].as_array().map(Vec::len), Some(0));

    let reposts = w
        .ok(
            "app.bsky.feed.getRepostedBy",
            &[("uri", n.root.0.as_str())],
            None,
        )
        .await;
    assert_eq!(dids(&reposts["repostedBy"]), vec![n.carol.did.clone()]);

    let quotes = w
        .ok(
            "app.bsky.feed.getQuotes",
            &[("uri", n.root.0.as_str())],
            None,
        )
        .await;
    assert_eq!(uris(&quotes["posts"], &["uri"]), vec![n.quote.0.clone()]);
    assert_eq!(
        quotes["posts"][0]["embed"]["record"]["uri"], n.root.0,
        "the quote embeds the root"
    );

    // Mallory blocks Alice: Alice's post's interactions are empty for her.
    let likes = w
        .ok(
            "app.bsky.feed.getLikes",
            &[("uri", n.root.0.as_str())],
            Some(&n.mallory),
        )
        .await;
    assert_eq!(likes["likes"].as_array().map(Vec::len), Some(0));

    // Only Alice may list Alice's likes.
    let mine = w
        .ok(
            "app.bsky.feed.getActorLikes",
            &[("actor", n.alice.did.as_str())],
            Some(&n.alice),
        )
        .await;
    assert_eq!(
        uris(&mine["feed"], &["post", "uri"]),
        vec![n.r_bob.0.clone()]
    );
    assert!(mine["feed"][0]["post"]["viewer"]["like"].is_string());
    w.err(
        "app.bsky.feed.getActorLikes",
        &[("actor", n.alice.did.as_str())],
        Some(&n.bob),
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
    w.err(
        "app.bsky.feed.getActorLikes",
        &[("actor", n.alice.handle.as_str())],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;

    // Limits.
    for bad in ["0", "101", "x"] {
        w.err(
            "app.bsky.feed.getLikes",
            &[("uri", n.root.0.as_str()), ("limit", bad)],
            None,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
        )
        .await;
    }
    w.err(
        "app.bsky.feed.getLikes",
        &[("uri", n.root.0.as_str()), ("cursor", "garbage")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Feed generators and getFeed
// ---------------------------------------------------------------------------------------------

/// A fake feed generator: answers getFeedSkeleton with `skeleton` and records the
/// Authorization header it was sent.
async fn fake_generator(status: u16, skeleton: Value) -> (String, Arc<Mutex<Vec<Option<String>>>>) {
    use axum::routing::get;
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/xrpc/app.bsky.feed.getFeedSkeleton",
        get(move |headers: axum::http::HeaderMap| {
            let s = s.clone();
            let skeleton = skeleton.clone();
            async move {
                if let Ok(mut v) = s.lock() {
                    v.push(
                        headers
                            .get("authorization")
                            .and_then(|h| h.to_str().ok())
                            .map(str::to_owned),
                    );
                }
                (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    axum::Json(skeleton),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind generator");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{port}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_generators_and_get_feed() {
    let n = network().await;
    let w = &n.w;
    let skeleton = json!({
        "feed": [
            { "post": n.root.0, "reason": { "$type": "app.bsky.feed.defs#skeletonReasonRepost", "repost": n.carol_repost }, "feedContext": "ctx-1" },
            { "post": n.r_mallory.0 },
            { "post": n.image_post.0 },
            { "post": "not a uri" },
        ],
        "cursor": "page-2",
        "reqId": "req-1",
    });
    let (endpoint, seen) = fake_generator(200, skeleton).await;
    let fg = w
        .account_with("fg.test", &[("bsky_fg", "BskyFeedGenerator", &endpoint)])
        .await;
    let (broken_endpoint, _) = fake_generator(500, json!({ "error": "Oops" })).await;
    let broken = w
        .account_with(
            "broken.test",
            &[("bsky_fg", "BskyFeedGenerator", &broken_endpoint)],
        )
        .await;
    let (gone_endpoint, _) = fake_generator(
        400,
        json!({ "error": "UnknownFeed", "message": "no such feed" }),
    )
    .await;
    let gone = w
        .account_with(
            "gone.test",
            &[("bsky_fg", "BskyFeedGenerator", &gone_endpoint)],
        )
        .await;
    let gen_record = |did: &str, name: &str| json!({ "$type": "app.bsky.feed.generator", "did": did, "displayName": name, "description": "Posts about rust", "createdAt": now_iso() });
    let (feed, _) = w
        .put(
            &n.bob,
            "app.bsky.feed.generator",
            Some("rusty"),
            gen_record(&fg.did, "Rusty"),
        )
        .await;
    let (broken_feed, _) = w
        .put(
            &n.bob,
            "app.bsky.feed.generator",
            Some("broken"),
            gen_record(&broken.did, "Broken"),
        )
        .await;
    let (gone_feed, _) = w
        .put(
            &n.dave,
            "app.bsky.feed.generator",
            Some("gone"),
            gen_record(&gone.did, "Gone"),
        )
        .await;
    let feed_ref = (feed.clone(), String::new());
    w.put(
        &n.carol,
        "app.bsky.feed.like",
        None,
        json!({ "$type": "app.bsky.feed.like", "subject": { "uri": feed_ref.0, "cid": cid_for_raw(b"x").to_string() }, "createdAt": now_iso() }),
    )
    .await;

    // Views.
    let g = w
        .ok(
            "app.bsky.feed.getFeedGenerator",
            &[("feed", feed.as_str())],
            Some(&n.carol),
        )
        .await;
    assert_eq!(g["view"]["did"], fg.did);
    assert_eq!(g["view"]["likeCount"], 1);
    assert!(g["view"]["viewer"]["like"].is_string());
    assert_eq!(g["isOnline"], true);
    let gs = w
        .ok(
            "app.bsky.feed.getFeedGenerators",
            &[("feeds", feed.as_str()), ("feeds", broken_feed.as_str())],
            None,
        )
        .await;
    assert_eq!(gs["feeds"].as_array().map(Vec::len), Some(2));
    let actor_feeds = w
        .ok(
            "app.bsky.feed.getActorFeeds",
            &[("actor", n.bob.handle.as_str())],
            None,
        )
        .await;
    assert_eq!(actor_feeds["feeds"].as_array().map(Vec::len), Some(2));
    let page = w
        .ok(
            "app.bsky.feed.getActorFeeds",
            &[("actor", n.bob.handle.as_str()), ("limit", "1")],
            None,
        )
        .await;
    let c = page["cursor"].as_str().expect("cursor").to_owned();
    let page2 = w
        .ok(
            "app.bsky.feed.getActorFeeds",
            &[
                ("actor", n.bob.handle.as_str()),
                ("limit", "1"),
                ("cursor", &c),
            ],
            None,
        )
        .await;
    assert_ne!(page["feeds"][0]["uri"], page2["feeds"][0]["uri"]);
    let popular = w
        .ok("app.bsky.unspecced.getPopularFeedGenerators", &[], None)
        .await;
    assert_eq!(
        popular["feeds"][0]["uri"], feed,
        "the liked feed ranks first"
    );
    let found = w
        .ok(
            "app.bsky.unspecced.getPopularFeedGenerators",
            &[("query", "Rust")],
            None,
        )
        .await;
    assert_eq!(found["feeds"].as_array().map(Vec::len), Some(3));
    let none = w
        .ok(
            "app.bsky.unspecced.getPopularFeedGenerators",
            &[("query", "100%_\\")],
            None,
        )
        .await;
    assert_eq!(none["feeds"].as_array().map(Vec::len), Some(0));
    let suggested = w.ok("app.bsky.feed.getSuggestedFeeds", &[], None).await;
    assert_eq!(suggested["feeds"][0]["uri"], feed);
    w.ok("app.bsky.unspecced.getSuggestedFeeds", &[], None)
        .await;
    w.err(
        "app.bsky.feed.getFeedGenerator",
        &[(
            "feed",
            &format!("at://{}/app.bsky.feed.generator/none", n.bob.did),
        )],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;

    // getFeed, as the PDS calls it: a token minted by Alice for the generator.
    let nsid = "app.bsky.feed.getFeed";
    let token = w.token(&n.alice, &fg.did, "app.bsky.feed.getFeedSkeleton");
    let (status, body) = w
        .request(
            "GET",
            nsid,
            &[("feed", feed.as_str()), ("limit", "10")],
            Some(token.clone()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    validate(nsid, &body);
    assert_eq!(body["cursor"], "page-2");
    // Mallory (who blocks Alice) is left out for Alice; the invalid entry too.
    assert_eq!(
        uris(&body["feed"], &["post", "uri"]),
        vec![n.root.0.clone(), n.image_post.0.clone()]
    );
    assert_eq!(
        body["feed"][0]["reason"]["$type"],
        "app.bsky.feed.defs#reasonRepost"
    );
    assert_eq!(body["feed"][0]["reason"]["by"]["did"], n.carol.did);
    assert_eq!(body["feed"][0]["feedContext"], "ctx-1");
    assert_eq!(body["feed"][0]["reqId"], "req-1");
    assert_eq!(
        body["feed"][1]["post"]["embed"]["$type"],
        "app.bsky.embed.images#view"
    );
    // The generator got the caller's own token.
    let got = seen.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(
        got.last().cloned().flatten(),
        Some(format!("Bearer {token}"))
    );

    // Anonymous: no token forwarded, Mallory's reply shows.
    let (status, body) = w
        .request("GET", nsid, &[("feed", feed.as_str())], None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    validate(nsid, &body);
    assert_eq!(body["feed"].as_array().map(Vec::len), Some(3));
    let got = seen.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(got.last().cloned().flatten(), None);

    // A token minted for another generator is refused.
    let other = w.token(&n.alice, &broken.did, "app.bsky.feed.getFeedSkeleton");
    let (status, body) = w
        .request("GET", nsid, &[("feed", feed.as_str())], Some(other), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "BadJwtAudience");

    // A token for this AppView is accepted but not passed to the generator.
    let own = w.token(&n.alice, &w.state.service_did, nsid);
    let (status, _) = w
        .request("GET", nsid, &[("feed", feed.as_str())], Some(own), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let got = seen.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(got.last().cloned().flatten(), None);

    // Failures.
    let (status, body) = w
        .request("GET", nsid, &[("feed", broken_feed.as_str())], None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"], "UpstreamFailure");
    let (status, body) = w
        .request("GET", nsid, &[("feed", gone_feed.as_str())], None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "UnknownFeed");
    let unknown = format!("at://{}/app.bsky.feed.generator/none", n.bob.did);
    w.err(
        nsid,
        &[("feed", &unknown)],
        None,
        StatusCode::BAD_REQUEST,
        "UnknownFeed",
    )
    .await;
    w.err(
        nsid,
        &[("feed", feed.as_str()), ("limit", "101")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Graph
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_views() {
    let n = network().await;
    let w = &n.w;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    let follows = w
        .ok(
            "app.bsky.graph.getFollows",
            &[("actor", n.alice.handle.as_str())],
            None,
        )
        .await;
    assert_eq!(follows["subject"]["did"], n.alice.did);
    assert_eq!(
        sorted(dids(&follows["follows"])),
        sorted(vec![
            n.bob.did.clone(),
            n.carol.did.clone(),
            n.dave.did.clone()
        ])
    );
    let followers = w
        .ok(
            "app.bsky.graph.getFollowers",
            &[("actor", n.alice.did.as_str())],
            None,
        )
        .await;
    assert_eq!(
        sorted(dids(&followers["followers"])),
        sorted(vec![
            n.bob.did.clone(),
            n.carol.did.clone(),
            n.dave.did.clone(),
            n.eve.did.clone()
        ]),
        "the deactivated follower is left out"
    );
    // Paging followers two at a time covers them all once.
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut q = vec![("actor", n.alice.did.as_str()), ("limit", "2")];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page = w.ok("app.bsky.graph.getFollowers", &q, None).await;
        all.extend(dids(&page["followers"]));
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(sorted(all), sorted(dids(&followers["followers"])));

    // Profile viewer state and known followers.
    let p = w
        .ok(
            "app.bsky.actor.getProfile",
            &[("actor", n.alice.did.as_str())],
            Some(&n.bob),
        )
        .await;
    assert!(p["viewer"]["following"].is_string());
    assert_eq!(p["viewer"]["knownFollowers"]["count"], 1);
    assert_eq!(
        p["viewer"]["knownFollowers"]["followers"][0]["did"],
        n.carol.did
    );
    let known = w
        .ok(
            "app.bsky.graph.getKnownFollowers",
            &[("actor", n.alice.did.as_str())],
            Some(&n.bob),
        )
        .await;
    assert_eq!(dids(&known["followers"]), vec![n.carol.did.clone()]);
    w.err(
        "app.bsky.graph.getKnownFollowers",
        &[("actor", n.alice.did.as_str())],
        None,
        StatusCode::UNAUTHORIZED,
        "AuthMissing",
    )
    .await;

    // Blocks: Mallory's list has Alice; Alice's profile says she is blocked.
    let blocks = w
        .ok("app.bsky.graph.getBlocks", &[], Some(&n.mallory))
        .await;
    assert_eq!(dids(&blocks["blocks"]), vec![n.alice.did.clone()]);
    assert!(blocks["blocks"][0]["viewer"]["blocking"].is_string());
    let blocks = w.ok("app.bsky.graph.getBlocks", &[], Some(&n.alice)).await;
    assert_eq!(blocks["blocks"].as_array().map(Vec::len), Some(0));
    let p = w
        .ok(
            "app.bsky.actor.getProfile",
            &[("actor", n.mallory.did.as_str())],
            Some(&n.alice),
        )
        .await;
    assert_eq!(p["viewer"]["blockedBy"], true);

    // Lists.
    let lists = w
        .ok(
            "app.bsky.graph.getLists",
            &[("actor", n.alice.did.as_str())],
            Some(&n.bob),
        )
        .await;
    assert_eq!(uris(&lists["lists"], &["uri"]), vec![n.list.clone()]);
    assert_eq!(lists["lists"][0]["listItemCount"], 2);
    assert_eq!(lists["lists"][0]["creator"]["did"], n.alice.did);
    let modlists = w
        .ok(
            "app.bsky.graph.getLists",
            &[("actor", n.alice.did.as_str()), ("purposes", "modlist")],
            None,
        )
        .await;
    assert_eq!(modlists["lists"].as_array().map(Vec::len), Some(0));
    let list = w
        .ok("app.bsky.graph.getList", &[("list", n.list.as_str())], None)
        .await;
    assert_eq!(list["list"]["name"], "Friends");
    assert_eq!(
        sorted(uris(&list["items"], &["subject", "did"])),
        sorted(vec![n.bob.did.clone(), n.carol.did.clone()])
    );
    let page = w
        .ok(
            "app.bsky.graph.getList",
            &[("list", n.list.as_str()), ("limit", "1")],
            None,
        )
        .await;
    let c = page["cursor"].as_str().expect("cursor").to_owned();
    let page2 = w
        .ok(
            "app.bsky.graph.getList",
            &[("list", n.list.as_str()), ("limit", "1"), ("cursor", &c)],
            None,
        )
        .await;
    assert_ne!(page["items"][0]["uri"], page2["items"][0]["uri"]);
    w.err(
        "app.bsky.graph.getList",
        &[(
            "list",
            &format!("at://{}/app.bsky.graph.list/none", n.alice.did),
        )],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
    let feed = w
        .ok(
            "app.bsky.feed.getListFeed",
            &[("list", n.list.as_str())],
            None,
        )
        .await;
    let authors: HashSet<String> = uris(&feed["feed"], &["post", "author", "did"])
        .into_iter()
        .collect();
    assert_eq!(
        authors,
        [n.bob.did.clone(), n.carol.did.clone()]
            .into_iter()
            .collect()
    );

    // Relationships.
    let rel = w
        .ok(
            "app.bsky.graph.getRelationships",
            &[
                ("actor", n.alice.did.as_str()),
                ("others", n.bob.did.as_str()),
                ("others", n.mallory.handle.as_str()),
                ("others", "nobody.test"),
            ],
            None,
        )
        .await;
    assert_eq!(rel["actor"], n.alice.did);
    assert!(rel["relationships"][0]["following"].is_string());
    assert!(rel["relationships"][0]["followedBy"].is_string());
    assert!(rel["relationships"][1]["blockedBy"].is_string());
    assert_eq!(rel["relationships"][2]["notFound"], true);
    w.err(
        "app.bsky.graph.getRelationships",
        &[("actor", "nobody.test")],
        None,
        StatusCode::BAD_REQUEST,
        "ActorNotFound",
    )
    .await;

    // Suggestions: Eve follows only Alice; Bob's follows are suggested to her.
    let s = w
        .ok(
            "app.bsky.graph.getSuggestedFollowsByActor",
            &[("actor", n.bob.did.as_str())],
            Some(&n.eve),
        )
        .await;
    let suggested = dids(&s["suggestions"]);
    assert!(suggested.contains(&n.carol.did));
    assert!(
        !suggested.contains(&n.alice.did),
        "Eve follows Alice already"
    );
    assert!(!suggested.contains(&n.zed.did));
    let s = w
        .ok("app.bsky.actor.getSuggestions", &[], Some(&n.eve))
        .await;
    let suggested = dids(&s["actors"]);
    assert!(!suggested.contains(&n.alice.did) && !suggested.contains(&n.eve.did));
    assert!(!suggested.contains(&n.zed.did));
    let s = w.ok("app.bsky.actor.getSuggestions", &[], None).await;
    assert_eq!(
        dids(&s["actors"]).first(),
        Some(&n.alice.did),
        "the most followed first"
    );
    w.ok("app.bsky.unspecced.getSuggestedUsers", &[], Some(&n.eve))
        .await;

    // Mutes and list mutes/blocks are not offered: empty, well formed.
    w.ok("app.bsky.graph.getMutes", &[], Some(&n.alice)).await;
    w.ok("app.bsky.graph.getListMutes", &[], Some(&n.alice))
        .await;
    w.ok("app.bsky.graph.getListBlocks", &[], Some(&n.alice))
        .await;
    w.ok(
        "app.bsky.graph.getActorStarterPacks",
        &[("actor", n.alice.did.as_str())],
        None,
    )
    .await;
    w.ok("app.bsky.graph.getStarterPacks", &[], None).await;
    w.ok(
        "app.bsky.graph.getStarterPacksWithMembership",
        &[("actor", n.bob.did.as_str())],
        Some(&n.alice),
    )
    .await;

    // Alice's lists, marked where Bob (a member) and Eve (not one) are on them.
    let m = w
        .ok(
            "app.bsky.graph.getListsWithMembership",
            &[("actor", n.bob.did.as_str())],
            Some(&n.alice),
        )
        .await;
    assert_eq!(m["listsWithMembership"][0]["list"]["uri"], n.list);
    assert_eq!(
        m["listsWithMembership"][0]["listItem"]["subject"]["did"],
        n.bob.did
    );
    let m = w
        .ok(
            "app.bsky.graph.getListsWithMembership",
            &[("actor", n.eve.did.as_str())],
            Some(&n.alice),
        )
        .await;
    assert!(m["listsWithMembership"][0].get("listItem").is_none());
    let m = w
        .ok(
            "app.bsky.graph.getListsWithMembership",
            &[("actor", n.eve.did.as_str())],
            Some(&n.bob),
        )
        .await;
    assert_eq!(m["listsWithMembership"].as_array().map(Vec::len), Some(0));

    // Inactive accounts.
    let zed = [("actor", n.zed.did.as_str())];
    w.err(
        "app.bsky.graph.getFollows",
        &zed,
        None,
        StatusCode::BAD_REQUEST,
        "AccountDeactivated",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_list_count_and_seen() {
    let n = network().await;
    let w = &n.w;
    let nsid = "app.bsky.notification.listNotifications";

    let list = w.ok(nsid, &[], Some(&n.alice)).await;
    let notes = list["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut count: HashMap<String, usize> = HashMap::new();
    for note in &notes {
        *count
            .entry(note["reason"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
        assert_eq!(note["isRead"], false);
        let author = note["author"]["did"].as_str().unwrap_or_default();
        assert!(
            author != n.mallory.did && author != n.zed.did,
            "blocked and inactive authors are left out"
        );
    }
    // Likes from Bob, Carol, Dave; Carol's repost; follows from Bob, Carol, Dave, Eve; replies
    // from Bob, Carol, Eve and Dave (in her thread); Carol's quote; Dave's mention.
    assert_eq!(count.get("like"), Some(&3));
    assert_eq!(count.get("repost"), Some(&1));
    assert_eq!(count.get("follow"), Some(&4));
    assert_eq!(count.get("reply"), Some(&4));
    assert_eq!(count.get("quote"), Some(&1));
    assert_eq!(count.get("mention"), Some(&1));
    let like = notes
        .iter()
        .find(|x| x["reason"] == "like")
        .expect("a like");
    assert_eq!(like["record"]["$type"], "app.bsky.feed.like");
    assert_eq!(like["reasonSubject"], n.root.0);
    let mention = notes
        .iter()
        .find(|x| x["reason"] == "mention")
        .expect("a mention");
    assert_eq!(mention["uri"], n.mention.0);
    assert_eq!(mention["record"]["text"], "hi alice");

    // Filter by reason.
    let only = w
        .ok(
            nsid,
            &[("reasons", "mention"), ("reasons", "quote")],
            Some(&n.alice),
        )
        .await;
    let mut reasons: Vec<String> = uris(&only["notifications"], &["reason"]);
    reasons.sort();
    assert_eq!(reasons, vec!["mention".to_owned(), "quote".to_owned()]);

    // Paging covers everything once.
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..40 {
        let mut q = vec![("limit", "3")];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page = w.ok(nsid, &q, Some(&n.alice)).await;
        all.extend(uris(&page["notifications"], &["uri"]));
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), notes.len());
    assert_eq!(unique.len(), notes.len());

    // Unread count, then mark seen.
    let unread = w
        .ok("app.bsky.notification.getUnreadCount", &[], Some(&n.alice))
        .await;
    assert_eq!(unread["count"], notes.len());
    let (status, body) = w
        .procedure(
            "app.bsky.notification.updateSeen",
            &n.alice,
            json!({ "seenAt": now_iso() }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unread = w
        .ok("app.bsky.notification.getUnreadCount", &[], Some(&n.alice))
        .await;
    assert_eq!(unread["count"], 0);
    let list = w.ok(nsid, &[], Some(&n.alice)).await;
    assert!(list["seenAt"].is_string());
    assert!(
        list["notifications"]
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x["isRead"] == true))
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    w.like(&n.eve, &n.root).await;
    let unread = w
        .ok("app.bsky.notification.getUnreadCount", &[], Some(&n.alice))
        .await;
    assert_eq!(unread["count"], 1);
    let list = w.ok(nsid, &[("limit", "1")], Some(&n.alice)).await;
    assert_eq!(list["notifications"][0]["isRead"], false);
    assert_eq!(list["notifications"][0]["author"]["did"], n.eve.did);

    // Auth and input errors.
    w.err(nsid, &[], None, StatusCode::UNAUTHORIZED, "AuthMissing")
        .await;
    let (status, body) = w
        .procedure(
            "app.bsky.notification.updateSeen",
            &n.alice,
            json!({ "seenAt": "yesterday" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = w
        .get("app.bsky.notification.updateSeen", &[], Some(&n.alice))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    // A token is good for one write.
    let token = w.token(
        &n.alice,
        &w.state.service_did,
        "app.bsky.notification.updateSeen",
    );
    let body = json!({ "seenAt": now_iso() });
    let (s1, _) = w
        .request(
            "POST",
            "app.bsky.notification.updateSeen",
            &[],
            Some(token.clone()),
            Some(body.clone()),
        )
        .await;
    let (s2, b2) = w
        .request(
            "POST",
            "app.bsky.notification.updateSeen",
            &[],
            Some(token),
            Some(body),
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::UNAUTHORIZED), "{b2}");
    // A token for another method is refused.
    let wrong = w.token(&n.alice, &w.state.service_did, "app.bsky.feed.getTimeline");
    let (status, _) = w.request("GET", nsid, &[], Some(wrong), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_preferences() {
    let w = World::new().await;
    let alice = w.account("alice.test").await;
    let prefs = w
        .ok("app.bsky.notification.getPreferences", &[], Some(&alice))
        .await;
    assert_eq!(prefs["preferences"]["like"]["include"], "all");
    let nsid = "app.bsky.notification.putPreferencesV2";
    let (status, body) = w
        .procedure(
            nsid,
            &alice,
            json!({ "like": { "include": "follows", "list": true, "push": false } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    validate(nsid, &body);
    assert_eq!(body["preferences"]["like"]["include"], "follows");
    let prefs = w
        .ok("app.bsky.notification.getPreferences", &[], Some(&alice))
        .await;
    assert_eq!(prefs["preferences"]["like"]["push"], false);
    assert_eq!(prefs["preferences"]["reply"]["push"], true);
    let (status, body) = w
        .procedure(nsid, &alice, json!({ "like": { "include": "all" } }))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "missing required fields: {body}"
    );
    let (status, _) = w
        .procedure(
            "app.bsky.notification.putPreferences",
            &alice,
            json!({ "priority": true }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list = w
        .ok("app.bsky.notification.listNotifications", &[], Some(&alice))
        .await;
    assert_eq!(list["priority"], true);
    let subs = w
        .ok(
            "app.bsky.notification.listActivitySubscriptions",
            &[],
            Some(&alice),
        )
        .await;
    assert_eq!(subs["subscriptions"].as_array().map(Vec::len), Some(0));
    let (status, body) = w
        .procedure(
            "app.bsky.notification.registerPush",
            &alice,
            json!({ "serviceDid": w.state.service_did, "token": "t", "platform": "web", "appId": "xyz.blueskyweb.app" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_posts_and_actors() {
    let n = network().await;
    let w = &n.w;
    let nsid = "app.bsky.feed.searchPosts";
    let found = |v: &Value| uris(&v["posts"], &["uri"]);

    let r = w.ok(nsid, &[("q", "hello")], None).await;
    assert_eq!(found(&r), vec![n.root.0.clone()]);
    let r = w.ok(nsid, &[("q", "rust")], None).await;
    assert_eq!(
        found(&r),
        vec![n.image_post.0.clone(), n.root.0.clone()],
        "newest first"
    );
    let r = w.ok(nsid, &[("q", "rust"), ("sort", "top")], None).await;
    assert_eq!(
        found(&r),
        vec![n.root.0.clone(), n.image_post.0.clone()],
        "most engaged first"
    );
    let r = w
        .ok(
            nsid,
            &[("q", "rust"), ("author", n.bob.handle.as_str())],
            None,
        )
        .await;
    assert_eq!(found(&r), vec![n.image_post.0.clone()]);
    let r = w.ok(nsid, &[("q", "rust from:alice.test")], None).await;
    assert_eq!(found(&r), vec![n.root.0.clone()]);
    let r = w.ok(nsid, &[("q", "rust"), ("lang", "en")], None).await;
    assert_eq!(found(&r), vec![n.root.0.clone()]);
    let r = w.ok(nsid, &[("q", "rust"), ("tag", "RUST")], None).await;
    assert_eq!(found(&r).len(), 2);
    let r = w
        .ok(
            nsid,
            &[("q", "alice"), ("mentions", n.alice.did.as_str())],
            None,
        )
        .await;
    assert_eq!(found(&r), vec![n.mention.0.clone()]);
    let r = w.ok(nsid, &[("q", "from:me")], Some(&n.dave)).await;
    assert!(found(&r).contains(&n.mention.0));
    let until = w.at(5);
    let r = w
        .ok(nsid, &[("q", "replies"), ("until", until.as_str())], None)
        .await;
    assert_eq!(found(&r).len(), 2, "Bob's and Carol's replies, not Dave's");
    let r = w
        .ok(nsid, &[("q", "replies"), ("since", "2000-01-01")], None)
        .await;
    assert_eq!(found(&r).len(), 3);
    // Paging by one.
    let p1 = w.ok(nsid, &[("q", "replies"), ("limit", "1")], None).await;
    let c = p1["cursor"].as_str().expect("cursor").to_owned();
    let p2 = w
        .ok(
            nsid,
            &[("q", "replies"), ("limit", "1"), ("cursor", &c)],
            None,
        )
        .await;
    assert_ne!(found(&p1), found(&p2));
    // FTS syntax in the query is only ever text.
    for q in [
        "hello OR",
        "\"",
        "NEAR(hello world)",
        "hello*",
        "-",
        "col:hello",
        "^hello",
        "(((",
        "AND",
    ] {
        let r = w.ok(nsid, &[("q", q)], None).await;
        assert!(r["posts"].is_array(), "{q}");
    }
    // Blocks hide: Mallory's posts are not found by Alice.
    let r = w.ok(nsid, &[("q", "early")], None).await;
    assert_eq!(found(&r), vec![n.r_mallory.0.clone()]);
    let r = w.ok(nsid, &[("q", "early")], Some(&n.alice)).await;
    assert!(found(&r).is_empty());
    w.err(
        nsid,
        &[("q", "x"), ("since", "soon")],
        None,
        StatusCode::BAD_REQUEST,
        "BadQueryString",
    )
    .await;
    w.err(nsid, &[], None, StatusCode::BAD_REQUEST, "InvalidRequest")
        .await;
    w.err(
        nsid,
        &[("q", "x"), ("limit", "101")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;

    // Actors: handle prefixes, display names, descriptions.
    let r = w
        .ok("app.bsky.actor.searchActors", &[("q", "ali")], None)
        .await;
    assert_eq!(dids(&r["actors"]).first(), Some(&n.alice.did));
    let r = w
        .ok("app.bsky.actor.searchActors", &[("q", "writes")], None)
        .await;
    assert_eq!(
        r["actors"].as_array().map(Vec::len),
        Some(6),
        "everyone but the deactivated account"
    );
    let r = w
        .ok(
            "app.bsky.actor.searchActors",
            &[("q", "writes"), ("limit", "4")],
            None,
        )
        .await;
    let c = r["cursor"].as_str().expect("cursor").to_owned();
    let r2 = w
        .ok(
            "app.bsky.actor.searchActors",
            &[("q", "writes"), ("limit", "4"), ("cursor", &c)],
            None,
        )
        .await;
    let mut all = dids(&r["actors"]);
    all.extend(dids(&r2["actors"]));
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 6);
    let r = w
        .ok("app.bsky.actor.searchActorsTypeahead", &[("q", "bo")], None)
        .await;
    assert_eq!(dids(&r["actors"]), vec![n.bob.did.clone()]);
    let r = w
        .ok(
            "app.bsky.actor.searchActorsTypeahead",
            &[("q", "mal")],
            Some(&n.alice),
        )
        .await;
    assert!(dids(&r["actors"]).is_empty(), "Mallory blocks Alice");
    let r = w
        .ok(
            "app.bsky.actor.searchActorsTypeahead",
            &[("q", "\"*) OR")],
            None,
        )
        .await;
    assert!(r["actors"].is_array());
    let r = w
        .ok("app.bsky.actor.searchActors", &[("term", "carol")], None)
        .await;
    assert_eq!(dids(&r["actors"]).first(), Some(&n.carol.did));
    let r = w.ok("app.bsky.actor.searchActors", &[], None).await;
    assert_eq!(r["actors"].as_array().map(Vec::len), Some(0));
}

// ---------------------------------------------------------------------------------------------
// Labelers, configuration, trends, and what the official client asks for on start-up
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelers_trends_and_startup_calls() {
    let n = network().await;
    let w = &n.w;

    let s = w
        .ok(
            "app.bsky.labeler.getServices",
            &[("dids", n.carol.did.as_str()), ("dids", n.bob.did.as_str())],
            None,
        )
        .await;
    assert_eq!(s["views"].as_array().map(Vec::len), Some(1));
    assert_eq!(s["views"][0]["$type"], "app.bsky.labeler.defs#labelerView");
    let s = w
        .ok(
            "app.bsky.labeler.getServices",
            &[("dids", n.carol.did.as_str()), ("detailed", "true")],
            Some(&n.alice),
        )
        .await;
    assert_eq!(
        s["views"][0]["$type"],
        "app.bsky.labeler.defs#labelerViewDetailed"
    );
    assert_eq!(s["views"][0]["policies"]["labelValues"][0], "spam");
    let s = w.ok("app.bsky.labeler.getServices", &[], None).await;
    assert_eq!(s["views"].as_array().map(Vec::len), Some(0));
    w.err(
        "app.bsky.labeler.getServices",
        &[("dids", "nope")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;
    let p = w
        .ok(
            "app.bsky.actor.getProfile",
            &[("actor", n.carol.did.as_str())],
            None,
        )
        .await;
    assert_eq!(p["associated"]["labeler"], true);

    let c = w.ok("app.bsky.unspecced.getConfig", &[], None).await;
    assert_eq!(c["checkEmailConfirmed"], false);

    let t = w
        .ok("app.bsky.unspecced.getTrendingTopics", &[], None)
        .await;
    assert_eq!(t["topics"][0]["topic"], "#rust", "{t}");
    assert_eq!(t["topics"][0]["link"], "/hashtag/rust");
    let t = w.ok("app.bsky.unspecced.getTrends", &[], None).await;
    assert_eq!(t["trends"][0]["topic"], "rust");
    assert_eq!(t["trends"][0]["postCount"], 2);
    assert_eq!(t["trends"][0]["actors"].as_array().map(Vec::len), Some(2));
    w.err(
        "app.bsky.unspecced.getTrends",
        &[("limit", "26")],
        None,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    )
    .await;

    // The official client's start-up, home, profile and notifications calls (those the PDS
    // does not answer itself): each answers, well formed.
    let me = &n.alice;
    let a = me.did.as_str();
    let root = n.root.0.as_str();
    let calls: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("app.bsky.actor.getProfile", vec![("actor", a)]),
        (
            "app.bsky.actor.getProfiles",
            vec![("actors", a), ("actors", n.bob.did.as_str())],
        ),
        (
            "app.bsky.labeler.getServices",
            vec![("dids", n.carol.did.as_str()), ("detailed", "true")],
        ),
        ("app.bsky.unspecced.getConfig", vec![]),
        ("app.bsky.notification.getUnreadCount", vec![]),
        (
            "app.bsky.notification.listNotifications",
            vec![("limit", "40")],
        ),
        (
            "app.bsky.notification.listNotifications",
            vec![
                ("reasons", "mention"),
                ("reasons", "reply"),
                ("reasons", "quote"),
            ],
        ),
        ("app.bsky.notification.getPreferences", vec![]),
        ("app.bsky.notification.listActivitySubscriptions", vec![]),
        ("app.bsky.feed.getTimeline", vec![("limit", "30")]),
        ("app.bsky.feed.getFeedGenerators", vec![]),
        ("app.bsky.feed.getSuggestedFeeds", vec![]),
        ("app.bsky.unspecced.getSuggestedFeeds", vec![]),
        ("app.bsky.unspecced.getPopularFeedGenerators", vec![]),
        ("app.bsky.unspecced.getTrendingTopics", vec![]),
        ("app.bsky.unspecced.getTrends", vec![]),
        ("app.bsky.unspecced.getSuggestedUsers", vec![]),
        ("app.bsky.unspecced.getSuggestedStarterPacks", vec![]),
        ("app.bsky.actor.getSuggestions", vec![]),
        (
            "app.bsky.graph.getSuggestedFollowsByActor",
            vec![("actor", n.bob.did.as_str())],
        ),
        (
            "app.bsky.feed.getAuthorFeed",
            vec![
                ("actor", a),
                ("filter", "posts_and_author_threads"),
                ("includePins", "true"),
            ],
        ),
        ("app.bsky.feed.getActorLikes", vec![("actor", a)]),
        ("app.bsky.feed.getActorFeeds", vec![("actor", a)]),
        ("app.bsky.graph.getLists", vec![("actor", a)]),
        ("app.bsky.graph.getActorStarterPacks", vec![("actor", a)]),
        (
            "app.bsky.graph.getKnownFollowers",
            vec![("actor", n.bob.did.as_str())],
        ),
        ("app.bsky.graph.getFollows", vec![("actor", a)]),
        ("app.bsky.graph.getFollowers", vec![("actor", a)]),
        ("app.bsky.graph.getBlocks", vec![]),
        ("app.bsky.graph.getMutes", vec![]),
        ("app.bsky.graph.getListMutes", vec![]),
        ("app.bsky.graph.getListBlocks", vec![]),
        ("app.bsky.feed.getPosts", vec![("uris", root)]),
        ("app.bsky.unspecced.getPostThreadV2", vec![("anchor", root)]),
        (
            "app.bsky.unspecced.getPostThreadOtherV2",
            vec![("anchor", root)],
        ),
        ("app.bsky.feed.getPostThread", vec![("uri", root)]),
        ("app.bsky.feed.getLikes", vec![("uri", root)]),
        ("app.bsky.feed.getRepostedBy", vec![("uri", root)]),
        ("app.bsky.feed.getQuotes", vec![("uri", root)]),
        ("app.bsky.feed.searchPosts", vec![("q", "hello")]),
        ("app.bsky.actor.searchActorsTypeahead", vec![("q", "b")]),
        ("app.bsky.actor.searchActors", vec![("q", "b")]),
        ("app.bsky.unspecced.getAgeAssuranceState", vec![]),
        (
            "app.bsky.ageassurance.getState",
            vec![("countryCode", "GB")],
        ),
    ];
    for (nsid, q) in &calls {
        w.ok(nsid, q, Some(me)).await;
    }
}

/// The lexicon check above is only worth something if it refuses wrong shapes.
#[test]
fn output_validation_is_strict() {
    let check = |nsid: &str, body: Value| {
        let ipld = atproto::data::json::from_json(&body).expect("data");
        atproto::lexicon::Catalog::official().validate_output(nsid, &ipld)
    };
    // Missing required field.
    assert!(check("app.bsky.feed.getLikes", json!({ "likes": [] })).is_err());
    // Union member without $type.
    assert!(check("app.bsky.feed.getPostThread", json!({ "thread": { "uri": "at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3k", "notFound": true } })).is_err());
    // Wrong format.
    assert!(
        check(
            "app.bsky.notification.getUnreadCount",
            json!({ "count": "3" })
        )
        .is_err()
    );
    assert!(check("app.bsky.unspecced.getPostThreadV2", json!({ "thread": [{ "uri": "at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3k", "depth": 0, "value": { "$type": "app.bsky.unspecced.defs#threadItemPost" } }], "hasOtherReplies": false })).is_err());
    assert!(check("app.bsky.feed.getLikes", json!({ "uri": "at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3k", "likes": [] })).is_ok());
}

/// Read-after-write: the four views a PDS completes with the caller's newest writes carry the
/// rev of the caller's repository as indexed here, also on a thread's NotFound (the PDS answers
/// that one from its own records when the post is the caller's).
#[tokio::test]
async fn repo_rev_header_for_read_after_write() {
    let w = World::new().await;
    let alice = w.account("alice.test").await;
    let bob = w.account("bob.test").await;
    let post = w.post(&alice, 1, "indexed", json!({})).await;
    let rev = "3lbd2wqkdnk2c";
    let did = alice.did.clone();
    w.write(move |conn| {
        conn.execute(
            "UPDATE actor SET rev = ?2 WHERE did = ?1",
            rusqlite::params![did, rev],
        )
        .map(|_| ())
    })
    .await;
    let missing = format!("at://{}/app.bsky.feed.post/3nope", alice.did);
    let header = |viewer: Option<&Account>, nsid: &'static str, q: Query| {
        let auth = viewer.map(|v| w.token(v, &w.state.service_did, nsid));
        let url = reqwest::Url::parse_with_params(&format!("http://x/xrpc/{nsid}"), &q).unwrap();
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let mut req = Request::builder().uri(path);
        if let Some(t) = auth {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let app = hearth_appview::xrpc::router(w.state.clone());
        async move {
            let res = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            (
                res.status(),
                res.headers()
                    .get("atproto-repo-rev")
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        }
    };
    type Query = Vec<(&'static str, String)>;
    let calls: Vec<(&'static str, Query, StatusCode)> = vec![
        ("app.bsky.feed.getTimeline", vec![], StatusCode::OK),
        (
            "app.bsky.feed.getAuthorFeed",
            vec![("actor", alice.did.clone())],
            StatusCode::OK,
        ),
        (
            "app.bsky.feed.getPostThread",
            vec![("uri", post.0.clone())],
            StatusCode::OK,
        ),
        (
            "app.bsky.feed.getPostThread",
            vec![("uri", missing)],
            StatusCode::BAD_REQUEST,
        ),
        (
            "app.bsky.actor.getProfile",
            vec![("actor", bob.did.clone())],
            StatusCode::OK,
        ),
    ];
    for (nsid, q, status) in calls {
        let got = header(Some(&alice), nsid, q.clone()).await;
        assert_eq!(got, (status, Some(rev.to_owned())), "{nsid} {q:?} as alice");
        // Bob's repo is unknown here (no rev): nothing to say.
        let got = header(Some(&bob), nsid, q.clone()).await;
        assert_eq!(got, (status, None), "{nsid} {q:?} as bob");
        if nsid != "app.bsky.feed.getTimeline" {
            let got = header(None, nsid, q.clone()).await;
            assert_eq!(got, (status, None), "{nsid} {q:?} signed out");
        }
    }
}

/// Every profile a feed page shows carries the same viewer state as the account's own
/// getProfile: the page reads relations for all its authors in a few batched queries, the
/// profile one author at a time.
#[tokio::test]
async fn feed_viewer_state_matches_profile() {
    fn profiles<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
        match v {
            Value::Object(o) => {
                if o.contains_key("did") && o.contains_key("viewer") {
                    out.push(v);
                }
                o.values().for_each(|x| profiles(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| profiles(x, out)),
            _ => {}
        }
    }
    let n = network().await;
    let w = &n.w;
    let mut compared = 0;
    let mut seen = std::collections::HashSet::new();
    for viewer in [&n.alice, &n.bob, &n.dave] {
        for author in [&n.alice, &n.bob, &n.carol, &n.dave, &n.eve] {
            let feed = w
                .ok(
                    "app.bsky.feed.getAuthorFeed",
                    &[("actor", author.did.as_str()), ("limit", "100")],
                    Some(viewer),
                )
                .await;
            let mut shown = Vec::new();
            profiles(&feed["feed"], &mut shown);
            for p in shown {
                let did = p["did"].as_str().expect("did");
                let own = w
                    .ok("app.bsky.actor.getProfile", &[("actor", did)], Some(viewer))
                    .await;
                for key in ["following", "followedBy", "blocking", "blockedBy", "muted"] {
                    if p["viewer"][key].as_str().is_some() {
                        seen.insert(key);
                    }
                    assert_eq!(
                        p["viewer"][key], own["viewer"][key],
                        "{key} of {did} for {}",
                        viewer.did
                    );
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 20, "{compared} profiles compared");
    // Follows both ways were among the relations compared.
    assert!(
        seen.contains("following") && seen.contains("followedBy"),
        "{seen:?}"
    );
}

/// Every `$type` in a view, and whether it holds a null anywhere (optional lexicon fields are
/// left out, never null).
fn types_and_nulls(v: &Value, types: &mut HashSet<String>, nulls: &mut Vec<String>, at: &str) {
    match v {
        Value::Null => nulls.push(at.to_owned()),
        Value::Object(o) => {
            if let Some(t) = o.get("$type").and_then(Value::as_str) {
                types.insert(t.to_owned());
            }
            for (k, x) in o {
                types_and_nulls(x, types, nulls, &format!("{at}/{k}"));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                types_and_nulls(x, types, nulls, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
}

/// A timeline page holding every embed kind, reply context and reason the typed views render:
/// valid for `app.bsky.feed.getTimeline` by the official lexicons, every union member tagged,
/// no nulls, and the values taken from the records and the index. With `HEARTH_PRINT_TIMELINE`
/// set it prints the page, for comparing two versions of the renderer (DIDs, CIDs, TIDs and
/// times differ between runs and must be normalised first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_renders_every_embed_kind() {
    let w = World::new().await;
    let me = w.account("viewer.test").await;
    let al = w.account("al.test").await;
    let bo = w.account("bo.test").await;
    let blocker = w.account("blocker.test").await;
    w.profile(&al, "Al", "posts with embeds").await;
    w.follow(&me, &al).await;
    w.follow(&me, &bo).await;
    w.block(&blocker, &me).await;
    let blob = |what: &[u8]| json!({ "$type": "blob", "ref": { "$link": cid_for_raw(what).to_string() }, "mimeType": "image/jpeg", "size": 1000 });
    let image_cid = cid_for_raw(b"first image").to_string();
    let images = json!({ "$type": "app.bsky.embed.images", "images": [
        { "alt": "first", "image": blob(b"first image"), "aspectRatio": { "width": 4, "height": 3 } },
        { "alt": "", "image": blob(b"second image") },
    ]});
    let external = json!({ "$type": "app.bsky.embed.external", "external": {
        "uri": "https://example.com/a", "title": "A", "description": "an article", "thumb": blob(b"thumb"),
    }});
    let bare_external = json!({ "$type": "app.bsky.embed.external", "external": {
        "uri": "https://example.com/b", "title": "B", "description": "",
    }});
    let video = json!({ "$type": "app.bsky.embed.video", "video": {
        "$type": "blob", "ref": { "$link": cid_for_raw(b"video").to_string() }, "mimeType": "video/mp4", "size": 9000,
    }, "alt": "a clip", "aspectRatio": { "width": 16, "height": 9 } });
    let quoted = w
        .post(&bo, 1, "quoted, with a picture", json!({ "embed": images }))
        .await;
    let blocked = w.post(&blocker, 2, "by a blocker", json!({})).await;
    let missing = format!("at://{}/app.bsky.feed.post/3kaaaaaaaaaaa", bo.did);
    let (generator, generator_cid) = w
        .put(
            &bo,
            "app.bsky.feed.generator",
            None,
            json!({ "$type": "app.bsky.feed.generator", "did": "did:web:feeds.example.com", "displayName": "Feed", "createdAt": now_iso() }),
        )
        .await;
    let (list, list_cid) = w
        .put(
            &bo,
            "app.bsky.graph.list",
            None,
            json!({ "$type": "app.bsky.graph.list", "purpose": "app.bsky.graph.defs#curatelist", "name": "L", "createdAt": now_iso() }),
        )
        .await;
    let (labeler, labeler_cid) = w
        .put(
            &bo,
            "app.bsky.labeler.service",
            Some("self"),
            json!({ "$type": "app.bsky.labeler.service", "policies": { "labelValues": ["spam"] }, "createdAt": now_iso() }),
        )
        .await;
    let quote = |uri: &str, cid: &str| json!({ "$type": "app.bsky.embed.record", "record": { "uri": uri, "cid": cid } });
    let x = cid_for_raw(b"x").to_string();
    let embeds = [
        images.clone(),
        external,
        bare_external,
        video.clone(),
        quote(&quoted.0, &quoted.1),
        quote(&blocked.0, &blocked.1),
        quote(&missing, &x),
        quote(&generator, &generator_cid),
        quote(&list, &list_cid),
        quote(&labeler, &labeler_cid),
        json!({ "$type": "app.bsky.embed.recordWithMedia", "record": quote(&quoted.0, &quoted.1), "media": images }),
        json!({ "$type": "app.bsky.embed.recordWithMedia", "record": quote(&quoted.0, &quoted.1), "media": video }),
    ];
    for (i, e) in embeds.iter().enumerate() {
        w.post(
            &al,
            10 + i as i64,
            &format!("embed {i}"),
            json!({ "embed": e }),
        )
        .await;
    }
    // Reply contexts: a full one with a grandparent author, and parents that are blocked or
    // missing.
    let root = w.post(&bo, 30, "a thread", json!({})).await;
    let mid = w.reply(&al, 31, "middle", &root, &root).await;
    w.reply(&al, 32, "deep reply", &root, &mid).await;
    w.reply(&al, 33, "to a blocker", &blocked, &blocked).await;
    let gone = (missing.clone(), x.clone());
    w.reply(&al, 34, "to nothing", &gone, &gone).await;
    // A repost and a thread gate.
    w.repost(&al, &quoted).await;
    let gated = w.post(&al, 35, "gated", json!({})).await;
    let gated_rkey = gated.0.rsplit('/').next().expect("rkey").to_owned();
    w.put(
        &al,
        "app.bsky.feed.threadgate",
        Some(&gated_rkey),
        json!({ "$type": "app.bsky.feed.threadgate", "post": gated.0, "allow": [{ "$type": "app.bsky.feed.threadgate#listRule", "list": list }], "createdAt": now_iso() }),
    )
    .await;

    let body = w
        .ok("app.bsky.feed.getTimeline", &[("limit", "50")], Some(&me))
        .await;
    let feed = body["feed"].as_array().expect("feed");
    let mut types = HashSet::new();
    let mut nulls = Vec::new();
    types_and_nulls(&body, &mut types, &mut nulls, "");
    assert!(nulls.is_empty(), "nulls at {nulls:?}");
    for t in [
        "app.bsky.embed.images#view",
        "app.bsky.embed.external#view",
        "app.bsky.embed.video#view",
        "app.bsky.embed.record#view",
        "app.bsky.embed.recordWithMedia#view",
        "app.bsky.embed.record#viewRecord",
        "app.bsky.embed.record#viewBlocked",
        "app.bsky.embed.record#viewNotFound",
        "app.bsky.feed.defs#generatorView",
        "app.bsky.graph.defs#listView",
        "app.bsky.labeler.defs#labelerView",
        "app.bsky.feed.defs#postView",
        "app.bsky.feed.defs#blockedPost",
        "app.bsky.feed.defs#notFoundPost",
        "app.bsky.feed.defs#reasonRepost",
    ] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }
    let by_text = |text: &str| {
        feed.iter()
            .find(|f| f["post"]["record"]["text"] == text && f.get("reason").is_none())
            .unwrap_or_else(|| panic!("{text} not in the timeline"))
    };
    // Images: URLs from the blob CID and the author, alt and aspect ratio as written.
    let img = &by_text("embed 0")["post"]["embed"];
    assert_eq!(img["images"].as_array().map(Vec::len), Some(2));
    let thumb = img["images"][0]["thumb"].as_str().expect("thumb");
    assert!(
        thumb.contains(&al.did) && thumb.contains(&image_cid),
        "{thumb}"
    );
    assert_eq!(
        img["images"][0]["aspectRatio"],
        json!({ "width": 4, "height": 3 })
    );
    assert!(img["images"][1].get("aspectRatio").is_none(), "{img}");
    assert_eq!(img["images"][1]["alt"], "");
    // External links: the thumb only when the record has one.
    assert!(by_text("embed 1")["post"]["embed"]["external"]["thumb"].is_string());
    let bare = &by_text("embed 2")["post"]["embed"]["external"];
    assert!(
        bare.get("thumb").is_none() && bare["uri"] == "https://example.com/b",
        "{bare}"
    );
    assert_eq!(by_text("embed 3")["post"]["embed"]["alt"], "a clip");
    // The quoted post carries its own embed, one level deep.
    let q = &by_text("embed 4")["post"]["embed"]["record"];
    assert_eq!(q["uri"], quoted.0);
    assert_eq!(q["author"]["did"], bo.did);
    assert_eq!(q["embeds"][0]["$type"], "app.bsky.embed.images#view");
    assert_eq!(
        by_text("embed 5")["post"]["embed"]["record"]["blocked"],
        true
    );
    assert_eq!(
        by_text("embed 6")["post"]["embed"]["record"]["uri"],
        missing
    );
    assert_eq!(
        by_text("embed 7")["post"]["embed"]["record"]["uri"],
        generator
    );
    let rwm = &by_text("embed 11")["post"]["embed"];
    assert_eq!(rwm["record"]["$type"], "app.bsky.embed.record#view");
    assert_eq!(rwm["record"]["record"]["uri"], quoted.0);
    assert_eq!(rwm["media"]["$type"], "app.bsky.embed.video#view");
    // Reply contexts.
    let deep = &by_text("deep reply")["reply"];
    assert_eq!(deep["root"]["uri"], root.0);
    assert_eq!(deep["parent"]["uri"], mid.0);
    assert_eq!(deep["grandparentAuthor"]["did"], bo.did);
    assert_eq!(
        by_text("to a blocker")["reply"]["parent"]["$type"],
        "app.bsky.feed.defs#blockedPost"
    );
    assert_eq!(
        by_text("to nothing")["reply"]["root"]["$type"],
        "app.bsky.feed.defs#notFoundPost"
    );
    // The repost names who reposted; the plain post has the viewer's state and counts.
    let repost = feed
        .iter()
        .find(|f| f.get("reason").is_some())
        .expect("repost");
    assert_eq!(repost["reason"]["by"]["did"], al.did);
    assert_eq!(repost["post"]["uri"], quoted.0);
    assert_eq!(repost["post"]["repostCount"], 1);
    let gated_view = &by_text("gated")["post"];
    assert_eq!(gated_view["threadgate"]["lists"][0]["uri"], list);
    assert_eq!(gated_view["viewer"]["replyDisabled"], true);
    assert_eq!(by_text("embed 0")["post"]["viewer"]["replyDisabled"], false);
    assert_eq!(by_text("embed 0")["post"]["author"]["displayName"], "Al");
    assert!(by_text("embed 0")["post"]["author"]["viewer"]["following"].is_string());
    if std::env::var_os("HEARTH_PRINT_TIMELINE").is_some() {
        println!("{body}");
    }
}
