//! Reading a firehose (`com.atproto.sync.subscribeRepos`) and checking what it carries the
//! way a relay does.

use crate::identity::plc_key;
use atproto::crypto::PublicKey;
use atproto::firehose::{Event, Frame, decode_frame};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// One frame read from the firehose.
#[derive(Debug)]
pub enum Got {
    Frame(Frame),
    Closed,
    Timeout,
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `subscribeRepos` with an optional raw cursor string.
pub async fn subscribe(port: u16, cursor: Option<&str>) -> Ws {
    let url = match cursor {
        Some(c) => format!("ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos?cursor={c}"),
        None => format!("ws://127.0.0.1:{port}/xrpc/com.atproto.sync.subscribeRepos"),
    };
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connect");
    ws
}

/// The next frame, decoded; `Closed` at the end of the stream.
pub async fn next_frame(ws: &mut Ws, wait: Duration) -> Got {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Got::Timeout,
            Ok(None) | Ok(Some(Err(_))) => return Got::Closed,
            Ok(Some(Ok(Message::Binary(b)))) => {
                return Got::Frame(decode_frame(&b).expect("frame decodes"));
            }
            Ok(Some(Ok(Message::Close(_)))) => return Got::Closed,
            Ok(Some(Ok(Message::Ping(p)))) => {
                let _ = ws.send(Message::Pong(p)).await;
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Every event with a sequence number from `cursor` up to `until_seq`, in arrival order.
pub async fn replay(port: u16, cursor: i64, until_seq: i64) -> Vec<Event> {
    let mut ws = subscribe(port, Some(&cursor.to_string())).await;
    let mut out = Vec::new();
    loop {
        match next_frame(&mut ws, Duration::from_secs(20)).await {
            Got::Frame(Frame::Event(e)) => {
                let seq = e.seq();
                out.push(e);
                if seq.is_some_and(|s| s >= until_seq) {
                    break;
                }
            }
            Got::Frame(other) => panic!("unexpected frame in replay: {other:?}"),
            Got::Closed => panic!("stream closed during replay"),
            Got::Timeout => panic!(
                "replay stalled after {} events (waiting for seq {until_seq})",
                out.len()
            ),
        }
    }
    let _ = ws.close(None).await;
    out
}

/// Checks a `#commit` the way a relay does: the CAR's commit is signed by `key`, and inverting
/// the ops on the new tree lands on `prevData`. Returns the commit's data root.
pub fn verify_commit_event(c: &atproto::firehose::Commit, key: &PublicKey) -> atproto::data::Cid {
    let ops: Vec<_> = c
        .ops
        .iter()
        .map(|o| o.to_op().expect("known op action"))
        .collect();
    let v = atproto::repo::verify_commit_car(&c.blocks, &ops, c.prev_data, Some(key))
        .unwrap_or_else(|e| panic!("commit seq {} of {} does not verify: {e}", c.seq, c.repo));
    assert_eq!(v.commit_cid, c.commit, "CAR root is the commit");
    assert_eq!(v.did, c.repo);
    assert_eq!(v.rev, c.rev);
    v.data
}

/// Checks a replay: contiguous sequence numbers from `first`, each `#commit` verified and
/// chained (`since` is the repository's previous rev, `prevData` its previous data root).
pub async fn check_replay(plc_url: &str, events: &[Event], first: i64) -> usize {
    let mut keys = HashMap::new();
    let mut revs: HashMap<String, (String, atproto::data::Cid)> = HashMap::new();
    let mut commits = 0;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e.seq(),
            Some(first + i as i64),
            "events arrive in sequence order"
        );
        if let Event::Commit(c) = e {
            if !keys.contains_key(&c.repo) {
                keys.insert(c.repo.clone(), plc_key(plc_url, &c.repo).await);
            }
            let data = verify_commit_event(c, &keys[&c.repo]);
            if let Some((prev_rev, prev_data)) = revs.get(&c.repo) {
                assert_eq!(c.since.as_deref(), Some(prev_rev.as_str()), "since chains");
                assert_eq!(c.prev_data, Some(*prev_data), "prevData chains");
                assert!(c.rev > *prev_rev, "revs increase");
            }
            revs.insert(c.repo.clone(), (c.rev.clone(), data));
            commits += 1;
        }
    }
    commits
}
