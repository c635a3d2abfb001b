//! The gate, method by method: for every social.hearth method, a non-member, a removed
//! member, a banned member and a member of another space are refused, and so is a member
//! reading (or writing) a channel restricted to a higher role; a removal takes effect on the
//! very next request; tokens for another audience or method, expired, replayed on a write, or
//! signed by a key that is not the member's are refused. Refusals never echo private text, and
//! refused writes change nothing. Real did:plc identities on a real PLC directory; every
//! successful answer is checked against its lexicon.

mod spaces_common;

use reqwest::StatusCode;
use serde_json::{Value, json};
use spaces_common::*;

/// Private text that must never appear in a refusal.
const SECRETS: &[&str] = &[
    "Riverside Tenants",
    "SECRET-ANNOUNCE",
    "SECRET-DISCUSS",
    "SECRET-LEADERSHIP",
    "SECRET-QUESTION",
    "SECRET-ANSWER",
];

struct Fixture {
    space: String,
    other_space: String,
    announcements: String,
    discussion: String,
    questions: String,
    leadership: String,
    discuss_post: String,
    question: String,
    answer: String,
    leadership_post: String,
    discuss_cid: String,
    leadership_cid: String,
    revoked_token: String,
    valid_token: String,
    invite_id: String,
    pending_request: String,
}

fn channel_of(channels: &Value, kind: &str) -> String {
    channels
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["kind"] == kind))
        .and_then(|c| c["uri"].as_str())
        .unwrap_or_else(|| panic!("no {kind} channel"))
        .to_owned()
}

#[track_caller]
fn refused(cases: &Cases, a: &Answer, what: &str) {
    cases.case(what);
    assert!(
        matches!(
            a.status,
            StatusCode::UNAUTHORIZED
                | StatusCode::FORBIDDEN
                | StatusCode::NOT_FOUND
                | StatusCode::BAD_REQUEST
        ) && !a.ok(),
        "{what}: expected a refusal, got {} {}",
        a.status,
        a.body
    );
    let text = String::from_utf8_lossy(&a.raw);
    for s in SECRETS {
        assert!(
            !text.contains(s),
            "{what}: refusal echoes private text: {text}"
        );
    }
}

