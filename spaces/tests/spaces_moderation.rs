//! Reports and the moderation queue: a member reports a post they can read, once while the
//! report is open; moderators (and only they) see the queue of the channels they read, hide or
//! remove the post with a reason or dismiss the reports, and every decision is in the audit
//! log. Hostile callers (outsiders, members reading the queue, reports of posts in a channel
//! the reporter cannot read, duplicates, oversize notes) are refused and change nothing. Real
//! did:plc identities; every successful answer is checked against its lexicon.

mod spaces_common;

use hearth_spaces::model::SpaceError;
use hearth_spaces::ops::moderation::{CreateReport, MAX_REPORT_TEXT, Resolve};
use hearth_spaces::ops::posts::CreatePost;
use hearth_spaces::ops::spaces::CreateSpace;
use hearth_spaces::ratelimit::Limits;
use hearth_spaces::{Spaces, SpacesConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use spaces_common::*;

fn channel_of(channels: &Value, kind: &str) -> String {
    channels
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["kind"] == kind))
        .and_then(|c| c["uri"].as_str())
        .unwrap_or_else(|| panic!("no {kind} channel"))
        .to_owned()
}

async fn join(c: &Client, owner: &Actor, who: &Actor, space: &str) {
    let token = c
        .post(owner, "invite.create", json!({ "space": space }))
        .await
        .expect_ok("invite.create")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    c.post(who, "invite.accept", json!({ "token": token }))
        .await
        .expect_ok("invite.accept");
}

