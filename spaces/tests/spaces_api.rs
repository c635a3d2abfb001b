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
    _app: Appview,
}

async fn world(policy: &str, names: &[&'static str]) -> (World, Vec<Actor>) {
    let plc = start_plc().await;
    let app = start_appview(&plc, None).await;
    let c = Client::new(&app);
    let http = reqwest::Client::new();
    let owner = actor(&http, &plc, "owner").await;
    let mut others = Vec::new();
    for n in names {
        others.push(actor(&http, &plc, n).await);
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
            _app: app,
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
    cases.case();
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
    cases.case();
}
