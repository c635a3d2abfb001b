//! Harness for the spaces tests: a real PLC directory in-process (`hearth_testkit::TestPlc`), real did:plc
//! identities with their own keys, the spaces routes served on a port-0 listener as the AppView
//! mounts them (with a service-auth verifier that resolves callers on that PLC), and a client that
//! mints a service-auth token per call (exactly what a member's PDS does when it proxies) and
//! validates every successful response against the method's lexicon.
#![allow(dead_code)]

use atproto::crypto::{Algorithm, Keypair};
use atproto::identity::{DidResolver, DidResolverConfig};
use hearth_spaces::{Spaces, SpacesConfig};
// Not every suite starts its own directory.
#[allow(unused_imports)]
pub use hearth_testkit::smtp::{Smtp, files_under, link_in, start_smtp};
#[allow(unused_imports)]
pub use hearth_testkit::{Cases, PlcIdentity, TestPlc};
use hearth_xrpc::PublicHost;
use hearth_xrpc::auth::{Audience, REPLAY_SCHEMA, ReplayCache, ServiceAuth};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// An account: a did:plc registered with the PLC directory, and its signing key.
pub struct Actor {
    pub name: &'static str,
    pub did: String,
    pub key: Keypair,
}

pub async fn actor(plc: &str, name: &'static str) -> Actor {
    let id = PlcIdentity::register(plc, &format!("{name}.test"), "http://localhost:1", &[]).await;
    Actor {
        name,
        did: id.did,
        key: id.key,
    }
}

/// The spaces service under test, serving on its own port.
pub struct Appview {
    pub spaces: Spaces,
    pub url: String,
    pub did: String,
    /// Where the spaces database and images are.
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

/// Every social.hearth token is addressed to the AppView's `#hearth_appview`.
fn audience(_nsid: &str) -> Audience {
    Audience::Service(&[hearth_lexicons::SERVICE_ID])
}

pub async fn start_appview(plc: &str, smtp: Option<String>) -> Appview {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("appview");
    std::fs::create_dir_all(&dir).expect("dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind appview");
    let host = PublicHost {
        hostname: "localhost",
        port: listener.local_addr().expect("addr").port(),
    };
    let spaces = Spaces::open(SpacesConfig {
        dir: dir.clone(),
        authority: host.did_web(),
        public_url: host.url(),
        smtp_url: smtp,
        smtp_from: Some("Hearth Test <hearth@localhost>".into()),
        limits: Default::default(),
        images_bucket: None,
    })
    .expect("spaces");
    hearth_spaces::start(&spaces).expect("email");
    let dids = DidResolver::new(DidResolverConfig {
        plc_url: plc.to_owned(),
        insecure_did_web: true,
        ..DidResolverConfig::default()
    })
    .expect("resolver");
    let used: hearth_db::Db<()> =
        hearth_db::Db::open(&dir.join("tokens.sqlite"), &[REPLAY_SCHEMA], 1, |_| Ok(()))
            .expect("token db");
    let auth = ServiceAuth::new(
        host.did_web(),
        Arc::new(dids),
        audience,
        ReplayCache::load(&used).expect("replay cache"),
    );
    let app = hearth_spaces::router(spaces.clone(), auth);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Appview {
        did: host.did_web(),
        url: host.url(),
        spaces,
        dir,
        _tmp: tmp,
    }
}

/// How to authenticate a call (the default is what a PDS does).
#[derive(Clone, Copy, Debug)]
pub enum Auth<'a> {
    /// aud = the AppView DID with `#hearth_appview`, lxm = the method, 60 s.
    Good,
    /// aud = the bare AppView DID (the reference PDS's form).
    BareAud,
    WrongAud,
    WrongLxm,
    Expired,
    /// Valid for two hours: longer than any PDS mints for a call.
    LongLived,
    /// Signed by a key that is not the caller's.
    WrongKey,
    /// This exact token (to replay it).
    Token(&'a str),
}

/// A call's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub raw: Vec<u8>,
    pub content_type: Option<String>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect_ok(self, what: &str) -> Value {
        assert!(
            self.status.is_success(),
            "{what}: {} {}",
            self.status,
            self.body
        );
        self.body
    }
}

pub struct Client {
    pub http: reqwest::Client,
    pub appview: String,
    pub aud: String,
}

