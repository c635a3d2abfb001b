//! The PDS's proxy behaviours the official client relies on, against a fake AppView that
//! records every call and checks every token's signature with the caller's key from PLC:
//! read-after-write on getTimeline, getAuthorFeed, getPostThread and getProfile (the AppView
//! lags behind the user's writes); getFeed with a token for the feed generator; routing of
//! `social.hearth.*` to the spaces AppView and the audience of every token.

mod common;

use atproto::auth::{Claims, peek_claims};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const OTHER: &str = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb";
const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const GENERATOR_DID: &str = "did:web:feeds.example.com";

fn other_uri(rkey: &str) -> String {
    format!("at://{OTHER}/app.bsky.feed.post/{rkey}")
}

fn feed_uri(rkey: &str) -> String {
    format!("at://{OTHER}/app.bsky.feed.generator/{rkey}")
}

/// A call the fake AppView received.
#[derive(Debug, Clone)]
struct Call {
    nsid: String,
    query: String,
    token: Option<String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct FakeState {
    did: String,
    /// The `atproto-repo-rev` it answers with: how far it has "indexed" the caller's repo.
    rev: Mutex<Option<String>>,
    calls: Mutex<Vec<Call>>,
}

/// An AppView that answers from canned data.
struct Fake {
    url: String,
    did: String,
    state: Arc<FakeState>,
}

impl Fake {
    async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake appview");
        let port = listener.local_addr().expect("addr").port();
        let did = format!("did:web:localhost%3A{port}");
        let state = Arc::new(FakeState {
            did: did.clone(),
            ..FakeState::default()
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            url: format!("http://localhost:{port}"),
            did,
            state,
        }
    }

    fn set_rev(&self, rev: Option<&str>) {
        *self.state.rev.lock().unwrap() = rev.map(str::to_owned);
    }

    fn calls(&self, nsid: &str) -> Vec<Call> {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.nsid == nsid)
            .cloned()
            .collect()
    }

    fn clear(&self) {
        self.state.calls.lock().unwrap().clear();
    }
}

fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded_pairs(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .expect("query")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn view_of(uri: &str, text: &str) -> Value {
    json!({
        "uri": uri,
        "cid": CID,
        "author": { "did": OTHER, "handle": "bob.test", "displayName": "Bob" },
        "record": { "$type": "app.bsky.feed.post", "text": text, "createdAt": "2020-01-01T00:00:00.000Z" },
        "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0,
        "indexedAt": "2020-01-01T00:00:00.000Z",
    })
}

async fn handle(State(s): State<Arc<FakeState>>, req: Request) -> Response {
    let nsid = req.uri().path().trim_start_matches("/xrpc/").to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default()
        .to_vec();
    s.calls.lock().unwrap().push(Call {
        nsid: nsid.clone(),
        query: query.clone(),
        token,
        body,
    });
    let mut headers = HeaderMap::new();
    if let Some(rev) = s.rev.lock().unwrap().clone() {
        headers.insert("atproto-repo-rev", rev.parse().unwrap());
    }
    let ok = |v: Value| (StatusCode::OK, headers.clone(), axum::Json(v)).into_response();
    let not_found = |what: &str| {
        (
            StatusCode::BAD_REQUEST,
            headers.clone(),
            axum::Json(json!({ "error": "NotFound", "message": format!("{what} not found") })),
        )
            .into_response()
    };
    match nsid.as_str() {
        "/.well-known/did.json" | ".well-known/did.json" => axum::Json(json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": s.did,
            "service": [{ "id": "#custom_svc", "type": "Custom", "serviceEndpoint": format!("http://{}", s.did.trim_start_matches("did:web:").replace("%3A", ":")) }],
        }))
        .into_response(),
        "app.bsky.feed.getTimeline" => ok(json!({
            "feed": [{ "post": view_of(&other_uri("3old"), "an old post by bob") }],
        })),
        "app.bsky.feed.getAuthorFeed" => ok(json!({ "feed": [] })),
        "app.bsky.actor.getProfile" => ok(json!({
            "did": param(&query, "actor").unwrap_or_default(),
            "handle": "alice.test",
            "displayName": "Stale name",
            "followersCount": 7,
        })),
        "app.bsky.feed.getPostThread" => {
            let uri = param(&query, "uri").unwrap_or_default();
            if uri == other_uri("3root") {
                ok(json!({ "thread": {
                    "$type": "app.bsky.feed.defs#threadViewPost",
                    "post": view_of(&uri, "the root"),
                    "replies": [],
                } }))
            } else {
                not_found("Post")
            }
        }
        "app.bsky.feed.getPosts" => ok(json!({
            "posts": form_urlencoded_pairs(&query)
                .into_iter()
                .filter(|(k, v)| k == "uris" && v == &other_uri("3quoted"))
                .map(|(_, v)| view_of(&v, "the quoted post"))
                .collect::<Vec<_>>(),
        })),
        "app.bsky.feed.getFeedGenerator" => {
            let feed = param(&query, "feed").unwrap_or_default();
            if feed == feed_uri("good") {
                ok(json!({
                    "view": {
                        "uri": feed, "cid": CID, "did": GENERATOR_DID,
                        "creator": { "did": OTHER, "handle": "bob.test" },
                        "displayName": "Good feed", "indexedAt": "2020-01-01T00:00:00.000Z",
                    },
                    "isOnline": true, "isValid": true,
                }))
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({ "error": "InvalidRequest", "message": "could not find feed" })),
                )
                    .into_response()
            }
        }
        "app.bsky.feed.getFeed" => ok(json!({ "feed": [] })),
        n if n.starts_with("social.hearth.") => ok(json!({ "served": n })),
        _ => (
            StatusCode::NOT_IMPLEMENTED,
            axum::Json(json!({ "error": "MethodNotImplemented", "message": nsid })),
        )
            .into_response(),
    }
}