async fn invite(c: &Client, by: &Actor, space: &str, role: &str) -> String {
    c.post(by, "invite.create", json!({ "space": space, "role": role }))
        .await
        .expect_ok("invite.create")["token"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn join(c: &Client, who: &Actor, token: &str) {
    c.post(who, "invite.accept", json!({ "token": token }))
        .await
        .expect_ok("invite.accept");
}

async fn create_post(c: &Client, who: &Actor, body: Value) -> String {
    c.post(who, "post.create", body)
        .await
        .expect_ok("post.create")["post"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned()
}

async fn upload(c: &Client, who: &Actor, space: &str, bytes: &[u8]) -> Value {
    c.call(
        who,
        "post.uploadImage",
        Input::Bytes(space, bytes),
        Auth::Good,
    )
    .await
    .expect_ok("uploadImage")
}

/// A request for each method, aimed at the fixture's space. `None` for methods that take no
/// space (handled separately).
fn request(nsid: &str, f: &Fixture, member: &str) -> Option<(bool, Value)> {
    let q = |v: Value| Some((false, v));
    let p = |v: Value| Some((true, v));
    match nsid {
        "space.get" => q(json!({ "space": f.space })),
        "space.update" => p(json!({ "space": f.space, "name": "hijacked" })),
        "space.delete" => p(json!({ "space": f.space })),
        "space.getAuditLog" => q(json!({ "space": f.space })),
        "space.export" => q(json!({ "space": f.space })),
        "channel.create" => p(json!({ "space": f.space, "name": "x", "kind": "discussion" })),
        "channel.update" => p(json!({ "channel": f.discussion, "name": "renamed" })),
        "invite.create" => p(json!({ "space": f.space })),
        "invite.list" => q(json!({ "space": f.space })),
        "invite.revoke" => p(json!({ "space": f.space, "id": f.invite_id })),
        "invite.accept" => p(json!({ "token": f.revoked_token })),
        "invite.preview" => q(json!({ "token": f.revoked_token })),
        "join.list" => q(json!({ "space": f.space })),
        "join.cancel" => p(json!({ "space": f.space })),
        "join.getMine" => q(json!({ "space": f.space })),
        "join.decide" => p(json!({ "space": f.space, "id": f.pending_request, "approve": true })),
        "member.list" => q(json!({ "space": f.space })),
        "member.setRole" => p(json!({ "space": f.space, "did": member, "role": "moderator" })),
        "member.remove" => p(json!({ "space": f.space, "did": member })),
        "member.ban" => p(json!({ "space": f.space, "did": member })),
        "member.leave" => p(json!({ "space": f.space })),
        "member.unban" => p(json!({ "space": f.space, "did": member })),
        "member.listBans" => q(json!({ "space": f.space })),
        "post.create" => p(json!({ "channel": f.discussion, "text": "intruder" })),
        "post.edit" => p(json!({ "uri": f.discuss_post, "text": "intruder" })),
        "post.delete" => p(json!({ "uri": f.discuss_post })),
        "post.react" => p(json!({ "uri": f.discuss_post, "emoji": "👍" })),
        "post.hide" => p(json!({ "uri": f.discuss_post, "hidden": true })),
        "post.pin" => p(json!({ "uri": f.discuss_post, "pinned": true })),
        "post.markAnswer" => p(json!({ "uri": f.answer, "accepted": true })),
        "post.getImage" => q(json!({ "space": f.space, "cid": f.discuss_cid })),
        "feed.getChannel" => q(json!({ "channel": f.discussion })),
        "feed.getThread" => q(json!({ "uri": f.discuss_post })),
        "notification.setLevel" => p(json!({ "space": f.space, "level": "all" })),
        "notification.list" => q(json!({ "space": f.space })),
        "notification.getUnreadCount" => q(json!({ "space": f.space })),
        "report.create" => p(json!({ "uri": f.discuss_post, "reason": "spam" })),
        "moderation.listReports" => q(json!({ "space": f.space })),
        "moderation.resolve" => p(json!({ "uri": f.discuss_post, "action": "dismiss" })),
        _ => None,
    }
}

async fn send(
    c: &Client,
    who: &Actor,
    nsid: &str,
    write: bool,
    v: &Value,
    auth: Auth<'_>,
) -> Answer {
    if write {
        c.call(who, nsid, Input::Json(v), auth).await
    } else {
        let pairs: Vec<(String, String)> = v
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        c.call(who, nsid, Input::Query(&refs), auth).await
    }
}

/// Every method in the lexicons directory (so a new one cannot be left out of this test).
fn all_methods() -> Vec<String> {
    let mut out: Vec<String> = hearth_lexicons::catalog()
        .docs()
        .map(|d| d.id.as_str().to_owned())
        .filter(|id| id.starts_with("social.hearth.") && id != "social.hearth.defs")
        .map(|id| id.trim_start_matches("social.hearth.").to_owned())
        .collect();
    out.sort();
    out
}

/// What the owner sees of the space: used to prove refused writes changed nothing.
async fn snapshot(c: &Client, owner: &Actor, f: &Fixture) -> Value {
    let mut e = c
        .get(owner, "space.export", &[("space", &f.space)])
        .await
        .expect_ok("export");
    e.as_object_mut().map(|o| o.remove("exportedAt"));
    // Unread counts move as the test goes; the content must not.
    e["space"].as_object_mut().map(|o| o.remove("viewer"));
    let invites = c
        .get(owner, "invite.list", &[("space", &f.space)])
        .await
        .expect_ok("invites");
    let requests = c
        .get(owner, "join.list", &[("space", &f.space)])
        .await
        .expect_ok("requests");
    let mut reports = Vec::new();
    for status in ["open", "resolved"] {
        reports.push(
            c.get(
                owner,
                "moderation.listReports",
                &[("space", &f.space), ("status", status)],
            )
            .await
            .expect_ok("reports"),
        );
    }
    json!({ "export": e, "invites": invites, "requests": requests, "reports": reports })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_method_is_gated() {
    let cases = Cases::new("spaces gate");
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let app = start_appview(&plc, None).await;
    let c = Client::new(&app);
    let owner = actor(&plc, "owner").await;
    let admin = actor(&plc, "admin").await;
    let member = actor(&plc, "member").await;
    let moderator = actor(&plc, "moderator").await;
    let outsider = actor(&plc, "outsider").await;
    let removed = actor(&plc, "removed").await;
    let banned = actor(&plc, "banned").await;
    let other = actor(&plc, "other").await;
    let requester = actor(&plc, "requester").await;

    // ---- the fixture: a space with every kind of content ----
    let created = c
        .post(&owner, "space.create", json!({ "name": "Riverside Tenants Union", "joinPolicy": "request", "joinQuestion": "Which building?" }))
        .await
        .expect_ok("space.create");
    let space = created["space"]["uri"].as_str().expect("space").to_owned();
    assert!(space.starts_with(&format!("at://{}/space/social.hearth.space/", app.did)));
    let channels = &created["channels"];
    assert_eq!(
        channels.as_array().map(Vec::len),
        Some(4),
        "default channels"
    );
    let other_space = c
        .post(
            &other,
            "space.create",
            json!({ "name": "Other Org", "joinPolicy": "invite" }),
        )
        .await
        .expect_ok("other space")["space"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();

    let t = invite(&c, &owner, &space, "admin").await;
    join(&c, &admin, &t).await;
    for who in [&member, &moderator, &removed, &banned] {
        let t = invite(&c, &admin, &space, "member").await;
        join(&c, who, &t).await;
    }
    c.post(
        &admin,
        "member.setRole",
        json!({ "space": space, "did": moderator.did, "role": "moderator" }),
    )
    .await
    .expect_ok("make moderator");

    let f = {
        let announcements = channel_of(channels, "announcements");
        let discussion = channel_of(channels, "discussion");
        let questions = channel_of(channels, "questions");
        let leadership = channel_of(channels, "restricted");
        create_post(
            &c,
            &owner,
            json!({ "channel": announcements, "text": "SECRET-ANNOUNCE meeting" }),
        )
        .await;
        let img = upload(&c, &member, &space, &png2(1)).await;
        let discuss_cid = img["image"]["ref"]["$link"]
            .as_str()
            .expect("cid")
            .to_owned();
        let discuss_post = create_post(
            &c,
            &member,
            json!({ "channel": discussion, "text": "SECRET-DISCUSS rent strike", "images": [image_input(&img, "flyer")] }),
        )
        .await;
        let question = create_post(
            &c,
            &member,
            json!({ "channel": questions, "text": "SECRET-QUESTION when?" }),
        )
        .await;
        let answer = create_post(
            &c,
            &admin,
            json!({ "replyTo": question, "text": "SECRET-ANSWER tuesday" }),
        )
        .await;
        let limg = upload(&c, &admin, &space, &png2(2)).await;
        let leadership_cid = limg["image"]["ref"]["$link"]
            .as_str()
            .expect("cid")
            .to_owned();
        let leadership_post = create_post(
            &c,
            &admin,
            json!({ "channel": leadership, "text": "SECRET-LEADERSHIP budget", "images": [image_input(&limg, "budget")] }),
        )
        .await;
        let revoked = c
            .post(&owner, "invite.create", json!({ "space": space }))
            .await
            .expect_ok("invite");
        let revoked_token = revoked["token"].as_str().expect("token").to_owned();
        let invite_id = revoked["invite"]["id"].as_str().expect("id").to_owned();
        c.post(
            &owner,
            "invite.revoke",
            json!({ "space": space, "id": invite_id }),
        )
        .await
        .expect_ok("revoke");
        let valid_token = invite(&c, &owner, &space, "member").await;
        let pending_request = c
            .post(
                &requester,
                "join.request",
                json!({ "space": space, "answer": "Building 4" }),
            )
            .await
            .expect_ok("join.request")["request"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        Fixture {
            space: space.clone(),
            other_space: other_space.clone(),
            announcements,
            discussion,
            questions,
            leadership,
            discuss_post,
            question,
            answer,
            leadership_post,
            discuss_cid,
            leadership_cid,
            revoked_token,
            valid_token,
            invite_id,
            pending_request,
        }
    };

    // ---- removal and ban take effect on the very next request ----
    for (who, how) in [(&removed, "member.remove"), (&banned, "member.ban")] {
        let before = c
            .get(who, "feed.getChannel", &[("channel", &f.discussion)])
            .await;
        assert!(before.ok(), "{} reads before", who.name);
        c.post(&admin, how, json!({ "space": f.space, "did": who.did }))
            .await
            .expect_ok(how);
        let after = c
            .get(who, "feed.getChannel", &[("channel", &f.discussion)])
            .await;
        refused(&cases, &after, &format!("{} on the next request", who.name));
    }
    // A ban blocks rejoining, by invite and by request.
    let a = c
        .post(&banned, "invite.accept", json!({ "token": f.valid_token }))
        .await;
    refused(&cases, &a, "banned accepts an invite");
    assert_eq!(a.error(), "Banned");
    let a = c
        .post(&banned, "join.request", json!({ "space": f.space }))
        .await;
    refused(&cases, &a, "banned asks to join");
    assert_eq!(a.error(), "Banned");

    // ---- every method, for everyone who is not in the space ----
    let before = snapshot(&c, &owner, &f).await;
    let methods = all_methods();
    assert_eq!(methods.len(), 46, "every social.hearth method: {methods:?}");
    let strangers = [&outsider, &removed, &banned, &other];
    let mut gated = 0;
    for nsid in &methods {
        if nsid == "post.uploadImage" {
            for who in strangers {
                let a = c
                    .call(who, nsid, Input::Bytes(&f.space, &png2(9)), Auth::Good)
                    .await;
                refused(&cases, &a, &format!("{} {nsid}", who.name));
            }
            gated += 1;
            continue;
        }
        let Some((write, body)) = request(nsid, &f, &member.did) else {
            continue;
        };
        gated += 1;
        for who in strangers {
            let a = send(&c, who, nsid, write, &body, Auth::Good).await;
            refused(&cases, &a, &format!("{} {nsid}", who.name));
        }
    }
    // The methods with no space argument: they work for anyone, and show strangers no trace.
    // (notification.list and getUnreadCount are gated with a space argument, above.)
    let traceless = [
        "space.create",
        "space.listMine",
        "notification.updateSeen",
        "notification.getSettings",
        "notification.putSettings",
        "join.request",
    ];
    assert_eq!(
        gated + traceless.len(),
        methods.len(),
        "each method is covered"
    );
    for who in strangers {
        for (nsid, body) in [
            ("space.listMine", json!({})),
            ("notification.list", json!({})),
            ("notification.getUnreadCount", json!({})),
            ("notification.getSettings", json!({})),
        ] {
            let a = send(&c, who, nsid, false, &body, Auth::Good).await;
            cases.case(&format!("{} {nsid} shows nothing of the space", who.name));
            let text = String::from_utf8_lossy(&a.raw);
            assert!(a.ok(), "{} {nsid}: {}", who.name, a.body);
            assert!(
                !text.contains(&f.space),
                "{} {nsid} shows the space: {text}",
                who.name
            );
            for s in SECRETS {
                assert!(
                    !text.contains(s),
                    "{} {nsid} shows private text: {text}",
                    who.name
                );
            }
        }
    }
    // Joining by request is open to anyone except the banned (covered above); an
    // invite-only space does not exist for a stranger.
    let a = c
        .post(&outsider, "join.request", json!({ "space": f.other_space }))
        .await;
    refused(&cases, &a, "outsider asks to join an invite-only space");

    // ---- channels restricted to a higher role ----
    for who in [&member, &moderator] {
        for (nsid, write, body) in [
            ("feed.getChannel", false, json!({ "channel": f.leadership })),
            ("feed.getThread", false, json!({ "uri": f.leadership_post })),
            (
                "post.create",
                true,
                json!({ "channel": f.leadership, "text": "intruder" }),
            ),
            (
                "post.create",
                true,
                json!({ "replyTo": f.leadership_post, "text": "intruder" }),
            ),
            (
                "post.react",
                true,
                json!({ "uri": f.leadership_post, "emoji": "👍" }),
            ),
            (
                "post.edit",
                true,
                json!({ "uri": f.leadership_post, "text": "intruder" }),
            ),
            ("post.delete", true, json!({ "uri": f.leadership_post })),
            (
                "post.hide",
                true,
                json!({ "uri": f.leadership_post, "hidden": true }),
            ),
            (
                "post.getImage",
                false,
                json!({ "space": f.space, "cid": f.leadership_cid }),
            ),
            (
                "notification.setLevel",
                true,
                json!({ "space": f.space, "channel": f.leadership, "level": "all" }),
            ),
            (
                "channel.update",
                true,
                json!({ "channel": f.leadership, "readRole": "member" }),
            ),
        ] {
            let a = send(&c, who, nsid, write, &body, Auth::Good).await;
            refused(&cases, &a, &format!("{} {nsid} in leadership", who.name));
        }
        // And what they can read never includes it.
        let s = c
            .get(who, "space.get", &[("space", &f.space)])
            .await
            .expect_ok("space.get");
        assert!(
            !s.to_string().contains(&f.leadership),
            "{} sees the leadership channel",
            who.name
        );
        let e = c
            .get(who, "space.export", &[("space", &f.space)])
            .await
            .expect_ok("export");
        assert!(
            !e.to_string().contains("SECRET-LEADERSHIP"),
            "{} exports leadership posts",
            who.name
        );
        let n = c
            .get(who, "notification.list", &[])
            .await
            .expect_ok("notifications");
        assert!(
            !n.to_string().contains("SECRET-LEADERSHIP"),
            "{} is notified of leadership posts",
            who.name
        );
        cases.case(&format!("{} sees no leadership posts", who.name));
    }
    // Posting needs the post role: members read announcements but do not post there.
    let a = c
        .post(
            &member,
            "post.create",
            json!({ "channel": f.announcements, "text": "x" }),
        )
        .await;
    refused(&cases, &a, "member posts an announcement");
    // Role rules: an admin cannot make admins, demote or remove the owner; members don't moderate.
    for (who, nsid, body) in [
        (
            &admin,
            "member.setRole",
            json!({ "space": f.space, "did": member.did, "role": "admin" }),
        ),
        (
            &admin,
            "member.setRole",
            json!({ "space": f.space, "did": owner.did, "role": "member" }),
        ),
        (
            &admin,
            "member.remove",
            json!({ "space": f.space, "did": owner.did }),
        ),
        (
            &admin,
            "member.ban",
            json!({ "space": f.space, "did": owner.did }),
        ),
        (
            &admin,
            "invite.create",
            json!({ "space": f.space, "role": "admin" }),
        ),
        (&admin, "space.delete", json!({ "space": f.space })),
        (
            &owner,
            "member.setRole",
            json!({ "space": f.space, "did": owner.did, "role": "member" }),
        ),
        (
            &member,
            "post.hide",
            json!({ "uri": f.discuss_post, "hidden": true }),
        ),
        (
            &member,
            "post.pin",
            json!({ "uri": f.discuss_post, "pinned": true }),
        ),
        (
            &moderator,
            "post.pin",
            json!({ "uri": f.discuss_post, "pinned": true }),
        ),
        (&member, "space.getAuditLog", json!({ "space": f.space })),
        (&moderator, "join.list", json!({ "space": f.space })),
        (
            &member,
            "moderation.listReports",
            json!({ "space": f.space }),
        ),
        (
            &member,
            "moderation.resolve",
            json!({ "uri": f.discuss_post, "action": "dismiss" }),
        ),
        (&member, "invite.create", json!({ "space": f.space })),
        (
            &admin,
            "post.edit",
            json!({ "uri": f.discuss_post, "text": "not mine" }),
        ),
        (
            &moderator,
            "post.markAnswer",
            json!({ "uri": f.question, "accepted": true }),
        ),
    ] {
        let write = !matches!(
            nsid,
            "space.getAuditLog" | "join.list" | "moderation.listReports"
        );
        let a = send(&c, who, nsid, write, &body, Auth::Good).await;
        refused(&cases, &a, &format!("{} {nsid} {body}", who.name));
    }
    let a = c
        .post(&owner, "member.leave", json!({ "space": f.space }))
        .await;
    refused(&cases, &a, "owner leaves");
    assert_eq!(a.error(), "OwnerCannotLeave");

    // ---- tokens ----
    let read = json!({ "channel": f.discussion });
    let write = json!({ "channel": f.discussion, "text": "token test" });
    for auth in [
        Auth::WrongAud,
        Auth::WrongLxm,
        Auth::Expired,
        Auth::LongLived,
        Auth::WrongKey,
    ] {
        let a = send(&c, &member, "feed.getChannel", false, &read, auth).await;
        refused(&cases, &a, &format!("read with {auth:?}"));
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        let a = send(&c, &member, "post.create", true, &write, auth).await;
        refused(&cases, &a, &format!("write with {auth:?}"));
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    let a = c.get_raw_unauthenticated("feed.getChannel").await;
    refused(&cases, &a, "no token");
    // The bare DID as audience (the reference PDS's form) is accepted.
    let a = send(&c, &member, "feed.getChannel", false, &read, Auth::BareAud).await;
    assert!(a.ok(), "bare aud: {}", a.body);
    // A write token works once.
    let token = mint(&member, &app.did, "social.hearth.post.create", Auth::Good);
    let first = send(
        &c,
        &member,
        "post.create",
        true,
        &write,
        Auth::Token(&token),
    )
    .await;
    assert!(first.ok(), "first use: {}", first.body);
    let again = send(
        &c,
        &member,
        "post.create",
        true,
        &write,
        Auth::Token(&token),
    )
    .await;
    refused(&cases, &again, "replayed write token");
    assert_eq!(
        (again.status, again.error()),
        (StatusCode::UNAUTHORIZED, "TokenReplayed")
    );
    c.post(
        &member,
        "post.delete",
        json!({ "uri": first.body["post"]["uri"] }),
    )
    .await
    .expect_ok("cleanup");

    // ---- nothing the strangers tried changed anything ----
    let after = snapshot(&c, &owner, &f).await;
    assert_eq!(before, after, "refused requests left no trace");

    // ---- a channel above even an admin: every method that touches it refuses ----
    // Admins may moderate, pin, mark answers and update channels anywhere they can read, so
    // each refusal here comes from the channel's read role alone.
    let board = c
        .post(
            &owner,
            "channel.create",
            json!({ "space": f.space, "name": "Board", "kind": "questions", "readRole": "owner" }),
        )
        .await
        .expect_ok("owner-only channel")["channel"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let bimg = upload(&c, &owner, &f.space, &png2(3)).await;
    let board_cid = bimg["image"]["ref"]["$link"]
        .as_str()
        .expect("cid")
        .to_owned();
    let board_q = create_post(
        &c,
        &owner,
        json!({ "channel": board, "text": "SECRET-LEADERSHIP succession?", "images": [image_input(&bimg, "chart")] }),
    )
    .await;
    let board_a = create_post(
        &c,
        &owner,
        json!({ "replyTo": board_q, "text": "SECRET-LEADERSHIP not yet" }),
    )
    .await;
    let before = snapshot(&c, &owner, &f).await;
    let board_calls: Vec<(&str, bool, Value)> = vec![
        ("feed.getChannel", false, json!({ "channel": board })),
        ("feed.getThread", false, json!({ "uri": board_q })),
        ("feed.getThread", false, json!({ "uri": board_a })),
        (
            "post.getImage",
            false,
            json!({ "space": f.space, "cid": board_cid }),
        ),
        (
            "post.create",
            true,
            json!({ "channel": board, "text": "x" }),
        ),
        (
            "post.create",
            true,
            json!({ "replyTo": board_q, "text": "x" }),
        ),
        (
            "post.create",
            true,
            json!({ "channel": board, "replyTo": board_q, "text": "x" }),
        ),
        ("post.edit", true, json!({ "uri": board_q, "text": "x" })),
        ("post.delete", true, json!({ "uri": board_a })),
        ("post.react", true, json!({ "uri": board_q, "emoji": "👍" })),
        ("post.hide", true, json!({ "uri": board_q, "hidden": true })),
        ("post.pin", true, json!({ "uri": board_q, "pinned": true })),
        (
            "report.create",
            true,
            json!({ "uri": board_a, "reason": "spam" }),
        ),
        (
            "moderation.resolve",
            true,
            json!({ "uri": board_q, "action": "dismiss" }),
        ),
        (
            "post.markAnswer",
            true,
            json!({ "uri": board_a, "accepted": true }),
        ),
        (
            "notification.setLevel",
            true,
            json!({ "space": f.space, "channel": board, "level": "all" }),
        ),
        (
            "channel.update",
            true,
            json!({ "channel": board, "readRole": "member" }),
        ),
    ];
    // Every method whose input names a channel or a post is in the list above.
    for nsid in &methods {
        let Some((_, body)) = request(nsid, &f, &member.did) else {
            continue;
        };
        let targets_content =
            ["channel", "uri"].iter().any(|k| body.get(k).is_some()) || nsid == "post.getImage";
        if targets_content {
            assert!(
                board_calls.iter().any(|(n, _, _)| n == nsid),
                "{nsid} is tried on the owner-only channel"
            );
        }
    }
    for (nsid, write, body) in &board_calls {
        let a = send(&c, &admin, nsid, *write, body, Auth::Good).await;
        refused(
            &cases,
            &a,
            &format!("admin {nsid} in an owner-only channel"),
        );
    }
    // A post elsewhere may not link to it either (its readers could not follow the link).
    let link = format!("see {board_q}");
    let a = c
        .post(
            &admin,
            "post.create",
            json!({
                "channel": f.discussion,
                "text": link,
                "facets": [{
                    "index": { "byteStart": 4, "byteEnd": link.len() },
                    "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": board_q }]
                }]
            }),
        )
        .await;
    refused(
        &cases,
        &a,
        "admin links to an owner-only post from discussion",
    );
    let a = c
        .post(
            &owner,
            "post.create",
            json!({
                "channel": f.discussion,
                "text": link,
                "facets": [{
                    "index": { "byteStart": 4, "byteEnd": link.len() },
                    "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": board_q }]
                }]
            }),
        )
        .await;
    refused(
        &cases,
        &a,
        "even its reader links to it from a wider channel",
    );
    let s = c
        .get(&admin, "space.get", &[("space", &f.space)])
        .await
        .expect_ok("space.get");
    assert!(
        !s.to_string().contains(&board),
        "admin sees the owner-only channel"
    );
    let e = c
        .get(&admin, "space.export", &[("space", &f.space)])
        .await
        .expect_ok("admin export");
    assert!(
        !e.to_string().contains(&board_q),
        "an admin's export leaves out what they may not read"
    );
    let after = snapshot(&c, &owner, &f).await;
    assert_eq!(
        before, after,
        "refused calls on the owner-only channel changed nothing"
    );
    // Control: the owner reads it, so the refusals above are the restriction at work.
    let feed = c
        .get(&owner, "feed.getChannel", &[("channel", &board)])
        .await
        .expect_ok("owner reads the board");
    assert_eq!(feed["posts"][0]["uri"], board_q.as_str());
    let img = c
        .get(
            &owner,
            "post.getImage",
            &[("space", &f.space), ("cid", &board_cid)],
        )
        .await;
    assert!(img.ok(), "owner fetches the board image");
    cases.case("owner fetches the board image");

    // ---- the removed member's inbox kept nothing of the space ----
    let n = c
        .get(&removed, "notification.list", &[])
        .await
        .expect_ok("inbox");
    assert!(
        !n.to_string().contains(&f.space),
        "notifications of a removed member are gone"
    );

    // ---- without SMTP, email is off and says so ----
    let s = c
        .get(&member, "notification.getSettings", &[])
        .await
        .expect_ok("settings");
    assert_eq!(s["emailAvailable"], false);
    let a = c
        .post(
            &member,
            "notification.putSettings",
            json!({ "email": "m@example.com" }),
        )
        .await;
    cases.case("email is off without SMTP");
    assert_eq!(a.error(), "EmailUnavailable");

    // ---- input is validated against the lexicon, refusals name the rule ----
    let a = c
        .post(
            &member,
            "post.create",
            json!({ "channel": f.discussion, "text": "x".repeat(3001) }),
        )
        .await;
    cases.case("a post over the length limit is refused without echoing it");
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(!a.body["message"].as_str().unwrap_or("").contains("xxxx"));
    let a = c
        .get(
            &member,
            "feed.getChannel",
            &[("channel", "at://did:plc:x/app.bsky.feed.post/3k")],
        )
        .await;
    cases.case("a channel that is not a space URI is refused");
    assert_eq!(a.error(), "InvalidRequest");
    let a = c
        .get(
            &member,
            "feed.getChannel",
            &[("channel", &f.discussion), ("limit", "1000")],
        )
        .await;
    cases.case("a page limit over the maximum is refused");
    assert_eq!(a.error(), "InvalidRequest");
    let _ = (&f.questions, &f.leadership_cid);
    println!(
        "spaces gate: {} methods gated for {} strangers",
        gated,
        strangers.len()
    );
}

trait Unauth {
    async fn get_raw_unauthenticated(&self, nsid: &str) -> Answer;
}

impl Unauth for Client {
    async fn get_raw_unauthenticated(&self, nsid: &str) -> Answer {
        let res = self
            .http
            .get(format!("{}/xrpc/social.hearth.{nsid}", self.appview))
            .send()
            .await
            .expect("request");
        let status = res.status();
        let raw = res.bytes().await.expect("body").to_vec();
        Answer {
            status,
            body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
            raw,
            content_type: None,
        }
    }
}
