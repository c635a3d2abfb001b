//! The member flows page by page: an invite link signed out and signed in, joining and the
//! notification question, the composer (alt text required, images served to members), the
//! announcement composer's audience, questions answered, the inbox.

mod web_common;

use axum::http::StatusCode;
use web_common::*;

const BEN: &str = "did:plc:ben";

#[tokio::test]
async fn an_invite_link_leads_to_joining_and_the_one_question() {
    let app = app().await;
    let f = fixture(&app).await;
    post(
        &app,
        OWNER,
        Some(f.channel("announcements")),
        None,
        "SECRET-ANNOUNCE",
    )
    .await;
    let link = format!("/i/{}", f.token);
    // Signed out: the space's public face and one way in, back to this page.
    let out = app.get(&link, None).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("Riverside Tenants") && out.body.contains("Tenants of 12 River St"));
    assert!(out.body.contains("Invited by @owner.test"));
    assert!(out.body.contains("Sign in to join"));
    // Every "Sign in" on the page (the header's too) comes back here: a newcomer who taps the
    // first one they see must not lose the invitation.
    let back = format!("/signin?next=%2Fi%2F{}", f.token);
    assert_eq!(
        out.body.matches("\">Sign in").count(),
        out.body.matches(&format!("href=\"{back}\"")).count(),
        "{}",
        out.body
    );
    assert!(out.body.contains(&back));
    assert!(
        !out.body.contains("SECRET-ANNOUNCE"),
        "nothing private before the gate"
    );
    // An invalid token: a plain refusal.
    let bad = app.get("/i/not-a-real-token", None).await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
    assert!(bad.body.contains("not valid") && !bad.body.contains("Riverside"));
    // Signed in: Join, then the question (default: announcements and replies).
    let (cookie, csrf) = app.sign_in(BEN, "ben.test").await;
    let page = app.get(&link, Some(&cookie)).await;
    assert!(page.body.contains("Join Riverside Tenants"));
    let forged = app
        .post(
            &format!("{link}/join"),
            Some(&cookie),
            Some(ORIGIN),
            &[("csrf", "x")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        app.spaces.get_space(BEN, &f.space).await.is_err(),
        "not joined by a forged form"
    );
    let joined = app
        .post(
            &format!("{link}/join"),
            Some(&cookie),
            Some(ORIGIN),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER);
    let welcome = format!("/s/{}/welcome", f.skey);
    assert_eq!(joined.location(), welcome);
    let q = app.get(&welcome, Some(&cookie)).await;
    assert!(
        q.body
            .contains("How often do you want to hear from this group?")
    );
    assert!(
        q.body.contains("value=\"mentionsAndReplies\" checked"),
        "the default is chosen"
    );
    let bad = app
        .post(
            &welcome,
            Some(&cookie),
            Some(ORIGIN),
            &[("csrf", &csrf), ("level", "muted")],
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "only the three answers"
    );
    let done = app
        .post(
            &welcome,
            Some(&cookie),
            Some(ORIGIN),
            &[("csrf", &csrf), ("level", "all")],
        )
        .await;
    assert_eq!(done.location(), format!("/s/{}", f.skey));
    let space = app.spaces.get_space(BEN, &f.space).await.expect("member");
    assert_eq!(
        space
            .space
            .viewer
            .and_then(|v| v.notification_level)
            .as_deref(),
        Some("all")
    );
    let page = app.get(&format!("/s/{}", f.skey), Some(&cookie)).await;
    assert!(page.body.contains("Announcements") && page.body.contains("Discussion"));
    // The space's page shows what its leaders said last, and where to ask.
    assert!(page.body.contains("Latest announcement") && page.body.contains("SECRET-ANNOUNCE"));
    assert!(page.body.contains("Your question"));

    // The invite page asks the one question on its Join form: one step, no second page.
    let (other, other_csrf) = app.sign_in(OUTSIDER, "outsider.test").await;
    let page = app.get(&link, Some(&other)).await;
    assert!(
        page.body
            .contains("How often do you want to hear from this group?")
            && page.body.contains("value=\"mentionsAndReplies\" checked"),
        "{}",
        page.body
    );
    let bad = app
        .post(
            &format!("{link}/join"),
            Some(&other),
            Some(ORIGIN),
            &[("csrf", &other_csrf), ("level", "muted")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        app.spaces.get_space(OUTSIDER, &f.space).await.is_err(),
        "a wrong answer joins nothing"
    );
    let joined = app
        .post(
            &format!("{link}/join"),
            Some(&other),
            Some(ORIGIN),
            &[("csrf", &other_csrf), ("level", "announcementsOnly")],
        )
        .await;
    assert_eq!(joined.location(), format!("/s/{}", f.skey));
    let level = app
        .spaces
        .get_space(OUTSIDER, &f.space)
        .await
        .expect("member")
        .space
        .viewer
        .and_then(|v| v.notification_level);
    assert_eq!(level.as_deref(), Some("announcementsOnly"));

    // The member reads the announcement in its channel.
    let ch = app
        .get(&f.channel_path("announcements"), Some(&cookie))
        .await;
    assert!(ch.body.contains("SECRET-ANNOUNCE"));

    // A new announcement is unread until its thread is opened (as the inbox's link opens it).
    let news = post(
        &app,
        OWNER,
        Some(f.channel("announcements")),
        None,
        "NEWS-AFTER-JOINING",
    )
    .await;
    let unread = || async {
        app.spaces
            .unread_count(BEN, None)
            .await
            .expect("count")
            .count
    };
    assert_eq!(unread().await, 1);
    let opened = app
        .get(&hearth_web::pages::path_of(&news), Some(&cookie))
        .await;
    assert!(opened.body.contains("NEWS-AFTER-JOINING"));
    assert_eq!(unread().await, 0, "opening the thread read it");
    let inbox = app.spaces.list_notifications(BEN, None, 10, None).await;
    assert!(
        inbox.is_ok_and(|l| l.notifications.iter().all(|n| n.is_read)),
        "the inbox shows it read"
    );
}

#[tokio::test]
async fn the_composer_needs_alt_text_and_images_stay_with_members() {
    let app = app().await;
    let f = fixture(&app).await;
    let (cookie, csrf) = app.sign_in(ANA, "ana.test").await;
    let action = format!("{}/post", f.channel_path("discussion"));
    let png = hearth_testkit::png();
    let refused = app
        .post_multipart(
            &action,
            &cookie,
            &[("csrf", &csrf), ("text", "a picture"), ("alt", " ")],
            Some(("image", &png)),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("alt text is required"));
    let forged = app
        .post_multipart(
            &action,
            &cookie,
            &[("csrf", "forged"), ("text", "forged")],
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let feed = app
        .spaces
        .channel_feed(ANA, f.channel("discussion"), 10, None)
        .await
        .expect("feed");
    assert!(feed.posts.is_empty(), "nothing was posted");
    let ok = app
        .post_multipart(
            &action,
            &cookie,
            &[
                ("csrf", &csrf),
                ("text", "Our garden"),
                ("alt", "Tomatoes on a balcony"),
            ],
            Some(("image", &png)),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let page = app.get(&f.channel_path("discussion"), Some(&cookie)).await;
    assert!(page.body.contains("Our garden"));
    let src = page
        .body
        .split("<img src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("image")
        .to_owned();
    assert!(src.starts_with(&format!("/s/{}/img/", f.skey)));
    assert!(page.body.contains("alt=\"Tomatoes on a balcony\""));
    // More images, each with its own description; the second without one is refused.
    let two = [("image", png.as_slice()), ("image2", png.as_slice())];
    let missing = app
        .post_multipart_files(
            &action,
            &cookie,
            &[("csrf", &csrf), ("text", "Two pictures"), ("alt", "First")],
            &two,
        )
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.body.contains("Describe image 2"),
        "{}",
        missing.body
    );
    let both = app
        .post_multipart_files(
            &action,
            &cookie,
            &[
                ("csrf", &csrf),
                ("text", "Two pictures"),
                ("alt", "Seedlings in a tray"),
                ("alt2", "The same tray a month later"),
            ],
            &two,
        )
        .await;
    assert_eq!(both.status, StatusCode::SEE_OTHER, "{}", both.body);
    let page = app.get(&f.channel_path("discussion"), Some(&cookie)).await;
    assert!(
        page.body.contains("alt=\"Seedlings in a tray\"")
            && page.body.contains("alt=\"The same tray a month later\""),
        "both images, in order, with their descriptions"
    );
    let (owner, _) = app.sign_in(OWNER, "owner.test").await;
    assert_eq!(
        app.get(&src, Some(&owner)).await.bytes,
        png,
        "a member sees it"
    );
    let (outsider, _) = app.sign_in(OUTSIDER, "outsider.test").await;
    assert_eq!(
        app.get(&src, Some(&outsider)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn announcements_say_who_hears_and_questions_get_answers() {
    let app = app().await;
    let f = fixture(&app).await;
    let (owner, owner_csrf) = app.sign_in(OWNER, "owner.test").await;
    let ann = app
        .get(&f.channel_path("announcements"), Some(&owner))
        .await;
    assert!(
        ann.body
            .contains("1 member will be notified; no one will get an email"),
        "{}",
        ann.body
    );
    // A member may not post announcements: no composer.
    let (ana, ana_csrf) = app.sign_in(ANA, "ana.test").await;
    let ann = app.get(&f.channel_path("announcements"), Some(&ana)).await;
    assert!(!ann.body.contains("Post an announcement"));
    // Ana asks; the owner replies; Ana marks the answer.
    let questions = f.channel_path("questions");
    let asked = app
        .post_multipart(
            &format!("{questions}/post"),
            &ana,
            &[("csrf", &ana_csrf), ("text", "When is the meeting?")],
            None,
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    let page = app.get(&questions, Some(&ana)).await;
    assert!(page.body.contains("Open question"));
    let q = app
        .spaces
        .channel_feed(ANA, f.channel("questions"), 10, None)
        .await
        .expect("feed")
        .posts[0]
        .uri
        .clone();
    let thread = post_path(&f.skey, &q);
    let replied = app
        .post_multipart(
            &format!("{thread}/reply"),
            &owner,
            &[("csrf", &owner_csrf), ("text", "Tuesday at 7")],
            None,
        )
        .await;
    assert_eq!(replied.location(), thread);
    // The inbox shows the answer, unread (until the thread is opened).
    let home = app.get("/", Some(&ana)).await;
    assert!(home.body.contains("Answer to your question") && home.body.contains("Mark all seen"));
    let t = app.get(&thread, Some(&ana)).await;
    assert!(t.body.contains("Tuesday at 7") && t.body.contains("Mark as answer"));
    let reply = app
        .spaces
        .thread(ANA, &q, 10, None)
        .await
        .expect("thread")
        .thread
        .replies[0]
        .uri
        .clone();
    let marked = app
        .post(
            &format!("{}/answer", post_path(&f.skey, &reply)),
            Some(&ana),
            Some(ORIGIN),
            &[("csrf", &ana_csrf)],
        )
        .await;
    assert_eq!(marked.location(), thread);
    let t = app.get(&thread, Some(&ana)).await;
    assert!(t.body.contains("Accepted answer") && t.body.contains("Answered"));
    // Mark all seen: the badge goes.
    let seen = app
        .post("/seen", Some(&ana), Some(ORIGIN), &[("csrf", &ana_csrf)])
        .await;
    assert_eq!(seen.location(), "/");
    let home = app.get("/", Some(&ana)).await;
    assert!(!home.body.contains("Mark all seen") && !home.body.contains("unread\""));
    assert_eq!(
        app.spaces
            .unread_count(ANA, None)
            .await
            .expect("count")
            .count,
        0
    );
}
