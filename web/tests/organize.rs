//! The organizer and moderation pages in process (the web router over a real spaces service,
//! signed-in sessions made directly): starting an Organization and a Coalition, invite links
//! and their QR code (decoded), members and roles, join requests, the audit log, the export,
//! reports and the moderation queue, and the notification settings. A member who is not an
//! admin gets nothing of the admin pages; a form without its CSRF token, or from another
//! origin, changes nothing; pages escape what members wrote and stay under 60 KB.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hearth_spaces::ops::posts::CreatePost;
use hearth_spaces::{Spaces, SpacesConfig};
use hearth_testkit::{Cases, PlcIdentity, TestPlc};
use hearth_web::{Deps, Web, WebConfig};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const PUBLIC_URL: &str = "http://localhost:2584";
const ORIGIN: &str = "http://127.0.0.1:2584";
/// The page-weight bar (HTML; the stylesheet and script are C's, counted by the
/// journeys).
const MAX_PAGE_BYTES: usize = 60 * 1024;

struct App {
    web: Web,
    router: Router,
    _tmp: tempfile::TempDir,
}

/// A signed-in browser: its session cookie and its forms' token.
struct Browser {
    did: String,
    cookie: String,
    csrf: String,
}

struct Page {
    status: StatusCode,
    location: String,
    content_type: String,
    body: String,
}

async fn start(plc: &str, leader: Option<(&str, &str)>) -> App {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("appview");
    std::fs::create_dir_all(&dir).expect("dir");
    let spaces = Spaces::open(SpacesConfig {
        dir: dir.clone(),
        authority: "did:web:localhost%3A2584".into(),
        public_url: PUBLIC_URL.into(),
        smtp_url: None,
        smtp_from: None,
        limits: Default::default(),
        images_bucket: None,
    })
    .expect("spaces");
    let dids = atproto::identity::DidResolver::new(atproto::identity::DidResolverConfig {
        plc_url: plc.to_owned(),
        insecure_did_web: true,
        ..Default::default()
    })
    .expect("did resolver");
    let mut handles = atproto::identity::HandleResolver::new(Duration::from_secs(5))
        .expect("handle resolver")
        .without_dns();
    if let Some((handle, did)) = leader {
        handles = handles.with_static_did(handle, did.parse().expect("did"));
    }
    let remote =
        hearth_net::RemoteClient::new(&hearth_net::Config::new(true, "test")).expect("client");
    let web = Web::open(
        WebConfig {
            dir,
            public_url: PUBLIC_URL.into(),
            dev: true,
        },
        Deps {
            spaces,
            dids: Arc::new(dids),
            handles: Arc::new(handles),
            remote,
        },
    )
    .expect("web");
    App {
        router: hearth_web::router(web.clone()),
        web,
        _tmp: tmp,
    }
}

async fn sign_in(app: &App, did: &str, handle: &str) -> Browser {
    let created = app.web.sessions.create(did, handle).await.expect("session");
    let cookie = created
        .set_cookie
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    Browser {
        did: did.to_owned(),
        cookie,
        csrf: created.session.csrf,
    }
}

async fn send(app: &App, req: Request<Body>) -> Page {
    let res = app.router.clone().oneshot(req).await.expect("answer");
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .expect("body");
    Page {
        status,
        location,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &App, who: &Browser, path: &str) -> Page {
    let req = Request::get(path)
        .header(header::COOKIE, &who.cookie)
        .body(Body::empty())
        .expect("request");
    let page = send(app, req).await;
    if page.status == StatusCode::OK && page.content_type.starts_with("text/html") {
        assert!(
            page.body.len() <= MAX_PAGE_BYTES,
            "{path}: {} bytes",
            page.body.len()
        );
    }
    page
}

/// Posts a form as the browser would from one of our pages (`csrf` added unless `None`).
async fn post_form(
    app: &App,
    who: &Browser,
    path: &str,
    fields: &[(&str, &str)],
    csrf: Option<&str>,
    origin: &str,
) -> Page {
    let mut body = form_urlencoded::Serializer::new(String::new());
    if let Some(t) = csrf {
        body.append_pair("csrf", t);
    }
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    let req = Request::post(path)
        .header(header::COOKIE, &who.cookie)
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.finish()))
        .expect("request");
    send(app, req).await
}

async fn post(app: &App, who: &Browser, path: &str, fields: &[(&str, &str)]) -> Page {
    let page = post_form(app, who, path, fields, Some(&who.csrf), ORIGIN).await;
    assert!(
        page.status == StatusCode::SEE_OTHER
            || page.status == StatusCode::FOUND
            || page.status == StatusCode::OK,
        "{path}: {} {}",
        page.status,
        page.body
    );
    page
}

fn skey_of(location: &str) -> String {
    location
        .strip_prefix("/s/")
        .expect("a space path")
        .split('/')
        .next()
        .expect("skey")
        .to_owned()
}

