//! The PDS as an OAuth authorization server, over HTTP: the metadata documents, pushed
//! authorization requests, the authorization pages and the token endpoint, with the refusals
//! the atproto profile requires. The official client's end-to-end run is in
//! `tests/interop/oauth.test.mjs`.

mod common;

use common::*;

#[tokio::test]
async fn metadata_documents() {
    let cases = Cases::new("pds_oauth metadata");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let issuer = format!("http://localhost:{}", pds.port);
    let http = hearth_testkit::http::client();

    cases.case("oauth-protected-resource names the PDS and its issuer");
    let res = http
        .get(format!("{}/.well-known/oauth-protected-resource", pds.url))
        .send()
        .await
        .expect("get");
    let doc: serde_json::Value = res.json().await.expect("json");
    assert_eq!(doc["resource"], issuer.as_str());
    assert_eq!(doc["authorization_servers"], serde_json::json!([issuer]));

    cases.case("oauth-authorization-server passes the atproto checks");
    let res = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            pds.url
        ))
        .send()
        .await
        .expect("get");
    let doc: hearth_oauth::metadata::AuthorizationServerMetadata =
        res.json().await.expect("metadata");
    assert_eq!(doc.check_atproto(&issuer), Ok(()));
    assert_eq!(
        doc.pushed_authorization_request_endpoint,
        format!("{issuer}/oauth/par")
    );
    assert_eq!(
        doc.token_endpoint_auth_methods_supported,
        ["none", "private_key_jwt"]
    );
}

use atproto::crypto::{Algorithm, Keypair};
use hearth_oauth::dpop;
use serde_json::Value;

const REDIRECT: &str = "http://127.0.0.1/callback";
const VERIFIER: &str = "a-verifier-of-forty-three-or-more-characters-long";

/// A loopback OAuth client driving the PDS by hand: its DPoP key, the nonce it last saw.
struct Client {
    http: reqwest::Client,
    issuer: String,
    key: Keypair,
    nonce: Option<String>,
    client_id: String,
}

struct Answer {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Client {
    fn new(issuer: &str) -> Client {
        let redirect: String = form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect();
        Client {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            issuer: issuer.to_owned(),
            key: Keypair::generate(Algorithm::P256),
            nonce: None,
            client_id: format!(
                "http://localhost?redirect_uri={redirect}&scope=atproto%20transition%3Ageneric"
            ),
        }
    }

    fn proof(&self, key: &Keypair, path: &str, nonce: Option<&str>) -> String {
        dpop::sign(
            key,
            &dpop::ProofRequest {
                htm: "POST",
                htu: &format!("{}{path}", self.issuer),
                now: hearth_pds::clock::now_secs(),
                nonce,
                access_token: None,
            },
        )
    }

    /// Posts one of the server's own page forms as the browser would: from the issuer's origin,
    /// with the CSRF cookie and field (`t`) the pages check.
    async fn page_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = vec![("csrf", "t")];
        fields.extend_from_slice(form);
        self.http
            .post(format!("{}{path}", self.issuer))
            .header("Cookie", "hearth-oauth-csrf=t")
            .header("Origin", &self.issuer)
            .form(&fields)
            .send()
            .await
            .expect("post")
    }

