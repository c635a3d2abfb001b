//! Account migration into a Hearth PDS from another (here a second Hearth PDS on the same PLC
//! directory): the whole official flow end to end, and importRepo's refusals.

mod common;

use atproto::car::{read_car, write_car};
use atproto::crypto::{Algorithm, Keypair};
use atproto::repo::{Commit, UnsignedCommit, verify_repo_car};
use common::*;
use serde_json::{Value, json};

/// The old server, the new one, and an account on the old one with records, a blob and
/// preferences, its new account created (deactivated) on the new server.
struct Move {
    _plc: TestPlc,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    old: Pds,
    new: Pds,
    on_old: Account,
    /// The access token of the account's session on the new server.
    new_access: String,
}

async fn service_did(pds: &Pds) -> String {
    pds.get("com.atproto.server.describeServer", None)
        .await
        .ok()["did"]
        .as_str()
        .expect("service did")
        .to_owned()
}

async fn service_token(old: &Pds, a: &Account, aud: &str) -> String {
    let exp = hearth_pds::state::now_secs() + 600;
    // did:web DIDs carry a percent-encoded port: the query needs the percent encoded too.
    let aud = aud.replace('%', "%25");
    old.get(
        &format!(
            "com.atproto.server.getServiceAuth?aud={aud}&lxm=com.atproto.server.createAccount&exp={exp}"
        ),
        Some(&a.access),
    )
    .await
    .ok()["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn setup(name: &str) -> Move {
    let plc = start_plc();
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let old = start_pds(plc.url(), d1.path(), Options::default());
    let new = start_pds(plc.url(), d2.path(), Options::default());
    let a = old.create_account(name).await;
    let blob = old
        .post_raw(
            "com.atproto.repo.uploadBlob",
            Some(&a.access),
            Some("image/png"),
            b"\x89PNG\r\n\x1a\n not really a picture".to_vec(),
        )
        .await
        .ok()["blob"]
        .clone();
    old.post(
        "com.atproto.repo.putRecord",
        Some(&a.access),
        &json!({ "repo": a.did, "collection": "app.bsky.actor.profile", "rkey": "self",
                 "record": { "$type": "app.bsky.actor.profile", "displayName": "Mover", "avatar": blob } }),
    )
    .await
    .ok();
    for i in 0..5 {
        old.create_record(
            &a,
            "app.bsky.feed.post",
            json!({ "$type": "app.bsky.feed.post", "text": format!("post {i}"), "createdAt": "2026-01-01T00:00:00Z" }),
        )
        .await;
    }
    old.post(
        "app.bsky.actor.putPreferences",
        Some(&a.access),
        &json!({ "preferences": [{ "$type": "app.bsky.actor.defs#adultContentPref", "enabled": true }] }),
    )
    .await
    .ok();

    let aud = service_did(&new).await;
    let token = service_token(&old, &a, &aud).await;
    let created = new
        .send(
            &Call::post(
                "com.atproto.server.createAccount",
                &json!({ "handle": format!("{name}.test"), "email": format!("{name}@example.com"),
                         "password": PASSWORD, "did": a.did }),
            )
            .bearer(Some(&token)),
        )
        .await
        .ok();
    assert_eq!(created["did"], a.did.as_str());
    let new_access = created["accessJwt"].as_str().expect("access").to_owned();
    Move {
        _plc: plc,
        _dirs: (d1, d2),
        old,
        new,
        on_old: a,
        new_access,
    }
}

async fn status(m: &Move) -> Value {
    m.new
        .get("com.atproto.server.checkAccountStatus", Some(&m.new_access))
        .await
        .ok()
}

async fn export(old: &Pds, did: &str) -> Vec<u8> {
    let r = old
        .http
        .get(old.xrpc(&format!(
            "com.atproto.sync.getRepo?did={}",
            did.replace('%', "%25")
        )))
        .send()
        .await
        .expect("getRepo");
    assert!(r.status().is_success());
    r.bytes().await.expect("car").to_vec()
}

async fn import(m: &Move, car: Vec<u8>) -> Res {
    m.new
        .post_raw(
            "com.atproto.repo.importRepo",
            Some(&m.new_access),
            Some("application/vnd.ipld.car"),
            car,
        )
        .await
}

#[tokio::test]
async fn an_account_moves_in_with_its_records_blobs_preferences_and_identity() {
    let m = setup("mover").await;
    let (old, new, a) = (&m.old, &m.new, &m.on_old);

    // Deactivated until the move completes: no writes yet, and no events for it.
    let s = status(&m).await;
    assert_eq!(s["activated"], false);
    assert_eq!(
        s["validDid"], false,
        "the DID document still names the old server"
    );
    new.post(
        "com.atproto.repo.createRecord",
        Some(&m.new_access),
        &json!({ "repo": a.did, "collection": "app.bsky.feed.post",
                 "record": { "$type": "app.bsky.feed.post", "text": "too early", "createdAt": "2026-01-01T00:00:00Z" } }),
    )
    .await
    .err(400, "AccountDeactivated");

    // A second createAccount for the same DID (a fresh token) is refused.
    let token = service_token(old, a, &service_did(new).await).await;
    new.send(
        &Call::post(
            "com.atproto.server.createAccount",
            &json!({ "handle": "other.test", "email": "other@example.com", "password": PASSWORD, "did": a.did }),
        )
        .bearer(Some(&token)),
    )
    .await
    .err(400, "AlreadyExists");

    // The repository.
    import(&m, export(old, &a.did).await).await.ok();
    let s = status(&m).await;
    assert_eq!(s["indexedRecords"], 6, "{s}");
    assert!(
        s["repoCommit"].is_string() && s["repoRev"].is_string(),
        "{s}"
    );
    assert_eq!(s["expectedBlobs"], 1, "{s}");
    assert_eq!(s["importedBlobs"], 0, "{s}");

    // The blobs it misses, fetched from the old server.
    let missing = new
        .get("com.atproto.repo.listMissingBlobs", Some(&m.new_access))
        .await
        .ok();
    let blobs = missing["blobs"].as_array().expect("blobs").clone();
    assert_eq!(blobs.len(), 1, "{missing}");
    let cid = blobs[0]["cid"].as_str().expect("cid");
    assert_eq!(
        blobs[0]["recordUri"],
        format!("at://{}/app.bsky.actor.profile/self", a.did)
    );
    let bytes = old
        .http
        .get(old.xrpc(&format!("com.atproto.sync.getBlob?did={}&cid={cid}", a.did)))
        .send()
        .await
        .expect("getBlob")
        .bytes()
        .await
        .expect("blob")
        .to_vec();
    let up = new
        .post_raw(
            "com.atproto.repo.uploadBlob",
            Some(&m.new_access),
            Some("image/png"),
            bytes,
        )
        .await
        .ok();
    assert_eq!(up["blob"]["ref"]["$link"], cid);
    let missing = new
        .get("com.atproto.repo.listMissingBlobs", Some(&m.new_access))
        .await
        .ok();
    assert_eq!(missing["blobs"], json!([]));
    assert_eq!(status(&m).await["importedBlobs"], 1);

    // Preferences.
    let prefs = old
        .get("app.bsky.actor.getPreferences", Some(&a.access))
        .await
        .ok();
    new.post("app.bsky.actor.putPreferences", Some(&m.new_access), &prefs)
        .await
        .ok();
    assert_eq!(
        new.get("app.bsky.actor.getPreferences", Some(&m.new_access))
            .await
            .ok(),
        prefs
    );

    // The identity: the old server signs what the new one recommends.
    let creds = new
        .get(
            "com.atproto.identity.getRecommendedDidCredentials",
            Some(&m.new_access),
        )
        .await
        .ok();
    assert_eq!(
        creds["services"]["atproto_pds"]["endpoint"],
        new.url.as_str()
    );
    let st = old.state();
    let op = st
        .plc
        .sign_update(&st.secrets.plc_rotation_key, &a.did, |o| {
            o.rotation_keys = serde_json::from_value(creds["rotationKeys"].clone()).expect("keys");
            o.verification_methods =
                serde_json::from_value(creds["verificationMethods"].clone()).expect("methods");
            o.also_known_as = serde_json::from_value(creds["alsoKnownAs"].clone()).expect("aka");
            o.services = serde_json::from_value(creds["services"].clone()).expect("services");
        })
        .await
        .expect("signed op");
    // An operation that keeps the old server's signing key is refused, and not submitted.
    let stale = st
        .plc
        .sign_update(&st.secrets.plc_rotation_key, &a.did, |o| {
            o.services = serde_json::from_value(creds["services"].clone()).expect("services");
        })
        .await
        .expect("signed op");
    new.post(
        "com.atproto.identity.submitPlcOperation",
        Some(&m.new_access),
        &json!({ "operation": stale.to_json() }),
    )
    .await
    .err(400, "InvalidRequest");
    new.post(
        "com.atproto.identity.submitPlcOperation",
        Some(&m.new_access),
        &json!({ "operation": op.to_json() }),
    )
    .await
    .ok();

    new.post(
        "com.atproto.server.activateAccount",
        Some(&m.new_access),
        &json!({}),
    )
    .await
    .ok();
    old.post(
        "com.atproto.server.deactivateAccount",
        Some(&a.access),
        &json!({}),
    )
    .await
    .ok();

    // The repository verifies against the DID's new document, from the new server.
    let did: atproto::syntax::Did = a.did.parse().expect("did");
    let doc = new.state().dids.refresh(&did).await.expect("document");
    assert_eq!(doc.pds_endpoint(), Some(new.url.as_str()));
    let key = doc.signing_key().expect("key");
    let contents = verify_repo_car(&export(new, &a.did).await, Some(&a.did), Some(&key))
        .expect("repo verifies against the new document");
    assert_eq!(contents.records.len(), 6);

    // The new server takes writes; the old one refuses them.
    new.post(
        "com.atproto.repo.createRecord",
        Some(&m.new_access),
        &json!({ "repo": a.did, "collection": "app.bsky.feed.post",
                 "record": { "$type": "app.bsky.feed.post", "text": "arrived", "createdAt": "2026-01-01T00:00:00Z" } }),
    )
    .await
    .ok();
    old.post(
        "com.atproto.repo.createRecord",
        Some(&a.access),
        &json!({ "repo": a.did, "collection": "app.bsky.feed.post",
                 "record": { "$type": "app.bsky.feed.post", "text": "left", "createdAt": "2026-01-01T00:00:00Z" } }),
    )
    .await
    .err(400, "AccountDeactivated");
    // The old server still lets the account itself export, and no one else.
    let own = old
        .http
        .get(old.xrpc(&format!("com.atproto.sync.getRepo?did={}", a.did)))
        .bearer_auth(&a.access)
        .send()
        .await
        .expect("getRepo");
    assert!(own.status().is_success(), "{}", own.status());
    old.get(&format!("com.atproto.sync.getRepo?did={}", a.did), None)
        .await
        .err(400, "RepoDeactivated");
    old.get(
        &format!("com.atproto.sync.listBlobs?did={}", a.did),
        Some(&a.access),
    )
    .await
    .ok();
    // An active account imports nothing.
    import(&m, export(new, &a.did).await)
        .await
        .err(400, "AccountActive");
}

/// A CAR whose commit is re-signed by `key` (the tree unchanged).
fn resigned(car: &[u8], key: &Keypair) -> Vec<u8> {
    let (roots, blocks) = read_car(car).expect("car");
    let old = Commit::from_block(
        &blocks
            .iter()
            .find(|(c, _)| **c == roots[0])
            .expect("commit")
            .1
            .clone(),
    )
    .expect("commit");
    let (cid, block) = UnsignedCommit::new(&old.did, old.data, &old.rev)
        .sign(key)
        .and_then(|c| c.to_block())
        .expect("sign");
    let mut all: Vec<_> = blocks
        .iter()
        .filter(|(c, _)| **c != roots[0])
        .map(|(c, b)| (*c, b.clone()))
        .collect();
    all.push((cid, block));
    write_car(&cid, all.iter().map(|(c, b)| (c, b.as_slice()))).expect("car")
}

#[tokio::test]
async fn import_repo_refuses_what_is_not_the_accounts_repository_and_stores_nothing() {
    let cases = Cases::new("importRepo refusals");
    let m = setup("hostile").await;
    let other = m.old.create_account("other").await;
    let car = export(&m.old, &m.on_old.did).await;
    let empty = status(&m).await;
    assert_eq!(empty["indexedRecords"], 0);

    cases.case("a CAR for another DID");
    import(&m, export(&m.old, &other.did).await)
        .await
        .err(400, "InvalidRequest");

    cases.case("a commit signed by a key the DID document does not name");
    import(&m, resigned(&car, &Keypair::generate(Algorithm::K256)))
        .await
        .err(400, "InvalidSignature");

    cases.case("a block that does not hash to its CID");
    let mut broken = car.clone();
    let last = broken.len() - 1;
    broken[last] ^= 0x01;
    import(&m, broken).await.err(400, "InvalidRequest");

    cases.case("a record the tree names is missing from the CAR");
    let (roots, blocks) = read_car(&car).expect("car");
    let contents = verify_repo_car(&car, None, None).expect("repo");
    let dropped = contents.records[0].1;
    let kept: Vec<_> = blocks.iter().filter(|(c, _)| **c != dropped).collect();
    let partial = write_car(&roots[0], kept.iter().map(|(c, b)| (*c, b.as_slice()))).expect("car");
    import(&m, partial).await.err(400, "InvalidRequest");

    cases.case("not a CAR");
    import(&m, b"hello".to_vec())
        .await
        .err(400, "InvalidRequest");

    cases.case("a CAR over the size limit");
    let over = hearth_pds::repo::import::MAX_IMPORT_BYTES + 1;
    let r = m
        .new
        .raw(&format!(
            "POST /xrpc/com.atproto.repo.importRepo HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {}\r\nContent-Type: application/vnd.ipld.car\r\n\
             Content-Length: {over}\r\nConnection: close\r\n\r\n",
            m.new_access
        ))
        .await;
    assert_eq!(r.status, 413, "{}", r.text);

    cases.case("without a session");
    m.new
        .post_raw(
            "com.atproto.repo.importRepo",
            None,
            Some("application/vnd.ipld.car"),
            car.clone(),
        )
        .await
        .err(401, "AuthenticationRequired");

    assert_eq!(status(&m).await, empty, "a refused import stored something");
    // The account's own CAR still goes in afterwards.
    import(&m, car).await.ok();
    assert_eq!(status(&m).await["indexedRecords"], 6);
}

#[tokio::test]
async fn create_account_with_a_did_needs_that_dids_service_token() {
    let m = setup("vouched").await;
    let other = m.old.create_account("stranger").await;
    let aud = service_did(&m.new).await;
    let body = |did: &str| json!({ "handle": "claimer.test", "email": "claimer@example.com", "password": PASSWORD, "did": did });
    // No token.
    m.new
        .post("com.atproto.server.createAccount", None, &body(&other.did))
        .await
        .err(401, "AuthenticationRequired");
    // A token of another DID.
    let token = service_token(&m.old, &m.on_old, &aud).await;
    m.new
        .send(
            &Call::post("com.atproto.server.createAccount", &body(&other.did)).bearer(Some(&token)),
        )
        .await
        .err(401, "AuthMissing");
    // A token for another audience.
    let token = service_token(&m.old, &other, "did:web:elsewhere.test").await;
    let r = m
        .new
        .send(
            &Call::post("com.atproto.server.createAccount", &body(&other.did)).bearer(Some(&token)),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // Nothing was created.
    m.new
        .login("claimer.test", PASSWORD)
        .await
        .err(401, "AuthenticationRequired");
}

/// The import of a 10,000-record repository (as the PDS benchmark's W5 builds one), timed.
/// Ignored by default: building the repository takes a while in a debug build.
#[tokio::test]
#[ignore]
async fn import_of_a_10000_record_repository() {
    let m = setup("big").await;
    let a = &m.on_old;
    for batch in 0..50 {
        let writes: Vec<Value> = (0..200)
            .map(|i| {
                json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post",
                        "value": { "$type": "app.bsky.feed.post", "text": format!("post {batch}-{i}"),
                                   "createdAt": "2026-01-01T00:00:00Z" } })
            })
            .collect();
        m.old
            .post(
                "com.atproto.repo.applyWrites",
                Some(&a.access),
                &json!({ "repo": a.did, "writes": writes }),
            )
            .await
            .ok();
    }
    let car = export(&m.old, &a.did).await;
    let started = std::time::Instant::now();
    import(&m, car.clone()).await.ok();
    let took = started.elapsed();
    eprintln!("importRepo of {} bytes: {} ms", car.len(), took.as_millis());
    assert_eq!(status(&m).await["indexedRecords"], 10_006);
}