/// The value of the first `<input … value="…">` after `marker`.
fn input_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let rest = &html[html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in page"))..];
    let v = &rest[rest.find("value=\"").expect("value") + 7..];
    &v[..v.find('"').expect("end")]
}

/// Decodes the page's inline QR code (its `M{x} {y}h1…` squares painted onto a grey image).
fn decode_qr(html: &str) -> String {
    let svg = &html[html.find("<svg").expect("an inline svg")..];
    let svg = &svg[..svg.find("</svg>").expect("svg end")];
    let vb = svg.split("viewBox=\"0 0 ").nth(1).expect("viewBox");
    let w: usize = vb
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("width");
    let scale = 4;
    let side = w * scale;
    let mut px = vec![255u8; side * side];
    let d = svg
        .split(" d=\"")
        .nth(1)
        .and_then(|d| d.split('"').next())
        .expect("path");
    for square in d.split('M').filter(|s| !s.is_empty()) {
        let (x, rest) = square.split_once(' ').expect("x");
        let y = rest.split('h').next().expect("y");
        let (x, y): (usize, usize) = (x.parse().expect("x"), y.parse().expect("y"));
        for dy in 0..scale {
            for dx in 0..scale {
                px[(y * scale + dy) * side + x * scale + dx] = 0;
            }
        }
    }
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| px[y * side + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("decodes").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizer_pages() {
    let cases = Cases::new("web organizer pages");
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let leader_id = PlcIdentity::register(&plc, "leader.test", "http://localhost:1", &[]).await;
    let app = start(&plc, Some(("leader.test", &leader_id.did))).await;
    let owner = sign_in(&app, "did:plc:webowner0000000000000000", "owner.test").await;
    let member = sign_in(&app, "did:plc:webmember000000000000000", "member.test").await;
    let outsider = sign_in(&app, "did:plc:weboutsider0000000000000", "outsider.test").await;
    let leader = sign_in(&app, &leader_id.did, "leader.test").await;
    let spaces = &app.web.spaces;

    // ---- an Organization from its template ----
    let page = get(&app, &owner, "/spaces/new").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Organization") && page.body.contains("Coalition"));
    let fields = [
        ("template", "organization"),
        ("name", "Riverside <script>alert(1)</script> Tenants"),
        ("description", "Our building's union"),
        ("join_policy", "request"),
    ];
    for (csrf, origin, what) in [
        (None, ORIGIN, "no CSRF token"),
        (Some("forged"), ORIGIN, "a wrong CSRF token"),
        (
            Some(owner.csrf.as_str()),
            "https://evil.example",
            "another origin",
        ),
    ] {
        let p = post_form(&app, &owner, "/spaces/new", &fields, csrf, origin).await;
        cases.case(&format!("start a space with {what} is refused"));
        assert!(
            matches!(p.status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
            "{what}: {}",
            p.status
        );
        let mine = spaces.list_mine(&owner.did, 10, None).await.expect("mine");
        assert!(mine.spaces.is_empty(), "{what} created a space");
    }
    let made = post(&app, &owner, "/spaces/new", &fields).await;
    let skey = skey_of(&made.location);
    let space_uri = format!("at://did:web:localhost%3A2584/space/social.hearth.space/{skey}");
    let got = spaces
        .get_space(&owner.did, &space_uri)
        .await
        .expect("space");
    let channels: Vec<(&str, &str, &str, &str)> = got
        .channels
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.kind.as_str(),
                c.read_role.as_str(),
                c.post_role.as_str(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [
            ("Announcements", "announcements", "member", "admin"),
            ("Discussion", "discussion", "member", "member"),
            ("Questions", "questions", "member", "member"),
            ("Leadership", "restricted", "admin", "admin"),
        ]
    );
    assert_eq!(got.space.join_policy, "request");
    cases.case("an Organization starts with its four channels");

    // ---- invite links and their QR code ----
    let page = get(&app, &owner, &format!("/s/{skey}/invite")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>alert"), "the name is escaped");
    assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"));
    let page = post(
        &app,
        &owner,
        &format!("/s/{skey}/invite"),
        &[
            ("expires_in_hours", "24"),
            ("max_uses", "5"),
            ("role", "member"),
        ],
    )
    .await;
    let link = input_after(&page.body, "id=\"new-link\"").to_owned();
    assert!(link.starts_with(PUBLIC_URL), "{link}");
    assert_eq!(decode_qr(&page.body), link, "the QR code is the link");
    cases.case("a new link shows once, with a QR code that decodes to it");
    let token = link.rsplit('/').next().expect("token").to_owned();
    spaces
        .accept_invite(&member.did, &token)
        .await
        .expect("join");
    let invites = spaces
        .list_invites(&owner.did, &space_uri)
        .await
        .expect("invites");
    let (inv, expires) = (&invites.invites[0], invites.invites[0].expires_at.clone());
    assert_eq!((inv.max_uses, inv.uses), (Some(5), 1));
    assert!(expires.is_some());
    post(
        &app,
        &owner,
        &format!("/s/{skey}/invite/revoke"),
        &[("id", &inv.id)],
    )
    .await;
    assert!(
        spaces
            .list_invites(&owner.did, &space_uri)
            .await
            .expect("invites")
            .invites[0]
            .revoked
    );
    cases.case("revoke");

    // ---- content to moderate ----
    let discussion = got
        .channels
        .iter()
        .find(|c| c.kind == "discussion")
        .map(|c| c.uri.clone())
        .expect("discussion");
    let rude = spaces
        .create_post(
            &member.did,
            CreatePost {
                channel: Some(discussion.clone()),
                text: "SECRET-RUDE <b>words</b>".into(),
                facets: None,
                images: None,
                reply_to: None,
            },
        )
        .await
        .expect("post")
        .post
        .uri;
    let rkey = rude.rsplit('/').next().expect("rkey");
    let owner_post = spaces
        .create_post(
            &owner.did,
            CreatePost {
                channel: Some(discussion),
                text: "welcome".into(),
                facets: None,
                images: None,
                reply_to: None,
            },
        )
        .await
        .expect("post")
        .post
        .uri;
    let owner_rkey = owner_post.rsplit('/').next().expect("rkey");
    spaces
        .request_join(&outsider.did, &space_uri, Some("Flat 4".into()))
        .await
        .expect("ask to join");

    // ---- a member who is not an admin gets nothing of the admin pages ----
    for path in [
        format!("/s/{skey}/invite"),
        format!("/s/{skey}/requests"),
        format!("/s/{skey}/audit"),
        format!("/s/{skey}/moderation"),
    ] {
        let p = get(&app, &member, &path).await;
        cases.case(&format!("a member opens {path}"));
        assert!(
            matches!(p.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{path}: {}",
            p.status
        );
        for secret in [
            "Flat 4",
            &token,
            "invite.create",
            "/invite/revoke",
            "SECRET-RUDE",
        ] {
            assert!(!p.body.contains(secret), "{path} shows {secret}");
        }
    }
    let p = get(&app, &member, &format!("/s/{skey}/members")).await;
    assert_eq!(p.status, StatusCode::OK, "members see who is in");
    assert!(
        !p.body.contains("/members/ban"),
        "but no forms to manage them"
    );
    let p = post_form(
        &app,
        &member,
        &format!("/s/{skey}/members/ban"),
        &[("did", &owner.did)],
        Some(&member.csrf),
        ORIGIN,
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    for path in [
        format!("/s/{skey}/members"),
        format!("/s/{skey}/invite"),
        format!("/s/{skey}/export"),
        format!("/s/{skey}/p/{}/{rkey}/report", member.did),
    ] {
        let p = get(&app, &outsider, &path).await;
        cases.case(&format!("an outsider opens {path}"));
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!p.body.contains("Riverside") && !p.body.contains("SECRET"));
    }

    // ---- join requests, members and roles ----
    let p = get(&app, &owner, &format!("/s/{skey}/requests")).await;
    assert!(p.body.contains("Flat 4"));
    let id = spaces
        .list_requests(&owner.did, &space_uri, Some("pending".into()))
        .await
        .expect("requests")
        .requests[0]
        .id
        .clone();
    post(
        &app,
        &owner,
        &format!("/s/{skey}/requests/decide"),
        &[("id", &id), ("decision", "approve")],
    )
    .await;
    assert!(
        spaces
            .get_space(&outsider.did, &space_uri)
            .await
            .expect("now a member")
            .space
            .viewer
            .and_then(|v| v.role)
            .is_some()
    );
    cases.case("approve a join request");
    post(
        &app,
        &owner,
        &format!("/s/{skey}/members/role"),
        &[("did", &member.did), ("role", "moderator")],
    )
    .await;
    let p = get(&app, &owner, &format!("/s/{skey}/members")).await;
    assert!(p.body.contains("moderator"));
    post(
        &app,
        &owner,
        &format!("/s/{skey}/members/role"),
        &[("did", &member.did), ("role", "member")],
    )
    .await;
    post(
        &app,
        &owner,
        &format!("/s/{skey}/members/ban"),
        &[("did", &outsider.did), ("reason", "spam account")],
    )
    .await;
    assert!(spaces.get_space(&outsider.did, &space_uri).await.is_err());
    cases.case("promote, demote, ban");

    // ---- reports and the queue ----
    let own_path = format!("/s/{skey}/p/{}/{owner_rkey}/report", owner.did);
    let p = get(&app, &member, &own_path).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("name=\"reason\""));
    let p = post(
        &app,
        &member,
        &own_path,
        &[("reason", "offTopic"), ("note", "<i>why</i> here")],
    )
    .await;
    assert!(p.body.contains("Thank you"));
    cases.case("a member reports a post");
    let p = get(&app, &owner, &format!("/s/{skey}/moderation")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Off topic"));
    assert!(!p.body.contains("<i>why</i>"), "the note is escaped");
    // No one reports their own post, and a report needs its form's token.
    let p = post_form(
        &app,
        &member,
        &format!("/s/{skey}/p/{}/{rkey}/report", member.did),
        &[("reason", "spam")],
        Some(&member.csrf),
        ORIGIN,
    )
    .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "one's own post");
    let p = post_form(
        &app,
        &owner,
        &format!("/s/{skey}/p/{}/{rkey}/report", member.did),
        &[("reason", "harassment")],
        None,
        ORIGIN,
    )
    .await;
    assert!(
        matches!(p.status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
        "a report without CSRF: {}",
        p.status
    );
    let open = spaces
        .list_reports(
            &owner.did,
            &space_uri,
            hearth_spaces::ops::moderation::QueueStatus::Open,
            10,
            None,
        )
        .await
        .expect("queue");
    assert_eq!(open.cases.len(), 1, "only the member's report was filed");
    post(
        &app,
        &owner,
        &format!("/s/{skey}/moderation/resolve"),
        &[
            ("uri", &owner_post),
            ("action", "hide"),
            ("reason", "Not the place"),
        ],
    )
    .await;
    let p = get(
        &app,
        &owner,
        &format!("/s/{skey}/moderation?status=resolved"),
    )
    .await;
    assert!(p.body.contains("hidden") && p.body.contains("Not the place"));
    let p = get(&app, &owner, &format!("/s/{skey}/audit")).await;
    assert_eq!(p.status, StatusCode::OK);
    for action in [
        "report.resolve",
        "post.hide",
        "member.ban",
        "member.role",
        "join.approve",
        "invite.revoke",
    ] {
        assert!(p.body.contains(action), "audit shows {action}");
    }
    assert!(p.body.contains("Not the place"));
    cases.case("hide with a reason; the audit log shows every action");

    // ---- export ----
    let p = get(&app, &owner, &format!("/s/{skey}/export")).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.content_type.starts_with("application/json"));
    let doc: serde_json::Value = serde_json::from_str(&p.body).expect("json");
    assert_eq!(doc["scope"], "space");
    assert_eq!(doc["posts"].as_array().map(Vec::len), Some(2));
    assert!(doc.get("cursor").is_none());
    cases.case("export downloads the space as JSON");

    // ---- a Coalition invites leaders by handle ----
    let p = post(
        &app,
        &owner,
        "/spaces/new",
        &[
            ("template", "coalition"),
            ("name", "River Coalition"),
            ("join_policy", "invite"),
            ("leaders", "@leader.test\nnobody.test"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    let leader_link = input_after(&p.body, "Invite link for @leader.test").to_owned();
    assert!(
        p.body.contains("No account was found"),
        "nobody.test has no account"
    );
    let leader_token = leader_link.rsplit('/').next().expect("token");
    assert!(
        spaces
            .accept_invite(&member.did, leader_token)
            .await
            .is_err(),
        "someone else cannot use the leader's link"
    );
    let joined = spaces
        .accept_invite(&leader.did, leader_token)
        .await
        .expect("the leader joins");
    assert_eq!(
        joined.space.viewer.and_then(|v| v.role).as_deref(),
        Some("admin")
    );
    cases.case("a Coalition's leaders are invited by handle, each with their own link");

    // ---- notification settings ----
    let p = get(&app, &member, "/settings").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("sends no email"), "no SMTP here");
    post(
        &app,
        &member,
        "/settings/level",
        &[("space", &skey), ("level", "announcementsOnly")],
    )
    .await;
    let level = spaces
        .get_space(&member.did, &space_uri)
        .await
        .expect("space")
        .space
        .viewer
        .and_then(|v| v.notification_level);
    assert_eq!(level.as_deref(), Some("announcementsOnly"));
    let p = get(&app, &member, &format!("/settings?space={skey}")).await;
    assert!(p.body.contains("Channels of"));
    let p = post_form(
        &app,
        &member,
        "/settings/level",
        &[("space", &skey), ("level", "muted")],
        Some("forged"),
        ORIGIN,
    )
    .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let level = spaces
        .get_space(&member.did, &space_uri)
        .await
        .expect("space")
        .space
        .viewer
        .and_then(|v| v.notification_level);
    assert_eq!(
        level.as_deref(),
        Some("announcementsOnly"),
        "the forged form changed nothing"
    );
    cases.case("levels per space; a forged settings form changes nothing");
}