    /// Posts a form with `proof` (or a fresh one); remembers the server's nonce.
    async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        proof: Option<String>,
    ) -> Answer {
        let proof = proof.unwrap_or_else(|| self.proof(&self.key, path, self.nonce.as_deref()));
        let res = self
            .http
            .post(format!("{}{path}", self.issuer))
            .header("DPoP", proof)
            .form(form)
            .send()
            .await
            .expect("post");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            self.nonce = Some(n.to_owned());
        }
        let body = res.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }

    /// Posts, retrying once when told to use a nonce (as clients do).
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let a = self.post_with(path, form, None).await;
        if a.status == 400 && a.body["error"] == "use_dpop_nonce" {
            return self.post_with(path, form, None).await;
        }
        a
    }

    async fn par(&mut self, challenge: &str) -> Answer {
        let client_id = self.client_id.clone();
        self.post(
            "/oauth/par",
            &[
                ("client_id", &client_id),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "atproto transition:generic"),
                ("state", "st-1"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", "alice.test"),
            ],
        )
        .await
    }

    /// PAR, then the pages as a browser: sign in, accept. Returns the redirect's query.
    async fn authorize(&mut self) -> Vec<(String, String)> {
        let par = self
            .par(&hearth_oauth::pkce::s256_challenge(VERIFIER))
            .await;
        assert_eq!(par.status, 201, "PAR: {}", par.body);
        let request_uri = par.body["request_uri"]
            .as_str()
            .expect("request_uri")
            .to_owned();
        let page = self
            .http
            .get(format!("{}/oauth/authorize", self.issuer))
            .query(&[
                ("client_id", &self.client_id),
                ("request_uri", &request_uri),
            ])
            .send()
            .await
            .expect("authorize page");
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["cache-control"], "no-store");
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap_or("")
                .contains("default-src 'self'")
        );
        let csrf_cookie = page.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .to_owned();
        let csrf = csrf_cookie
            .split(';')
            .next()
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v.to_owned())
            .expect("csrf");
        let html = page.text().await.expect("html");
        assert!(
            html.contains("value=\"alice.test\""),
            "login_hint prefilled"
        );
        let signed_in = self
            .http
            .post(format!("{}/oauth/authorize/sign-in", self.issuer))
            .header("Cookie", format!("hearth-oauth-csrf={csrf}"))
            .header("Origin", &self.issuer)
            .form(&[
                ("csrf", csrf.as_str()),
                ("client_id", &self.client_id),
                ("request_uri", &request_uri),
                ("identifier", "alice.test"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .expect("sign in");
        assert_eq!(signed_in.status(), 200);
        let device = signed_in.headers()["set-cookie"]
            .to_str()
            .expect("device")
            .to_owned();
        let device = device.split(';').next().expect("device cookie").to_owned();
        let consent = signed_in.text().await.expect("consent");
        assert!(consent.contains(">Accept</button>"), "{consent}");
        let did = consent
            .split("name=\"account\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("account field")
            .to_owned();
        let accepted = self
            .http
            .post(format!("{}/oauth/authorize/consent", self.issuer))
            .header("Cookie", format!("hearth-oauth-csrf={csrf}; {device}"))
            .header("Origin", &self.issuer)
            .form(&[
                ("csrf", csrf.as_str()),
                ("client_id", &self.client_id),
                ("request_uri", &request_uri),
                ("account", &did),
                ("decision", "accept"),
            ])
            .send()
            .await
            .expect("consent");
        assert_eq!(accepted.status(), 303);
        let location = accepted.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
        let url = reqwest::Url::parse(&location).expect("redirect URL");
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    async fn exchange(&mut self, code: &str, verifier: &str) -> Answer {
        let client_id = self.client_id.clone();
        self.post(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    async fn refresh(&mut self, token: &str) -> Answer {
        let client_id = self.client_id.clone();
        self.post(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client_id),
                ("refresh_token", token),
            ],
        )
        .await
    }
}

fn param<'a>(q: &'a [(String, String)], k: &str) -> &'a str {
    q.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

async fn grants(pds: &Pds) -> i64 {
    pds.state()
        .db
        .readers
        .read(|c| {
            c.query_row("SELECT COUNT(*) FROM oauth_grant", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(hearth_pds::db::DbError::from)
        })
        .await
        .expect("count grants")
}

#[tokio::test]
async fn authorization_code_flow_and_its_refusals() {
    let cases = Cases::new("pds_oauth flow");
    let w = World::new(Options::default());
    let pds = &w.pds;
    pds.create_account("alice").await;
    let issuer = format!("http://localhost:{}", pds.port);
    let mut c = Client::new(&issuer);

    cases.case("PAR without a nonce: use_dpop_nonce with a DPoP-Nonce header");
    let first = c.post_with("/oauth/par", &[("client_id", "x")], None).await;
    assert_eq!(
        (first.status, first.body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    assert!(first.headers.contains_key("dpop-nonce"));

    cases.case("PAR refusals: plain PKCE, no DPoP, a foreign redirect");
    let client_id = c.client_id.clone();
    let plain = c
        .post(
            "/oauth/par",
            &[
                ("client_id", &client_id),
                ("response_type", "code"),
                ("code_challenge", VERIFIER),
                ("code_challenge_method", "plain"),
            ],
        )
        .await;
    assert_eq!(plain.body["error"], "invalid_request", "{}", plain.body);
    let no_dpop = c
        .http
        .post(format!("{issuer}/oauth/par"))
        .form(&[("client_id", client_id.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(no_dpop.status(), 400);
    let body: Value = no_dpop.json().await.expect("json");
    assert_eq!(body["error"], "invalid_dpop_proof");

    cases.case("sign in and accept: the redirect carries code, state and iss");
    let q = c.authorize().await;
    assert_eq!(param(&q, "state"), "st-1");
    assert_eq!(param(&q, "iss"), issuer);
    let code = param(&q, "code").to_owned();
    assert!(!code.is_empty());

    cases.case("a wrong PKCE verifier is refused and changes nothing");
    let wrong = c.exchange(&code, &"w".repeat(50)).await;
    assert_eq!(
        (wrong.status, wrong.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(grants(pds).await, 0);

    cases.case("a proof by another key than PAR's is refused");
    let other = Keypair::generate(Algorithm::P256);
    let proof = c.proof(&other, "/oauth/token", c.nonce.as_deref());
    let foreign = c
        .post_with(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            Some(proof.clone()),
        )
        .await;
    assert_eq!(
        foreign.body["error"], "invalid_dpop_proof",
        "{}",
        foreign.body
    );

    cases.case("a replayed proof is refused");
    let replayed = c
        .post_with(
            "/oauth/token",
            &[("grant_type", "refresh_token"), ("client_id", &client_id)],
            Some(proof),
        )
        .await;
    assert_eq!(
        replayed.body["error"], "invalid_dpop_proof",
        "{}",
        replayed.body
    );

    cases.case("the code exchange returns DPoP-bound tokens");
    let t = c.exchange(&code, VERIFIER).await;
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.body["token_type"], "DPoP");
    assert_eq!(t.body["scope"], "atproto transition:generic");
    assert!(
        t.body["sub"]
            .as_str()
            .is_some_and(|s| s.starts_with("did:plc:"))
    );
    assert_eq!(t.headers["cache-control"], "no-store");
    assert_eq!(grants(pds).await, 1);
    let refresh = t.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    cases.case("refresh rotates the refresh token");
    let r = c.refresh(&refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let next = r.body["refresh_token"].as_str().expect("next").to_owned();
    assert_ne!(next, refresh);

    cases.case("reusing a spent refresh token revokes the whole grant");
    let reuse = c.refresh(&refresh).await;
    assert_eq!(reuse.body["error"], "invalid_grant");
    assert_eq!(grants(pds).await, 0);
    let after = c.refresh(&next).await;
    assert_eq!(
        after.body["error"], "invalid_grant",
        "the successor died with the grant"
    );

    cases.case("a reused code revokes the grant it gave");
    let q = c.authorize().await;
    let code = param(&q, "code").to_owned();
    assert_eq!(c.exchange(&code, VERIFIER).await.status, 200);
    assert_eq!(grants(pds).await, 1);
    let again = c.exchange(&code, VERIFIER).await;
    assert_eq!(again.body["error"], "invalid_grant");
    assert_eq!(grants(pds).await, 0);

    cases.case("revocation ends the grant");
    let q = c.authorize().await;
    let t = c.exchange(param(&q, "code"), VERIFIER).await;
    assert_eq!(grants(pds).await, 1);
    let res = c
        .http
        .post(format!("{issuer}/oauth/revoke"))
        .form(&[("token", t.body["refresh_token"].as_str().unwrap_or(""))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 200);
    assert_eq!(grants(pds).await, 0);
}

#[tokio::test]
async fn authorization_pages_refuse_forged_posts() {
    let cases = Cases::new("pds_oauth pages");
    let w = World::new(Options::default());
    let pds = &w.pds;
    pds.create_account("alice").await;
    let issuer = format!("http://localhost:{}", pds.port);
    let mut c = Client::new(&issuer);
    let par = c.par(&hearth_oauth::pkce::s256_challenge(VERIFIER)).await;
    let request_uri = par.body["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned();
    let post = |origin: &str, cookie: &str, csrf: &str| {
        c.http
            .post(format!("{issuer}/oauth/authorize/sign-in"))
            .header("Cookie", format!("hearth-oauth-csrf={cookie}"))
            .header("Origin", origin)
            .form(&[
                ("csrf", csrf),
                ("client_id", c.client_id.as_str()),
                ("request_uri", request_uri.as_str()),
                ("identifier", "alice.test"),
                ("password", PASSWORD),
            ])
            .send()
    };
    cases.case("another origin is refused");
    assert_eq!(
        post("https://evil.example", "t", "t")
            .await
            .expect("post")
            .status(),
        403
    );
    cases.case("a CSRF field that differs from the cookie is refused");
    assert_eq!(post(&issuer, "t", "u").await.expect("post").status(), 403);
    cases.case("a wrong password is answered on the page, 401");
    let res = c
        .page_form(
            "/oauth/authorize/sign-in",
            &[
                ("client_id", c.client_id.as_str()),
                ("request_uri", request_uri.as_str()),
                ("identifier", "alice.test"),
                ("password", "not-the-password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 401);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("role=\"alert\"")
    );
    cases.case("an unknown request_uri gets an error page");
    let res = c
        .http
        .get(format!("{issuer}/oauth/authorize"))
        .query(&[
            ("client_id", c.client_id.as_str()),
            ("request_uri", "urn:ietf:params:oauth:request_uri:req-nope"),
        ])
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 400);
    assert_eq!(grants(pds).await, 0);
}

#[tokio::test]
async fn authorized_apps_page_and_account_changes_end_grants() {
    let cases = Cases::new("pds_oauth apps");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let alice = pds.create_account("alice").await;
    let issuer = format!("http://localhost:{}", pds.port);
    let mut c = Client::new(&issuer);
    let q = c.authorize().await;
    assert_eq!(c.exchange(param(&q, "code"), VERIFIER).await.status, 200);

    cases.case("the apps page signs in with the password and lists the grant");
    let cookie = "hearth-oauth-csrf=t";
    let res = c
        .page_form(
            "/account/apps/sign-in",
            &[("identifier", "alice.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let device = res.headers()["set-cookie"]
        .to_str()
        .expect("device")
        .to_owned();
    let device = device.split(';').next().expect("device cookie").to_owned();
    let html = res.text().await.expect("html");
    assert!(
        html.contains("127.0.0.1") || html.contains("localhost"),
        "{html}"
    );
    let grant = html
        .split("name=\"grant\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a grant with Revoke")
        .to_owned();

    cases.case("Revoke ends the grant");
    let res = c
        .http
        .post(format!("{issuer}/account/apps/revoke"))
        .header("Cookie", format!("{cookie}; {device}"))
        .header("Origin", &issuer)
        .form(&[
            ("csrf", "t"),
            ("account", alice.did.as_str()),
            ("grant", grant.as_str()),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 303);
    assert_eq!(grants(pds).await, 0);

    cases.case("deactivation ends every grant");
    let q = c.authorize().await;
    assert_eq!(c.exchange(param(&q, "code"), VERIFIER).await.status, 200);
    assert_eq!(grants(pds).await, 1);
    pds.post(
        "com.atproto.server.deactivateAccount",
        Some(&alice.access),
        &serde_json::json!({}),
    )
    .await
    .ok();
    assert_eq!(grants(pds).await, 0);
}

/// Password guessing on the authorization and apps pages is limited by address and by account
/// (30 tries in 5 minutes each, `limits::LOGIN`): the 31st try is refused before the password
/// is looked at, even with the right one, and the other page shares the account's count.
#[tokio::test]
async fn sign_in_pages_limit_password_guessing() {
    let cases = Cases::new("pds_oauth sign-in limits");
    let w = World::new(Options {
        rate_limits: true,
        ..Options::default()
    });
    let pds = &w.pds;
    pds.create_account("alice").await;
    let issuer = format!("http://localhost:{}", pds.port);
    let mut c = Client::new(&issuer);
    let par = c.par(&hearth_oauth::pkce::s256_challenge(VERIFIER)).await;
    let request_uri = par.body["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned();
    let authorize = |password: &'static str| {
        let (c, request_uri) = (&c, &request_uri);
        async move {
            c.page_form(
                "/oauth/authorize/sign-in",
                &[
                    ("client_id", c.client_id.as_str()),
                    ("request_uri", request_uri.as_str()),
                    ("identifier", "alice.test"),
                    ("password", password),
                ],
            )
            .await
        }
    };
    cases.case("wrong passwords are answered 401 until the limit");
    for _ in 0..30 {
        assert_eq!(authorize("wrong").await.status(), 401);
    }
    cases.case("then even the right password is refused, 429, on the page");
    let res = authorize(PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("Too many attempts")
    );
    cases.case("the apps page shares the limit");
    let res = c
        .page_form(
            "/account/apps/sign-in",
            &[("identifier", "alice.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert_eq!(grants(pds).await, 0);
}

/// Pushed authorization requests are limited per address (`limits::OAUTH_PAR`, 300 in 5
/// minutes), counted before anything is parsed or fetched: past it, even a good request is
/// answered 429.
#[tokio::test]
async fn pushed_requests_are_limited_per_address() {
    let cases = Cases::new("pds_oauth par limit");
    let w = World::new(Options {
        rate_limits: true,
        ..Options::default()
    });
    let pds = &w.pds;
    let issuer = format!("http://localhost:{}", pds.port);
    let mut c = Client::new(&issuer);
    cases.case("a good request is accepted");
    let first = c.par(&hearth_oauth::pkce::s256_challenge(VERIFIER)).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    cases.case("junk requests count too");
    let mut statuses = std::collections::BTreeSet::new();
    for _ in 0..320 {
        let res = c
            .http
            .post(format!("{issuer}/oauth/par"))
            .form(&[("client_id", "junk")])
            .send()
            .await
            .expect("post");
        statuses.insert(res.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    cases.case("past the limit a good request is refused, 429");
    let refused = c.par(&hearth_oauth::pkce::s256_challenge(VERIFIER)).await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "invalid_request");
}
