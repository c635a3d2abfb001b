//! An in-process web app over a real spaces service (in a temporary directory), driven
//! request by request through its router, with helpers for sessions, forms and the fixture
//! space the tests share.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use hearth_spaces::ops::members::CreateInvite;
use hearth_spaces::ops::posts::CreatePost;
use hearth_spaces::ops::spaces::CreateSpace;
use hearth_spaces::profiles::{Profile, ProfileLookup, Profiles};
use hearth_spaces::{Spaces, SpacesConfig};
use hearth_web::{Deps, Web, WebConfig};
use std::sync::Arc;
use tower::ServiceExt;

pub const ORIGIN: &str = "http://127.0.0.1:2584";
pub const OWNER: &str = "did:plc:owner";
pub const ANA: &str = "did:plc:ana";
pub const OUTSIDER: &str = "did:plc:outsider";

pub struct App {
    pub web: Web,
    pub spaces: Spaces,
    pub router: Router,
    _tmp: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the cookie `name` this answer sets.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Profiles as the AppView's index would give them: `did:plc:NAME` is `@NAME.test`, except
/// `did:plc:outsider`, whom the index does not know.
struct TestProfiles;

impl ProfileLookup for TestProfiles {
    fn profiles(&self, dids: Vec<String>) -> Profiles<'_> {
        Box::pin(async move {
            dids.into_iter()
                .filter(|d| d != OUTSIDER)
                .filter_map(|d| {
                    let name = d.strip_prefix("did:plc:")?.to_owned();
                    Some((
                        d,
                        Profile {
                            handle: Some(format!("{name}.test")),
                            ..Default::default()
                        },
                    ))
                })
                .collect()
        })
    }
}

/// A web app in development mode at [`ORIGIN`] (`localhost` in its public URL), with `remote`
/// allowed to reach loopback.
pub async fn app() -> App {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("appview");
    std::fs::create_dir_all(&dir).expect("dir");
    let spaces = Spaces::open(SpacesConfig {
        dir: dir.clone(),
        authority: "did:web:localhost%3A2584".into(),
        public_url: "http://localhost:2584".into(),
        smtp_url: None,
        smtp_from: None,
        limits: Default::default(),
        images_bucket: None,
    })
    .expect("spaces");
    spaces.set_profile_lookup(Arc::new(TestProfiles));
    let net = hearth_net::Config::new(true, "hearth-web-test");
    let remote = hearth_net::RemoteClient::new(&net).expect("remote");
    let (dids, handles) = hearth_net::identity_resolvers(
        "http://127.0.0.1:9",
        true,
        &remote,
        &reqwest::Client::new(),
    )
    .expect("resolvers");
    let web = Web::open(
        WebConfig {
            dir,
            public_url: "http://localhost:2584".into(),
            dev: true,
        },
        Deps {
            spaces: spaces.clone(),
            dids: Arc::new(dids),
            handles: Arc::new(handles),
            remote,
        },
    )
    .expect("web");
    App {
        router: hearth_web::router(web.clone()),
        web,
        spaces,
        _tmp: tmp,
    }
}

impl App {
    pub async fn send(&self, req: Request<Body>) -> Answer {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body")
            .to_vec();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    /// `GET path` from 127.0.0.1, with `cookie` (`name=value; ...`) if any.
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut req = Request::get(path).header(header::HOST, "127.0.0.1:2584");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    /// A form POST from `origin` (None: no Origin header) with `cookie`.
    pub async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        origin: Option<&str>,
        form: &[(&str, &str)],
    ) -> Answer {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            body.append_pair(k, v);
        }
        let mut req = Request::post(path)
            .header(header::HOST, "127.0.0.1:2584")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        self.send(req.body(Body::from(body.finish())).expect("request"))
            .await
    }

    /// A multipart POST (the composer) from [`ORIGIN`]: text fields, and an optional file.
    pub async fn post_multipart(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> Answer {
        self.post_multipart_files(path, cookie, fields, file.as_slice())
            .await
    }

    /// [`App::post_multipart`] with any number of files.
    pub async fn post_multipart_files(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
    ) -> Answer {
        let boundary = "XhearthBoundaryX";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::post(path)
            .header(header::HOST, "127.0.0.1:2584")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    /// A signed-in session for `did`: the `Cookie` header value and the CSRF token.
    pub async fn sign_in(&self, did: &str, handle: &str) -> (String, String) {
        let created = self
            .web
            .sessions
            .create(did, handle)
            .await
            .expect("session");
        let v = created.set_cookie.to_str().expect("ascii").to_owned();
        let pair = v.split(';').next().expect("pair").to_owned();
        (pair, created.session.csrf)
    }
}

/// The fixture: a space (owner OWNER, member ANA) with its default channels.
pub struct Fixture {
    pub space: String,
    pub skey: String,
    pub channels: Vec<(String, String)>,
    pub token: String,
}

impl Fixture {
    pub fn channel(&self, kind: &str) -> &str {
        self.channels
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, u)| u.as_str())
            .expect("channel")
    }

    /// The web path of a channel.
    pub fn channel_path(&self, kind: &str) -> String {
        let rkey = self.channel(kind).rsplit('/').next().expect("rkey");
        format!("/s/{}/c/{rkey}", self.skey)
    }
}

pub async fn fixture(app: &App) -> Fixture {
    let s = &app.spaces;
    let created = s
        .create_space(
            OWNER,
            CreateSpace {
                name: "Riverside Tenants".into(),
                description: Some("Tenants of 12 River St".into()),
                join_policy: "invite".into(),
                listed: None,
                join_question: None,
                default_channels: None,
            },
        )
        .await
        .expect("create");
    let space = created.space.uri.clone();
    let skey = space.rsplit('/').next().expect("skey").to_owned();
    let inv = s
        .create_invite(
            OWNER,
            CreateInvite {
                space: space.clone(),
                role: None,
                max_uses: None,
                expires_in_hours: None,
                invitee: None,
            },
        )
        .await
        .expect("invite");
    s.accept_invite(ANA, &inv.token).await.expect("ana joins");
    Fixture {
        channels: created
            .channels
            .iter()
            .map(|c| (c.kind.clone(), c.uri.clone()))
            .collect(),
        space,
        skey,
        token: inv.token,
    }
}

/// Posts `text` as `did` (a new thread in `channel`, or a reply to `reply_to`); its URI.
pub async fn post(
    app: &App,
    did: &str,
    channel: Option<&str>,
    reply_to: Option<&str>,
    text: &str,
) -> String {
    app.spaces
        .create_post(
            did,
            CreatePost {
                channel: channel.map(str::to_owned),
                text: text.to_owned(),
                facets: None,
                images: None,
                reply_to: reply_to.map(str::to_owned),
            },
        )
        .await
        .expect("post")
        .post
        .uri
}

/// The web path of a post URI.
pub fn post_path(skey: &str, uri: &str) -> String {
    let mut parts = uri.rsplit('/');
    let rkey = parts.next().expect("rkey");
    let _collection = parts.next();
    let author = parts.next().expect("author");
    format!("/s/{skey}/p/{author}/{rkey}")
}
