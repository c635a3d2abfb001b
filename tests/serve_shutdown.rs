//! The PDS and the AppView in one process (`hearth up` with `HEARTH_SINGLE_PORT`): one port
//! serves both, told apart by hostname; SIGTERM in the middle of a write burst stops it within
//! 10 seconds with a clean exit, losing no acknowledged write, closing firehose subscribers with
//! a close frame, leaving the databases checkpointed; after a restart the firehose resumes at
//! the sequence number after the last one a subscriber saw.

mod binary;

use atproto::firehose::Frame;
use binary::*;
use futures::StreamExt;
use hearth_testkit::firehose::subscribe;
use hearth_testkit::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const APPVIEW_HOST: &str = "appview.localhost";

fn spawn_up(port: u16, data: &Path, plc_url: &str, log: &str) -> Hearth {
    spawn_with(
        "up",
        port,
        data,
        plc_url,
        log,
        &[
            ("HEARTH_SINGLE_PORT", "true"),
            ("HEARTH_APPVIEW_HOSTNAME", APPVIEW_HOST),
        ],
    )
}

/// A GET on the shared port naming `host`: (status, body).
async fn get_as(http: &reqwest::Client, port: u16, host: &str, path: &str) -> (u16, String) {
    let r = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header(reqwest::header::HOST, host)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// What a live subscriber saw until the stream ended: the sequence numbers in order, and the
/// close code if the server sent a close frame.
#[derive(Debug, Default)]
struct Seen {
    seqs: Vec<i64>,
    close: Option<CloseCode>,
}

async fn follow(port: u16) -> tokio::task::JoinHandle<Seen> {
    let mut ws = subscribe(port, None).await;
    tokio::spawn(async move {
        let mut seen = Seen::default();
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
            match msg {
                Ok(Message::Binary(b)) => {
                    if let Ok(Frame::Event(e)) = atproto::firehose::decode_frame(&b)
                        && let Some(seq) = e.seq()
                    {
                        seen.seqs.push(seq);
                    }
                }
                Ok(Message::Close(frame)) => {
                    seen.close = frame.map(|f| f.code);
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        seen
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_port_serves_both_services_by_hostname() {
    let cases = Cases::new("serve_shutdown");
    let plc = TestPlc::spawn().expect("PLC directory");
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let port = free_port();
    let http = client();
    let _hearth = spawn_up(port, &data, plc.url(), "hosts.log");
    wait_healthy(&http, &format!("http://localhost:{port}")).await;

    cases.case("each hostname gets its own service's did:web document");
    let (status, pds_doc) = get_as(&http, port, "localhost", "/.well-known/did.json").await;
    assert_eq!(status, 200, "{pds_doc}");
    let pds_doc: Value = serde_json::from_str(&pds_doc).expect("json");
    assert_eq!(pds_doc["id"], format!("did:web:localhost%3A{port}"));
    let (status, av_doc) = get_as(
        &http,
        port,
        &format!("{APPVIEW_HOST}:{port}"),
        "/.well-known/did.json",
    )
    .await;
    assert_eq!(status, 200, "{av_doc}");
    let av_doc: Value = serde_json::from_str(&av_doc).expect("json");
    assert_eq!(av_doc["id"], format!("did:web:{APPVIEW_HOST}%3A{port}"));
    assert_eq!(
        av_doc["service"][0]["serviceEndpoint"],
        format!("http://{APPVIEW_HOST}:{port}"),
        "the AppView names the shared port"
    );

    cases.case("a handle subdomain reaches the PDS's atproto-did");
    let alice = Xrpc::local(port).create_account("alice").await;
    let (status, did) = get_as(&http, port, "alice.test", "/.well-known/atproto-did").await;
    assert_eq!((status, did.as_str()), (200, alice.did.as_str()));

    cases.case("an AppView method is answered by the AppView, not proxied by the PDS");
    let (status, body) = get_as(
        &http,
        port,
        APPVIEW_HOST,
        "/xrpc/app.bsky.actor.getProfile?actor=did:plc:notthere",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("Profile not found")
            || body.contains("NotFound")
            || body.contains("InvalidRequest"),
        "{body}"
    );
    // The PDS refuses the same unauthenticated call instead of answering it from an index.
    let (status, body) = get_as(
        &http,
        port,
        "localhost",
        "/xrpc/app.bsky.actor.getProfile?actor=did:plc:notthere",
    )
    .await;
    assert_eq!(status, 401, "{body}");

    cases.case("an unknown hostname is refused with 421, never served");
    for host in [
        "evil.example",
        "localhost.evil.example",
        "test",
        "test.evil",
    ] {
        let (status, body) = get_as(&http, port, host, "/.well-known/did.json").await;
        assert_eq!(status, 421, "{host}: {body}");
        assert_xrpc_error(&serde_json::from_str(&body).expect("json"), &body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_burst_loses_nothing_and_the_firehose_resumes_at_the_same_seq() {
    let cases = Cases::new("serve_shutdown");
    let plc = TestPlc::spawn().expect("PLC directory");
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let http = client();

    let mut hearth = spawn_up(port, &data, plc.url(), "first.log");
    wait_healthy(&http, &format!("http://localhost:{port}")).await;
    let accounts = three_accounts(port).await;
    let live = follow(port).await;

    let acked = burst(&http, &url, &accounts, 0, &mut hearth, Stop::Term).await;
    cases.case(&format!(
        "SIGTERM mid-burst: a clean exit within 10 s, {} writes acknowledged",
        acked.len()
    ));

    cases.case("the live subscriber got a close frame (going away) and no gap");
    let seen = live.await.expect("subscriber");
    assert_eq!(seen.close, Some(CloseCode::Away), "{seen:?}");
    assert!(!seen.seqs.is_empty(), "the subscriber saw the burst");
    for pair in seen.seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "unbroken live sequence");
    }
    let last_seen = *seen.seqs.last().expect("seqs");

    cases.case("the databases were checkpointed: their write-ahead logs hold no frames");
    for db in [
        "pds.sqlite",
        "appview/index.sqlite",
        "appview/spaces.sqlite",
    ] {
        let wal = data.join(format!("{db}-wal"));
        let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        // A log's header is 32 bytes; each frame adds 24 and a page.
        assert!(len <= 32, "{} holds {len} bytes", wal.display());
    }

    hearth = spawn_up(port, &data, plc.url(), "second.log");
    wait_healthy(&http, &format!("http://localhost:{port}")).await;
    check(&cases, &http, &url, plc.url(), port, &accounts, &acked, 0).await;

    cases.case("the firehose resumes right after the last event the subscriber saw");
    let mut ws = subscribe(port, Some(&last_seen.to_string())).await;
    match hearth_testkit::firehose::next_frame(&mut ws, Duration::from_secs(20)).await {
        hearth_testkit::firehose::Got::Frame(Frame::Event(e)) => {
            assert_eq!(e.seq(), Some(last_seen + 1), "neither a gap nor a repeat");
        }
        other => panic!("no event after {last_seen}: {other:?}"),
    }
    drop(hearth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finishes_does_not_hold_shutdown_past_10_seconds() {
    use tokio::io::AsyncWriteExt;
    let cases = Cases::new("serve_shutdown");
    let plc = TestPlc::spawn().expect("PLC directory");
    for command in ["up", "pds"] {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        let port = free_port();
        let http = client();
        let mut hearth = spawn_with(
            command,
            port,
            &data,
            plc.url(),
            "stuck.log",
            &[
                ("HEARTH_SINGLE_PORT", "true"),
                ("HEARTH_APPVIEW_HOSTNAME", APPVIEW_HOST),
            ],
        );
        wait_healthy(&http, &format!("http://localhost:{port}")).await;

        cases.case(&format!("hearth {command}: a body promised and never sent keeps a request in flight; SIGTERM still ends the process cleanly within 10 s"));
        let mut stuck = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stuck
            .write_all(b"POST /xrpc/com.atproto.server.createSession HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            .await
            .expect("write");
        tokio::time::sleep(Duration::from_millis(200)).await;
        terminate(&mut hearth).await;
        drop(stuck);
    }
}