/// A did:web identity served by the test: its document can be changed, as its owner changes it
/// at its host when it moves.
struct WebIdentity {
    did: String,
    doc: std::sync::Arc<std::sync::Mutex<Value>>,
    _server: tokio::task::JoinHandle<()>,
}

async fn web_identity(key: &Keypair, pds_url: &str) -> WebIdentity {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let did = format!("did:web:localhost%3A{port}");
    let doc = std::sync::Arc::new(std::sync::Mutex::new(web_doc(&did, &key.public(), pds_url)));
    let served = doc.clone();
    let app = axum::Router::new().route(
        "/.well-known/did.json",
        axum::routing::get(move || {
            let d = served.lock().expect("doc").clone();
            async move { axum::Json(d) }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    WebIdentity {
        did,
        doc,
        _server: server,
    }
}

fn web_doc(did: &str, key: &atproto::crypto::PublicKey, pds_url: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": ["at://webby.test"],
        "verificationMethod": [{ "id": format!("{did}#atproto"), "type": "Multikey",
                                  "controller": did, "publicKeyMultibase": key.multikey() }],
        "service": [{ "id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds_url }],
    })
}

#[tokio::test]
async fn a_did_web_account_moves_in_without_a_plc_operation() {
    let plc = start_plc();
    let dir = tempfile::tempdir().expect("dir");
    let new = start_pds(plc.url(), dir.path(), Options::default());
    // The account's old home: a key of its own, a repository signed with it.
    let key = Keypair::generate(Algorithm::K256);
    let web = web_identity(&key, "http://127.0.0.1:9").await;
    let record = atproto::data::cbor::encode(&atproto::data::json::record_from_json(
        &json!({ "$type": "app.bsky.feed.post", "text": "from the web", "createdAt": "2026-01-01T00:00:00Z" }),
    )
    .expect("record"))
    .expect("cbor");
    let rcid = atproto::data::cid_for_cbor(&record);
    let mut mst = atproto::mst::Mst::create(atproto::blockstore::MemoryBlockStore::new());
    let commit = atproto::repo::apply_writes(
        &mut mst,
        &web.did,
        "3kaaaaaaaaaa2",
        &key,
        vec![atproto::repo::RecordWrite {
            action: atproto::repo::WriteAction::Create,
            collection: "app.bsky.feed.post".into(),
            rkey: "3kaaaaaaaaaa2".into(),
            record: Some((rcid, record)),
        }],
    )
    .expect("commit");
    let car = write_car(
        &commit.cid,
        commit.new_blocks.iter().map(|(c, b)| (c, b.as_slice())),
    )
    .expect("car");

    let aud = service_did(&new).await;
    let token = atproto::auth::mint(
        &key,
        &web.did,
        &aud,
        Some("com.atproto.server.createAccount"),
        hearth_pds::state::now_secs(),
        300,
    );
    let created = new
        .send(
            &Call::post(
                "com.atproto.server.createAccount",
                &json!({ "handle": "webby.test", "email": "webby@example.com", "password": PASSWORD, "did": web.did }),
            )
            .bearer(Some(&token)),
        )
        .await
        .ok();
    let access = created["accessJwt"].as_str().expect("access").to_owned();
    new.post_raw(
        "com.atproto.repo.importRepo",
        Some(&access),
        Some("application/vnd.ipld.car"),
        car,
    )
    .await
    .ok();
    let status = |a: String| {
        let new = &new;
        async move {
            new.get("com.atproto.server.checkAccountStatus", Some(&a))
                .await
                .ok()
        }
    };
    let s = status(access.clone()).await;
    assert_eq!(
        (s["indexedRecords"].clone(), s["validDid"].clone()),
        (json!(1), json!(false))
    );

    // The owner points the document at the new server and its key (no PLC operation).
    let creds = new
        .get(
            "com.atproto.identity.getRecommendedDidCredentials",
            Some(&access),
        )
        .await
        .ok();
    let new_key = atproto::crypto::parse_did_key(
        creds["verificationMethods"]["atproto"]
            .as_str()
            .expect("key"),
    )
    .expect("did:key");
    *web.doc.lock().expect("doc") = web_doc(&web.did, &new_key, &new.url);
    assert_eq!(status(access.clone()).await["validDid"], true);
    new.post(
        "com.atproto.server.activateAccount",
        Some(&access),
        &json!({}),
    )
    .await
    .ok();
    let exported = export(&new, &web.did).await;
    let contents = verify_repo_car(&exported, Some(&web.did), Some(&new_key))
        .expect("verifies with the new key");
    assert_eq!(contents.records.len(), 1);
}
