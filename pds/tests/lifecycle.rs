//! Account lifecycle as the firehose and clients see it: deactivation and activation, an admin
//! takedown and its reversal, and deletion with the emailed token. Each status change must be
//! announced as an `#account` event and enforced on every path (writes, sessions, sync).

mod common;

use atproto::firehose::{Account as AccountEvent, Event, Frame};
use common::*;
use hearth_testkit::firehose::*;
use serde_json::{Value, json};
use std::time::Duration;

/// The next `#account` event on the stream (skipping other events).
async fn next_account_event(ws: &mut Ws) -> AccountEvent {
    loop {
        match next_frame(ws, Duration::from_secs(10)).await {
            Got::Frame(Frame::Event(Event::Account(a))) => return a,
            Got::Frame(Frame::Event(_)) => continue,
            other => panic!("expected an #account event, got {other:?}"),
        }
    }
}

async fn live(pds: &Pds) -> Ws {
    let ws = subscribe(pds.port, Some(&pds.state().sequencer.head().to_string())).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    ws
}

fn write_body(a: &Account) -> Value {
    json!({ "repo": a.did, "collection": "app.bsky.feed.post", "record": post("status check") })
}

#[tokio::test]
async fn deactivate_and_activate() {
    let cases = Cases::new("pds_lifecycle deactivation");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    pds.create_record(&a, "app.bsky.feed.post", post("before"))
        .await;
    let mut ws = live(pds).await;

    cases.case("deactivateAccount announces #account active=false status=deactivated");
    pds.post(
        "com.atproto.server.deactivateAccount",
        Some(&a.access),
        &json!({}),
    )
    .await
    .ok();
    let e = next_account_event(&mut ws).await;
    assert_eq!(
        (e.did.as_str(), e.active, e.status.as_deref()),
        (a.did.as_str(), false, Some("deactivated"))
    );

    // As the reference: only a takedown stops uploads; an account migrating in is deactivated
    // while it brings its blobs.
    cases.case("uploads still accepted");
    pds.post_raw(
        "com.atproto.repo.uploadBlob",
        Some(&a.access),
        Some("text/plain"),
        b"x".to_vec(),
    )
    .await
    .ok();
    let before = pds.snapshot(&a.did).await;
    cases.case("writes refused: AccountDeactivated");
    pds.post(
        "com.atproto.repo.createRecord",
        Some(&a.access),
        &write_body(&a),
    )
    .await
    .err(400, "AccountDeactivated");
    pds.post(
        "com.atproto.repo.applyWrites",
        Some(&a.access),
        &json!({ "repo": a.did, "writes": [] }),
    )
    .await
    .err(400, "AccountDeactivated");
    cases.case("sync refused: RepoDeactivated");
    pds.get(&format!("com.atproto.sync.getRepo?did={}", a.did), None)
        .await
        .err(400, "RepoDeactivated");
    pds.get(
        &format!("com.atproto.sync.getLatestCommit?did={}", a.did),
        None,
    )
    .await
    .err(400, "RepoDeactivated");
    pds.get(
        &format!(
            "com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post",
            a.did
        ),
        None,
    )
    .await
    .err(400, "RepoDeactivated");
    cases.case("getRepoStatus reports it");
    let st = pds
        .get(
            &format!("com.atproto.sync.getRepoStatus?did={}", a.did),
            None,
        )
        .await
        .ok();
    assert_eq!(
        (st["active"].clone(), st["status"].clone()),
        (json!(false), json!("deactivated"))
    );
    cases.case("a deactivated account may still sign in");
    let s = pds.login(&a.handle, PASSWORD).await.ok();
    assert_eq!(
        (s["active"].clone(), s["status"].clone()),
        (json!(false), json!("deactivated"))
    );
    assert_eq!(
        before,
        pds.snapshot(&a.did).await,
        "nothing written while deactivated"
    );

    cases.case("activateAccount announces #account active=true");
    pds.post_raw(
        "com.atproto.server.activateAccount",
        Some(&a.access),
        None,
        Vec::new(),
    )
    .await
    .ok();
    let e = next_account_event(&mut ws).await;
    assert_eq!((e.active, e.status), (true, None));
    cases.case("writes and sync work again");
    pds.create_record(&a, "app.bsky.feed.post", post("after"))
        .await;
    let car = pds
        .http
        .get(pds.xrpc(&format!("com.atproto.sync.getRepo?did={}", a.did)))
        .send()
        .await
        .unwrap();
    assert_eq!(car.status(), 200);
    let key = plc_key(w.plc.url(), &a.did).await;
    let repo =
        atproto::repo::verify_repo_car(&car.bytes().await.unwrap(), Some(&a.did), Some(&key))
            .unwrap();
    assert_eq!(repo.records.len(), 2);
    cases.case("activating an active account changes nothing");
    let before = pds.snapshot(&a.did).await;
    pds.post_raw(
        "com.atproto.server.activateAccount",
        Some(&a.access),
        None,
        Vec::new(),
    )
    .await
    .ok();
    assert_eq!(before, pds.snapshot(&a.did).await);
}

