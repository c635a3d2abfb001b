//! A hostile caller can send any token naming any issuer. These tests count what such tokens
//! make the service ask the DID directory: nothing for a token whose claims are wrong, once for
//! an unknown issuer, and nothing more for a bad signature while the issuer's document is fresh.

use super::{Audience, REPLAY_SCHEMA, ReplayCache, ServiceAuth, Viewer};
use atproto::auth::mint;
use atproto::crypto::{Algorithm, Keypair};
use atproto::identity::{DidResolver, DidResolverConfig};
use atproto::syntax::Datetime;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use hearth_db::Db;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SERVICE: &str = "did:web:appview.example";
const METHOD: &str = "social.hearth.space.listMine";
const KNOWN: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const UNKNOWN: &str = "did:plc:cccccccccccccccccccccccc";

struct Directory {
    docs: Mutex<HashMap<String, Value>>,
    hits: AtomicUsize,
}

async fn doc(
    State(dir): State<Arc<Directory>>,
    Path(did): Path<String>,
) -> Result<axum::Json<Value>, StatusCode> {
    dir.hits.fetch_add(1, Ordering::SeqCst);
    dir.docs
        .lock()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .get(&did)
        .cloned()
        .map(axum::Json)
        .ok_or(StatusCode::NOT_FOUND)
}

struct World {
    auth: ServiceAuth,
    dir: Arc<Directory>,
    key: Keypair,
    _tmp: tempfile::TempDir,
}

impl World {
    fn hits(&self) -> usize {
        self.dir.hits.load(Ordering::SeqCst)
    }

    async fn call(&self, token: &str) -> Result<Viewer, (String, String)> {
        self.auth
            .authenticate(token, METHOD)
            .await
            .map_err(|e| (e.error, e.message))
    }
}

/// The DID document of `did` with `key` as its signing key.
fn document(did: &str, key: &Keypair) -> Value {
    json!({
        "id": did,
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.public().multikey()
        }],
    })
}