fn validate(nsid: &str, body: &Value) {
    let ipld = atproto::data::json::from_json(body)
        .unwrap_or_else(|e| panic!("{nsid}: not atproto data: {e}\n{body:#}"));
    atproto::lexicon::Catalog::official()
        .validate_output(nsid, &ipld)
        .unwrap_or_else(|e| panic!("{nsid}: invalid per the lexicon: {e}\n{body:#}"));
}

/// Checks a token the fake received: signed by `who`'s key from PLC, for `aud` and `lxm`.
async fn check_token(plc: &str, who: &Account, token: Option<&str>, aud: &str, lxm: &str) {
    let token = token.expect("the call carried a service token");
    let claims: Claims = peek_claims(token).expect("a JWT");
    assert_eq!(claims.iss, who.did, "iss");
    assert_eq!(claims.aud, aud, "aud");
    assert_eq!(claims.lxm.as_deref(), Some(lxm), "lxm");
    assert!(claims.jti.is_some(), "jti");
    let key = plc_key(plc, &who.did).await;
    let (aud_did, service) = match aud.split_once('#') {
        Some((d, s)) => (d, vec![s]),
        None => (aud, vec![]),
    };
    atproto::auth::verify(
        token,
        &key,
        &atproto::auth::Expectation {
            aud_did,
            aud_services: &service,
            lxm: Some(lxm),
            now: claims.exp - 30,
        },
    )
    .expect("signature by the user's repository key");
}

