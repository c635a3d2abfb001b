//! The PDS as an OAuth resource server: DPoP-bound tokens (nonces, single-use proofs, key
//! binding, `htm`/`htu`/`ath`), and the granted scopes enforced on every method. The endpoint
//! table covers every route the PDS serves (a test reads them from the router's source), so a
//! new method without a decision about OAuth fails here.

mod common;

use atproto::crypto::{Algorithm, Keypair};
use common::*;
use hearth_oauth::access_token::{self, Claims, Cnf};
use hearth_oauth::dpop;
use hearth_oauth::jwk::Jwk;
use hearth_testkit::{Call, Refusal};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// An OAuth client's session, as the token endpoint would have issued it: a DPoP key and an
/// access token bound to it with `scope`.
struct Session {
    key: Keypair,
    token: String,
    public_url: String,
}

impl Session {
    fn new(pds: &Pds, did: &str, scope: &str) -> Session {
        Session::with(pds, did, scope, 600)
    }

    fn with(pds: &Pds, did: &str, scope: &str, ttl: i64) -> Session {
        let st = pds.state();
        let key = Keypair::generate(Algorithm::P256);
        let now = now();
        let grant = add_grant(
            pds,
            did,
            scope,
            &Jwk::from_public(&key.public()).thumbprint(),
            now + ttl.max(60),
        );
        let claims = Claims {
            iss: st.public_url.clone(),
            sub: did.to_owned(),
            aud: st.service_did.clone(),
            client_id: "http://localhost".into(),
            scope: scope.to_owned(),
            cnf: Cnf {
                jkt: Jwk::from_public(&key.public()).thumbprint(),
            },
            iat: now,
            exp: now + ttl,
            jti: format!("{grant}.{}", rand_id()),
        };
        Session {
            key,
            token: access_token::sign(&st.secrets.jwt_key, &claims),
            public_url: st.public_url.clone(),
        }
    }

    /// `call` with the token and a fresh proof carrying `nonce`.
    fn sign_with(&self, call: Call, key: &Keypair, nonce: Option<&str>) -> Call {
        let (htm, nsid) = match &call {
            Call::Get { nsid, .. } => ("GET", nsid.clone()),
            Call::Post { nsid, .. } => ("POST", nsid.clone()),
            Call::Raw(_) => unreachable!("raw calls carry their own headers"),
        };
        let htu = format!("{}/xrpc/{}", self.public_url, nsid);
        let proof = dpop::sign(
            key,
            &dpop::ProofRequest {
                htm,
                htu: &htu,
                now: now(),
                nonce,
                access_token: Some(&self.token),
            },
        );
        call.header("authorization", &format!("DPoP {}", self.token))
            .header("dpop", &proof)
    }

    /// `call` as this session, with the server's current nonce.
    fn sign(&self, pds: &Pds, call: Call) -> Call {
        let nonce = pds.state().oauth.nonces.current(now());
        self.sign_with(call, &self.key, Some(&nonce))
    }
}

fn rand_id() -> String {
    let b: [u8; 8] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn create_post(did: &str, text: &str) -> Value {
    json!({ "repo": did, "collection": "app.bsky.feed.post", "record": post(text) })
}

/// A tiny PNG: the signature and an IHDR chunk, enough to be sniffed as `image/png`.
fn png() -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    b.extend([
        0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0,
    ]);
    b.extend([0x1f, 0x15, 0xc4, 0x89]);
    b
}