#[tokio::test]
async fn admin_takedown_and_reversal() {
    let cases = Cases::new("pds_lifecycle takedown");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let b = pds.create_account("bob").await;
    pds.create_record(&a, "app.bsky.feed.post", post("before"))
        .await;
    let takedown = |applied: bool| {
        json!({
            "subject": { "$type": "com.atproto.admin.defs#repoRef", "did": a.did },
            "takedown": { "applied": applied, "ref": "case-1" },
        })
    };
    const UPDATE: &str = "com.atproto.admin.updateSubjectStatus";

    cases.case("admin API refuses no auth, a wrong password, and user tokens");
    let before = pds.snapshot(&a.did).await;
    pds.post(UPDATE, None, &takedown(true))
        .await
        .err(401, "AuthenticationRequired");
    let r = pds
        .http
        .post(pds.xrpc(UPDATE))
        .basic_auth("admin", Some("guess"))
        .json(&takedown(true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    pds.post(UPDATE, Some(&b.access), &takedown(true))
        .await
        .err(401, "AuthenticationRequired");
    assert_eq!(before, pds.snapshot(&a.did).await);
    cases.case("takedown of an unknown account: NotFound, no event");
    let seq = pds.state().sequencer.head();
    pds.admin_post(UPDATE, &json!({ "subject": { "$type": "com.atproto.admin.defs#repoRef", "did": "did:plc:nobodyhereatallxxxxxxxxx" }, "takedown": { "applied": true } }))
        .await
        .err(404, "NotFound");
    pds.admin_post(
        UPDATE,
        &json!({ "subject": { "$type": "com.example.whatever" }, "takedown": { "applied": true } }),
    )
    .await
    .err(400, "InvalidRequest");
    assert_eq!(pds.state().sequencer.head(), seq);

    let mut ws = live(pds).await;
    cases.case("takedown announces #account active=false status=takendown");
    pds.admin_post(UPDATE, &takedown(true)).await.ok();
    let e = next_account_event(&mut ws).await;
    assert_eq!(
        (e.did.as_str(), e.active, e.status.as_deref()),
        (a.did.as_str(), false, Some("takendown"))
    );
    let before = pds.snapshot(&a.did).await;
    cases.case("sessions refused: AccountTakedown");
    pds.login(&a.handle, PASSWORD)
        .await
        .err(401, "AccountTakedown");
    pds.get("com.atproto.server.getSession", Some(&a.access))
        .await
        .err(401, "AccountTakedown");
    pds.post(
        "com.atproto.repo.createRecord",
        Some(&a.access),
        &write_body(&a),
    )
    .await
    .err(401, "AccountTakedown");
    cases.case("refresh tokens were revoked");
    pds.post(
        "com.atproto.server.refreshSession",
        Some(&a.refresh),
        &json!({}),
    )
    .await
    .err(400, "InvalidToken");
    cases.case("sync refused: RepoTakendown");
    pds.get(&format!("com.atproto.sync.getRepo?did={}", a.did), None)
        .await
        .err(400, "RepoTakendown");
    pds.get(
        &format!("com.atproto.repo.describeRepo?repo={}", a.did),
        None,
    )
    .await
    .err(400, "RepoTakendown");
    cases.case("getSubjectStatus shows the takedown");
    let st = pds
        .http
        .get(pds.xrpc(&format!("com.atproto.admin.getSubjectStatus?did={}", a.did)))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    let st: Value = st.json().await.unwrap();
    assert_eq!(st["takedown"], json!({ "applied": true, "ref": "case-1" }));
    cases.case("other accounts are unaffected");
    pds.create_record(&b, "app.bsky.feed.post", post("still here"))
        .await;
    assert_eq!(before.records, pds.snapshot(&a.did).await.records);

    cases.case("reversal announces #account active=true");
    pds.admin_post(UPDATE, &takedown(false)).await.ok();
    let e = next_account_event(&mut ws).await;
    assert_eq!((e.active, e.status), (true, None));
    cases.case("sign-in, writes and sync work again");
    let s = pds.login(&a.handle, PASSWORD).await.ok();
    assert_eq!(s["active"], true);
    let fresh = Account {
        access: s["accessJwt"].as_str().unwrap().into(),
        ..a.clone()
    };
    pds.create_record(&fresh, "app.bsky.feed.post", post("back"))
        .await;
    pds.get(
        &format!("com.atproto.sync.getLatestCommit?did={}", a.did),
        None,
    )
    .await
    .ok();

    cases.case("takedown of a deactivated account, reversed, leaves it deactivated");
    pds.post(
        "com.atproto.server.deactivateAccount",
        Some(&fresh.access),
        &json!({}),
    )
    .await
    .ok();
    assert_eq!(
        next_account_event(&mut ws).await.status.as_deref(),
        Some("deactivated")
    );
    pds.admin_post(UPDATE, &takedown(true)).await.ok();
    assert_eq!(
        next_account_event(&mut ws).await.status.as_deref(),
        Some("takendown")
    );
    pds.admin_post(UPDATE, &takedown(false)).await.ok();
    let e = next_account_event(&mut ws).await;
    assert_eq!(
        (e.active, e.status.as_deref()),
        (false, Some("deactivated"))
    );
    pds.get(&format!("com.atproto.sync.getRepo?did={}", a.did), None)
        .await
        .err(400, "RepoDeactivated");
}

#[tokio::test]
async fn delete_account_with_emailed_token() {
    let cases = Cases::new("pds_lifecycle deletion");
    let mail = tempfile::tempdir().unwrap();
    let smtp = smtp::start_smtp(mail.path()).await;
    let w = World::new(Options {
        smtp: Some(smtp.url()),
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let b = pds.create_account("bob").await;
    pds.create_record(&a, "app.bsky.feed.post", post("soon gone"))
        .await;
    let blob = pds
        .post_raw(
            "com.atproto.repo.uploadBlob",
            Some(&a.access),
            Some("text/plain"),
            b"alice's bytes".to_vec(),
        )
        .await
        .ok();
    let blob_cid =
        atproto::data::parse_cid(blob["blob"]["ref"]["$link"].as_str().unwrap()).unwrap();
    let blob_path = pds.state().blobs.path(&blob_cid);
    assert!(blob_path.exists());

    cases.case("deleteAccount without a requested token: InvalidToken, nothing changes");
    let before = pds.snapshot(&a.did).await;
    pds.post(
        "com.atproto.server.deleteAccount",
        None,
        &json!({ "did": a.did, "password": PASSWORD, "token": "" }),
    )
    .await
    .err(400, "InvalidToken");
    assert_eq!(before, pds.snapshot(&a.did).await);

    let token = delete_code(pds, &smtp, &a).await;
    cases.case("another account's password does not delete it");
    pds.post(
        "com.atproto.server.deleteAccount",
        None,
        &json!({ "did": a.did, "password": "nope", "token": token }),
    )
    .await
    .err(401, "AuthenticationRequired");
    cases.case("bob's token does not delete alice");
    let bobs = delete_code(pds, &smtp, &b).await;
    if bobs != token {
        pds.post(
            "com.atproto.server.deleteAccount",
            None,
            &json!({ "did": a.did, "password": PASSWORD, "token": bobs }),
        )
        .await
        .err(400, "InvalidToken");
    }
    assert_eq!(before.records, pds.snapshot(&a.did).await.records);

    let mut ws = live(pds).await;
    cases.case("deleteAccount announces #account active=false status=deleted");
    pds.post(
        "com.atproto.server.deleteAccount",
        None,
        &json!({ "did": a.did, "password": PASSWORD, "token": token }),
    )
    .await
    .ok();
    let e = next_account_event(&mut ws).await;
    assert_eq!(
        (e.did.as_str(), e.active, e.status.as_deref()),
        (a.did.as_str(), false, Some("deleted"))
    );

    cases.case("the repository is gone");
    pds.get(&format!("com.atproto.sync.getRepo?did={}", a.did), None)
        .await
        .err(400, "RepoNotFound");
    pds.get(
        &format!("com.atproto.sync.getLatestCommit?did={}", a.did),
        None,
    )
    .await
    .err(400, "RepoNotFound");
    pds.get(
        &format!("com.atproto.repo.describeRepo?repo={}", a.did),
        None,
    )
    .await
    .err(400, "RepoNotFound");
    pds.get(
        &format!("com.atproto.sync.getRepoStatus?did={}", a.did),
        None,
    )
    .await
    .err(400, "RepoNotFound");
    let repos = pds.get("com.atproto.sync.listRepos", None).await.ok();
    assert!(
        repos["repos"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["did"] != a.did.as_str())
    );
    let after = pds.snapshot(&a.did).await;
    assert_eq!((after.records, after.blobs), (0, 0));
    let d = a.did.clone();
    let leftovers: i64 = pds
        .state()
        .db
        .readers
        .read(move |c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM repo_block WHERE account NOT IN (SELECT id FROM account))
                      + (SELECT COUNT(*) FROM record_blob WHERE account NOT IN (SELECT id FROM account))
                      + (SELECT COUNT(*) FROM repo_root WHERE account NOT IN (SELECT id FROM account))
                      + (SELECT COUNT(*) FROM email_token WHERE account NOT IN (SELECT id FROM account))
                      + (SELECT COUNT(*) FROM refresh_token WHERE account NOT IN (SELECT id FROM account))
                      + (SELECT COUNT(*) FROM account WHERE did = ?1)",
                [d],
                |r| r.get(0),
            )
            .map_err(hearth_pds::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(leftovers, 0, "no rows of the account remain");
    assert!(!blob_path.exists(), "its blob's bytes are gone");
    cases.case("the firehose keeps only the deletion of the account");
    let head = pds.state().sequencer.head();
    let events = replay(pds.port, 0, head).await;
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.did() == Some(a.did.as_str()))
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert!(matches!(mine[0], Event::Account(e) if e.status.as_deref() == Some("deleted")));
    cases.case("its sessions and password are dead");
    pds.get("com.atproto.server.getSession", Some(&a.access))
        .await
        .err(400, "InvalidToken");
    pds.login(&a.handle, PASSWORD)
        .await
        .err(401, "AuthenticationRequired");
    cases.case("deleting it again: no such account");
    pds.post(
        "com.atproto.server.deleteAccount",
        None,
        &json!({ "did": a.did, "password": PASSWORD, "token": token }),
    )
    .await
    .err(400, "InvalidRequest");
    cases.case("the other account is untouched");
    pds.create_record(&b, "app.bsky.feed.post", post("still here"))
        .await;
    pds.assert_healthy().await;
}
