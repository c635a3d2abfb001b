//! Signing in with an app password against a PDS of our own making (a did:web account whose
//! document names it): the session id changes at sign-in whatever cookie the browser brought
//! (fixation), a main password is refused, the PDS must answer for the resolved account, the
//! form needs its signed-out token, and attempts are rate limited.

mod web_common;

use axum::Json;
use axum::http::StatusCode;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use web_common::*;

/// A PDS for one did:web account: `app-pass` is an app password, `main-pass` the main
/// password, `other-pass` makes it answer for another account; anything else is refused.
async fn fake_pds() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let did = format!("did:web:localhost%3A{port}");
    let url = format!("http://localhost:{port}");
    let doc = json!({
        "id": did,
        "alsoKnownAs": [],
        "service": [{ "id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": url }],
    });
    let me = did.clone();
    let app = axum::Router::new()
        .route("/.well-known/did.json", get(move || async move { Json(doc) }))
        .route(
            "/xrpc/com.atproto.server.createSession",
            post(move |Json(body): Json<Value>| {
                let me = me.clone();
                async move {
                    let jwt = |scope: &str| {
                        format!(
                            "e30.{}.c2ln",
                            URL_SAFE_NO_PAD.encode(json!({ "scope": scope }).to_string())
                        )
                    };
                    let (did, scope) = match body["password"].as_str() {
                        Some("app-pass") => (me, "com.atproto.appPass"),
                        Some("main-pass") => (me, "com.atproto.access"),
                        Some("other-pass") => ("did:plc:someoneelse".to_owned(), "com.atproto.appPass"),
                        _ => {
                            return (
                                StatusCode::UNAUTHORIZED,
                                Json(json!({ "error": "AuthenticationRequired", "message": "Invalid identifier or password" })),
                            );
                        }
                    };
                    (
                        StatusCode::OK,
                        Json(json!({
                            "did": did, "handle": "handle.invalid",
                            "accessJwt": jwt(scope), "refreshJwt": jwt("com.atproto.refresh"),
                        })),
                    )
                }
            }),
        )
        .route(
            "/xrpc/com.atproto.server.deleteSession",
            post(|| async { StatusCode::OK }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    did
}

/// The sign-in page's signed-out token and its cookie.
async fn signin_token(app: &App) -> (String, String) {
    let page = app.get("/signin?next=/s/x", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = page.set_cookie("hearth_csrf").expect("pre-session cookie");
    assert!(page.body.contains(&format!("value=\"{token}\"")));
    assert!(page.body.contains("never your main password"));
    (format!("hearth_csrf={token}"), token)
}

#[tokio::test]
async fn an_app_password_signs_in_with_a_new_session_id() {
    let app = app().await;
    let did = fake_pds().await;
    let (pre, token) = signin_token(&app).await;
    // An attacker planted a session cookie of their choosing (and one of their own sessions).
    let (planted, _) = app.sign_in("did:plc:attacker", "attacker.test").await;
    let cookie = format!("{pre}; {planted}");
    let a = app
        .post(
            "/signin/app-password",
            Some(&cookie),
            Some(ORIGIN),
            &[
                ("csrf", &token),
                ("handle", &did),
                ("password", "app-pass"),
                ("next", "/s/x"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.location(), "/s/x");
    let new = a.set_cookie("hearth_session").expect("session cookie");
    assert!(!new.is_empty());
    assert_ne!(
        format!("hearth_session={new}"),
        planted,
        "a new id at sign-in"
    );
    assert_eq!(
        a.set_cookie("hearth_csrf").as_deref(),
        Some(""),
        "pre-session token dropped"
    );
    let session = app
        .web
        .sessions
        .get(&new)
        .await
        .expect("get")
        .expect("live");
    assert_eq!(session.did, did);
    // The planted session is still the attacker's, not the victim's.
    let planted_id = planted.split_once('=').expect("pair").1;
    let p = app
        .web
        .sessions
        .get(planted_id)
        .await
        .expect("get")
        .expect("live");
    assert_eq!(p.did, "did:plc:attacker");
}

#[tokio::test]
async fn a_main_password_a_wrong_account_or_a_forged_form_make_no_session() {
    let app = app().await;
    let did = fake_pds().await;
    let (pre, token) = signin_token(&app).await;
    for (what, password, want, says) in [
        (
            "main password",
            "main-pass",
            StatusCode::UNAUTHORIZED,
            "main password",
        ),
        ("wrong password", "nope", StatusCode::UNAUTHORIZED, "wrong"),
        (
            "another account",
            "other-pass",
            StatusCode::UNAUTHORIZED,
            "different account",
        ),
    ] {
        let a = app
            .post(
                "/signin/app-password",
                Some(&pre),
                Some(ORIGIN),
                &[("csrf", &token), ("handle", &did), ("password", password)],
            )
            .await;
        assert_eq!(a.status, want, "{what}");
        assert!(a.body.contains(says), "{what}: {}", a.body);
        assert!(
            a.set_cookie("hearth_session").is_none(),
            "{what}: no session"
        );
    }
    // The signed-out token must match its cookie, from our origin.
    for (what, cookie, origin, t) in [
        ("no cookie", None, Some(ORIGIN), token.as_str()),
        ("other token", Some(pre.as_str()), Some(ORIGIN), "forged"),
        (
            "other site",
            Some(pre.as_str()),
            Some("https://evil.example"),
            token.as_str(),
        ),
    ] {
        let a = app
            .post(
                "/signin/app-password",
                cookie,
                origin,
                &[("csrf", t), ("handle", &did), ("password", "app-pass")],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}");
        assert!(a.set_cookie("hearth_session").is_none(), "{what}");
    }
    // Bad input is a clear message, not a failure.
    let a = app
        .post(
            "/signin/app-password",
            Some(&pre),
            Some(ORIGIN),
            &[
                ("csrf", &token),
                ("handle", "not a handle!"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(a.body.contains("not a handle"));
}

#[tokio::test]
async fn sign_in_attempts_for_an_account_are_rate_limited() {
    let app = app().await;
    let did = fake_pds().await;
    let (pre, token) = signin_token(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let a = app
            .post(
                "/signin/app-password",
                Some(&pre),
                Some(ORIGIN),
                &[("csrf", &token), ("handle", &did), ("password", "nope")],
            )
            .await;
        statuses.push(a.status);
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    // Even the right password waits.
    let a = app
        .post(
            "/signin/app-password",
            Some(&pre),
            Some(ORIGIN),
            &[("csrf", &token), ("handle", &did), ("password", "app-pass")],
        )
        .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(a.set_cookie("hearth_session").is_none());
}
