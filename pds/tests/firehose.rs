//! The firehose (`com.atproto.sync.subscribeRepos`) as a relay sees it: bad and future cursors,
//! cursors older than what is retained, full replay in sequence order with every `#commit`
//! verified (signature with the account's key from the PLC directory, and inversion of its ops
//! back to `prevData`), live delivery, and sequence numbers that continue across a restart.

mod common;

use atproto::firehose::{Event, Frame};
use common::*;
use hearth_testkit::firehose::*;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite;

/// Some activity: two accounts, creates, an update, a delete, a batch.
async fn activity(pds: &Pds) -> (Account, Account) {
    let a = pds.create_account("alice").await;
    let b = pds.create_account("bob").await;
    let p = pds
        .create_record(&a, "app.bsky.feed.post", post("hello"))
        .await;
    pds.create_record(&b, "app.bsky.feed.post", post("hi"))
        .await;
    let rkey = p["uri"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    pds.post(
        "com.atproto.repo.putRecord",
        Some(&a.access),
        &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey, "record": post("hello, edited") }),
    )
    .await
    .ok();
    pds.post(
        "com.atproto.repo.applyWrites",
        Some(&b.access),
        &json!({ "repo": b.did, "writes": [
            { "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.x", "rkey": "one", "value": { "$type": "com.example.x" } },
            { "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.x", "rkey": "two", "value": { "$type": "com.example.x" } },
        ] }),
    )
    .await
    .ok();
    pds.post(
        "com.atproto.repo.deleteRecord",
        Some(&a.access),
        &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey }),
    )
    .await
    .ok();
    (a, b)
}

#[tokio::test]
async fn cursors_future_bad_and_negative() {
    let cases = Cases::new("pds_firehose cursors");
    let w = World::new(Options::default());
    let pds = &w.pds;
    activity(pds).await;
    let head = pds.state().sequencer.head();

    cases.case("future cursor: FutureCursor error frame, then close");
    let mut ws = subscribe(pds.port, Some(&(head + 100).to_string())).await;
    match next_frame(&mut ws, Duration::from_secs(10)).await {
        Got::Frame(Frame::Error(e)) => assert_eq!(e.error, "FutureCursor"),
        other => panic!("expected FutureCursor, got {other:?}"),
    }
    assert!(matches!(
        next_frame(&mut ws, Duration::from_secs(10)).await,
        Got::Closed
    ));

    for bad in ["abc", "1.5", "99999999999999999999", "%00"] {
        cases.case(&format!("cursor {bad:?}: 400 XRPC error on the handshake"));
        let url = format!(
            "ws://127.0.0.1:{}/xrpc/com.atproto.sync.subscribeRepos?cursor={bad}",
            pds.port
        );
        match tokio_tungstenite::connect_async(url).await {
            Err(tungstenite::Error::Http(res)) => {
                assert_eq!(res.status().as_u16(), 400);
                let body: serde_json::Value =
                    serde_json::from_slice(res.body().as_deref().unwrap_or_default())
                        .expect("JSON body");
                assert_eq!(body["error"], "InvalidRequest");
                assert!(body["message"].is_string());
            }
            other => panic!("expected an HTTP 400, got {other:?}"),
        }
        cases.case(&format!(
            "cursor {bad:?} without an upgrade: 400 XRPC error"
        ));
        pds.get(
            &format!("com.atproto.sync.subscribeRepos?cursor={bad}"),
            None,
        )
        .await
        .err(400, "InvalidRequest");
    }
    cases.case("plain GET (no WebSocket upgrade): XRPC error, not plain text");
    let r = pds.get("com.atproto.sync.subscribeRepos", None).await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_xrpc_error(&r.body, &r.text);
    cases.case("POST: 405 XRPC error");
    pds.post("com.atproto.sync.subscribeRepos", None, &json!({}))
        .await
        .err(405, "InvalidRequest");

    cases.case("negative cursor: full replay, no OutdatedCursor");
    let events = replay(pds.port, -5, head).await;
    assert_eq!(events.first().and_then(Event::seq), Some(1));
    cases.case("cursor at head: nothing replayed, live follows");
    let mut ws = subscribe(pds.port, Some(&head.to_string())).await;
    assert!(matches!(
        next_frame(&mut ws, Duration::from_millis(500)).await,
        Got::Timeout
    ));
    pds.assert_healthy().await;
}

