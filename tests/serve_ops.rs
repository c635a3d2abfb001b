//! What an operator sees of `hearth up`/`serve` (one port, `HEARTH_METRICS_PORT`,
//! `HEARTH_LOG_FORMAT=json`): Prometheus metrics on the private port and, behind the admin
//! password, on the PDS; health checks that fail (503) while a database does not take writes;
//! logs as one JSON object per line.

mod binary;

use binary::*;
use hearth_testkit::firehose::subscribe;
use hearth_testkit::*;
use std::path::Path;
use std::time::{Duration, Instant};

const APPVIEW_HOST: &str = "appview.localhost";

/// GET `path` on `port` naming `host`, with optional Basic credentials: (status, body).
async fn get(
    http: &reqwest::Client,
    port: u16,
    host: &str,
    path: &str,
    basic: Option<&str>,
) -> (u16, String) {
    let mut req = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header(reqwest::header::HOST, host);
    if let Some(password) = basic {
        req = req.basic_auth("admin", Some(password));
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// The value of the sample whose line starts with `series` (name and labels, in the
/// exporter's order).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Holds the write lock of the SQLite database at `path` (as a stuck process would).
fn lock(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    conn
}

/// Polls `path` on `port` as `host` until it answers `want`.
async fn until_status(http: &reqwest::Client, port: u16, host: &str, path: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(http, port, host, path, None).await;
        if status == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{host}{path}: {status} {body}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_json_logs() {
    let cases = Cases::new("serve_ops");
    let plc = TestPlc::spawn().expect("PLC directory");
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let (port, metrics_port) = (free_port(), free_port());
    let http = client();
    let mut hearth = spawn_with(
        "up",
        port,
        &data,
        plc.url(),
        "ops.log",
        &[
            ("HEARTH_SINGLE_PORT", "true"),
            ("HEARTH_APPVIEW_HOSTNAME", APPVIEW_HOST),
            ("HEARTH_METRICS_PORT", &metrics_port.to_string()),
            ("HEARTH_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("HEARTH_LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
        ],
    );
    wait_healthy(&http, &format!("http://localhost:{port}")).await;

    let service = Xrpc::local(port);
    let alice = service.create_account("alice").await;
    for n in 0..3 {
        service
            .create_record(&alice, "app.bsky.feed.post", post(&format!("post {n}")))
            .await;
    }
    // The AppView's ingest is one subscriber; this is the other.
    let ws = subscribe(port, Some("0")).await;

    cases.case("the metrics port serves Prometheus metrics whatever the hostname");
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let (status, body) = get(&http, metrics_port, "anything", "/metrics", None).await;
        assert_eq!(status, 200, "{body}");
        let indexed = sample(&body, "hearth_ingest_commits_applied_total").unwrap_or(0.0);
        let subscribers = sample(&body, "hearth_firehose_subscribers").unwrap_or(0.0);
        if indexed >= 3.0 && subscribers == 2.0 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "ingest and subscriber not seen:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let created = sample(
        &metrics,
        "hearth_http_requests_total{service=\"pds\",method=\"POST\",route=\"/xrpc/com.atproto.repo.createRecord\",status=\"200\"}",
    );
    assert_eq!(created, Some(3.0), "{metrics}");
    assert!(
        metrics.contains(
            "hearth_http_request_duration_seconds_bucket{service=\"pds\",route=\"/xrpc/com.atproto.repo.createRecord\",le=\"0.001\"}"
        ),
        "a latency histogram per route:\n{metrics}"
    );
    for series in [
        "hearth_firehose_head_seq",
        "hearth_firehose_max_lag_events",
        "hearth_db_writer_queue{db=\"pds\"}",
        "hearth_db_writer_queue{db=\"index\"}",
        "hearth_db_writer_queue{db=\"spaces\"}",
        "hearth_email_outbox",
        "hearth_ingest_events_total",
        "hearth_ingest_lag_seconds",
    ] {
        assert!(sample(&metrics, series).is_some(), "{series}:\n{metrics}");
    }
    assert!(sample(&metrics, "hearth_firehose_head_seq").unwrap_or(0.0) >= 4.0);
    assert_eq!(sample(&metrics, "hearth_email_outbox"), Some(0.0));
    drop(ws);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = get(&http, metrics_port, "anything", "/metrics", None).await;
        if sample(&body, "hearth_firehose_subscribers") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the subscriber that left is still counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    cases.case("/metrics on the PDS needs the admin password; the AppView has none");
    let (status, body) = get(&http, port, "localhost", "/metrics", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(&http, port, "localhost", "/metrics", Some("wrong")).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(&http, port, "localhost", "/metrics", Some(ADMIN_PASSWORD)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("hearth_http_requests_total"), "{body}");
    let (status, body) = get(&http, port, APPVIEW_HOST, "/metrics", Some(ADMIN_PASSWORD)).await;
    assert_ne!(status, 200, "{body}");
    assert!(!body.contains("hearth_http"), "{body}");

    cases.case("health is 503 while the PDS database does not take writes, 200 after");
    until_status(&http, metrics_port, "anything", "/xrpc/_health", 200).await;
    let held = lock(&data.join("pds.sqlite"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = get(&http, port, "localhost", "/xrpc/_health", None).await;
    assert_eq!(status, 503, "{body}");
    assert_xrpc_error(&serde_json::from_str(&body).expect("json"), &body);
    let (status, body) = get(&http, metrics_port, "anything", "/xrpc/_health", None).await;
    assert_eq!(status, 503, "{body}");
    drop(held);
    until_status(&http, port, "localhost", "/xrpc/_health", 200).await;

    cases.case("health is 503 while the AppView's index does not take writes, 200 after");
    let held = lock(&data.join("appview/index.sqlite"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = get(&http, port, APPVIEW_HOST, "/xrpc/_health", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("index"), "{body}");
    drop(held);
    until_status(&http, port, APPVIEW_HOST, "/xrpc/_health", 200).await;
    until_status(&http, metrics_port, "anything", "/xrpc/_health", 200).await;

    cases.case("with HEARTH_LOG_FORMAT=json every log line is a JSON object");
    terminate(&mut hearth).await;
    let log = std::fs::read_to_string(root.path().join("ops.log")).expect("log");
    let mut messages = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        messages.push(
            v["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        messages.iter().any(|m| m.contains("shutting down")),
        "{messages:?}"
    );
}
