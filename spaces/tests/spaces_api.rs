//! The API gaps found while driving spaces as a client, through the real router (every
//! answer checked against its lexicon): unban and the ban list, looking up and cancelling
//! one's own join request.

mod spaces_common;

use serde_json::{Value, json};
use spaces_common::*;

struct World {
    c: Client,
    owner: Actor,
    space: String,
    app: Appview,
    /// The PLC directory; it stops when dropped.
    _plc: TestPlc,
}

async fn world(policy: &str, names: &[&'static str]) -> (World, Vec<Actor>) {
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let app = start_appview(&plc, None).await;
    let c = Client::new(&app);
    let owner = actor(&plc, "owner").await;
    let mut others = Vec::new();
    for n in names {
        others.push(actor(&plc, n).await);
    }
    let space = c
        .post(
            &owner,
            "space.create",
            json!({ "name": "API", "joinPolicy": policy }),
        )
        .await
        .expect_ok("space")["space"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    (
        World {
            c,
            owner,
            space,
            app,
            _plc: directory,
        },
        others,
    )
}

fn dids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b["did"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unban_and_list_bans() {
    let cases = Cases::new("spaces unban and list bans");
    let (w, people) = world("open", &["troll", "member"]).await;
    let (troll, member) = (&people[0], &people[1]);
    for who in [troll, member] {
        w.c.post(who, "join.request", json!({ "space": w.space }))
            .await
            .expect_ok("join");
    }
    w.c.post(
        &w.owner,
        "member.ban",
        json!({ "space": w.space, "did": troll.did, "reason": "spam" }),
    )
    .await
    .expect_ok("ban");
    let bans =
        w.c.get(&w.owner, "member.listBans", &[("space", &w.space)])
            .await
            .expect_ok("bans");
    assert_eq!(dids(&bans, "bans"), vec![troll.did.as_str()]);
    assert_eq!(bans["bans"][0]["reason"], "spam");
    assert_eq!(bans["bans"][0]["bannedBy"], w.owner.did.as_str());
    let r =
        w.c.get(member, "member.listBans", &[("space", &w.space)])
            .await;
    assert_eq!(r.status, 403, "members do not see bans");
    let r =
        w.c.post(troll, "join.request", json!({ "space": w.space }))
            .await;
    assert_eq!(r.error(), "Banned");
    cases.case("only admins lift bans");
    let r =
        w.c.post(
            member,
            "member.unban",
            json!({ "space": w.space, "did": troll.did }),
        )
        .await;
    assert_eq!(r.status, 403, "only admins lift bans");
    w.c.post(
        &w.owner,
        "member.unban",
        json!({ "space": w.space, "did": troll.did }),
    )
    .await
    .expect_ok("unban");
    let bans =
        w.c.get(&w.owner, "member.listBans", &[("space", &w.space)])
            .await
            .expect_ok("bans");
    assert!(dids(&bans, "bans").is_empty());
    w.c.post(troll, "join.request", json!({ "space": w.space }))
        .await
        .expect_ok("joins again");
    let again =
        w.c.post(
            &w.owner,
            "member.unban",
            json!({ "space": w.space, "did": troll.did }),
        )
        .await;
    assert_eq!(again.status, 404, "no such ban");
    let log =
        w.c.get(&w.owner, "space.getAuditLog", &[("space", &w.space)])
            .await
            .expect_ok("log");
    assert!(
        log["entries"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["action"] == "member.unban")),
        "{log}"
    );
    cases.case("unban and listBans are audited and listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn my_join_request_can_be_looked_up_and_cancelled() {
    let cases = Cases::new("spaces my join request: look up and cancel");
    let (w, people) = world("request", &["asker", "nosy"]).await;
    let (asker, nosy) = (&people[0], &people[1]);
    let q = [("space", w.space.as_str())];
    let none = w.c.get(asker, "join.getMine", &q).await;
    assert_eq!(none.status, 404, "never asked");
    let asked =
        w.c.post(
            asker,
            "join.request",
            json!({ "space": w.space, "answer": "hi" }),
        )
        .await
        .expect_ok("ask");
    let mine = w.c.get(asker, "join.getMine", &q).await.expect_ok("mine");
    assert_eq!(mine["request"]["id"], asked["request"]["id"]);
    assert_eq!(mine["request"]["status"], "pending");
    assert_eq!(
        w.c.get(nosy, "join.getMine", &q).await.status,
        404,
        "only one's own"
    );
    cases.case("join.getMine shows only one's own request");
    w.c.post(asker, "join.cancel", json!({ "space": w.space }))
        .await
        .expect_ok("cancel");
    let pending =
        w.c.get(&w.owner, "join.list", &[("space", &w.space)])
            .await
            .expect_ok("list");
    assert!(
        pending["requests"].as_array().is_some_and(Vec::is_empty),
        "{pending}"
    );
    let again =
        w.c.post(asker, "join.cancel", json!({ "space": w.space }))
            .await;
    assert_eq!(again.status, 404, "nothing pending");
    // Asking again after cancelling works, and is what getMine shows.
    w.c.post(asker, "join.request", json!({ "space": w.space }))
        .await
        .expect_ok("ask again");
    let mine = w.c.get(asker, "join.getMine", &q).await.expect_ok("mine");
    assert_eq!(mine["request"]["status"], "pending");
    cases.case("join.cancel, then asking again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thread_pages_past_the_first_page() {
    let cases = Cases::new("spaces thread paging");
    let (w, _) = world("invite", &[]).await;
    let space =
        w.c.get(&w.owner, "space.get", &[("space", &w.space)])
            .await
            .expect_ok("space");
    let discussion = space["channels"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["kind"] == "discussion"))
        .and_then(|c| c["uri"].as_str())
        .expect("discussion")
        .to_owned();
    let root =
        w.c.post(
            &w.owner,
            "post.create",
            json!({ "channel": discussion, "text": "root" }),
        )
        .await
        .expect_ok("root")["post"]["uri"]
            .as_str()
            .expect("uri")
            .to_owned();
    const REPLIES: usize = 7;
    for i in 0..REPLIES {
        w.c.post(
            &w.owner,
            "post.create",
            json!({ "replyTo": root, "text": format!("reply {i}") }),
        )
        .await
        .expect_ok("reply");
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut q = vec![("uri", root.as_str()), ("limit", "3")];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page =
            w.c.get(&w.owner, "feed.getThread", &q)
                .await
                .expect_ok("page");
        assert_eq!(page["thread"]["root"]["uri"], root.as_str());
        let replies = page["thread"]["replies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(replies.len() <= 3);
        seen.extend(
            replies
                .iter()
                .filter_map(|r| r["text"].as_str().map(str::to_owned)),
        );
        cursor = page["cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let want: Vec<String> = (0..REPLIES).map(|i| format!("reply {i}")).collect();
    assert_eq!(seen, want, "every reply once, oldest first");
    let bad =
        w.c.get(
            &w.owner,
            "feed.getThread",
            &[("uri", &root), ("limit", "1001")],
        )
        .await;
    assert_eq!(
        bad.error(),
        "InvalidRequest",
        "a page is at most 1,000 replies"
    );
    cases.case("thread pages are bounded");
}

/// The lexicons say which inputs are one-of and what roles default to, so a client need not
/// read the server to call it right.
#[test]
fn one_of_inputs_and_role_defaults_are_documented() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lexicons/social/hearth");
    let prop = |file: &str, name: &str| -> String {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).expect("lexicon"))
                .expect("json");
        doc["defs"]["main"]["input"]["schema"]["properties"][name]["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for name in ["channel", "replyTo"] {
        let d = prop("post/create.json", name);
        assert!(
            d.contains("One of channel or replyTo"),
            "post.create {name}: {d:?}"
        );
    }
    for name in ["readRole", "postRole"] {
        let d = prop("channel/create.json", name);
        assert!(d.contains("Default"), "channel.create {name}: {d:?}");
    }
    for (file, name) in [
        ("invite/create.json", "role"),
        ("member/setRole.json", "role"),
    ] {
        let d = prop(file, name);
        assert!(d.len() > 60 && d.contains("owner"), "{file} {name}: {d:?}");
    }
    let d = prop("notification/setLevel.json", "channel");
    assert!(d.contains("Absent"), "setLevel channel: {d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mark_one_space_read() {
    let cases = Cases::new("spaces per-space mark read");
    let (w, people) = world("open", &["reader"]).await;
    let reader = &people[0];
    let second =
        w.c.post(
            &w.owner,
            "space.create",
            json!({ "name": "Second", "joinPolicy": "open" }),
        )
        .await
        .expect_ok("space")["space"]["uri"]
            .as_str()
            .expect("uri")
            .to_owned();
    for space in [&w.space, &second] {
        w.c.post(reader, "join.request", json!({ "space": space }))
            .await
            .expect_ok("join");
        let got =
            w.c.get(&w.owner, "space.get", &[("space", space)])
                .await
                .expect_ok("space");
        let announcements = got["channels"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["kind"] == "announcements"))
            .and_then(|c| c["uri"].as_str())
            .expect("announcements")
            .to_owned();
        w.c.post(
            &w.owner,
            "post.create",
            json!({ "channel": announcements, "text": "news" }),
        )
        .await
        .expect_ok("announce");
    }
    let unread = |space: &str| {
        let (c, reader, space) = (&w.c, reader, space.to_owned());
        async move {
            c.get(reader, "notification.getUnreadCount", &[("space", &space)])
                .await
                .expect_ok("unread")["count"]
                .as_i64()
                .expect("count")
        }
    };
    assert_eq!((unread(&w.space).await, unread(&second).await), (1, 1));
    let now = atproto::syntax::Datetime::now().to_string();
    w.c.post(
        reader,
        "notification.updateSeen",
        json!({ "seenAt": now, "space": w.space }),
    )
    .await
    .expect_ok("mark one space read");
    assert_eq!((unread(&w.space).await, unread(&second).await), (0, 1));
    let list =
        w.c.get(reader, "notification.list", &[])
            .await
            .expect_ok("list");
    let read: Vec<(String, bool)> = list["notifications"]
        .as_array()
        .map(|n| {
            n.iter()
                .map(|x| {
                    (
                        x["space"].as_str().unwrap_or_default().to_owned(),
                        x["isRead"].as_bool().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(read.contains(&(w.space.clone(), true)), "{read:?}");
    assert!(read.contains(&(second.clone(), false)), "{read:?}");
    // Not a member: refused, and nothing changes.
    let stranger_space =
        w.c.post(
            reader,
            "space.create",
            json!({ "name": "Mine", "joinPolicy": "invite" }),
        )
        .await
        .expect_ok("own space")["space"]["uri"]
            .as_str()
            .expect("uri")
            .to_owned();
    let r =
        w.c.post(
            &w.owner,
            "notification.updateSeen",
            json!({ "seenAt": now, "space": stranger_space }),
        )
        .await;
    assert_eq!(r.status, 403);
    cases.case("mark read is per space and gated");
}

/// The profile index the AppView would provide: a fixed map.
struct Known(std::collections::HashMap<String, hearth_spaces::profiles::Profile>);

impl hearth_spaces::profiles::ProfileLookup for Known {
    fn profiles(&self, dids: Vec<String>) -> hearth_spaces::profiles::Profiles<'_> {
        Box::pin(async move {
            dids.into_iter()
                .filter_map(|d| self.0.get(&d).map(|p| (d, p.clone())))
                .collect()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_views_carry_profiles() {
    let cases = Cases::new("spaces member views carry profiles");
    let (w, people) = world("open", &["known", "unknown"]).await;
    let (known, unknown) = (&people[0], &people[1]);
    for who in [known, unknown] {
        w.c.post(who, "join.request", json!({ "space": w.space }))
            .await
            .expect_ok("join");
    }
    let profile = hearth_spaces::profiles::Profile {
        handle: Some("known.test".into()),
        display_name: Some("Known Person".into()),
        avatar: Some("https://cdn.example/avatar.jpg".into()),
    };
    w.app.spaces.set_profile_lookup(std::sync::Arc::new(Known(
        [(known.did.clone(), profile)].into_iter().collect(),
    )));
    let list =
        w.c.get(&w.owner, "member.list", &[("space", &w.space)])
            .await
            .expect_ok("members");
    let find = |did: &str| {
        list["members"]
            .as_array()
            .and_then(|m| m.iter().find(|x| x["did"] == did).cloned())
            .unwrap_or_else(|| panic!("{did} listed: {list}"))
    };
    let k = find(&known.did);
    assert_eq!(
        (&k["handle"], &k["displayName"], &k["avatar"]),
        (
            &json!("known.test"),
            &json!("Known Person"),
            &json!("https://cdn.example/avatar.jpg")
        )
    );
    assert_eq!(k["role"], "member");
    let u = find(&unknown.did);
    assert!(
        u.get("handle").is_none() && u.get("displayName").is_none(),
        "{u}"
    );
    cases.case("member views carry handle, display name and avatar");
}