/// The DPoP handshake and every way a DPoP request can be wrong.
#[tokio::test]
async fn dpop_bound_tokens_are_checked() {
    let cases = Cases::new("pds_oauth dpop");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let s = Session::new(pds, &a.did, "atproto transition:generic");
    const CREATE: &str = "com.atproto.repo.createRecord";

    cases.case("first request without a nonce: 401 use_dpop_nonce, with the nonce to use");
    let first = pds
        .send(&s.sign_with(Call::post(CREATE, &create_post(&a.did, "hi")), &s.key, None))
        .await;
    first.err(401, "use_dpop_nonce");
    let nonce = first
        .headers
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .expect("DPoP-Nonce header")
        .to_owned();
    let challenge = first
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP error=\"use_dpop_nonce\""),
        "{challenge}"
    );

    cases.case("retried with the nonce: the write goes through");
    let ok_call = s.sign_with(
        Call::post(CREATE, &create_post(&a.did, "hi")),
        &s.key,
        Some(&nonce),
    );
    let ok = pds.send(&ok_call).await;
    assert!(ok.headers.contains_key("dpop-nonce"));
    let created = ok.ok();
    assert!(created["uri"].as_str().is_some_and(|u| u.contains(&a.did)));

    cases.case("a read with the same session");
    let rkey = created["uri"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    let read = pds
        .send(&s.sign(
            pds,
            Call::get(&format!(
                "com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey={rkey}",
                a.did
            )),
        ))
        .await
        .ok();
    assert_eq!(read["value"]["text"], "hi");

    let other = Keypair::generate(Algorithm::P256);
    let stale = pds
        .state()
        .oauth
        .nonces
        .current(now() - 3 * hearth_oauth::nonce::SLOT_SECS);
    let expired = Session::with(pds, &a.did, "atproto transition:generic", -1);
    let body = create_post(&a.did, "nope");
    let htm_swapped = {
        // A proof for GET sent with a POST.
        let mut c = s.sign(pds, Call::get(CREATE));
        if let Call::Get { headers, .. } = &mut c {
            let headers = std::mem::take(headers);
            let mut p = Call::post(CREATE, &body);
            for (k, v) in headers {
                p = p.header(k, &v);
            }
            c = p;
        }
        c
    };
    let htu_other = {
        let proof_for_delete = s.sign(pds, Call::post("com.atproto.repo.deleteRecord", &body));
        let mut p = Call::post(CREATE, &body);
        if let Call::Post { headers, .. } = proof_for_delete {
            for (k, v) in headers {
                p = p.header(k, &v);
            }
        }
        p
    };
    let no_proof = Call::post(CREATE, &body).header("authorization", &format!("DPoP {}", s.token));
    let forged_token = {
        let mut t = s.token.clone();
        t.push('x');
        Call::post(CREATE, &body)
            .header("authorization", &format!("DPoP {t}"))
            .header("dpop", "x")
    };
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new("a replayed proof", 401, "invalid_dpop_proof", ok_call),
            Refusal::new(
                "a proof signed by another key than the token's",
                401,
                "invalid_dpop_proof",
                s.sign_with(Call::post(CREATE, &body), &other, Some(&nonce)),
            ),
            Refusal::new(
                "a stale nonce",
                401,
                "use_dpop_nonce",
                s.sign_with(Call::post(CREATE, &body), &s.key, Some(&stale)),
            ),
            Refusal::new(
                "a proof for another method",
                401,
                "invalid_dpop_proof",
                htm_swapped,
            ),
            Refusal::new(
                "a proof for another URL",
                401,
                "invalid_dpop_proof",
                htu_other,
            ),
            Refusal::new(
                "a DPoP token without a proof",
                401,
                "invalid_dpop_proof",
                no_proof,
            ),
            Refusal::new(
                "the DPoP token as a bearer token",
                400,
                "InvalidToken",
                Call::post(CREATE, &body).bearer(Some(&s.token)),
            ),
            Refusal::new(
                "an expired access token",
                401,
                "invalid_token",
                expired.sign(pds, Call::post(CREATE, &body)),
            ),
            Refusal::new("a forged access token", 401, "invalid_token", forged_token),
            Refusal::new(
                "a legacy session token under the DPoP scheme",
                401,
                "invalid_token",
                Call::post(CREATE, &body)
                    .header("authorization", &format!("DPoP {}", a.access))
                    .header("dpop", "x"),
            ),
        ],
    )
    .await;

    cases.case("expired tokens ask the client to refresh (WWW-Authenticate invalid_token)");
    let r = pds
        .send(&expired.sign(pds, Call::post(CREATE, &body)))
        .await;
    let challenge = r
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );

    cases.case("legacy sessions still work unchanged");
    pds.create_record(&a, "app.bsky.feed.post", post("legacy"))
        .await;
}

/// What an `atproto`-only OAuth session gets from a method.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// No authentication involved, or a read any session may make: not sent (or sent and
    /// must succeed, for `getSession`).
    Open,
    /// Refused for want of a scope: 403 ScopeMissingError.
    Scope,
    /// Never through OAuth: 403 Forbidden.
    NotOAuth,
    /// Admin methods take the admin password only.
    Admin,
    /// Refresh-token methods: an access token of any kind is the wrong token.
    Refresh,
}