async fn world() -> World {
    let key = Keypair::generate(Algorithm::K256);
    let dir = Arc::new(Directory {
        docs: Mutex::new(HashMap::from([(KNOWN.to_owned(), document(KNOWN, &key))])),
        hits: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/{did}", get(doc))
        .with_state(dir.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dids = DidResolver::new(DidResolverConfig {
        plc_url: format!("http://{addr}"),
        ..DidResolverConfig::default()
    })
    .expect("resolver");
    let tmp = tempfile::tempdir().expect("dir");
    let db: Db<()> = Db::open(
        &tmp.path().join("index.sqlite"),
        &[REPLAY_SCHEMA],
        1,
        |_| Ok(()),
    )
    .expect("db");
    let replay = ReplayCache::load(&db).expect("replay");
    let auth = ServiceAuth::new(
        SERVICE.to_owned(),
        Arc::new(dids),
        |_| Audience::Service(&["hearth_appview"]),
        replay,
    );
    World {
        auth,
        dir,
        key,
        _tmp: tmp,
    }
}

fn token(key: &Keypair, iss: &str, aud: &str, lxm: &str, now: i64, ttl: i64) -> String {
    mint(key, iss, aud, Some(lxm), now, ttl)
}

/// Claims are checked before the issuer is resolved: wrong audience, wrong method, expired, or
/// an oversized token id cost the directory nothing, whoever the token names.
#[tokio::test]
async fn forged_claims_are_refused_before_resolution() {
    let w = world().await;
    let now = Datetime::unix_now_secs();
    let aud = format!("{SERVICE}#hearth_appview");
    let stranger = Keypair::generate(Algorithm::K256);
    let long_jti = {
        // A token with a 10 KB jti, signed properly: its id would be remembered.
        let header = r#"{"alg":"ES256K","typ":"JWT"}"#;
        let claims = json!({
            "iss": UNKNOWN, "aud": aud, "exp": now + 60, "iat": now, "lxm": METHOD,
            "jti": "x".repeat(10_000),
        });
        jwt(&stranger, header, &claims)
    };
    let cases = [
        (
            "another audience",
            token(
                &stranger,
                UNKNOWN,
                "did:web:elsewhere.example",
                METHOD,
                now,
                60,
            ),
            "BadJwtAudience",
        ),
        (
            "another method",
            token(
                &stranger,
                UNKNOWN,
                &aud,
                "social.hearth.post.create",
                now,
                60,
            ),
            "BadJwtLexiconMethod",
        ),
        (
            "expired",
            token(&stranger, UNKNOWN, &aud, METHOD, now - 600, 60),
            "JwtExpired",
        ),
        ("oversized jti", long_jti, "BadJwt"),
    ];
    for (what, t, error) in cases {
        let got = w.call(&t).await.expect_err(what);
        assert_eq!(got.0, error, "{what}: {}", got.1);
    }
    assert_eq!(
        w.hits(),
        0,
        "no token with bad claims reached the directory"
    );
}

/// An unknown issuer is looked up once, however often it is named; a bad signature from a
/// known issuer does not send us back to the directory while its document is fresh.
#[tokio::test]
async fn failed_and_forged_lookups_are_not_repeated() {
    let w = world().await;
    let now = Datetime::unix_now_secs();
    let aud = format!("{SERVICE}#hearth_appview");
    let stranger = Keypair::generate(Algorithm::K256);
    for _ in 0..5 {
        let got = w
            .call(&token(&stranger, UNKNOWN, &aud, METHOD, now, 60))
            .await
            .expect_err("unknown issuer");
        assert_eq!(got.0, "BadJwtSignature");
    }
    assert_eq!(w.hits(), 1, "an unresolvable issuer is asked for once");

    let viewer = w
        .call(&token(&w.key, KNOWN, &aud, METHOD, now, 60))
        .await
        .expect("a good token");
    assert_eq!(viewer.did, KNOWN);
    assert_eq!(w.hits(), 2);
    for _ in 0..5 {
        let got = w
            .call(&token(&stranger, KNOWN, &aud, METHOD, now, 60))
            .await
            .expect_err("forged signature");
        assert_eq!(got.0, "BadJwtSignature");
    }
    assert_eq!(
        w.hits(),
        2,
        "forged signatures cause no refetch of a fresh document"
    );
}

/// A member who moved signs with a new key. Until we hear of it, tokens signed with that key
/// are refused without a refetch (the document is fresh, and anyone can send a bad signature);
/// once told of the identity change, the next token is checked against the new document.
#[tokio::test]
async fn a_moved_issuer_is_accepted_once_its_identity_changed() {
    let w = world().await;
    let now = Datetime::unix_now_secs();
    let aud = format!("{SERVICE}#hearth_appview");
    w.call(&token(&w.key, KNOWN, &aud, METHOD, now, 60))
        .await
        .expect("the old key, before the move");
    assert_eq!(w.hits(), 1);

    let moved = Keypair::generate(Algorithm::K256);
    w.dir
        .docs
        .lock()
        .expect("directory")
        .insert(KNOWN.to_owned(), document(KNOWN, &moved));
    let got = w
        .call(&token(&moved, KNOWN, &aud, METHOD, now, 60))
        .await
        .expect_err("the new key, before the identity event");
    assert_eq!(got.0, "BadJwtSignature");
    assert_eq!(
        w.hits(),
        1,
        "a fresh document is not refetched on a bad signature"
    );

    w.auth.issuer_changed(&KNOWN.parse().expect("did"));
    let viewer = w
        .call(&token(&moved, KNOWN, &aud, METHOD, now, 60))
        .await
        .expect("the new key, after the identity event");
    assert_eq!(viewer.did, KNOWN);
    assert_eq!(w.hits(), 2);
    let got = w
        .call(&token(&w.key, KNOWN, &aud, METHOD, now, 60))
        .await
        .expect_err("the old key, after the move");
    assert_eq!(got.0, "BadJwtSignature");
}

/// An identity event also clears a failed look-up: an account whose document could not be
/// fetched (it was being created or moved) is looked up again at once, not after the failure
/// is forgotten.
#[tokio::test]
async fn an_identity_change_clears_a_failed_lookup() {
    let w = world().await;
    let now = Datetime::unix_now_secs();
    let aud = format!("{SERVICE}#hearth_appview");
    let newcomer = Keypair::generate(Algorithm::K256);
    let t = token(&newcomer, UNKNOWN, &aud, METHOD, now, 60);
    w.call(&t).await.expect_err("not in the directory yet");
    w.dir
        .docs
        .lock()
        .expect("directory")
        .insert(UNKNOWN.to_owned(), document(UNKNOWN, &newcomer));
    w.call(&t).await.expect_err("the failure is remembered");
    assert_eq!(w.hits(), 1);
    w.auth.issuer_changed(&UNKNOWN.parse().expect("did"));
    let viewer = w.call(&t).await.expect("looked up again after the event");
    assert_eq!(viewer.did, UNKNOWN);
    assert_eq!(w.hits(), 2);
}

/// A write token without an id is refused for what it is, not as a replay.
#[tokio::test]
async fn write_token_without_jti_says_so() {
    let w = world().await;
    let viewer = Viewer {
        did: KNOWN.to_owned(),
        jti: None,
        exp: Datetime::unix_now_secs() + 60,
    };
    let e = w.auth.first_use(&viewer).expect_err("no jti");
    assert_eq!(e.error, "BadJwt");
    assert!(e.message.contains("jti"), "{}", e.message);
    let fresh = Viewer {
        jti: Some("abc".into()),
        ..viewer
    };
    assert!(w.auth.first_use(&fresh).is_ok());
    let e = w.auth.first_use(&fresh).expect_err("replayed");
    assert_eq!(e.error, "TokenReplayed");
}

/// A compact JWS with these exact header and claims, signed by `key` (to build tokens `mint`
/// would not).
fn jwt(key: &Keypair, header: &str, claims: &Value) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}
