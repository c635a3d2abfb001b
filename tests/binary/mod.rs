//! Driving the real `hearth` binary from a test: start it on a data directory, wait for it,
//! write bursts from many tasks and stop it under them (SIGKILL for a crash, SIGTERM for a
//! shutdown), then check that every acknowledged write survived (`pds_crash`,
//! `serve_shutdown`).

#![allow(dead_code)]

use atproto::firehose::Event;
use hearth_testkit::firehose::*;
use hearth_testkit::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Concurrent writers in a burst.
pub const TASKS: usize = 16;

/// The binary, killed when the test ends however it ends.
pub struct Hearth(pub Child);

impl Drop for Hearth {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `hearth pds` on `port` in development mode.
pub fn spawn(port: u16, data: &Path, plc_url: &str, log_name: &str) -> Hearth {
    spawn_with("pds", port, data, plc_url, log_name, &[])
}

/// `hearth <command>` on `port` in development mode, with extra environment variables.
pub fn spawn_with(
    command: &str,
    port: u16,
    data: &Path,
    plc_url: &str,
    log_name: &str,
    env: &[(&str, &str)],
) -> Hearth {
    let log =
        std::fs::File::create(data.parent().unwrap_or(data).join(log_name)).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg(command)
        .env("HEARTH_PORT", port.to_string())
        .env("HEARTH_DATA_DIR", data)
        .env("HEARTH_PLC_URL", plc_url)
        .env("HEARTH_HOSTNAME", "localhost")
        .env("HEARTH_DEV", "true")
        .env("HEARTH_RATE_LIMITS", "false")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn hearth");
    Hearth(child)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub async fn wait_healthy(http: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{url}/xrpc/_health")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "hearth did not come up at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends SIGTERM and waits for the process to exit: it must, cleanly, within 10 seconds.
pub async fn terminate(hearth: &mut Hearth) {
    let sent = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &hearth.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success(), "SIGTERM sent");
    let exit = loop {
        if let Some(exit) = hearth.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "a clean exit after SIGTERM, not {exit}");
}

/// Signs up alice, bob and carol: each one's DID and access token.
pub async fn three_accounts(port: u16) -> Vec<(String, String)> {
    let service = Xrpc::local(port);
    let mut accounts = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let a = service.create_account(name).await;
        accounts.push((a.did, a.access));
    }
    accounts
}

/// A write the server acknowledged: where it is and what it was acknowledged with.
#[derive(Clone, Debug)]
pub struct Acked {
    pub did: String,
    pub rkey: String,
    pub cid: String,
    pub commit: String,
}

/// How a burst stops the server.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: a shutdown, which must end the process cleanly within 10 seconds.
    Term,
}

/// Writes from many tasks at once, stops the server under them once enough were acknowledged,
/// and returns every write that was acknowledged.
pub async fn burst(
    http: &reqwest::Client,
    url: &str,
    accounts: &[(String, String)],
    round: usize,
    hearth: &mut Hearth,
    stop: Stop,
) -> Vec<Acked> {
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (http, url, acked, accounts) = (
            http.clone(),
            url.to_owned(),
            acked.clone(),
            accounts.to_vec(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                let (did, token) = &accounts[(t + n) % accounts.len()];
                let r = http
                    .post(format!("{url}/xrpc/com.atproto.repo.createRecord"))
                    .bearer_auth(token)
                    .json(&json!({ "repo": did, "collection": "app.bsky.feed.post", "record": post(&format!("round {round} task {t} write {n}")) }))
                    .send()
                    .await;
                // A refused connection or a cut response: the server is gone.
                let Ok(r) = r else { return n };
                if r.status() != 200 {
                    let status = r.status();
                    panic!("write refused with {status}: {}", r.text().await.unwrap_or_default());
                }
                // Only a complete 200 response is an acknowledgement.
                let Ok(body) = r.json::<Value>().await else { return n };
                let cid = body["cid"].as_str().expect("cid").to_owned();
                let uri = body["uri"].as_str().expect("uri");
                let rkey = uri.rsplit('/').next().expect("rkey").to_owned();
                let commit = body["commit"]["cid"].as_str().expect("commit").to_owned();
                acked.lock().unwrap().push(Acked { did: did.clone(), rkey, cid, commit });
                n += 1;
            }
        }));
    }
    // Kill at a point that varies from run to run and round to round, with every task
    // mid-request.
    let target = 100 + (std::process::id() as usize * (round + 1)) % 150;
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        acked.lock().unwrap().len() >= target,
        "the burst made progress"
    );
    match stop {
        Stop::Kill => {
            hearth.0.kill().expect("SIGKILL");
            hearth.0.wait().expect("reap");
        }
        Stop::Term => terminate(hearth).await,
    }
    // Every task ends on its first failed request.
    for t in tasks {
        t.await.expect("writer task");
    }
    acked.lock().unwrap().clone()
}

