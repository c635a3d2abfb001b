//! The web app's pages over a real spaces service: escaping, CSRF refusals that change
//! nothing, sessions (sign-out ends them server-side), the headers every page carries, and a
//! non-member who sees nothing of a space.

mod web_common;

use axum::http::{StatusCode, header};
use web_common::*;

#[tokio::test]
async fn a_post_with_markup_renders_as_text() {
    let app = app().await;
    let f = fixture(&app).await;
    post(
        &app,
        ANA,
        Some(f.channel("discussion")),
        None,
        "<script>alert('x')</script> & <b>hi</b>",
    )
    .await;
    let (cookie, _) = app.sign_in(OWNER, "owner.test").await;
    let page = app.get(&f.channel_path("discussion"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#60;b&#62;"),
        "the text is there, escaped: {}",
        page.body
    );
    assert!(!page.body.contains("<script>alert"));
    assert!(!page.body.contains("<b>hi</b>"));
    assert!(
        page.body.contains("<strong>@ana.test</strong>"),
        "the author by handle"
    );
    // The only scripts are the app's own file.
    assert_eq!(page.body.matches("<script").count(), 1);
}

#[tokio::test]
async fn state_changing_forms_need_the_session_token_and_our_origin() {
    let app = app().await;
    let f = fixture(&app).await;
    let root = post(&app, OWNER, Some(f.channel("discussion")), None, "hello").await;
    let path = post_path(&f.skey, &root);
    let (cookie, csrf) = app.sign_in(ANA, "ana.test").await;
    let (_, other_csrf) = app.sign_in(ANA, "ana.test").await;
    let react = format!("{path}/react");
    for (what, origin, token) in [
        ("no token", Some(ORIGIN), ""),
        ("another session's token", Some(ORIGIN), other_csrf.as_str()),
        ("another site", Some("https://evil.example"), csrf.as_str()),
        ("no origin", None, csrf.as_str()),
    ] {
        let a = app
            .post(
                &react,
                Some(&cookie),
                origin,
                &[("csrf", token), ("r", "+👍")],
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{what}");
        assert!(a.body.contains("This form has expired"), "{what}");
        let t = app
            .spaces
            .thread(ANA, &root, 10, None)
            .await
            .expect("thread");
        assert!(
            t.thread.root.reactions.is_empty(),
            "{what}: nothing changed"
        );
    }
    let ok = app
        .post(
            &react,
            Some(&cookie),
            Some(ORIGIN),
            &[("csrf", &csrf), ("r", "+👍"), ("back", &path)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), path);
    let t = app
        .spaces
        .thread(ANA, &root, 10, None)
        .await
        .expect("thread");
    assert_eq!(t.thread.root.reactions[0].count, 1);
    let page = app.get(&path, Some(&cookie)).await;
    assert!(
        page.body.contains("value=\"-👍\""),
        "the page offers to take it back"
    );
    let undo = app
        .post(
            &react,
            Some(&cookie),
            Some(ORIGIN),
            &[("csrf", &csrf), ("r", "-👍")],
        )
        .await;
    assert_eq!(undo.status, StatusCode::SEE_OTHER);
    let t = app
        .spaces
        .thread(ANA, &root, 10, None)
        .await
        .expect("thread");
    assert!(t.thread.root.reactions.is_empty(), "taken back");
    let junk = app
        .post(
            &react,
            Some(&cookie),
            Some(ORIGIN),
            &[("csrf", &csrf), ("r", "👍")],
        )
        .await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    // Signed out, a form is not acted on at all: it goes to sign-in.
    let anon = app
        .post(&react, None, Some(ORIGIN), &[("csrf", &csrf), ("r", "+🎉")])
        .await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert!(anon.location().starts_with("/signin?next="));
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = app().await;
    let f = fixture(&app).await;
    let (cookie, csrf) = app.sign_in(ANA, "ana.test").await;
    let home = app.get("/", Some(&cookie)).await;
    assert!(home.body.contains("@ana.test") && home.body.contains("Riverside Tenants"));
    let bad = app
        .post("/signout", Some(&cookie), Some(ORIGIN), &[("csrf", "nope")])
        .await;
    assert_eq!(
        bad.status,
        StatusCode::FORBIDDEN,
        "sign-out needs the token too"
    );
    let out = app
        .post("/signout", Some(&cookie), Some(ORIGIN), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        out.set_cookie("hearth_session").as_deref(),
        Some(""),
        "cookie cleared"
    );
    // The old cookie, replayed, is worth nothing.
    let again = app.get("/", Some(&cookie)).await;
    assert!(!again.body.contains("@ana.test") && !again.body.contains("Riverside Tenants"));
    let space = app.get(&format!("/s/{}", f.skey), Some(&cookie)).await;
    assert_eq!(space.status, StatusCode::SEE_OTHER);
    assert!(space.location().starts_with("/signin?next=%2Fs%2F"));
}

#[tokio::test]
async fn every_page_has_the_security_headers_and_private_ones_are_not_stored() {
    let app = app().await;
    let f = fixture(&app).await;
    let (cookie, _) = app.sign_in(ANA, "ana.test").await;
    for path in [
        "/".to_owned(),
        "/signin".to_owned(),
        format!("/s/{}", f.skey),
        f.channel_path("announcements"),
        format!("/i/{}", f.token),
        "/i/not-a-token".to_owned(),
        format!("/s/{}/c/nope", f.skey),
    ] {
        let a = app.get(&path, Some(&cookie)).await;
        let csp = a.header(header::CONTENT_SECURITY_POLICY);
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("script-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(
            a.header(header::CACHE_CONTROL),
            "private, no-store",
            "{path}"
        );
        assert_eq!(
            a.header(header::X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{path}"
        );
        assert_eq!(a.header(header::REFERRER_POLICY), "same-origin", "{path}");
    }
    // The stylesheet the pages name is cacheable for good, under a hashed name.
    let home = app.get("/", Some(&cookie)).await;
    let css = home
        .body
        .split("href=\"")
        .find_map(|s| s.split('"').next().filter(|h| h.ends_with(".css")))
        .expect("stylesheet link")
        .to_owned();
    let a = app.get(&css, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header(header::CACHE_CONTROL).contains("immutable"));
    assert_eq!(
        app.get("/assets/hearth-000000.css", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_non_member_sees_nothing_of_a_space() {
    let app = app().await;
    let f = fixture(&app).await;
    let root = post(
        &app,
        ANA,
        Some(f.channel("discussion")),
        None,
        "SECRET-DISCUSS",
    )
    .await;
    let cid = {
        let up = app
            .spaces
            .upload_image(ANA, &f.space, hearth_testkit::png())
            .await
            .expect("upload");
        up.image["ref"]["$link"].as_str().expect("cid").to_owned()
    };
    let (cookie, _) = app.sign_in(OUTSIDER, "outsider.test").await;
    for path in [
        format!("/s/{}", f.skey),
        f.channel_path("discussion"),
        post_path(&f.skey, &root),
        format!("/s/{}/img/{cid}", f.skey),
        format!("/s/{}/welcome", f.skey),
    ] {
        let a = app.get(&path, Some(&cookie)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            !a.body.contains("Riverside") && !a.body.contains("SECRET-DISCUSS"),
            "{path}"
        );
    }
    // The uploader sees the image; signed out, it is a redirect to sign in.
    let (ana, _) = app.sign_in(ANA, "ana.test").await;
    let img = app
        .get(&format!("/s/{}/img/{cid}", f.skey), Some(&ana))
        .await;
    assert_eq!(img.status, StatusCode::OK);
    assert_eq!(img.bytes, hearth_testkit::png());
    let anon = app.get(&format!("/s/{}/img/{cid}", f.skey), None).await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    // Nor do the outsider's forms act on it.
    let outsider_csrf = app.sign_in(OUTSIDER, "outsider.test").await;
    let a = app
        .post(
            &format!("{}/react", post_path(&f.skey, &root)),
            Some(&outsider_csrf.0),
            Some(ORIGIN),
            &[("csrf", &outsider_csrf.1), ("r", "+👍")],
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn development_sends_localhost_to_the_loopback_ip() {
    let app = app().await;
    let req = axum::http::Request::get("/s/abc?x=1")
        .header(header::HOST, "localhost:2584")
        .body(axum::body::Body::empty())
        .expect("request");
    let a = app.send(req).await;
    assert_eq!(a.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(a.location(), "http://127.0.0.1:2584/s/abc?x=1");
}

/// A full channel page (a page of threads of a typical length, with reactions) and its
/// stylesheet and script stay within the page-weight bar of 60 KB.
#[tokio::test]
async fn a_full_channel_page_weighs_at_most_60_kb() {
    let app = app().await;
    let f = fixture(&app).await;
    let text =
        "A typical post about the building's heating, the next meeting and who brings what. "
            .repeat(4);
    for i in 0..25 {
        let uri = post(
            &app,
            ANA,
            Some(f.channel("discussion")),
            None,
            &format!("{i} {text}"),
        )
        .await;
        app.spaces
            .react(OWNER, &uri, "👍", false)
            .await
            .expect("react");
    }
    let (cookie, _) = app.sign_in(ANA, "ana.test").await;
    let page = app.get(&f.channel_path("discussion"), Some(&cookie)).await;
    assert_eq!(page.body.matches("<article").count(), 20, "one full page");
    let mut total = page.bytes.len();
    for ext in [".css", ".js"] {
        let href = page
            .body
            .split('"')
            .find(|s| s.starts_with("/assets/") && s.ends_with(ext))
            .expect("asset")
            .to_owned();
        total += app.get(&href, None).await.bytes.len();
    }
    println!("channel page with 20 threads: {total} bytes");
    assert!(total <= 60 * 1024, "{total} bytes");
}
