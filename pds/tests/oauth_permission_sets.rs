//! `include:` permission sets the bundled lexicons do not know, resolved over the network at
//! PAR: from a fake authority PDS (a local server answering `com.atproto.repo.getRecord`) whose
//! DID is registered with the test PLC directory. DNS is the one step not exercised: the
//! `_lexicon` authorities are pinned to that DID (`pin_authority`).

mod common;

use atproto::crypto::{Algorithm, Keypair};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::*;
use hearth_oauth::access_token::{self, Claims, Cnf};
use hearth_oauth::dpop;
use hearth_oauth::jwk::Jwk;
use hearth_testkit::Call;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const CAL: &str = "com.example.cal.basePermissions";
const MISSING: &str = "com.example.gone.basePermissions";
const HUGE: &str = "com.example.big.basePermissions";
const REDIRECT: &str = "http://127.0.0.1/callback";

fn now() -> i64 {
    hearth_pds::clock::now_secs()
}

/// The fake authority PDS: the lexicon records it serves, by record key, and how many
/// `getRecord` calls it answered.
#[derive(Clone, Default)]
struct Authority {
    records: Arc<Mutex<HashMap<String, Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Authority {
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, nsid: &str, main: Value) {
        let record = json!({
            "$type": "com.atproto.lexicon.schema",
            "lexicon": 1,
            "id": nsid,
            "defs": { "main": main },
        });
        self.records
            .lock()
            .expect("records")
            .insert(nsid.to_owned(), record);
    }

    /// Serves on a port-0 listener of the test's runtime; returns its URL.
    async fn serve(&self) -> String {
        async fn get_record(
            State(a): State<Authority>,
            Query(q): Query<HashMap<String, String>>,
        ) -> axum::response::Response {
            a.fetches.fetch_add(1, Ordering::SeqCst);
            let rkey = q.get("rkey").cloned().unwrap_or_default();
            let found = a.records.lock().expect("records").get(&rkey).cloned();
            match found {
                Some(value) => axum::Json(json!({
                    "uri": format!("at://{}/com.atproto.lexicon.schema/{rkey}", q.get("repo").cloned().unwrap_or_default()),
                    "value": value,
                }))
                .into_response(),
                None => (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "RecordNotFound", "message": "Could not locate record"})),
                )
                    .into_response(),
            }
        }
        let app = axum::Router::new()
            .route(
                "/xrpc/com.atproto.repo.getRecord",
                axum::routing::get(get_record),
            )
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind authority");
        let port = listener.local_addr().expect("authority addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://127.0.0.1:{port}")
    }
}

fn calendar_set() -> Value {
    json!({
        "type": "permission-set",
        "title": "Calendar",
        "permissions": [
            {
                "type": "permission",
                "resource": "repo",
                "collection": ["com.example.cal.event"],
            },
            // Outside the set's namespace: dropped.
            {
                "type": "permission",
                "resource": "repo",
                "collection": ["app.bsky.feed.like"],
            },
            {
                "type": "permission",
                "resource": "rpc",
                "lxm": ["com.example.cal.getEvents"],
                "inheritAud": true,
            },
        ],
    })
}

/// A loopback client pushing authorization requests by hand.
struct Client {
    http: reqwest::Client,
    issuer: String,
    key: Keypair,
    nonce: Option<String>,
}

impl Client {
    fn new(pds: &Pds) -> Client {
        Client {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            issuer: format!("http://localhost:{}", pds.port),
            key: Keypair::generate(Algorithm::P256),
            nonce: None,
        }
    }

