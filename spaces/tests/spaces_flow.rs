//! The organizer's flow, end to end, with a real SMTP server (Python's aiosmtpd, saving each
//! message into a Maildir): create a space with its default channels; invite by link; approve
//! a join request; promote to admin; an announcement reaches members' inboxes and their email;
//! a question is answered and the answer accepted; reactions; a pin; a hide; images; export;
//! unread counts and levels; and a daily digest. Every answer is checked against its lexicon.

mod spaces_common;

use serde_json::{Value, json};
use spaces_common::*;
use std::time::Duration;

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn channel_of(channels: &Value, kind: &str) -> String {
    s(&channels
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["kind"] == kind).cloned())
        .unwrap_or_else(|| panic!("no {kind} channel"))["uri"])
}

fn reasons(list: &Value) -> Vec<String> {
    list["notifications"]
        .as_array()
        .map(|n| n.iter().map(|x| s(&x["reason"])).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn organizer_flow_with_email() {
    let cases = Cases::new("spaces organizer flow");
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = start_smtp(tmp.path()).await;
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let app = start_appview(&plc, Some(format!("smtp://127.0.0.1:{}", smtp.port))).await;
    let c = Client::new(&app);
    let org = actor(&plc, "organizer").await;
    let lead = actor(&plc, "lead").await;
    let ana = actor(&plc, "ana").await;
    let ben = actor(&plc, "ben").await;
    let outsider = actor(&plc, "outsider").await;

    // ---- a space with the four default channels ----
    let created = c
        .post(
            &org,
            "space.create",
            json!({
                "name": "Eastside Food Co-op",
                "description": "Members only",
                "joinPolicy": "request",
                "joinQuestion": "Which street do you live on?",
            }),
        )
        .await
        .expect_ok("create");
    cases.case("organizer creates the space");
    let space = s(&created["space"]["uri"]);
    let channels = &created["channels"];
    let kinds: Vec<String> = channels
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| s(&c["kind"]))
        .collect();
    assert_eq!(
        kinds,
        ["announcements", "discussion", "questions", "restricted"]
    );
    let leadership = channels[3].clone();
    assert_eq!(
        (
            s(&leadership["name"]).as_str(),
            s(&leadership["readRole"]).as_str()
        ),
        ("Leadership", "admin")
    );
    assert_eq!(channels[0]["postRole"], "admin");
    assert_eq!(channels[0]["emailAnnouncements"], true);
    let announcements = channel_of(channels, "announcements");
    let discussion = channel_of(channels, "discussion");
    let questions = channel_of(channels, "questions");
    assert_eq!(created["space"]["viewer"]["role"], "owner");

    // ---- invite by link ----
    let inv = c
        .post(
            &org,
            "invite.create",
            json!({ "space": space, "maxUses": 5, "expiresInHours": 48 }),
        )
        .await
        .expect_ok("invite");
    let link = s(&inv["link"]);
    assert!(link.starts_with(&format!("{}/i/", app.url)), "{link}");
    let token = link.rsplit('/').next().expect("token").to_owned();
    let joined = c
        .post(&lead, "invite.accept", json!({ "token": token }))
        .await
        .expect_ok("accept");
    assert_eq!(joined["space"]["viewer"]["role"], "member");
    c.post(&ana, "invite.accept", json!({ "token": token }))
        .await
        .expect_ok("accept ana");
    let inv_list = c
        .get(&org, "invite.list", &[("space", &space)])
        .await
        .expect_ok("invites");
    assert_eq!(inv_list["invites"][0]["uses"], 2);
    cases.case("invites are used and listed");

    // ---- a join request, approved ----
    let req = c
        .post(
            &ben,
            "join.request",
            json!({ "space": space, "answer": "Maple Street" }),
        )
        .await
        .expect_ok("request");
    assert_eq!(req["request"]["status"], "pending");
    let n = c
        .get(&org, "notification.list", &[])
        .await
        .expect_ok("owner inbox");
    assert!(
        reasons(&n).contains(&"joinRequest".into()),
        "admins hear of join requests: {n}"
    );
    let pending = c
        .get(&org, "join.list", &[("space", &space)])
        .await
        .expect_ok("join.list");
    assert_eq!(pending["requests"][0]["answer"], "Maple Street");
    let id = s(&pending["requests"][0]["id"]);
    let decided = c
        .post(
            &org,
            "join.decide",
            json!({ "space": space, "id": id, "approve": true }),
        )
        .await
        .expect_ok("decide");
    assert_eq!(decided["request"]["status"], "approved");
    assert_eq!(decided["request"]["member"]["role"], "member");
    let n = c
        .get(&ben, "notification.list", &[])
        .await
        .expect_ok("ben inbox");
    assert!(reasons(&n).contains(&"joinApproved".into()));
    cases.case("join request approved and notified");

    // ---- promote to admin ----
    let m = c
        .post(
            &org,
            "member.setRole",
            json!({ "space": space, "did": lead.did, "role": "admin" }),
        )
        .await
        .expect_ok("promote");
    assert_eq!(m["member"]["role"], "admin");
    let n = c
        .get(&lead, "notification.list", &[])
        .await
        .expect_ok("lead inbox");
    assert!(reasons(&n).contains(&"roleChange".into()));
    let g = c
        .get(&lead, "space.get", &[("space", &space)])
        .await
        .expect_ok("get");
    assert_eq!(
        g["channels"].as_array().map(Vec::len),
        Some(4),
        "an admin reads leadership"
    );
    let g = c
        .get(&ana, "space.get", &[("space", &space)])
        .await
        .expect_ok("get");
    assert_eq!(
        g["channels"].as_array().map(Vec::len),
        Some(3),
        "a member does not"
    );
    let members = c
        .get(&ana, "member.list", &[("space", &space)])
        .await
        .expect_ok("members");
    assert_eq!(members["members"].as_array().map(Vec::len), Some(4));
    cases.case("members listed");

    // ---- email settings ----
    let st = c
        .get(&ana, "notification.getSettings", &[])
        .await
        .expect_ok("settings");
    assert_eq!(st["emailAvailable"], true);
    let st = c
        .post(
            &ana,
            "notification.putSettings",
            json!({ "email": "ana@example.test", "digest": "daily" }),
        )
        .await
        .expect_ok("put settings");
    assert_eq!(
        (st["digest"].as_str(), st["announcementEmails"].as_bool()),
        (Some("daily"), Some(true))
    );
    c.post(
        &ben,
        "notification.putSettings",
        json!({ "email": "ben@example.test", "announcementEmails": false }),
    )
    .await
    .expect_ok("ben settings");
    // Email goes only to confirmed addresses: each opens the link sent to them.
    smtp.confirm("ana@example.test").await;
    smtp.confirm("ben@example.test").await;
    let st = c
        .get(&ana, "notification.getSettings", &[])
        .await
        .expect_ok("settings");
    assert_eq!(st["emailVerified"], true);
    let bad = c
        .post(
            &ben,
            "notification.putSettings",
            json!({ "email": "not an address" }),
        )
        .await;
    assert_eq!(bad.error(), "InvalidRequest");
    cases.case("an email that is not an address is refused");

    // ---- an announcement reaches inboxes and email ----
    let ann = c
        .post(&lead, "post.create", json!({ "channel": announcements, "text": "General meeting Thursday 7pm at the library" }))
        .await
        .expect_ok("announce");
    let ann_uri = s(&ann["post"]["uri"]);
    for who in [&org, &ana, &ben] {
        let n = c
            .get(who, "notification.list", &[])
            .await
            .expect_ok("inbox");
        let hit = n["notifications"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["reason"] == "announcement"))
            .cloned()
            .unwrap_or_else(|| panic!("{} got the announcement: {n}", who.name));
        assert_eq!(hit["subject"], ann_uri.as_str());
        assert_eq!(hit["spaceName"], "Eastside Food Co-op");
        assert!(s(&hit["text"]).contains("General meeting"));
        assert_eq!(hit["isRead"], false);
        cases.case("announcement reaches the inbox");
    }
    let mail = smtp
        .wait_for("to ana with the announcement", |m| {
            m.contains("ana@example.test") && m.contains("General meeting")
        })
        .await;
    assert!(
        mail.contains("Eastside Food Co-op"),
        "the subject names the space: {mail}"
    );
    assert!(
        mail.contains("hearth@localhost"),
        "from the configured address"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !smtp
            .to("ben@example.test")
            .iter()
            .any(|m| m.contains("General meeting")),
        "no announcement email for someone who turned them off"
    );
    cases.case("no announcement email when turned off");

    // ---- a muted space: no announcement in the inbox, and no email ----
    c.post(
        &ana,
        "notification.setLevel",
        json!({ "space": space, "level": "muted" }),
    )
    .await
    .expect_ok("mute");
    let second = c
        .post(
            &lead,
            "post.create",
            json!({ "channel": announcements, "text": "Second notice: bring receipts" }),
        )
        .await
        .expect_ok("second announcement");
    let second_uri = s(&second["post"]["uri"]);
    let has_second = |n: &Value| {
        n["notifications"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["subject"] == second_uri.as_str()))
    };
    let n = c
        .get(&ana, "notification.list", &[])
        .await
        .expect_ok("ana inbox");
    assert!(!has_second(&n), "a muted space sends nothing: {n}");
    let n = c
        .get(&org, "notification.list", &[])
        .await
        .expect_ok("org inbox");
    assert!(has_second(&n), "the others still get it: {n}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !smtp.messages().iter().any(|m| m.contains("Second notice")),
        "no announcement email from a muted space"
    );
    c.post(
        &ana,
        "notification.setLevel",
        json!({ "space": space, "level": "mentionsAndReplies" }),
    )
    .await
    .expect_ok("unmute");
    cases.case("mute and unmute");

    // ---- levels: channel overrides space ----
    c.post(
        &ben,
        "notification.setLevel",
        json!({ "space": space, "level": "all" }),
    )
    .await
    .expect_ok("level");
    c.post(
        &ben,
        "notification.setLevel",
        json!({ "space": space, "channel": questions, "level": "muted" }),
    )
    .await
    .expect_ok("channel level");
    let st = c
        .get(&ben, "notification.getSettings", &[])
        .await
        .expect_ok("settings");
    assert_eq!(st["levels"].as_array().map(Vec::len), Some(2), "{st}");

    // ---- a question, answered, accepted ----
    let q = c
        .post(
            &ana,
            "post.create",
            json!({ "channel": questions, "text": "Can we order bulk oats?" }),
        )
        .await
        .expect_ok("ask");
    let q_uri = s(&q["post"]["uri"]);
    let n = c
        .get(&ben, "notification.list", &[])
        .await
        .expect_ok("ben inbox");
    assert!(
        !reasons(&n).contains(&"question".into()),
        "ben muted questions: {n}"
    );
    let answer = c
        .post(
            &lead,
            "post.create",
            json!({
                "replyTo": q_uri,
                "text": "Yes, @ana — order by Friday",
                "facets": [{
                    "index": { "byteStart": 5, "byteEnd": 9 },
                    "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": ana.did }]
                }]
            }),
        )
        .await
        .expect_ok("answer");
    let a_uri = s(&answer["post"]["uri"]);
    assert_eq!(answer["post"]["reply"]["root"], q_uri.as_str());
    let n = c
        .get(&ana, "notification.list", &[])
        .await
        .expect_ok("ana inbox");
    let r = reasons(&n);
    assert_eq!(
        r.iter()
            .filter(|x| ["answer", "mention", "reply"].contains(&x.as_str()))
            .count(),
        1,
        "one notification per post: {r:?}"
    );
    let not_asker = c
        .post(
            &ben,
            "post.markAnswer",
            json!({ "uri": a_uri, "accepted": true }),
        )
        .await;
    assert_eq!(not_asker.status, 403);
    let marked = c
        .post(
            &ana,
            "post.markAnswer",
            json!({ "uri": a_uri, "accepted": true }),
        )
        .await
        .expect_ok("mark");
    assert_eq!(marked["post"]["isAcceptedAnswer"], true);
    let thread = c
        .get(&ben, "feed.getThread", &[("uri", &q_uri)])
        .await
        .expect_ok("thread");
    assert_eq!(thread["thread"]["root"]["acceptedAnswer"], a_uri.as_str());
    assert_eq!(thread["thread"]["root"]["replyCount"], 1);
    assert_eq!(thread["thread"]["replies"][0]["uri"], a_uri.as_str());
    cases.case("question answered and accepted");

    // ---- reactions ----
    let r = c
        .post(&ben, "post.react", json!({ "uri": q_uri, "emoji": "👍" }))
        .await
        .expect_ok("react");
    assert_eq!(
        r["reactions"],
        json!([{ "emoji": "👍", "count": 1, "viewerReacted": true }])
    );
    c.post(&ana, "post.react", json!({ "uri": q_uri, "emoji": "👍" }))
        .await
        .expect_ok("react");
    let r = c
        .post(
            &ben,
            "post.react",
            json!({ "uri": q_uri, "emoji": "👍", "remove": true }),
        )
        .await
        .expect_ok("unreact");
    assert_eq!(
        r["reactions"],
        json!([{ "emoji": "👍", "count": 1, "viewerReacted": false }])
    );
    cases.case("reactions counted");

    // ---- discussion, a pin, a hide ----
    let d1 = c
        .post(
            &ben,
            "post.create",
            json!({ "channel": discussion, "text": "First thread" }),
        )
        .await
        .expect_ok("d1");
    let d2 = c
        .post(
            &ana,
            "post.create",
            json!({ "channel": discussion, "text": "Spam spam spam" }),
        )
        .await
        .expect_ok("d2");
    let d3 = c
        .post(
            &ben,
            "post.create",
            json!({ "channel": discussion, "text": "Third thread" }),
        )
        .await
        .expect_ok("d3");
    let (d1, d2, d3) = (
        s(&d1["post"]["uri"]),
        s(&d2["post"]["uri"]),
        s(&d3["post"]["uri"]),
    );
    c.post(&org, "post.pin", json!({ "uri": d1, "pinned": true }))
        .await
        .expect_ok("pin");
    let hidden = c
        .post(
            &lead,
            "post.hide",
            json!({ "uri": d2, "hidden": true, "reason": "spam" }),
        )
        .await
        .expect_ok("hide");
    assert_eq!(hidden["post"]["hidden"], true);
    let feed = c
        .get(&ben, "feed.getChannel", &[("channel", &discussion)])
        .await
        .expect_ok("feed");
    let uris: Vec<String> = feed["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .map(|p| s(&p["uri"]))
        .collect();
    assert_eq!(
        uris,
        [d1.clone(), d3.clone()],
        "pinned first, then newest; hidden gone"
    );
    assert_eq!(feed["posts"][0]["pinned"], true);
    let feed = c
        .get(&lead, "feed.getChannel", &[("channel", &discussion)])
        .await
        .expect_ok("feed");
    let shown: Vec<(String, bool)> = feed["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .map(|p| (s(&p["uri"]), p["hidden"] == true))
        .collect();
    assert_eq!(
        shown,
        [(d1.clone(), false), (d3.clone(), false), (d2.clone(), true)],
        "moderators see hidden posts, flagged"
    );
    let gone = c.get(&ben, "feed.getThread", &[("uri", &d2)]).await;
    assert_eq!(gone.status, 404);
    // Paging: one per page, pinned first, then by cursor to the end.
    let p1 = c
        .get(
            &ben,
            "feed.getChannel",
            &[("channel", &discussion), ("limit", "1")],
        )
        .await
        .expect_ok("p1");
    assert_eq!(p1["posts"][0]["uri"], d1.as_str());
    let p2 = c
        .get(
            &ben,
            "feed.getChannel",
            &[
                ("channel", &discussion),
                ("limit", "1"),
                ("cursor", &s(&p1["cursor"])),
            ],
        )
        .await
        .expect_ok("p2");
    assert_eq!(p2["posts"][0]["uri"], d3.as_str());
    cases.case("channel feed pages");

    // ---- images ----
    let up = c
        .call(
            &ben,
            "post.uploadImage",
            Input::Bytes(&space, &png()),
            Auth::Good,
        )
        .await
        .expect_ok("upload");
    assert_eq!(up["image"]["mimeType"], "image/png");
    let cid = s(&up["image"]["ref"]["$link"]);
    let not_image = c
        .call(
            &ben,
            "post.uploadImage",
            Input::Bytes(&space, b"%PDF-1.4 nope"),
            Auth::Good,
        )
        .await;
    assert_eq!(not_image.error(), "InvalidRequest");
    let with_img = c
        .post(&ben, "post.create", json!({ "channel": discussion, "text": "Our stall", "images": [image_input(&up, "the stall")] }))
        .await
        .expect_ok("post with image");
    assert_eq!(with_img["post"]["images"][0]["cid"], cid.as_str());
    let got = c
        .get(&ana, "post.getImage", &[("space", &space), ("cid", &cid)])
        .await;
    assert!(got.ok());
    assert_eq!(got.raw, png());
    assert_eq!(got.content_type.as_deref(), Some("image/png"));
    let refused = c
        .get(
            &outsider,
            "post.getImage",
            &[("space", &space), ("cid", &cid)],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        app.dir.join("space-images").join(&cid).exists(),
        "stored on the AppView's disk"
    );
    cases.case("image stored on disk");

    // ---- export ----
    let all = c
        .get(&org, "space.export", &[("space", &space)])
        .await
        .expect_ok("export");
    assert_eq!(all["scope"], "space");
    assert_eq!(all["members"].as_array().map(Vec::len), Some(4));
    assert!(all["posts"].as_array().map(Vec::len).unwrap_or(0) >= 6);
    let own = c
        .get(&ben, "space.export", &[("space", &space)])
        .await
        .expect_ok("own export");
    assert_eq!(own["scope"], "own");
    assert!(
        own["posts"]
            .as_array()
            .expect("posts")
            .iter()
            .all(|p| p["author"]["did"] == ben.did.as_str())
    );
    cases.case("author feed in the space");

    // ---- the audit log ----
    let log = c
        .get(
            &org,
            "space.getAuditLog",
            &[("space", &space), ("limit", "100")],
        )
        .await
        .expect_ok("audit");
    let actions: Vec<String> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| s(&e["action"]))
        .collect();
    for a in [
        "space.create",
        "invite.create",
        "invite.accept",
        "join.request",
        "join.approve",
        "member.role",
        "post.pin",
        "post.hide",
    ] {
        assert!(
            actions.contains(&a.to_owned()),
            "audit has {a}: {actions:?}"
        );
    }
    cases.case("audit log records the moderation");

    // ---- unread counts, seen ----
    let u = c
        .get(&ana, "notification.getUnreadCount", &[])
        .await
        .expect_ok("unread");
    assert!(u["count"].as_i64().unwrap_or(0) >= 2);
    assert_eq!(u["spaces"][0]["space"], space.as_str());
    c.post(
        &ana,
        "notification.updateSeen",
        json!({ "seenAt": "2100-01-01T00:00:00.000Z" }),
    )
    .await
    .expect_ok("seen");
    let u = c
        .get(&ana, "notification.getUnreadCount", &[])
        .await
        .expect_ok("unread");
    assert_eq!(u["count"], 0);
    c.post(
        &ana,
        "notification.updateSeen",
        json!({ "seenAt": "2000-01-01T00:00:00Z" }),
    )
    .await
    .expect_ok("seen");
    cases.case("mark seen");

    // ---- a daily digest ----
    let now = hearth_spaces::model::now_ms();
    assert_eq!(
        app.spaces.queue_digests(now).await.expect("digest"),
        0,
        "not yet a day"
    );
    assert_eq!(
        app.spaces
            .queue_digests(now + 25 * 3600 * 1000)
            .await
            .expect("digest"),
        1,
        "a day later"
    );
    let digest = smtp
        .wait_for("digest to ana", |m| {
            m.contains("ana@example.test") && m.contains("daily Hearth digest")
        })
        .await;
    assert!(digest.contains("Eastside Food Co-op"), "{digest}");
    assert_eq!(
        app.spaces
            .queue_digests(now + 26 * 3600 * 1000)
            .await
            .expect("digest"),
        0,
        "once per day"
    );
    cases.case("daily digest once per day");

    // ---- a weekly digest ----
    // Ben turns it on now (his first week starts now), then something happens for him.
    c.post(
        &ben,
        "notification.putSettings",
        json!({ "digest": "weekly" }),
    )
    .await
    .expect_ok("weekly");
    c.post(
        &ana,
        "post.create",
        json!({ "channel": discussion, "text": "Weekly news: the freezer is fixed" }),
    )
    .await
    .expect_ok("a post for ben's digest");
    assert_eq!(
        app.spaces
            .queue_digests(now + 3 * 24 * 3600 * 1000)
            .await
            .expect("digest"),
        0,
        "not yet a week"
    );
    assert_eq!(
        app.spaces
            .queue_digests(now + 8 * 24 * 3600 * 1000)
            .await
            .expect("digest"),
        1,
        "a week later"
    );
    let weekly = smtp
        .wait_for("weekly digest to ben", |m| {
            m.contains("ben@example.test") && m.contains("weekly Hearth digest")
        })
        .await;
    assert!(
        weekly.contains("freezer is fixed") && weekly.contains("Eastside Food Co-op"),
        "{weekly}"
    );
    cases.case("weekly digest");

    // ---- leaving, and deleting the space ----
    c.post(&ben, "member.leave", json!({ "space": space }))
        .await
        .expect_ok("leave");
    let after = c
        .get(&ben, "feed.getChannel", &[("channel", &discussion)])
        .await;
    assert_eq!(after.status, 403);
    c.post(&org, "space.delete", json!({ "space": space }))
        .await
        .expect_ok("delete");
    let gone = c.get(&org, "space.get", &[("space", &space)]).await;
    assert_eq!(gone.status, 404);
    assert!(
        !app.dir.join("space-images").join(&cid).exists(),
        "its images left the disk"
    );
    cases.case("deleted space leaves the disk");
}
