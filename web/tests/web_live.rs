//! Live updates (server-sent events): the badge's count and an open channel's nudge reach a
//! member; the gate is asked again before each nudge; outsiders and the signed-out get no
//! stream; the number of streams is capped.

mod web_common;

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use std::time::Duration;
use tower::ServiceExt;
use web_common::*;

/// Opens `path` as an event stream: its status, and the body to read events from.
async fn open(app: &App, path: &str, cookie: Option<&str>) -> (StatusCode, BodyDataStream) {
    let mut req = Request::get(path).header(header::HOST, "127.0.0.1:2584");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    if status == StatusCode::OK {
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/event-stream",
            "an event stream"
        );
    }
    (status, res.into_body().into_data_stream())
}

/// The events (name, data) that arrive within `wait`, keep-alive comments skipped.
async fn events_within(body: &mut BodyDataStream, wait: Duration) -> Vec<(String, String)> {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, body.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ").or(line.strip_prefix("event:")) {
                    name = Some(n.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                    data = Some(d.trim().to_owned());
                }
            }
            Some((name?, data.unwrap_or_default()))
        })
        .collect()
}

const SHORT: Duration = Duration::from_millis(400);

#[tokio::test]
async fn a_member_hears_of_new_posts_and_the_badge_moves() {
    let app = app().await;
    let f = fixture(&app).await;
    let (ana, _) = app.sign_in(ANA, "ana.test").await;
    let discussion = hearth_web::pages::path_of(f.channel("discussion"));
    let (status, mut stream) = open(&app, &format!("{discussion}/events"), Some(&ana)).await;
    assert_eq!(status, StatusCode::OK);
    let first = events_within(&mut stream, SHORT).await;
    assert_eq!(
        first.first().map(|e| e.0.as_str()),
        Some("unread"),
        "{first:?}"
    );
    let before: i64 = first[0].1.parse().expect("a count");

    // The owner starts a thread in the open channel: Ana's page is nudged.
    post(
        &app,
        OWNER,
        Some(f.channel("discussion")),
        None,
        "LIVE-1 hello @ana.test",
    )
    .await;
    let got = events_within(&mut stream, SHORT).await;
    assert!(got.contains(&("post".into(), "new".into())), "{got:?}");
    assert!(
        !got.iter().any(|(_, d)| d.contains("LIVE-1")),
        "no content goes out: {got:?}"
    );
    // A post in another channel moves no nudge on this page.
    post(
        &app,
        OWNER,
        Some(f.channel("announcements")),
        None,
        "LIVE-2",
    )
    .await;
    let got = events_within(&mut stream, SHORT).await;
    assert!(!got.iter().any(|e| e.0 == "post"), "{got:?}");
    let after: i64 = app
        .spaces
        .unread_count(ANA, None)
        .await
        .expect("count")
        .count;
    assert!(after > before, "the announcement is news to Ana");
    // The badge on the page said the count the inbox says (the last one sent).
    let (_, mut home) = open(&app, "/events", Some(&ana)).await;
    let now = events_within(&mut home, SHORT).await;
    assert_eq!(now, vec![("unread".to_owned(), after.to_string())]);

    // Removed while the page is open: nothing more.
    app.spaces
        .remove_member(OWNER, &f.space, ANA)
        .await
        .expect("removed");
    post(&app, OWNER, Some(f.channel("discussion")), None, "LIVE-3").await;
    let got = events_within(&mut stream, SHORT).await;
    assert!(!got.iter().any(|e| e.0 == "post"), "{got:?}");
    // And no new stream for that channel.
    let (status, _) = open(&app, &format!("{discussion}/events"), Some(&ana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn outsiders_and_the_signed_out_get_no_stream() {
    let app = app().await;
    let f = fixture(&app).await;
    let discussion = hearth_web::pages::path_of(f.channel("discussion"));
    let (outsider, _) = app.sign_in(OUTSIDER, "outsider.test").await;
    let (status, _) = open(&app, &format!("{discussion}/events"), Some(&outsider)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "same answer as no such channel"
    );
    let (status, _) = open(&app, "/s/nosuchspace/c/nosuch/events", Some(&outsider)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for path in ["/events".to_owned(), format!("{discussion}/events")] {
        let (status, _) = open(&app, &path, None).await;
        assert_ne!(status, StatusCode::OK, "{path} signed out");
    }
}

#[tokio::test]
async fn streams_are_capped() {
    let app = app().await;
    fixture(&app).await;
    let (ana, _) = app.sign_in(ANA, "ana.test").await;
    // Leave room for one stream.
    let spare = app.web.live.available_permits() - 1;
    app.web.live.forget_permits(spare);
    let (status, held) = open(&app, "/events", Some(&ana)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = open(&app, "/events", Some(&ana)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // A closed stream gives its place back.
    drop(held);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, _) = open(&app, "/events", Some(&ana)).await;
    assert_eq!(status, StatusCode::OK);
}