    fn client_id(scope: &str) -> String {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "http://localhost?redirect_uri={}&scope={}",
            enc(REDIRECT),
            enc(scope)
        )
    }

    /// PAR for `scope`, retrying once with the server's nonce: (status, body).
    async fn par(&mut self, scope: &str) -> (u16, Value) {
        let client_id = Client::client_id(scope);
        let challenge = hearth_oauth::pkce::s256_challenge(&"v".repeat(50));
        for _ in 0..2 {
            let proof = dpop::sign(
                &self.key,
                &dpop::ProofRequest {
                    htm: "POST",
                    htu: &format!("{}/oauth/par", self.issuer),
                    now: now(),
                    nonce: self.nonce.as_deref(),
                    access_token: None,
                },
            );
            let res = self
                .http
                .post(format!("{}/oauth/par", self.issuer))
                .header("DPoP", proof)
                .form(&[
                    ("client_id", client_id.as_str()),
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("scope", scope),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ])
                .send()
                .await
                .expect("par");
            let status = res.status().as_u16();
            if let Some(n) = res
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
            {
                self.nonce = Some(n.to_owned());
            }
            let body: Value = res.json().await.unwrap_or(Value::Null);
            if !(status == 400 && body["error"] == "use_dpop_nonce") {
                return (status, body);
            }
        }
        panic!("PAR kept asking for a nonce");
    }

    /// The consent page of a pushed request, after signing in as alice.
    async fn consent_page(&self, scope: &str, request_uri: &str) -> String {
        let client_id = Client::client_id(scope);
        let page = self
            .http
            .get(format!("{}/oauth/authorize", self.issuer))
            .query(&[
                ("client_id", &client_id),
                ("request_uri", &request_uri.to_owned()),
            ])
            .send()
            .await
            .expect("authorize page");
        assert_eq!(page.status(), 200);
        let csrf = page.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v.to_owned())
            .expect("csrf");
        let signed_in = self
            .http
            .post(format!("{}/oauth/authorize/sign-in", self.issuer))
            .header("Cookie", format!("hearth-oauth-csrf={csrf}"))
            .header("Origin", &self.issuer)
            .form(&[
                ("csrf", csrf.as_str()),
                ("client_id", &client_id),
                ("request_uri", request_uri),
                ("identifier", "alice.test"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .expect("sign in");
        assert_eq!(signed_in.status(), 200);
        signed_in.text().await.expect("consent")
    }
}

/// A session as the token endpoint would have issued it for `scope`.
struct Session {
    key: Keypair,
    token: String,
    public_url: String,
}

impl Session {
    fn new(pds: &Pds, did: &str, scope: &str) -> Session {
        let st = pds.state();
        let key = Keypair::generate(Algorithm::P256);
        let jkt = Jwk::from_public(&key.public()).thumbprint();
        let grant = add_grant(pds, did, scope, &jkt, now() + 600);
        let claims = Claims {
            iss: st.public_url.clone(),
            sub: did.to_owned(),
            aud: st.service_did.clone(),
            client_id: "http://localhost".into(),
            scope: scope.to_owned(),
            cnf: Cnf { jkt },
            iat: now(),
            exp: now() + 600,
            jti: format!("{grant}.{}", hex::encode(rand::random::<[u8; 8]>())),
        };
        Session {
            key,
            token: access_token::sign(&st.secrets.jwt_key, &claims),
            public_url: st.public_url.clone(),
        }
    }

    /// `createRecord` of a record in `collection`, as this session.
    async fn create(&self, pds: &Pds, did: &str, collection: &str) -> Res {
        const NSID: &str = "com.atproto.repo.createRecord";
        let nonce = pds.state().oauth.nonces.current(now());
        let proof = dpop::sign(
            &self.key,
            &dpop::ProofRequest {
                htm: "POST",
                htu: &format!("{}/xrpc/{NSID}", self.public_url),
                now: now(),
                nonce: Some(&nonce),
                access_token: Some(&self.token),
            },
        );
        let record = json!({
            "$type": collection,
            "subject": { "uri": format!("at://{did}/app.bsky.feed.post/3kaaaaaaaaaaa"), "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm" },
            "name": "Dinner",
            "createdAt": "2026-01-01T00:00:00.000Z",
        });
        let call = Call::post(
            NSID,
            &json!({ "repo": did, "collection": collection, "record": record }),
        )
        .header("authorization", &format!("DPoP {}", self.token))
        .header("dpop", &proof);
        pds.send(&call).await
    }
}

#[tokio::test]
async fn network_permission_sets_resolve_at_par_and_expand_on_the_resource_server() {
    let cases = Cases::new("pds_oauth permission sets");
    let mut w = World::new(Options::default());
    let a = w.pds.create_account("alice").await;
    let authority = Authority::default();
    authority.publish(CAL, calendar_set());
    authority.publish(
        HUGE,
        json!({
            "type": "permission-set",
            "description": "x".repeat(80 * 1024),
            "permissions": [],
        }),
    );
    let authority_url = authority.serve().await;
    let publisher = PlcIdentity::register(w.plc.url(), "lexicons.test", &authority_url, &[]).await;
    let pin = |pds: &Pds| {
        for domain in ["cal.example.com", "gone.example.com", "big.example.com"] {
            pds.state()
                .oauth
                .permission_sets
                .pin_authority(domain, publisher.did.parse().expect("did"));
        }
    };
    pin(&w.pds);
    let mut client = Client::new(&w.pds);
    let scope = format!("atproto include:{CAL}?aud=did:web:api.example.com%23cal");

    cases.case("PAR resolves the set from its authority's PDS");
    let (status, body) = client.par(&scope).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(authority.fetches(), 1);

    cases.case("the consent page lists what the set grants, its own namespace only");
    let request_uri = body["request_uri"].as_str().expect("request_uri");
    let consent = client.consent_page(&scope, request_uri).await;
    assert!(
        consent.contains("Create, change and delete records of com.example.cal.event"),
        "{consent}"
    );
    assert!(
        consent.contains("Call com.example.cal.getEvents"),
        "{consent}"
    );
    assert!(!consent.contains("app.bsky.feed.like"), "{consent}");

    cases.case("a second PAR uses the resolved set: no fetch");
    let (status, body) = client.par(&scope).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(authority.fetches(), 1);

    cases.case("a set its authority does not publish: invalid_scope, remembered a while");
    let missing = format!("atproto include:{MISSING}");
    let (status, body) = client.par(&missing).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let message = body["error_description"].as_str().unwrap_or_default();
    assert!(message.contains(MISSING), "{body}");
    assert_eq!(authority.fetches(), 2);
    let (status, _) = client.par(&missing).await;
    assert_eq!(status, 400);
    assert_eq!(authority.fetches(), 2, "the failure is cached");

    cases.case("a document over the size limit: invalid_scope");
    let (status, body) = client.par(&format!("atproto include:{HUGE}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|m| m.contains("larger than")),
        "{body}"
    );

    cases.case("more includes than allowed: invalid_scope, nothing fetched");
    let before = authority.fetches();
    let many: Vec<String> = (0..11)
        .map(|i| format!("include:com.example.many.set{i}"))
        .collect();
    let (status, body) = client.par(&format!("atproto {}", many.join(" "))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    assert_eq!(authority.fetches(), before);

    cases.case("an include that names no NSID: invalid_scope");
    let (status, body) = client.par("atproto include:not_an_nsid").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    cases.case("the resource server expands the resolved set");
    let token_scope = scope.clone();
    let s = Session::new(&w.pds, &a.did, &token_scope);
    let created = s.create(&w.pds, &a.did, "com.example.cal.event").await;
    assert_eq!(created.status, 200, "{}", created.text);
    s.create(&w.pds, &a.did, "app.bsky.feed.like")
        .await
        .err(403, "ScopeMissingError");
    s.create(&w.pds, &a.did, "app.bsky.feed.post")
        .await
        .err(403, "ScopeMissingError");

    cases.case("a set under another namespace grants nothing outside it");
    let st = w.pds.state();
    let grant = hearth_oauth::scope::ScopeSet::parse_with(&token_scope, &st.oauth.permission_sets)
        .expect("scope");
    assert!(grant.allows_rpc("com.example.cal.getEvents", "did:web:api.example.com#cal"));
    assert!(!grant.allows_rpc("com.example.cal.getEvents", "did:web:other.example.com#cal"));
    assert!(!grant.allows_repo(
        "app.bsky.feed.like",
        hearth_oauth::scope::RepoAction::Create
    ));

    cases.case("past the refresh interval PAR fetches the set again and takes the new version");
    use hearth_oauth::scope::PermissionSets;
    use hearth_pds::oauth::permission_sets::{REFRESH_AFTER, RETRY_AFTER};
    let mut v2 = calendar_set();
    v2["permissions"].as_array_mut().expect("permissions").push(
        json!({"type": "permission", "resource": "repo", "collection": ["com.example.cal.rsvp"]}),
    );
    authority.publish(CAL, v2);
    let sets = &st.oauth.permission_sets;
    let later = now() + REFRESH_AFTER + 1;
    let before = authority.fetches();
    sets.resolve_scope(&scope, &st.db.writer, later)
        .await
        .expect("refreshed");
    assert_eq!(authority.fetches(), before + 1);
    let expanded = |sets: &hearth_pds::oauth::permission_sets::PermissionSetResolver| {
        sets.permission_set(CAL)
            .map(|d| d.permissions.len())
            .unwrap_or_default()
    };
    assert_eq!(expanded(sets), 4);

    cases.case("a refresh that fails keeps the stored set, and is not retried at once");
    authority.records.lock().expect("records").remove(CAL);
    let later = later + REFRESH_AFTER + 1;
    sets.resolve_scope(&scope, &st.db.writer, later)
        .await
        .expect("the stored set stays");
    assert_eq!(authority.fetches(), before + 2);
    assert_eq!(expanded(sets), 4);
    sets.resolve_scope(&scope, &st.db.writer, later + RETRY_AFTER - 1)
        .await
        .expect("the stored set stays");
    assert_eq!(authority.fetches(), before + 2);

    cases.case("after a restart the stored set still expands, with nothing fetched");
    let fetched = authority.fetches();
    w.restart(Options::default());
    let s = Session::new(&w.pds, &a.did, &token_scope);
    let created = s.create(&w.pds, &a.did, "com.example.cal.event").await;
    assert_eq!(created.status, 200, "{}", created.text);
    s.create(&w.pds, &a.did, "app.bsky.feed.post")
        .await
        .err(403, "ScopeMissingError");
    assert_eq!(authority.fetches(), fetched);

    cases.case("a set never resolved grants nothing on the resource server");
    let s = Session::new(
        &w.pds,
        &a.did,
        "atproto include:com.example.never.basePermissions",
    );
    s.create(&w.pds, &a.did, "com.example.never.thing")
        .await
        .err(403, "ScopeMissingError");
}

/// Outside development the record is fetched only as the guarded client allows: an authority
/// whose PDS is a plain-http loopback address is refused before anything is fetched.
#[tokio::test]
async fn outside_development_the_guarded_client_refuses_private_authorities() {
    let w = World::new(Options {
        dev: false,
        ..Options::default()
    });
    let authority = Authority::default();
    authority.publish(CAL, calendar_set());
    let url = authority.serve().await;
    let publisher = PlcIdentity::register(w.plc.url(), "lexicons.test", &url, &[]).await;
    let st = w.pds.state();
    st.oauth
        .permission_sets
        .pin_authority("cal.example.com", publisher.did.parse().expect("did"));
    let refused = st
        .oauth
        .permission_sets
        .resolve_scope(&format!("atproto include:{CAL}"), &st.db.writer, now())
        .await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("could not be fetched"), "{message}");
    assert_eq!(authority.fetches(), 0);
}