/// Every XRPC method the PDS routes, with what an `atproto`-only session gets and a request
/// that reaches the scope check.
fn endpoint_table(did: &str) -> Vec<(&'static str, Expect, Option<Call>)> {
    use Expect::*;
    let x = |n: &'static str, e: Expect, c: Option<Call>| (n, e, c);
    let body = |n: &str, b: Value| Some(Call::post(n, &b));
    let get = |q: &str| Some(Call::get(q));
    vec![
        x("com.atproto.server.describeServer", Open, None),
        x("com.atproto.server.createAccount", Open, None),
        x("com.atproto.server.createSession", Open, None),
        x(
            "com.atproto.server.getSession",
            Open,
            get("com.atproto.server.getSession"),
        ),
        x(
            "com.atproto.server.refreshSession",
            Refresh,
            body("com.atproto.server.refreshSession", json!({})),
        ),
        x(
            "com.atproto.server.deleteSession",
            Refresh,
            body("com.atproto.server.deleteSession", json!({})),
        ),
        x(
            "com.atproto.server.createAppPassword",
            NotOAuth,
            body(
                "com.atproto.server.createAppPassword",
                json!({"name": "app"}),
            ),
        ),
        x(
            "com.atproto.server.listAppPasswords",
            NotOAuth,
            get("com.atproto.server.listAppPasswords"),
        ),
        x(
            "com.atproto.server.revokeAppPassword",
            NotOAuth,
            body(
                "com.atproto.server.revokeAppPassword",
                json!({"name": "app"}),
            ),
        ),
        x(
            "com.atproto.server.getServiceAuth",
            Scope,
            get("com.atproto.server.getServiceAuth?aud=did:web:svc.example"),
        ),
        x(
            "com.atproto.server.deactivateAccount",
            Scope,
            body("com.atproto.server.deactivateAccount", json!({})),
        ),
        x(
            "com.atproto.server.activateAccount",
            Scope,
            body("com.atproto.server.activateAccount", json!({})),
        ),
        x(
            "com.atproto.server.checkAccountStatus",
            Scope,
            get("com.atproto.server.checkAccountStatus"),
        ),
        x(
            "com.atproto.server.requestAccountDelete",
            NotOAuth,
            body("com.atproto.server.requestAccountDelete", json!({})),
        ),
        x("com.atproto.server.deleteAccount", Open, None),
        x(
            "com.atproto.server.requestEmailConfirmation",
            Scope,
            body("com.atproto.server.requestEmailConfirmation", json!({})),
        ),
        x(
            "com.atproto.server.confirmEmail",
            Scope,
            body(
                "com.atproto.server.confirmEmail",
                json!({"email": "alice@example.com", "token": "AAAAA-BBBBB"}),
            ),
        ),
        x("com.atproto.server.requestPasswordReset", Open, None),
        x("com.atproto.server.resetPassword", Open, None),
        x(
            "com.atproto.server.requestEmailUpdate",
            Scope,
            body("com.atproto.server.requestEmailUpdate", json!({})),
        ),
        x(
            "com.atproto.server.updateEmail",
            Scope,
            body(
                "com.atproto.server.updateEmail",
                json!({"email": "new@example.com"}),
            ),
        ),
        x(
            "com.atproto.server.getAccountInviteCodes",
            NotOAuth,
            get("com.atproto.server.getAccountInviteCodes"),
        ),
        x(
            "com.atproto.server.createInviteCode",
            Admin,
            body(
                "com.atproto.server.createInviteCode",
                json!({"useCount": 1}),
            ),
        ),
        x(
            "com.atproto.server.createInviteCodes",
            Admin,
            body(
                "com.atproto.server.createInviteCodes",
                json!({"codeCount": 1, "useCount": 1}),
            ),
        ),
        x("com.atproto.identity.resolveHandle", Open, None),
        x(
            "com.atproto.identity.updateHandle",
            Scope,
            body(
                "com.atproto.identity.updateHandle",
                json!({"handle": "alice2.test"}),
            ),
        ),
        x(
            "com.atproto.identity.requestPlcOperationSignature",
            Scope,
            body(
                "com.atproto.identity.requestPlcOperationSignature",
                json!({}),
            ),
        ),
        x(
            "com.atproto.identity.signPlcOperation",
            Scope,
            body(
                "com.atproto.identity.signPlcOperation",
                json!({"token": "AAAAA-BBBBB"}),
            ),
        ),
        x(
            "com.atproto.identity.getRecommendedDidCredentials",
            Scope,
            get("com.atproto.identity.getRecommendedDidCredentials"),
        ),
        x(
            "com.atproto.identity.submitPlcOperation",
            Scope,
            body(
                "com.atproto.identity.submitPlcOperation",
                json!({"operation": {}}),
            ),
        ),
        x(
            "com.atproto.repo.importRepo",
            Scope,
            Some(Call::post_bytes(
                "com.atproto.repo.importRepo",
                Some("application/vnd.ipld.car"),
                vec![0u8; 16],
            )),
        ),
        x(
            "com.atproto.repo.listMissingBlobs",
            Scope,
            get("com.atproto.repo.listMissingBlobs"),
        ),
        x(
            "com.atproto.repo.createRecord",
            Scope,
            body("com.atproto.repo.createRecord", create_post(did, "scoped")),
        ),
        x(
            "com.atproto.repo.putRecord",
            Scope,
            body(
                "com.atproto.repo.putRecord",
                json!({"repo": did, "collection": "app.bsky.feed.post", "rkey": "3kabcdefghij2", "record": post("put")}),
            ),
        ),
        x(
            "com.atproto.repo.deleteRecord",
            Scope,
            body(
                "com.atproto.repo.deleteRecord",
                json!({"repo": did, "collection": "app.bsky.feed.post", "rkey": "3kabcdefghij2"}),
            ),
        ),
        x(
            "com.atproto.repo.applyWrites",
            Scope,
            body(
                "com.atproto.repo.applyWrites",
                json!({"repo": did, "writes": [{"$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "value": post("batch")}]}),
            ),
        ),
        x(
            "com.atproto.repo.uploadBlob",
            Scope,
            Some(Call::post_bytes(
                "com.atproto.repo.uploadBlob",
                Some("image/png"),
                png(),
            )),
        ),
        x("com.atproto.repo.getRecord", Open, None),
        x("com.atproto.repo.listRecords", Open, None),
        x("com.atproto.repo.describeRepo", Open, None),
        x("com.atproto.sync.getRepo", Open, None),
        x("com.atproto.sync.getLatestCommit", Open, None),
        x("com.atproto.sync.getRepoStatus", Open, None),
        x("com.atproto.sync.getRecord", Open, None),
        x("com.atproto.sync.getBlocks", Open, None),
        x("com.atproto.sync.listRepos", Open, None),
        x("com.atproto.sync.getBlob", Open, None),
        x("com.atproto.sync.listBlobs", Open, None),
        x("com.atproto.sync.subscribeRepos", Open, None),
        x(
            "com.atproto.admin.getAccountInfo",
            Admin,
            get(&format!("com.atproto.admin.getAccountInfo?did={did}")),
        ),
        x(
            "com.atproto.admin.getAccountInfos",
            Admin,
            get(&format!("com.atproto.admin.getAccountInfos?dids={did}")),
        ),
        x(
            "com.atproto.admin.updateSubjectStatus",
            Admin,
            body(
                "com.atproto.admin.updateSubjectStatus",
                json!({"subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did}, "takedown": {"applied": true}}),
            ),
        ),
        x(
            "com.atproto.admin.getSubjectStatus",
            Admin,
            get(&format!("com.atproto.admin.getSubjectStatus?did={did}")),
        ),
        x(
            "com.atproto.admin.getInviteCodes",
            Admin,
            get("com.atproto.admin.getInviteCodes"),
        ),
        x(
            "com.atproto.admin.disableInviteCodes",
            Admin,
            body("com.atproto.admin.disableInviteCodes", json!({})),
        ),
        x(
            "com.atproto.admin.deleteAccount",
            Admin,
            body("com.atproto.admin.deleteAccount", json!({"did": did})),
        ),
        x(
            "com.atproto.admin.updateAccountPassword",
            Admin,
            body(
                "com.atproto.admin.updateAccountPassword",
                json!({"did": did, "password": "x"}),
            ),
        ),
        x(
            "com.atproto.admin.updateAccountHandle",
            Admin,
            body(
                "com.atproto.admin.updateAccountHandle",
                json!({"did": did, "handle": "evil.test"}),
            ),
        ),
        x(
            "app.bsky.actor.getPreferences",
            Scope,
            get("app.bsky.actor.getPreferences"),
        ),
        x(
            "app.bsky.actor.putPreferences",
            Scope,
            body("app.bsky.actor.putPreferences", json!({"preferences": []})),
        ),
        // Everything else is proxied; `rpc:` decides.
        x(
            "app.bsky.feed.getTimeline",
            Scope,
            get("app.bsky.feed.getTimeline"),
        ),
        x(
            "social.hearth.space.getSpaces",
            Scope,
            get("social.hearth.space.getSpaces"),
        ),
    ]
}

/// The routes the PDS serves, read from its router.
fn routed_methods() -> BTreeSet<String> {
    let src = include_str!("../src/xrpc/mod.rs");
    src.split("x(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(nsid, _)| nsid.to_owned()))
        .collect()
}

#[test]
fn every_routed_method_has_an_oauth_decision() {
    let routes = routed_methods();
    assert!(routes.len() > 50, "read the routes: {routes:?}");
    let table: BTreeSet<String> = endpoint_table("did:plc:x")
        .into_iter()
        .map(|(n, _, _)| n.to_owned())
        .collect();
    let missing: Vec<&String> = routes.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "methods with no OAuth decision in this table: {missing:?}"
    );
}

/// An `atproto`-only grant (sign-in, reads) is refused by every method that writes or manages
/// the account, with nothing changed; a legacy full session is not affected.
#[tokio::test]
async fn every_write_and_account_method_checks_a_scope() {
    let cases = Cases::new("pds_oauth scopes");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let s = Session::new(pds, &a.did, "atproto");
    let mut rows = Vec::new();
    for (nsid, expect, call) in endpoint_table(&a.did) {
        let Some(call) = call else { continue };
        let call = s.sign(pds, call);
        let (status, error) = match expect {
            Expect::Open => {
                cases.case(&format!("{nsid}: open to an atproto-only session"));
                let r = pds.send(&call).await;
                let v = r.ok();
                // Not the app's to see without `account:email`.
                assert!(v.get("email").is_none(), "{v}");
                assert_eq!(v["did"], a.did.as_str());
                continue;
            }
            Expect::Scope => (403, "ScopeMissingError"),
            Expect::NotOAuth => (403, "Forbidden"),
            Expect::Admin => (401, "AuthenticationRequired"),
            Expect::Refresh => (400, "InvalidToken"),
        };
        rows.push(Refusal::new(
            format!("{nsid} with atproto only"),
            status,
            error,
            call,
        ));
    }
    assert_refused(&cases, pds, &a.did, rows).await;
}

/// Granted permissions let exactly their calls through.
#[tokio::test]
async fn granted_scopes_allow_what_they_name() {
    let cases = Cases::new("pds_oauth granted");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    const CREATE: &str = "com.atproto.repo.createRecord";
    const UPLOAD: &str = "com.atproto.repo.uploadBlob";
    let appview_aud = "did:web:appview.invalid#bsky_appview";

    cases.case("repo:<collection>?action=create creates, and only creates");
    let poster = Session::new(pds, &a.did, "atproto repo:app.bsky.feed.post?action=create");
    let made = pds
        .send(&poster.sign(pds, Call::post(CREATE, &create_post(&a.did, "granular"))))
        .await
        .ok();
    let rkey = made["uri"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    let del = json!({"repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey});
    let like = json!({"repo": a.did, "collection": "app.bsky.feed.like",
        "record": {"$type": "app.bsky.feed.like", "createdAt": "2024-01-01T00:00:00.000Z",
                   "subject": {"uri": made["uri"], "cid": made["cid"]}}});
    let blobs_only = Session::new(pds, &a.did, "atproto blob:image/*");
    let mut video = png();
    video.splice(0..0, *b"\x00\x00\x00\x18ftypmp42");
    let generic = Session::new(pds, &a.did, "atproto transition:generic");
    let other_aud = Session::new(
        pds,
        &a.did,
        "atproto rpc:app.bsky.feed.getTimeline?aud=did:web:elsewhere.example%23bsky_appview",
    );
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "delete without action=delete",
                403,
                "ScopeMissingError",
                poster.sign(pds, Call::post("com.atproto.repo.deleteRecord", &del)),
            ),
            Refusal::new(
                "another collection",
                403,
                "ScopeMissingError",
                poster.sign(pds, Call::post(CREATE, &like)),
            ),
            Refusal::new(
                "a video with blob:image/*",
                403,
                "ScopeMissingError",
                blobs_only.sign(pds, Call::post_bytes(UPLOAD, Some("video/mp4"), video)),
            ),
            Refusal::new(
                "chat through transition:generic",
                403,
                "ScopeMissingError",
                generic.sign(
                    pds,
                    Call::get("chat.bsky.convo.listConvos")
                        .header("atproto-proxy", "did:web:api.bsky.chat#bsky_chat"),
                ),
            ),
            Refusal::new(
                "account management through transition:generic",
                403,
                "ScopeMissingError",
                generic.sign(
                    pds,
                    Call::post("com.atproto.server.deactivateAccount", &json!({})),
                ),
            ),
            Refusal::new(
                "an app password through transition:generic",
                403,
                "Forbidden",
                generic.sign(
                    pds,
                    Call::post(
                        "com.atproto.server.createAppPassword",
                        &json!({"name": "x"}),
                    ),
                ),
            ),
            Refusal::new(
                "rpc: for another audience than the proxy's",
                403,
                "ScopeMissingError",
                other_aud.sign(pds, Call::get("app.bsky.feed.getTimeline")),
            ),
        ],
    )
    .await;

    cases.case("blob:image/* uploads an image");
    let up = pds
        .send(&blobs_only.sign(pds, Call::post_bytes(UPLOAD, Some("image/png"), png())))
        .await
        .ok();
    assert_eq!(up["blob"]["mimeType"], "image/png");

    cases.case("transition:generic writes any record");
    pds.send(&generic.sign(pds, Call::post(CREATE, &like)))
        .await
        .ok();

    cases.case("rpc: for the AppView's audience passes the scope check (the AppView is down)");
    let timeline = Session::new(
        pds,
        &a.did,
        &format!(
            "atproto rpc:app.bsky.feed.getTimeline?aud={}",
            appview_aud.replace('#', "%23")
        ),
    );
    pds.send(&timeline.sign(pds, Call::get("app.bsky.feed.getTimeline")))
        .await
        .err(502, "UpstreamFailure");

    cases.case("account:status?action=manage deactivates; deactivation ends the grant");
    const STATUS: &str = "atproto account:status?action=manage";
    let status = Session::new(pds, &a.did, STATUS);
    pds.send(&status.sign(
        pds,
        Call::post("com.atproto.server.deactivateAccount", &json!({})),
    ))
    .await
    .ok();
    let ended = pds
        .send(&status.sign(pds, Call::get("com.atproto.server.checkAccountStatus")))
        .await;
    ended.err(401, "invalid_token");
    // The challenge that makes a client stop or refresh, as for any refused DPoP token.
    assert_eq!(
        ended
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("DPoP error=\"invalid_token\"")
    );

    cases.case("a new grant with account:status?action=manage activates");
    let again = Session::new(pds, &a.did, STATUS);
    pds.send(&again.sign(
        pds,
        Call::post("com.atproto.server.activateAccount", &json!({})),
    ))
    .await
    .ok();
    let st = pds
        .send(&again.sign(pds, Call::get("com.atproto.server.checkAccountStatus")))
        .await
        .ok();
    assert_eq!(st["activated"], true);

    cases.case("account:email shows the address in getSession");
    let email = Session::new(pds, &a.did, "atproto account:email");
    let v = pds
        .send(&email.sign(pds, Call::get("com.atproto.server.getSession")))
        .await
        .ok();
    assert_eq!(v["email"], "alice@example.com");

    cases.case("include: the official authCreatePosts set creates posts");
    let set = Session::new(pds, &a.did, "atproto include:app.bsky.authCreatePosts");
    pds.send(&set.sign(
        pds,
        Call::post(CREATE, &create_post(&a.did, "via a permission set")),
    ))
    .await
    .ok();
    pds.send(&set.sign(pds, Call::post("com.atproto.repo.deleteRecord", &del)))
        .await
        .err(403, "ScopeMissingError");
}