pub fn mint(actor: &Actor, aud: &str, lxm: &str, auth: Auth<'_>) -> String {
    let now = atproto_now();
    match auth {
        Auth::Good => atproto::auth::mint(
            &actor.key,
            &actor.did,
            &format!("{aud}#hearth_appview"),
            Some(lxm),
            now,
            60,
        ),
        Auth::BareAud => atproto::auth::mint(&actor.key, &actor.did, aud, Some(lxm), now, 60),
        Auth::WrongAud => atproto::auth::mint(
            &actor.key,
            &actor.did,
            "did:web:elsewhere.example#hearth_appview",
            Some(lxm),
            now,
            60,
        ),
        Auth::WrongLxm => atproto::auth::mint(
            &actor.key,
            &actor.did,
            aud,
            Some("social.hearth.space.listMine"),
            now,
            60,
        ),
        Auth::Expired => atproto::auth::mint(&actor.key, &actor.did, aud, Some(lxm), now - 400, 60),
        Auth::LongLived => {
            atproto::auth::mint(&actor.key, &actor.did, aud, Some(lxm), now, 2 * 3600)
        }
        Auth::WrongKey => atproto::auth::mint(
            &Keypair::generate(Algorithm::K256),
            &actor.did,
            aud,
            Some(lxm),
            now,
            60,
        ),
        Auth::Token(t) => t.to_owned(),
    }
}

pub fn atproto_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Checks a successful JSON answer against the method's lexicon output.
#[track_caller]
pub fn validate_output(nsid: &str, body: &Value) {
    let data = atproto::data::json::from_json(body).expect("output is atproto data");
    if let Err(e) = hearth_lexicons::catalog().validate_output(nsid, &data) {
        panic!("{nsid} output does not match its lexicon: {e}\n{body}");
    }
}

impl Client {
    pub fn new(app: &Appview) -> Client {
        Client {
            http: reqwest::Client::new(),
            appview: app.url.clone(),
            aud: app.did.clone(),
        }
    }

    /// Calls a query (GET with `params`) or a procedure (POST with a JSON `body`).
    pub async fn call(&self, who: &Actor, nsid: &str, input: Input<'_>, auth: Auth<'_>) -> Answer {
        let token = mint(who, &self.aud, &format!("social.hearth.{nsid}"), auth);
        self.call_token(&token, nsid, input).await
    }

    pub async fn call_token(&self, token: &str, nsid: &str, input: Input<'_>) -> Answer {
        let full = format!("social.hearth.{nsid}");
        let url = format!("{}/xrpc/{full}", self.appview);
        let req = match input {
            Input::Query(params) => self.http.get(&url).query(params),
            Input::Json(body) => self.http.post(&url).json(&body),
            Input::Bytes(space, bytes) => self
                .http
                .post(&url)
                .query(&[("space", space)])
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec()),
        };
        let res = req.bearer_auth(token).send().await.expect("request");
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = res.bytes().await.expect("body").to_vec();
        let is_json = content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json"));
        let body = if is_json {
            serde_json::from_slice(&raw).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        if is_json {
            if status.is_success() {
                validate_output(&full, &body);
            } else {
                assert!(
                    body["error"].is_string() && body["message"].is_string(),
                    "{full}: every error is {{error, message}}: {body}"
                );
            }
        }
        Answer {
            status,
            body,
            raw,
            content_type,
        }
    }

    pub async fn get(&self, who: &Actor, nsid: &str, params: &[(&str, &str)]) -> Answer {
        self.call(who, nsid, Input::Query(params), Auth::Good).await
    }

    pub async fn post(&self, who: &Actor, nsid: &str, body: Value) -> Answer {
        self.call(who, nsid, Input::Json(&body), Auth::Good).await
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    Query(&'a [(&'a str, &'a str)]),
    Json(&'a Value),
    Bytes(&'a str, &'a [u8]),
}

impl<'a> Input<'a> {
    pub fn json(v: &'a Value) -> Input<'a> {
        Input::Json(v)
    }
}

pub use hearth_testkit::png;

/// A 1x1 PNG that differs from [`png`] (another CID): a trailing byte after IEND.
pub fn png2(tag: u8) -> Vec<u8> {
    let mut p = png();
    p.push(tag);
    p
}

/// The blob-ref JSON an upload returned, as a post's image input.
pub fn image_input(upload: &Value, alt: &str) -> Value {
    json!({ "image": upload["image"], "alt": alt })
}
