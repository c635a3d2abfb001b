//! Invites for one account (an organizer invites another organization's leader by handle) and
//! the preview an invite link shows before joining: only the named account joins with such an
//! invite; a preview shows the space's name, who invited and the role offered for a working
//! invite, and one answer for every invite that does not work.

mod spaces_common;

use reqwest::StatusCode;
use serde_json::json;
use spaces_common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invites_for_one_account_and_previews() {
    let cases = Cases::new("spaces invites");
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let app = start_appview(&plc, None).await;
    let c = Client::new(&app);
    let owner = actor(&plc, "owner").await;
    let admin = actor(&plc, "admin").await;
    let leader = actor(&plc, "leader").await;
    let stranger = actor(&plc, "stranger").await;

    let created = c
        .post(
            &owner,
            "space.create",
            json!({ "name": "Coalition", "description": "Three unions", "joinPolicy": "invite" }),
        )
        .await
        .expect_ok("space.create");
    let space = created["space"]["uri"].as_str().expect("uri").to_owned();

    let made = c
        .post(
            &owner,
            "invite.create",
            json!({ "space": space, "role": "admin", "invitee": leader.did }),
        )
        .await
        .expect_ok("invite for one account");
    assert_eq!(made["invite"]["invitee"], leader.did.as_str());
    assert_eq!(made["invite"]["maxUses"], 1, "one account, one use");
    let token = made["token"].as_str().expect("token").to_owned();
    cases.case("an invite for one account");

    let p = c
        .get(&stranger, "invite.preview", &[("token", &token)])
        .await
        .expect_ok("preview");
    assert_eq!(p["space"]["name"], "Coalition");
    assert_eq!(p["space"]["description"], "Three unions");
    assert_eq!(p["invitedBy"]["did"], owner.did.as_str());
    assert_eq!(p["role"], "admin");
    assert_eq!(p["invitee"], leader.did.as_str());
    assert!(p["space"].get("viewer").is_none(), "no viewer state");
    cases.case("the preview shows the space, who invited and the role");

    let a = c
        .post(&stranger, "invite.accept", json!({ "token": token }))
        .await;
    cases.case("someone else cannot use an invite for one account");
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "InvalidInvite")
    );
    let m = c
        .get(&owner, "member.list", &[("space", &space)])
        .await
        .expect_ok("members");
    assert!(
        !m.to_string().contains(&stranger.did),
        "the stranger is not in"
    );
    let j = c
        .post(&leader, "invite.accept", json!({ "token": token }))
        .await
        .expect_ok("the named account joins");
    assert_eq!(j["space"]["viewer"]["role"], "admin");
    cases.case("the named account joins with the role offered");

    let a = c
        .post(
            &owner,
            "invite.create",
            json!({ "space": space, "invitee": "not-a-did" }),
        )
        .await;
    cases.case("an invitee that is not a DID is refused");
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // Every invite that does not work previews the same: used up, revoked, unknown, and one
    // whose creator is no longer an admin.
    let revoked = c
        .post(&owner, "invite.create", json!({ "space": space }))
        .await
        .expect_ok("invite");
    c.post(
        &owner,
        "invite.revoke",
        json!({ "space": space, "id": revoked["invite"]["id"] }),
    )
    .await
    .expect_ok("revoke");
    c.post(
        &owner,
        "member.setRole",
        json!({ "space": space, "did": leader.did, "role": "admin" }),
    )
    .await
    .expect_ok("still admin");
    let by_admin = c
        .post(&leader, "invite.create", json!({ "space": space }))
        .await
        .expect_ok("the leader invites");
    let working = c
        .get(
            &stranger,
            "invite.preview",
            &[("token", by_admin["token"].as_str().expect("token"))],
        )
        .await
        .expect_ok("preview of the leader's invite");
    assert_eq!(working["role"], "member");
    c.post(
        &owner,
        "member.setRole",
        json!({ "space": space, "did": leader.did, "role": "member" }),
    )
    .await
    .expect_ok("demote the leader");
    let mut answers = Vec::new();
    for t in [
        token.as_str(),
        revoked["token"].as_str().expect("token"),
        "AAAAAAAAAAAAAAAAAAAAAA",
        by_admin["token"].as_str().expect("token"),
    ] {
        let a = c.get(&stranger, "invite.preview", &[("token", t)]).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::BAD_REQUEST, "InvalidInvite"),
            "{}",
            a.body
        );
        assert!(!String::from_utf8_lossy(&a.raw).contains("Coalition"));
        answers.push(a.body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    cases.case("invites that do not work preview nothing, all alike");
    let _ = admin;
}
