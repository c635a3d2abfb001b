//! The AppView's side of the members-only boundary: a public record that points into a space
//! is never carried into the public index, whichever PDS it comes from; and the web app, where
//! members read spaces, is mounted beside the XRPC methods.

use hearth_appview::config::{AppviewConfig, Scope};
use hearth_appview::index::{self, Rec};
use hearth_appview::state::AppState;
use hearth_testkit::Cases;
use serde_json::json;

/// The AppView under test (its index; nothing is served or resolved).
struct Appview {
    state: AppState,
    did: String,
    _tmp: tempfile::TempDir,
}

fn appview() -> Appview {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = AppviewConfig {
        hostname: "localhost".into(),
        port: 2584,
        bind: "127.0.0.1".into(),
        data_dir: tmp.path().to_path_buf(),
        plc_url: Some("http://127.0.0.1:9".into()),
        firehoses: vec![],
        scope: Scope::Network,
        dev: true,
        ca_certs: None,
        internal_hosts: Vec::new(),
        handle_resolver: Vec::new(),
        images: Default::default(),
        smtp_url: None,
        smtp_from: None,
    };
    let state = hearth_appview::build_state(cfg).expect("state");
    Appview {
        did: state.service_did.clone(),
        state,
        _tmp: tmp,
    }
}

/// The other side of the PDS rule: a public record from a PDS that does not refuse them (the
/// reference PDS, bsky.social) that replies to, quotes, likes or links a space URI is not
/// carried into the public index, on create or on update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_records_pointing_into_a_space_are_not_indexed() {
    let cases = Cases::new("spaces boundary in the public index");
    let app = appview();
    let author = "did:plc:publicposter0000000000000";
    let space_post = format!(
        "at://{}/space/social.hearth.space/3lbsk3yqzaz2a/{author}/social.hearth.post/3lbsk4aaaaa2a",
        app.did
    );
    let cid = "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5uz3lmt2i5fwtcq";
    let strong = json!({ "uri": space_post, "cid": cid });
    let now = "2026-11-27T00:00:00.000Z";
    let records = [
        (
            "app.bsky.feed.post",
            "3lpub0000000a",
            json!({ "$type": "app.bsky.feed.post", "text": "public", "createdAt": now }),
            true,
        ),
        (
            "app.bsky.feed.post",
            "3lpub0000000b",
            json!({ "$type": "app.bsky.feed.post", "text": "reply", "createdAt": now, "reply": { "root": strong, "parent": strong } }),
            false,
        ),
        (
            "app.bsky.feed.post",
            "3lpub0000000c",
            json!({ "$type": "app.bsky.feed.post", "text": "quote", "createdAt": now, "embed": { "$type": "app.bsky.embed.record", "record": strong } }),
            false,
        ),
        (
            "app.bsky.feed.post",
            "3lpub0000000d",
            json!({ "$type": "app.bsky.feed.post", "text": "link", "createdAt": now, "facets": [{ "index": { "byteStart": 0, "byteEnd": 4 }, "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": space_post }] }] }),
            false,
        ),
        (
            "app.bsky.feed.like",
            "3lpub0000000e",
            json!({ "$type": "app.bsky.feed.like", "subject": strong, "createdAt": now }),
            false,
        ),
    ];
    let indexed = |collection: &'static str, uri: String| {
        let table = if collection == "app.bsky.feed.like" {
            "likes"
        } else {
            "post"
        };
        let db = app.state.db.readers.clone();
        async move {
            db.read(move |c| {
                c.query_row(
                    &format!("SELECT count(*) FROM {table} WHERE uri = ?1"),
                    [uri],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(hearth_db::DbError::from)
            })
            .await
            .expect("count")
                > 0
        }
    };
    for (collection, rkey, value, expect) in &records {
        let collection: &'static str = collection;
        let uri = format!("at://{author}/{collection}/{rkey}");
        let ipld = atproto::data::json::from_json(value).expect("data");
        let bytes = atproto::data::cbor::encode(&ipld).expect("cbor");
        let (u, r) = (uri.clone(), rkey.to_string());
        app.state
            .db
            .writer
            .run(move |txn| {
                let cache = index::RunCache::at(now.to_owned());
                let actor = cache.actor_id(txn.conn, author)?;
                let rec = Rec {
                    uri: &u,
                    cid,
                    author: actor,
                    author_did: author,
                    rkey: &r,
                    value: &ipld,
                    bytes: &bytes,
                    cache: &cache,
                };
                index::create(txn.conn, collection, &rec).map_err(hearth_db::DbError::from)
            })
            .await
            .expect("index");
        cases.case(&format!("{collection} {rkey} indexed: {expect}"));
        assert_eq!(
            indexed(collection, uri).await,
            *expect,
            "{collection} {rkey}"
        );
    }
    // An indexed public post edited to reply into a space leaves the index.
    let uri = format!("at://{author}/app.bsky.feed.post/3lpub0000000a");
    let ipld = atproto::data::json::from_json(&records[1].2).expect("data");
    let bytes = atproto::data::cbor::encode(&ipld).expect("cbor");
    let u = uri.clone();
    app.state
        .db
        .writer
        .run(move |txn| {
            let cache = index::RunCache::at(now.to_owned());
            let actor = cache.actor_id(txn.conn, author)?;
            let rec = Rec {
                uri: &u,
                cid,
                author: actor,
                author_did: author,
                rkey: "3lpub0000000a",
                value: &ipld,
                bytes: &bytes,
                cache: &cache,
            };
            index::update(txn.conn, "app.bsky.feed.post", &rec).map_err(hearth_db::DbError::from)
        })
        .await
        .expect("update");
    cases.case("a public post edited to reply into a space leaves the index");
    assert!(
        !indexed("app.bsky.feed.post", uri).await,
        "updated into a space reference"
    );
}

/// The web app answers at `/`, while unknown XRPC methods still get 501 and `_health` 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_app_is_served_at_the_root() {
    use tower::ServiceExt;
    let av = appview();
    let app = hearth_appview::start(&av.state).expect("routes");
    let get = |path: &str| {
        axum::http::Request::get(path)
            .header("host", "127.0.0.1:2584")
            .body(axum::body::Body::empty())
            .expect("request")
    };
    let home = app.clone().oneshot(get("/")).await.expect("home");
    assert_eq!(home.status(), 200);
    let body = axum::body::to_bytes(home.into_body(), 1 << 20)
        .await
        .expect("body");
    assert!(String::from_utf8_lossy(&body).contains("Welcome to Hearth"));
    let unknown = app
        .clone()
        .oneshot(get("/xrpc/app.bsky.nothing.here"))
        .await
        .expect("xrpc");
    assert_eq!(unknown.status(), 501, "unknown methods answer as before");
    let health = app.oneshot(get("/xrpc/_health")).await.expect("health");
    assert_eq!(health.status(), 200);
}