#[tokio::test]
async fn replay_from_zero_verifies_every_commit() {
    let cases = Cases::new("pds_firehose replay");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let (a, b) = activity(pds).await;
    let head = pds.state().sequencer.head();
    cases.case("replay from 0 delivers every event in order");
    let events = replay(pds.port, 0, head).await;
    assert_eq!(events.len() as i64, head);
    cases.case("every #commit verifies and chains");
    let commits = check_replay(w.plc.url(), &events, 1).await;
    // Per account: the empty repository's commit; then alice create, put, delete and bob
    // create, batch.
    assert_eq!(commits, 2 + 5);
    cases.case("account creation emits #identity, #account, #commit in that order");
    let kinds: Vec<&str> = events.iter().take(3).map(Event::type_name).collect();
    assert_eq!(kinds, ["#identity", "#account", "#commit"]);
    cases.case("ops carry the right actions");
    let ops: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Commit(c) => Some(c),
            _ => None,
        })
        .flat_map(|c| c.ops.iter().map(|o| (c.repo.clone(), o.action.clone())))
        .collect();
    let count =
        |did: &str, action: &str| ops.iter().filter(|(d, a)| d == did && a == action).count();
    assert_eq!(
        (
            count(&a.did, "create"),
            count(&a.did, "update"),
            count(&a.did, "delete")
        ),
        (1, 1, 1)
    );
    assert_eq!(count(&b.did, "create"), 3);
    cases.case("replay from the middle starts just after the cursor");
    let tail = replay(pds.port, head - 2, head).await;
    assert_eq!(
        tail.iter().map(|e| e.seq().unwrap()).collect::<Vec<_>>(),
        [head - 1, head]
    );
}

#[tokio::test]
async fn live_subscribers_see_new_commits() {
    let cases = Cases::new("pds_firehose live");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let key = plc_key(w.plc.url(), &a.did).await;
    let mut live = subscribe(pds.port, None).await;
    let mut from_head = subscribe(pds.port, Some(&pds.state().sequencer.head().to_string())).await;
    // Let the subscriptions settle before writing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut written = Vec::new();
    for i in 0..5 {
        written.push(
            pds.create_record(&a, "app.bsky.feed.post", post(&format!("live {i}")))
                .await,
        );
    }
    for (name, ws) in [("no cursor", &mut live), ("cursor at head", &mut from_head)] {
        cases.case(&format!(
            "live subscriber ({name}) receives each commit, verified"
        ));
        for w in &written {
            match next_frame(ws, Duration::from_secs(10)).await {
                Got::Frame(Frame::Event(Event::Commit(c))) => {
                    assert_eq!(c.commit.to_string(), w["commit"]["cid"].as_str().unwrap());
                    assert_eq!(c.ops.len(), 1);
                    assert_eq!(
                        c.ops[0].cid.map(|c| c.to_string()).as_deref(),
                        w["cid"].as_str()
                    );
                    verify_commit_event(&c, &key);
                }
                other => panic!("expected a #commit, got {other:?}"),
            }
        }
    }
    cases.case("a refused write emits nothing");
    pds.post(
        "com.atproto.repo.createRecord",
        Some(&a.access),
        &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "record": { "$type": "app.bsky.feed.post" } }),
    )
    .await
    .err(400, "InvalidRequest");
    assert!(matches!(
        next_frame(&mut live, Duration::from_millis(500)).await,
        Got::Timeout
    ));
}