/// Checks after a restart that every acknowledged write is there with its CID, every
/// repository verifies, the sequence continues and the firehose replays every acknowledged
/// write in an unbroken sequence.
#[allow(clippy::too_many_arguments)]
pub async fn check(
    cases: &Cases,
    http: &reqwest::Client,
    url: &str,
    plc_url: &str,
    port: u16,
    accounts: &[(String, String)],
    acked: &[Acked],
    round: usize,
) {
    cases.case(&format!(
        "round {round}: every acknowledged write is there with its CID"
    ));
    for a in acked {
        let r = http
            .get(format!(
                "{url}/xrpc/com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey={}",
                a.did, a.rkey
            ))
            .send()
            .await
            .expect("getRecord");
        assert_eq!(r.status(), 200, "acknowledged write {a:?} is missing");
        let v: Value = r.json().await.expect("record");
        assert_eq!(v["cid"].as_str(), Some(a.cid.as_str()), "{a:?}");
    }

    cases.case(&format!(
        "round {round}: every repository verifies against the PLC directory's key"
    ));
    for (did, _) in accounts {
        let key = plc_key(plc_url, did).await;
        let car = http
            .get(format!("{url}/xrpc/com.atproto.sync.getRepo?did={did}"))
            .send()
            .await
            .expect("getRepo")
            .bytes()
            .await
            .expect("car");
        let repo = atproto::repo::verify_repo_car(&car, Some(did), Some(&key))
            .unwrap_or_else(|e| panic!("repository of {did} does not verify: {e}"));
        let latest: Value = http
            .get(format!(
                "{url}/xrpc/com.atproto.sync.getLatestCommit?did={did}"
            ))
            .send()
            .await
            .expect("getLatestCommit")
            .json()
            .await
            .expect("latest");
        assert_eq!(
            latest["cid"].as_str(),
            Some(repo.commit_cid.to_string().as_str())
        );
        let held: HashMap<String, String> = repo
            .records
            .iter()
            .map(|(path, cid, _)| (path.clone(), cid.to_string()))
            .collect();
        for a in acked.iter().filter(|a| &a.did == did) {
            assert_eq!(
                held.get(&format!("app.bsky.feed.post/{}", a.rkey)),
                Some(&a.cid),
                "{a:?} in the repository"
            );
        }
    }

    cases.case(&format!(
        "round {round}: the sequence continues after the restart"
    ));
    let (did, token) = &accounts[0];
    let after: Value = http
        .post(format!("{url}/xrpc/com.atproto.repo.createRecord"))
        .bearer_auth(token)
        .json(&json!({ "repo": did, "collection": "app.bsky.feed.post", "record": post("after the crash") }))
        .send()
        .await
        .expect("write after restart")
        .json()
        .await
        .expect("body");
    let after_commit = after["commit"]["cid"].as_str().expect("commit").to_owned();

    cases.case(&format!("round {round}: the firehose holds every acknowledged write, verified, in an unbroken sequence"));
    let mut ws = subscribe(port, Some("0")).await;
    let mut events = Vec::new();
    loop {
        match next_frame(&mut ws, Duration::from_secs(20)).await {
            Got::Frame(atproto::firehose::Frame::Event(e)) => {
                let done = matches!(&e, Event::Commit(c) if c.commit.to_string() == after_commit);
                events.push(e);
                if done {
                    break;
                }
            }
            other => panic!(
                "firehose replay ended early: {other:?} after {} events",
                events.len()
            ),
        }
    }
    let commits = check_replay(plc_url, &events, 1).await;
    let commit_cids: HashSet<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Commit(c) => Some(c.commit.to_string()),
            _ => None,
        })
        .collect();
    let on_firehose: HashSet<(String, String, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Commit(c) => Some(c),
            _ => None,
        })
        .flat_map(|c| {
            c.ops.iter().filter_map(|o| {
                o.cid
                    .map(|cid| (c.repo.clone(), o.path.clone(), cid.to_string()))
            })
        })
        .collect();
    for a in acked {
        assert!(
            commit_cids.contains(&a.commit),
            "acknowledged commit of {a:?} not on the firehose"
        );
        assert!(
            on_firehose.contains(&(
                a.did.clone(),
                format!("app.bsky.feed.post/{}", a.rkey),
                a.cid.clone()
            )),
            "no #commit for acknowledged write {a:?}"
        );
    }
    // Commits that were durable but not acknowledged (in flight at the kill) may be there too.
    assert!(commits > acked.len() + accounts.len() + round);
}