async fn create_post(c: &Client, who: &Actor, channel: &str, text: &str) -> String {
    c.post(
        who,
        "post.create",
        json!({ "channel": channel, "text": text }),
    )
    .await
    .expect_ok("post.create")["post"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned()
}

async fn queue(c: &Client, who: &Actor, space: &str, status: &str) -> Value {
    c.get(
        who,
        "moderation.listReports",
        &[("space", space), ("status", status)],
    )
    .await
    .expect_ok("listReports")
}

fn case_uris(q: &Value) -> Vec<String> {
    q["cases"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["uri"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn audit(c: &Client, owner: &Actor, space: &str) -> Vec<(String, String, String)> {
    let log = c
        .get(owner, "space.getAuditLog", &[("space", space)])
        .await
        .expect_ok("audit");
    log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["subject"].as_str().unwrap_or("").to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[track_caller]
fn refused(cases: &Cases, a: &Answer, status: StatusCode, error: &str, what: &str) {
    cases.case(what);
    assert_eq!((a.status, a.error()), (status, error), "{what}: {}", a.body);
    assert!(
        !String::from_utf8_lossy(&a.raw).contains("SECRET"),
        "{what}: the refusal echoes private text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn report_queue_and_decisions() {
    let cases = Cases::new("spaces moderation");
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let app = start_appview(&plc, None).await;
    let c = Client::new(&app);
    let owner = actor(&plc, "owner").await;
    let admin = actor(&plc, "admin").await;
    let moderator = actor(&plc, "moderator").await;
    let member = actor(&plc, "member").await;
    let member2 = actor(&plc, "member2").await;
    let outsider = actor(&plc, "outsider").await;

    let created = c
        .post(
            &owner,
            "space.create",
            json!({ "name": "Riverside SECRET", "joinPolicy": "invite" }),
        )
        .await
        .expect_ok("space.create");
    let space = created["space"]["uri"].as_str().expect("uri").to_owned();
    let discussion = channel_of(&created["channels"], "discussion");
    let leadership = channel_of(&created["channels"], "restricted");
    for who in [&admin, &moderator, &member, &member2] {
        join(&c, &owner, who, &space).await;
    }
    for (who, role) in [(&admin, "admin"), (&moderator, "moderator")] {
        c.post(
            &owner,
            "member.setRole",
            json!({ "space": space, "did": who.did, "role": role }),
        )
        .await
        .expect_ok("setRole");
    }
    let rude = create_post(&c, &member2, &discussion, "SECRET rude words").await;
    let spam = create_post(&c, &member2, &discussion, "SECRET buy now").await;
    let fine = create_post(&c, &member2, &discussion, "SECRET just fine").await;
    let mine = create_post(&c, &member, &discussion, "SECRET my own").await;
    let board = create_post(&c, &admin, &leadership, "SECRET budget").await;

    // ---- filing reports ----
    let r = c
        .post(
            &member,
            "report.create",
            json!({ "uri": rude, "reason": "harassment", "text": "Not OK with this" }),
        )
        .await
        .expect_ok("report");
    assert_eq!(r["report"]["uri"], rude.as_str());
    assert_eq!(r["report"]["reporter"]["did"], member.did.as_str());
    assert_eq!(r["report"]["reason"], "harassment");
    cases.case("a member reports a post");
    let a = c
        .post(
            &member,
            "report.create",
            json!({ "uri": rude, "reason": "spam" }),
        )
        .await;
    refused(
        &cases,
        &a,
        StatusCode::BAD_REQUEST,
        "AlreadyReported",
        "a second open report of the same post",
    );
    c.post(
        &moderator,
        "report.create",
        json!({ "uri": rude, "reason": "other" }),
    )
    .await
    .expect_ok("a second reporter");
    for (who, uri) in [(&member, &spam), (&member, &fine)] {
        c.post(
            who,
            "report.create",
            json!({ "uri": uri, "reason": "spam" }),
        )
        .await
        .expect_ok("report");
    }
    // Hostile reports.
    let a = c
        .post(
            &member,
            "report.create",
            json!({ "uri": mine, "reason": "spam" }),
        )
        .await;
    refused(
        &cases,
        &a,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        "reporting one's own post",
    );
    for who in [&member, &moderator] {
        let a = c
            .post(
                who,
                "report.create",
                json!({ "uri": board, "reason": "spam" }),
            )
            .await;
        refused(
            &cases,
            &a,
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!("{} reports a post in a channel they cannot read", who.name),
        );
    }
    let a = c
        .post(
            &member,
            "report.create",
            json!({ "uri": mine, "reason": "spam", "text": "x".repeat(MAX_REPORT_TEXT + 1) }),
        )
        .await;
    refused(
        &cases,
        &a,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        "an oversize note",
    );
    assert!(!a.body["message"].as_str().unwrap_or("").contains("xxxx"));
    let a = c
        .post(
            &member,
            "report.create",
            json!({ "uri": spam, "reason": "iDontLikeIt" }),
        )
        .await;
    refused(
        &cases,
        &a,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
        "a reason outside the enum",
    );
    // An outsider gets the same answer for this space as for one that does not exist.
    let nowhere = rude.replace(rude.split('/').nth(5).expect("skey"), "3zzzzzzzzzzzz");
    let real = c
        .post(
            &outsider,
            "report.create",
            json!({ "uri": rude, "reason": "spam" }),
        )
        .await;
    let fake = c
        .post(
            &outsider,
            "report.create",
            json!({ "uri": nowhere, "reason": "spam" }),
        )
        .await;
    refused(
        &cases,
        &real,
        StatusCode::FORBIDDEN,
        fake.error(),
        "an outsider reports",
    );
    assert_eq!(real.body, fake.body, "no such space == not a member");

    // ---- the queue: moderators only, the channels they read ----
    let admin_board = c
        .post(
            &owner,
            "report.create",
            json!({ "uri": board, "reason": "misleading" }),
        )
        .await
        .expect_ok("the owner reports a leadership post");
    assert_eq!(admin_board["report"]["reason"], "misleading");
    let q = queue(&c, &moderator, &space, "open").await;
    assert_eq!(
        case_uris(&q),
        vec![rude.clone(), spam.clone(), fine.clone()]
    );
    let first = &q["cases"][0];
    assert_eq!(first["status"], "open");
    assert_eq!(first["post"]["text"], "SECRET rude words");
    let reporters: Vec<&str> = first["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .filter_map(|r| r["reporter"]["did"].as_str())
        .collect();
    assert_eq!(reporters, vec![member.did.as_str(), moderator.did.as_str()]);
    assert_eq!(first["reports"][0]["text"], "Not OK with this");
    cases.case("the moderator's queue: oldest case first, reporters and reasons, no leadership");
    let q = queue(&c, &admin, &space, "open").await;
    assert_eq!(case_uris(&q).len(), 4, "the admin reads leadership too");
    assert!(case_uris(&q).contains(&board));
    cases.case("an admin's queue has the leadership case");
    // Paging walks every case once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("space", space.as_str()), ("limit", "1")];
        if let Some(cur) = &cursor {
            params.push(("cursor", cur.as_str()));
        }
        let page = c
            .get(&admin, "moderation.listReports", &params)
            .await
            .expect_ok("page");
        seen.extend(case_uris(&page));
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 4, "paging does not loop");
    }
    assert_eq!(seen, case_uris(&queue(&c, &admin, &space, "open").await));
    cases.case("the queue pages");
    let a = c
        .get(&member, "moderation.listReports", &[("space", &space)])
        .await;
    refused(
        &cases,
        &a,
        StatusCode::FORBIDDEN,
        "Forbidden",
        "a member reads the queue",
    );
    let real = c
        .get(&outsider, "moderation.listReports", &[("space", &space)])
        .await;
    let fake_space = space.replace(space.split('/').nth(5).expect("skey"), "3zzzzzzzzzzzz");
    let fake = c
        .get(
            &outsider,
            "moderation.listReports",
            &[("space", &fake_space)],
        )
        .await;
    refused(
        &cases,
        &real,
        StatusCode::FORBIDDEN,
        fake.error(),
        "an outsider reads the queue",
    );
    assert_eq!(real.body, fake.body, "no such space == not a member");

    // ---- decisions ----
    let before = queue(&c, &owner, &space, "open").await;
    for (who, body, status, error) in [
        (
            &member,
            json!({ "uri": rude, "action": "hide", "reason": "x" }),
            StatusCode::FORBIDDEN,
            "Forbidden",
        ),
        (
            &moderator,
            json!({ "uri": rude, "action": "hide" }),
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
        ),
        (
            &moderator,
            json!({ "uri": board, "action": "dismiss" }),
            StatusCode::FORBIDDEN,
            "Forbidden",
        ),
        (
            &moderator,
            json!({ "uri": mine, "action": "dismiss" }),
            StatusCode::BAD_REQUEST,
            "NoOpenReports",
        ),
        (
            &outsider,
            json!({ "uri": rude, "action": "remove", "reason": "x" }),
            StatusCode::FORBIDDEN,
            "Forbidden",
        ),
    ] {
        let a = c.post(who, "moderation.resolve", body.clone()).await;
        refused(
            &cases,
            &a,
            status,
            error,
            &format!("{} resolve {body}", who.name),
        );
    }
    assert_eq!(
        before,
        queue(&c, &owner, &space, "open").await,
        "refused decisions changed nothing"
    );

    let hid = c
        .post(
            &moderator,
            "moderation.resolve",
            json!({ "uri": rude, "action": "hide", "reason": "Personal attack" }),
        )
        .await
        .expect_ok("hide");
    assert_eq!(hid["closed"], 2);
    assert_eq!(hid["post"]["hidden"], true);
    let t = c.get(&member, "feed.getThread", &[("uri", &rude)]).await;
    assert_eq!(t.status, StatusCode::NOT_FOUND, "members no longer see it");
    cases.case("hide: the reports close, members no longer see the post");
    let removed = c
        .post(
            &moderator,
            "moderation.resolve",
            json!({ "uri": spam, "action": "remove", "reason": "Advertising" }),
        )
        .await
        .expect_ok("remove");
    assert_eq!(removed["closed"], 1);
    assert!(removed.get("post").is_none());
    let t = c.get(&owner, "feed.getThread", &[("uri", &spam)]).await;
    assert_eq!(t.status, StatusCode::NOT_FOUND, "the post is gone");
    cases.case("remove: the post is deleted");
    let dismissed = c
        .post(
            &moderator,
            "moderation.resolve",
            json!({ "uri": fine, "action": "dismiss" }),
        )
        .await
        .expect_ok("dismiss");
    assert_eq!(dismissed["closed"], 1);
    assert_eq!(dismissed["post"]["hidden"], false);
    cases.case("dismiss: the post stays");
    // Its author deleting a reported post closes the case as deleted.
    c.post(
        &member,
        "report.create",
        json!({ "uri": fine, "reason": "offTopic" }),
    )
    .await
    .expect_ok("a new report once the last one is closed");
    c.post(&member2, "post.delete", json!({ "uri": fine }))
        .await
        .expect_ok("author deletes");

    let q = queue(&c, &moderator, &space, "open").await;
    assert!(case_uris(&q).is_empty(), "nothing open: {q}");
    let q = queue(&c, &moderator, &space, "resolved").await;
    let statuses: Vec<(String, String)> = q["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["uri"].as_str().unwrap_or("").to_owned(),
                c["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (fine.clone(), "deleted".to_owned()),
            (fine.clone(), "dismissed".to_owned()),
            (spam.clone(), "removed".to_owned()),
            (rude.clone(), "hidden".to_owned()),
        ]
    );
    let hidden_case = &q["cases"][3];
    assert_eq!(hidden_case["resolvedBy"], moderator.did.as_str());
    assert_eq!(hidden_case["resolutionReason"], "Personal attack");
    assert_eq!(hidden_case["post"]["hidden"], true);
    assert_eq!(hidden_case["reports"].as_array().map(Vec::len), Some(2));
    assert!(
        q["cases"][2].get("post").is_none(),
        "a removed post has no view"
    );
    cases.case("resolved cases, newest first, with their decision");

    // ---- the audit log has every decision, with its reason ----
    let log = audit(&c, &owner, &space).await;
    let has = |action: &str, subject: &str, detail: &str| {
        log.iter()
            .any(|(a, s, d)| a == action && s == subject && d == detail)
    };
    assert!(
        has("report.resolve", &rude, "hide: Personal attack"),
        "{log:?}"
    );
    assert!(has("post.hide", &rude, "Personal attack"), "{log:?}");
    assert!(
        has("report.resolve", &spam, "remove: Advertising"),
        "{log:?}"
    );
    assert!(has("post.delete", &spam, &member2.did), "{log:?}");
    assert!(has("report.resolve", &fine, "dismiss"), "{log:?}");
    cases.case("every decision is in the audit log");

    // ---- an admin's audit log leaves out what happens in channels they may not read ----
    let board = c
        .post(
            &owner,
            "channel.create",
            json!({ "space": space, "name": "Board", "kind": "discussion", "readRole": "owner" }),
        )
        .await
        .expect_ok("owner-only channel")["channel"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let board_post = create_post(&c, &owner, &board, "SECRET succession").await;
    c.post(
        &owner,
        "post.hide",
        json!({ "uri": board_post, "hidden": true, "reason": "SECRET-BOARD-REASON" }),
    )
    .await
    .expect_ok("hide in the board");
    let mine = audit(&c, &owner, &space).await;
    assert!(
        mine.iter()
            .any(|(a, s, _)| a == "post.hide" && s == &board_post)
    );
    let log = c
        .get(&admin, "space.getAuditLog", &[("space", &space)])
        .await
        .expect_ok("admin audit");
    let text = log.to_string();
    assert!(
        !text.contains(&board_post)
            && !text.contains("SECRET-BOARD-REASON")
            && !text.contains(&board),
        "an admin reads the audit of an owner-only channel: {text}"
    );
    assert!(text.contains("report.resolve"), "and still the rest");
    cases.case("an admin's audit log leaves out the owner-only channel");
}

fn open_with(dir: &std::path::Path, limits: Limits) -> Spaces {
    Spaces::open(SpacesConfig {
        dir: dir.to_path_buf(),
        authority: "did:web:localhost%3A1".into(),
        public_url: "http://localhost:1".into(),
        smtp_url: None,
        smtp_from: None,
        limits,
        images_bucket: None,
    })
    .expect("spaces")
}

/// In process, as the web app calls the service: the same limits hold without the lexicon
/// in front, and reports spend the space's write budget like any other write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_bounded_in_process() {
    let cases = Cases::new("spaces reports in process");
    let tmp = tempfile::tempdir().expect("tmp");
    const BUDGET: usize = 4;
    let s = open_with(
        tmp.path(),
        Limits {
            space_burst: BUDGET as f64,
            space_rate: 1e-6,
            ..Limits::default()
        },
    );
    let owner = "did:plc:modowner00000000000000000";
    let created = s
        .create_space(
            owner,
            CreateSpace {
                name: "Bounded".into(),
                description: None,
                join_policy: "open".into(),
                listed: Some(true),
                join_question: None,
                default_channels: None,
            },
        )
        .await
        .expect("space");
    let discussion = created
        .channels
        .iter()
        .find(|c| c.kind == "discussion")
        .map(|c| c.uri.clone())
        .expect("discussion");
    let post = s
        .create_post(
            owner,
            CreatePost {
                channel: Some(discussion),
                text: "hello".into(),
                facets: None,
                images: None,
                reply_to: None,
            },
        )
        .await
        .expect("post")
        .post
        .uri;
    let report = |who: &'static str, text: Option<String>| {
        let s = s.clone();
        let uri = post.clone();
        async move {
            s.report_post(
                who,
                CreateReport {
                    uri,
                    reason: "spam".into(),
                    text,
                },
            )
            .await
        }
    };
    let members: Vec<&'static str> = vec![
        "did:plc:modmember0000000000000001",
        "did:plc:modmember0000000000000002",
        "did:plc:modmember0000000000000003",
        "did:plc:modmember0000000000000004",
    ];
    for m in &members {
        s.request_join(m, &created.space.uri, None)
            .await
            .expect("join the open space");
    }
    let r = report(members[0], Some("é".repeat(MAX_REPORT_TEXT / 2 + 1))).await;
    assert!(matches!(r, Err(SpaceError::Invalid(_))), "{r:?}");
    let r = report(members[0], Some("a".repeat(MAX_REPORT_TEXT))).await;
    assert!(r.is_ok(), "a note of exactly the limit: {r:?}");
    cases.case("notes are bounded in bytes, in process too");
    let r = s
        .report_post(
            members[1],
            CreateReport {
                uri: post.clone(),
                reason: "because".into(),
                text: None,
            },
        )
        .await;
    assert!(matches!(r, Err(SpaceError::Invalid(_))), "{r:?}");
    cases.case("reasons are checked in process too");
    // The post, one report: two of the budget spent; two more reports spend the rest.
    report(members[1], None).await.expect("within budget");
    report(members[2], None).await.expect("within budget");
    let r = report(members[3], None).await;
    assert!(matches!(r, Err(SpaceError::RateLimited)), "{r:?}");
    cases.case("reports spend the space's write budget");
    let r = s
        .resolve_reports(
            owner,
            Resolve {
                uri: post.clone(),
                action: "dismiss".into(),
                reason: None,
            },
        )
        .await;
    assert!(matches!(r, Err(SpaceError::RateLimited)), "{r:?}");
    cases.case("decisions too");
}