async fn head_rev(pds: &Pds, did: &str) -> String {
    pds.get(&format!("com.atproto.sync.getLatestCommit?did={did}"), None)
        .await
        .ok()["rev"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// GET with extra headers.
async fn get_with(
    pds: &Pds,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> (Res, HeaderMap) {
    let mut req = pds.http.get(pds.xrpc(path)).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = Res::read(req.send().await.expect("GET")).await;
    let h = res.headers.clone();
    (res, h)
}

fn feed_texts(body: &Value) -> Vec<String> {
    body["feed"]
        .as_array()
        .expect("feed")
        .iter()
        .map(|f| {
            f["post"]["record"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn read_after_write_adds_the_users_newer_writes() {
    let cases = Cases::new("pds_proxy read-after-write");
    let fake = Fake::start().await;
    let w = World::new(Options {
        appview: Some((fake.url.clone(), fake.did.clone())),
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let tok = a.access.as_str();
    pds.post(
        "com.atproto.repo.putRecord",
        Some(tok),
        &json!({ "repo": a.did, "collection": "app.bsky.actor.profile", "rkey": "self",
                 "record": { "$type": "app.bsky.actor.profile", "displayName": "Alice" } }),
    )
    .await
    .ok();
    // The AppView has everything up to here, and nothing after.
    let indexed = head_rev(pds, &a.did).await;
    fake.set_rev(Some(&indexed));

    let fresh = pds
        .create_record(&a, "app.bsky.feed.post", post("fresh off the press"))
        .await;
    let root = json!({ "uri": other_uri("3root"), "cid": CID });
    let reply = pds
        .create_record(
            &a,
            "app.bsky.feed.post",
            json!({ "$type": "app.bsky.feed.post", "text": "my reply", "createdAt": "2024-01-01T00:00:00.000Z",
                    "reply": { "root": root, "parent": root } }),
        )
        .await;
    let quote = pds
        .create_record(
            &a,
            "app.bsky.feed.post",
            json!({ "$type": "app.bsky.feed.post", "text": "look at this", "createdAt": "2024-01-01T00:00:00.000Z",
                    "embed": { "$type": "app.bsky.embed.record", "record": { "uri": other_uri("3quoted"), "cid": CID } } }),
        )
        .await;
    pds.post(
        "com.atproto.repo.putRecord",
        Some(tok),
        &json!({ "repo": a.did, "collection": "app.bsky.actor.profile", "rkey": "self",
                 "record": { "$type": "app.bsky.actor.profile", "displayName": "Alice Organizer", "description": "new bio" } }),
    )
    .await
    .ok();

    cases.case("getTimeline: the new posts lead, the AppView's post follows");
    let (r, h) = get_with(pds, "app.bsky.feed.getTimeline?limit=30", tok, &[]).await;
    let tl = r.ok();
    validate("app.bsky.feed.getTimeline", &tl);
    assert_eq!(
        feed_texts(&tl),
        vec![
            "look at this",
            "my reply",
            "fresh off the press",
            "an old post by bob"
        ]
    );
    let first = &tl["feed"][2]["post"];
    assert_eq!(first["uri"], fresh["uri"]);
    assert_eq!(first["cid"], fresh["cid"]);
    assert_eq!(first["author"]["did"], a.did.as_str());
    assert_eq!(first["author"]["handle"], "alice.test");
    assert_eq!(
        first["author"]["displayName"], "Alice Organizer",
        "the author view has the current profile"
    );
    assert_eq!(
        tl["feed"][0]["post"]["embed"]["record"]["$type"], "app.bsky.embed.record#viewRecord",
        "the quoted post came from the AppView's getPosts"
    );
    assert_eq!(
        tl["feed"][0]["post"]["embed"]["record"]["uri"],
        other_uri("3quoted")
    );
    assert!(h.contains_key("atproto-upstream-lag"), "lag header: {h:?}");
    assert_eq!(h["atproto-repo-rev"], indexed.as_str());
    let calls = fake.calls("app.bsky.feed.getPosts");
    assert_eq!(calls.len(), 1);
    check_token(
        w.plc.url(),
        &a,
        calls[0].token.as_deref(),
        &fake.did,
        "app.bsky.feed.getPosts",
    )
    .await;

    cases.case("getTimeline: a later page is the AppView's alone");
    let page2 = pds
        .get("app.bsky.feed.getTimeline?cursor=abc", Some(tok))
        .await
        .ok();
    assert_eq!(feed_texts(&page2), vec!["an old post by bob"]);

    cases.case("getAuthorFeed: the user's own feed, by DID and by handle");
    for actor in [a.did.as_str(), "alice.test"] {
        let f = pds
            .get(
                &format!("app.bsky.feed.getAuthorFeed?actor={actor}"),
                Some(tok),
            )
            .await
            .ok();
        validate("app.bsky.feed.getAuthorFeed", &f);
        assert_eq!(
            feed_texts(&f),
            vec!["look at this", "my reply", "fresh off the press"]
        );
    }
    let f = pds
        .get("app.bsky.feed.getAuthorFeed?actor=bob.test", Some(tok))
        .await
        .ok();
    assert_eq!(f["feed"], json!([]), "someone else's feed is not touched");
    let f = pds
        .get(
            &format!(
                "app.bsky.feed.getAuthorFeed?actor={}&filter=posts_no_replies",
                a.did
            ),
            Some(tok),
        )
        .await
        .ok();
    assert_eq!(feed_texts(&f), vec!["look at this", "fresh off the press"]);

    cases.case("getProfile: the new display name and description");
    let p = pds
        .get(
            &format!("app.bsky.actor.getProfile?actor={}", a.did),
            Some(tok),
        )
        .await
        .ok();
    validate("app.bsky.actor.getProfile", &p);
    assert_eq!(p["displayName"], "Alice Organizer");
    assert_eq!(p["description"], "new bio");
    assert_eq!(p["followersCount"], 7);

    cases.case("getPostThread: the new reply under the root");
    let t = pds
        .get(
            &format!("app.bsky.feed.getPostThread?uri={}", other_uri("3root")),
            Some(tok),
        )
        .await
        .ok();
    validate("app.bsky.feed.getPostThread", &t);
    assert_eq!(t["thread"]["replies"][0]["post"]["uri"], reply["uri"]);

    cases.case("getPostThread of the unindexed reply: ours, with its parent from the AppView");
    let t = pds
        .get(
            &format!(
                "app.bsky.feed.getPostThread?uri={}&parentHeight=5",
                reply["uri"].as_str().unwrap()
            ),
            Some(tok),
        )
        .await
        .ok();
    validate("app.bsky.feed.getPostThread", &t);
    assert_eq!(t["thread"]["post"]["uri"], reply["uri"]);
    assert_eq!(t["thread"]["parent"]["post"]["uri"], other_uri("3root"));
    let parent_call = fake
        .calls("app.bsky.feed.getPostThread")
        .into_iter()
        .find(|c| param(&c.query, "depth").as_deref() == Some("0"))
        .expect("the parent was fetched");
    assert_eq!(param(&parent_call.query, "uri"), Some(other_uri("3root")));
    assert_eq!(
        param(&parent_call.query, "parentHeight").as_deref(),
        Some("5")
    );

    cases.case("getPostThread of a post nobody has: the AppView's NotFound");
    pds.get(
        &format!(
            "app.bsky.feed.getPostThread?uri=at://{}/app.bsky.feed.post/3nope",
            a.did
        ),
        Some(tok),
    )
    .await
    .err(400, "NotFound");
    let _ = quote;

    cases.case("an AppView that has caught up gets nothing added");
    fake.set_rev(Some(&head_rev(pds, &a.did).await));
    let tl = pds.get("app.bsky.feed.getTimeline", Some(tok)).await.ok();
    assert_eq!(feed_texts(&tl), vec!["an old post by bob"]);
    let p = pds
        .get(
            &format!("app.bsky.actor.getProfile?actor={}", a.did),
            Some(tok),
        )
        .await
        .ok();
    assert_eq!(p["displayName"], "Stale name");

    cases.case("no rev header, or a malformed one: the answer passes through");
    for rev in [None, Some("not-a-tid")] {
        fake.set_rev(rev);
        let tl = pds.get("app.bsky.feed.getTimeline", Some(tok)).await.ok();
        assert_eq!(feed_texts(&tl), vec!["an old post by bob"], "rev {rev:?}");
    }

    cases.case("a rev from before the account existed here (another host's clock)");
    fake.set_rev(Some("2222222222222"));
    let tl = pds.get("app.bsky.feed.getTimeline", Some(tok)).await.ok();
    assert_eq!(feed_texts(&tl), vec!["an old post by bob"]);

    cases.case("the proxied calls carried the user's tokens for the AppView");
    let calls = fake.calls("app.bsky.feed.getTimeline");
    check_token(
        w.plc.url(),
        &a,
        calls[0].token.as_deref(),
        &fake.did,
        "app.bsky.feed.getTimeline",
    )
    .await;
}

#[tokio::test]
async fn first_post_of_a_new_account_shows_at_once() {
    let cases = Cases::new("pds_proxy read-after-write new account");
    let fake = Fake::start().await;
    let w = World::new(Options {
        appview: Some((fake.url.clone(), fake.did.clone())),
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("newbie").await;
    // The AppView saw the account's empty first commit, nothing since.
    fake.set_rev(Some(&head_rev(pds, &a.did).await));
    pds.create_record(&a, "app.bsky.feed.post", post("hello world"))
        .await;
    cases.case("the first post is in the author feed and the timeline");
    let f = pds
        .get(
            &format!("app.bsky.feed.getAuthorFeed?actor={}", a.did),
            Some(&a.access),
        )
        .await
        .ok();
    assert_eq!(feed_texts(&f), vec!["hello world"]);
    let tl = pds
        .get("app.bsky.feed.getTimeline", Some(&a.access))
        .await
        .ok();
    assert_eq!(feed_texts(&tl), vec!["hello world", "an old post by bob"]);
}

#[tokio::test]
async fn get_feed_token_is_for_the_generator() {
    let cases = Cases::new("pds_proxy getFeed");
    let fake = Fake::start().await;
    let w = World::new(Options {
        appview: Some((fake.url.clone(), fake.did.clone())),
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("alice").await;

    cases.case(
        "getFeedGenerator first (token for the AppView), then getFeed (token for the generator)",
    );
    let r = pds
        .get(
            &format!("app.bsky.feed.getFeed?feed={}&limit=10", feed_uri("good")),
            Some(&a.access),
        )
        .await
        .ok();
    assert_eq!(r["feed"], json!([]));
    let lookup = fake.calls("app.bsky.feed.getFeedGenerator");
    assert_eq!(lookup.len(), 1);
    assert_eq!(param(&lookup[0].query, "feed"), Some(feed_uri("good")));
    check_token(
        w.plc.url(),
        &a,
        lookup[0].token.as_deref(),
        &fake.did,
        "app.bsky.feed.getFeedGenerator",
    )
    .await;
    let get = fake.calls("app.bsky.feed.getFeed");
    assert_eq!(get.len(), 1);
    assert_eq!(param(&get[0].query, "limit").as_deref(), Some("10"));
    check_token(
        w.plc.url(),
        &a,
        get[0].token.as_deref(),
        GENERATOR_DID,
        "app.bsky.feed.getFeedSkeleton",
    )
    .await;

    cases.case("an unknown feed: the AppView's error, and no getFeed");
    fake.clear();
    pds.get(
        &format!("app.bsky.feed.getFeed?feed={}", feed_uri("nope")),
        Some(&a.access),
    )
    .await
    .err(400, "InvalidRequest");
    assert!(fake.calls("app.bsky.feed.getFeed").is_empty());

    cases.case("no feed parameter");
    pds.get("app.bsky.feed.getFeed", Some(&a.access))
        .await
        .err(400, "InvalidRequest");

    cases.case("signed out: refused, as on the reference PDS; nothing forwarded");
    fake.clear();
    pds.get(
        &format!("app.bsky.feed.getFeed?feed={}", feed_uri("good")),
        None,
    )
    .await
    .err(401, "AuthenticationRequired");
    assert!(fake.calls("app.bsky.feed.getFeed").is_empty());
    assert!(fake.calls("app.bsky.feed.getFeedGenerator").is_empty());
}

#[tokio::test]
async fn spaces_route_to_the_hearth_appview() {
    let cases = Cases::new("pds_proxy routing");
    let bsky = Fake::start().await;
    let hearth = Fake::start().await;
    let w = World::new(Options {
        appview: Some((bsky.url.clone(), bsky.did.clone())),
        spaces_appview: Some((hearth.url.clone(), hearth.did.clone())),
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let tok = a.access.as_str();

    cases.case("social.hearth.* (GET and POST) goes to the spaces AppView, aud did#hearth_appview");
    let r = pds
        .get("social.hearth.space.listMySpaces?limit=5", Some(tok))
        .await
        .ok();
    assert_eq!(r["served"], "social.hearth.space.listMySpaces");
    let r = pds
        .post(
            "social.hearth.space.createSpace",
            Some(tok),
            &json!({ "name": "Local 12" }),
        )
        .await
        .ok();
    assert_eq!(r["served"], "social.hearth.space.createSpace");
    let aud = format!("{}#hearth_appview", hearth.did);
    let get = hearth.calls("social.hearth.space.listMySpaces");
    check_token(
        w.plc.url(),
        &a,
        get[0].token.as_deref(),
        &aud,
        "social.hearth.space.listMySpaces",
    )
    .await;
    let post_call = hearth.calls("social.hearth.space.createSpace");
    check_token(
        w.plc.url(),
        &a,
        post_call[0].token.as_deref(),
        &aud,
        "social.hearth.space.createSpace",
    )
    .await;
    assert_eq!(
        serde_json::from_slice::<Value>(&post_call[0].body).unwrap(),
        json!({ "name": "Local 12" })
    );
    assert!(bsky.calls("social.hearth.space.listMySpaces").is_empty());

    cases.case("app.bsky.* goes to the app.bsky AppView, aud the bare DID");
    pds.get("app.bsky.feed.getAuthorFeed?actor=bob.test", Some(tok))
        .await
        .ok();
    let c = bsky.calls("app.bsky.feed.getAuthorFeed");
    check_token(
        w.plc.url(),
        &a,
        c[0].token.as_deref(),
        &bsky.did,
        "app.bsky.feed.getAuthorFeed",
    )
    .await;
    assert!(hearth.calls("app.bsky.feed.getAuthorFeed").is_empty());

    cases.case("atproto-proxy names the service: aud is the bare DID, as the reference PDS sends");
    for (fake, service) in [
        (&bsky, "bsky_appview"),
        (&hearth, "hearth_appview"),
        (&hearth, "custom_svc"),
    ] {
        fake.clear();
        let proxy = format!("{}#{service}", fake.did);
        let (r, _) = get_with(
            pds,
            "social.hearth.space.getSpace?space=x",
            tok,
            &[("atproto-proxy", &proxy)],
        )
        .await;
        assert_eq!(r.ok()["served"], "social.hearth.space.getSpace", "{proxy}");
        let c = fake.calls("social.hearth.space.getSpace");
        assert_eq!(c.len(), 1, "{proxy} reached its service");
        check_token(
            w.plc.url(),
            &a,
            c[0].token.as_deref(),
            &fake.did,
            "social.hearth.space.getSpace",
        )
        .await;
    }

    cases.case("a malformed atproto-proxy is refused");
    for bad in ["no-fragment", "did:web:x#", "notadid#svc", "did:web:x#a#b"] {
        let (r, _) = get_with(
            pds,
            "app.bsky.feed.getTimeline",
            tok,
            &[("atproto-proxy", bad)],
        )
        .await;
        r.err(400, "InvalidRequest");
    }

    cases.case(
        "without HEARTH_SPACES_APPVIEW_*, spaces go to the app.bsky AppView as a Hearth AppView",
    );
    drop(w);
    let w = World::new(Options {
        appview: Some((bsky.url.clone(), bsky.did.clone())),
        ..Options::default()
    });
    let a = w.pds.create_account("carol").await;
    bsky.clear();
    w.pds
        .get("social.hearth.space.listMySpaces", Some(&a.access))
        .await
        .ok();
    let c = bsky.calls("social.hearth.space.listMySpaces");
    check_token(
        w.plc.url(),
        &a,
        c[0].token.as_deref(),
        &format!("{}#hearth_appview", bsky.did),
        "social.hearth.space.listMySpaces",
    )
    .await;
}