#[tokio::test]
async fn outdated_cursor_after_pruning() {
    let cases = Cases::new("pds_firehose outdated cursor");
    // A zero-hour backfill window: everything older than "now" may be pruned.
    let w = World::new(Options {
        backfill_hours: 0,
        ..Options::default()
    });
    let pds = &w.pds;
    let (a, _) = activity(pds).await;
    let before = pds.state().sequencer.head();
    // Event times are whole seconds: step past the second the events were written in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let pruned = hearth_pds::background::prune_events(pds.state())
        .await
        .unwrap();
    cases.case("pruning keeps the newest event");
    assert_eq!(pruned as i64, before - 1);
    let fresh = pds
        .create_record(&a, "app.bsky.feed.post", post("after pruning"))
        .await;
    let head = pds.state().sequencer.head();
    assert_eq!(head, before + 1);

    for cursor in [0, 3, before - 2] {
        cases.case(&format!(
            "cursor {cursor}: #info OutdatedCursor first, then what is kept"
        ));
        let mut ws = subscribe(pds.port, Some(&cursor.to_string())).await;
        match next_frame(&mut ws, Duration::from_secs(10)).await {
            Got::Frame(Frame::Event(Event::Info(i))) => assert_eq!(i.name, "OutdatedCursor"),
            other => panic!("expected #info OutdatedCursor, got {other:?}"),
        }
        let mut seqs = Vec::new();
        while seqs.last() != Some(&head) {
            match next_frame(&mut ws, Duration::from_secs(10)).await {
                Got::Frame(Frame::Event(e)) => seqs.push(e.seq().expect("seq")),
                other => panic!("expected events, got {other:?}"),
            }
        }
        assert_eq!(seqs, [before, head]);
    }
    cases.case("cursor just before the oldest kept event: no #info");
    let events = replay(pds.port, before - 1, head).await;
    assert_eq!(
        events.iter().map(|e| e.seq().unwrap()).collect::<Vec<_>>(),
        [before, head]
    );
    match events.last() {
        Some(Event::Commit(c)) => assert_eq!(
            c.commit.to_string(),
            fresh["commit"]["cid"].as_str().unwrap()
        ),
        other => panic!("expected the fresh commit, got {other:?}"),
    }
}

#[tokio::test]
async fn sequence_numbers_survive_a_restart() {
    let cases = Cases::new("pds_firehose restart");
    let mut w = World::new(Options::default());
    let (a, _) = activity(&w.pds).await;
    let head = w.pds.state().sequencer.head();
    let rev = w
        .pds
        .get(
            &format!("com.atproto.sync.getLatestCommit?did={}", a.did),
            None,
        )
        .await
        .ok()["rev"]
        .clone();

    w.restart(Options::default());
    let pds = &w.pds;
    cases.case("head is restored from the database");
    assert_eq!(pds.state().sequencer.head(), head);
    cases.case("repository head survives");
    assert_eq!(
        pds.get(
            &format!("com.atproto.sync.getLatestCommit?did={}", a.did),
            None
        )
        .await
        .ok()["rev"],
        rev
    );
    cases.case("tokens issued before the restart still work");
    let after = pds
        .create_record(&a, "app.bsky.feed.post", post("after restart"))
        .await;
    cases.case("the next event continues the sequence");
    assert_eq!(pds.state().sequencer.head(), head + 1);
    let events = replay(pds.port, 0, head + 1).await;
    let commits = check_replay(w.plc.url(), &events, 1).await;
    assert_eq!(commits, 2 + 5 + 1);
    match events.last() {
        Some(Event::Commit(c)) => {
            assert_eq!(c.seq, head + 1);
            assert_eq!(
                c.commit.to_string(),
                after["commit"]["cid"].as_str().unwrap()
            );
            assert_eq!(c.since.as_ref(), rev.as_str().map(str::to_owned).as_ref());
        }
        other => panic!("expected the new commit, got {other:?}"),
    }
    cases.case("a second restart with no writes in between keeps the head");
    w.restart(Options::default());
    assert_eq!(w.pds.state().sequencer.head(), head + 1);
}
