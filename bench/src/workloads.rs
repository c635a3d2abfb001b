//! W1–W7 against one server: everything a phase measures, in the order it runs.

use crate::firehose::{self, Lag, Replay};
use crate::load::{self, Account, Created, Outcome, drive, ok_body};
use crate::server::{Kind, Launcher, RssSampler, Server};
use crate::{Args, sys};
use anyhow::{Context, Result, bail};
use atproto::identity::DidDocument;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything measured on one server.
pub struct Measured {
    pub kind: Kind,
    pub startups: Vec<Duration>,
    pub idle_start_kib: u64,
    pub idle_end_kib: u64,
    pub peak_sampled_kib: u64,
    pub hwm_kib: u64,
    pub w1: Outcome<Created>,
    pub w2: Outcome<()>,
    pub w2_cid_checked: usize,
    /// The client's ceiling against this server's `/xrpc/_health` (Hearth only).
    pub ceiling: Option<Outcome<()>>,
    pub probe_frames: usize,
    pub probe_elapsed: Duration,
    pub decode_per_core: f64,
    pub w3: Replay,
    pub w4_writes: Outcome<Created>,
    pub w4: Lag,
    pub w5: RepoDownload,
    /// CPU seconds that processes other than this client, the server and the PLC used while
    /// the workloads ran, and the wall time they ran for.
    pub other_cpu: f64,
    pub wall: Duration,
    /// The server's VmRSS right after each workload, KiB.
    pub rss_after: Vec<(&'static str, u64)>,
    pub sanity: Vec<(String, bool)>,
}

impl Measured {
    pub fn startup_median(&self) -> Duration {
        let mut s = self.startups.clone();
        s.sort();
        s[s.len() / 2]
    }

    /// Cores that other processes kept busy on average while the workloads ran.
    pub fn other_cores(&self) -> f64 {
        self.other_cpu / self.wall.as_secs_f64()
    }

    pub fn sane(&self) -> bool {
        self.sanity.iter().all(|(_, ok)| *ok)
    }
}

pub struct RepoDownload {
    pub records: usize,
    pub seed_elapsed: Duration,
    pub seed_errors: Vec<String>,
    pub downloads: Vec<Duration>,
    pub car_bytes: usize,
    pub verified: Result<usize, String>,
}

impl RepoDownload {
    pub fn median(&self) -> Duration {
        let mut d = self.downloads.clone();
        d.sort();
        d[d.len() / 2]
    }
    pub fn seed_per_sec(&self) -> f64 {
        self.records as f64 / self.seed_elapsed.as_secs_f64()
    }
    pub fn passed(&self) -> bool {
        matches!(self.verified, Ok(n) if n == self.records) && self.seed_errors.is_empty()
    }
}

/// A short handle prefix per server (the reference refuses handles over 18 characters before
/// the domain).
fn tag(kind: Kind) -> &'static str {
    match kind {
        Kind::Reference => "r",
        Kind::Hearth => "h",
    }
}

fn say(kind: Kind, what: &str) {
    println!("  [{}] {what}", kind.name());
}

/// Launches `kind` (extra throwaway launches first, for the start-up median), runs every
/// workload against it, and stops it.
pub async fn phase(
    kind: Kind,
    args: &Args,
    launcher: &Launcher,
    http: &reqwest::Client,
) -> Result<Measured> {
    let tag = kind.name();
    println!("== {tag} ==");
    let mut startups = Vec::new();
    for i in 1..args.startup_runs.max(1) {
        let (s, took) = launcher
            .launch(kind, &format!("{tag}-startup{i}"), http)
            .await?;
        say(kind, &format!("start-up {i}: {} ms", took.as_millis()));
        startups.push(took);
        s.stop().await?;
        let _ = std::fs::remove_dir_all(args.run_dir.join(format!("{tag}-startup{i}-data")));
    }
    let (mut server, took) = launcher.launch(kind, tag, http).await?;
    startups.push(took);
    say(
        kind,
        &format!(
            "start-up {}: {} ms (pid {}, {})",
            startups.len(),
            took.as_millis(),
            server.pid,
            server.url
        ),
    );
    let sampler = RssSampler::start(server.pid);
    let settle = Duration::from_secs(args.settle_secs);
    tokio::time::sleep(settle).await;
    let idle_start_kib = server.rss_kib().unwrap_or(0);
    say(
        kind,
        &format!("idle RSS after {settle:?}: {} MiB", idle_start_kib / 1024),
    );
    let plc_cpu = || args.plc_pid.and_then(sys::cpu_secs).unwrap_or(0.0);
    let busy0 = (
        sys::machine_busy_secs(),
        sys::own_cpu_secs(),
        sys::cpu_secs(server.pid).unwrap_or(0.0),
        plc_cpu(),
        Instant::now(),
    );
    let run = run_workloads(kind, args, &mut server, launcher, http).await;
    let other_cpu = (sys::machine_busy_secs() - busy0.0)
        - (sys::own_cpu_secs() - busy0.1)
        - (sys::cpu_secs(server.pid).unwrap_or(0.0) - busy0.2)
        - (plc_cpu() - busy0.3);
    let wall = busy0.4.elapsed();
    let w = match run {
        Ok(w) => w,
        Err(e) => {
            sampler.finish().await;
            let log = server.log.clone();
            let _ = server.stop().await;
            return Err(e.context(format!("{tag} phase (server log {})", log.display())));
        }
    };
    tokio::time::sleep(settle).await;
    let idle_end_kib = server.rss_kib().unwrap_or(0);
    let hwm_kib = server.hwm_kib().unwrap_or(0);
    let peak_sampled_kib = sampler.finish().await;
    say(
        kind,
        &format!(
            "other processes on the machine used {:.1} CPU s over the {:.0} s of workloads ({:.2} cores on average)",
            other_cpu.max(0.0),
            wall.as_secs_f64(),
            other_cpu.max(0.0) / wall.as_secs_f64()
        ),
    );
    say(
        kind,
        &format!(
            "idle RSS at the end: {} MiB; peak {} MiB (VmHWM), {} MiB (sampled)",
            idle_end_kib / 1024,
            hwm_kib / 1024,
            peak_sampled_kib / 1024
        ),
    );
    server.stop().await?;
    let mut m = Measured {
        kind,
        startups,
        idle_start_kib,
        idle_end_kib,
        peak_sampled_kib,
        hwm_kib,
        w1: w.w1,
        w2: w.w2,
        w2_cid_checked: w.w2_cid_checked,
        ceiling: w.ceiling,
        probe_frames: w.probe_frames,
        probe_elapsed: w.probe_elapsed,
        decode_per_core: w.decode_per_core,
        w3: w.w3,
        w4_writes: w.w4_writes,
        w4: w.w4,
        w5: w.w5,
        rss_after: w.rss_after,
        other_cpu: other_cpu.max(0.0),
        wall,
        sanity: Vec::new(),
    };
    m.sanity = sanity(&m, args);
    for (check, ok) in &m.sanity {
        if !ok {
            say(kind, &format!("SANITY FAILED: {check}"));
        }
    }
    Ok(m)
}

struct Workloads {
    w1: Outcome<Created>,
    w2: Outcome<()>,
    w2_cid_checked: usize,
    ceiling: Option<Outcome<()>>,
    probe_frames: usize,
    probe_elapsed: Duration,
    decode_per_core: f64,
    w3: Replay,
    w4_writes: Outcome<Created>,
    w4: Lag,
    w5: RepoDownload,
    rss_after: Vec<(&'static str, u64)>,
}

async fn run_workloads(
    kind: Kind,
    args: &Args,
    server: &mut Server,
    launcher: &Launcher,
    http: &reqwest::Client,
) -> Result<Workloads> {
    let base = server.url.clone();
    let pid = server.pid;
    let mut rss_after = Vec::new();
    let mut rss = |name: &'static str, s: &Server| rss_after.push((name, s.rss_kib().unwrap_or(0)));
    let created_at = sys::rfc3339_now();

    // Accounts.
    let t = Instant::now();
    let mut accounts = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        accounts.push(
            load::create_account(http, &base, &format!("bench-{}{i}.test", tag(kind))).await?,
        );
    }
    say(
        kind,
        &format!(
            "{} accounts created in {:.2} s",
            accounts.len(),
            t.elapsed().as_secs_f64()
        ),
    );
    let accounts = Arc::new(accounts);

    // W1: createRecord.
    let w1 = {
        let (h, b, a, c) = (
            http.clone(),
            base.clone(),
            accounts.clone(),
            created_at.clone(),
        );
        drive(args.writers, args.posts, pid, move |i| {
            let (h, b, a, c) = (h.clone(), b.clone(), a.clone(), c.clone());
            async move {
                let account = &a[i % a.len()];
                load::create_post(&h, &b, account, &format!("bench post {i}"), &c).await
            }
        })
        .await
    };
    say(kind, &format!("W1 createRecord: {}", w1.summary()));
    server.check_alive()?;
    rss("W1", server);
    if w1.ok() == 0 {
        bail!("W1 created no posts: {:?}", w1.first_error);
    }

    // W2: getRecord of those posts; every 10th response is checked for the right CID.
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        w1.results
            .iter()
            .map(|(_, c)| Ok((load::get_record_url(&base, &c.uri)?, c.cid.clone())))
            .collect::<Result<_>>()?,
    );
    let w2 = {
        let (h, t) = (http.clone(), targets.clone());
        drive(args.readers, args.reads, pid, move |i| {
            let (h, t) = (h.clone(), t.clone());
            async move {
                let (url, cid) = &t[i % t.len()];
                let body = ok_body(h.get(url)).await?;
                if i % 10 == 0 {
                    let v: Value = serde_json::from_slice(&body)?;
                    let got = v.get("cid").and_then(Value::as_str);
                    if got != Some(cid.as_str()) {
                        bail!("getRecord {url}: cid {got:?}, want {cid}");
                    }
                }
                Ok(())
            }
        })
        .await
    };
    let w2_cid_checked = args.reads.div_ceil(10);
    say(kind, &format!("W2 getRecord: {}", w2.summary()));
    server.check_alive()?;
    rss("W2", server);

    // The client's ceiling, on the most trivial endpoint, at W2's concurrency.
    let ceiling = if kind == Kind::Hearth {
        let url = format!("{base}/xrpc/_health");
        let h = http.clone();
        let c = drive(args.readers, args.ceiling_requests, pid, move |_| {
            let (h, url) = (h.clone(), url.clone());
            async move { ok_body(h.get(&url)).await.map(|_| ()) }
        })
        .await;
        say(
            kind,
            &format!("client ceiling, /xrpc/_health: {}", c.summary()),
        );
        Some(c)
    } else {
        None
    };

    // W3: replay from cursor 0. A single probe finds the head first.
    let want: HashSet<String> = w1.results.iter().map(|(_, c)| c.uri.clone()).collect();
    let probe = firehose::probe(&server.ws_url, &want, Duration::from_secs(180)).await?;
    let decode_per_core = firehose::decode_ceiling(&probe.frames);
    say(
        kind,
        &format!(
            "W3 probe: head seq {}, {} frames in {:.2} s ({:.0}/s, one subscriber); client decodes {:.0} frames/s per core",
            probe.head,
            probe.frames.len(),
            probe.elapsed.as_secs_f64(),
            probe.frames.len() as f64 / probe.elapsed.as_secs_f64(),
            decode_per_core
        ),
    );
    let w3 = firehose::replay(
        &server.ws_url,
        args.replay_subscribers,
        probe.head,
        pid,
        Duration::from_secs(300),
    )
    .await;
    say(
        kind,
        &format!(
            "W3 replay: {} subscribers, {} frames in {:.2} s = {:.0} frames/s; {} errors{}; CPU: server {:.1} s, client {:.1} s",
            w3.subscribers,
            w3.total(),
            w3.elapsed.as_secs_f64(),
            w3.per_sec(),
            w3.errors.len(),
            w3.errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default(),
            w3.server_cpu,
            w3.client_cpu,
        ),
    );
    server.check_alive()?;
    rss("W3", server);

    // W4: live subscribers while writes run.
    let live = firehose::live(&server.ws_url, args.live_subscribers).await?;
    // Give the server a moment to register every subscriber with its live stream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let w4_writes = {
        let (h, b, a, c) = (
            http.clone(),
            base.clone(),
            accounts.clone(),
            created_at.clone(),
        );
        drive(args.writers, args.live_posts, pid, move |i| {
            let (h, b, a, c) = (h.clone(), b.clone(), a.clone(), c.clone());
            async move {
                let account = &a[i % a.len()];
                load::create_post(&h, &b, account, &format!("live post {i}"), &c).await
            }
        })
        .await
    };
    say(kind, &format!("W4 writes: {}", w4_writes.summary()));
    let w4 = live
        .finish(&w4_writes.results, Duration::from_secs(30))
        .await;
    say(
        kind,
        &format!(
            "W4 lag: {} of {} frames matched, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; {} arrived before the HTTP ack; {} errors",
            w4.matched,
            w4.expected,
            w4.p_ms(0.5),
            w4.p_ms(0.99),
            w4.hist.max() as f64 / 1000.0,
            w4.before_ack,
            w4.errors.len()
        ),
    );
    server.check_alive()?;
    rss("W4", server);

    // W5: one account with a large repository, downloaded whole and verified.
    let w5 = repo_download(kind, args, &base, launcher, http).await?;
    server.check_alive()?;
    rss("W5", server);
    say(
        kind,
        &format!(
            "RSS after each workload: {}",
            rss_after
                .iter()
                .map(|(w, k)| format!("{w} {} MiB", k / 1024))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    Ok(Workloads {
        w1,
        w2,
        w2_cid_checked,
        ceiling,
        probe_frames: probe.frames.len(),
        probe_elapsed: probe.elapsed,
        decode_per_core,
        w3,
        w4_writes,
        w4,
        w5,
        rss_after,
    })
}

async fn repo_download(
    kind: Kind,
    args: &Args,
    base: &str,
    launcher: &Launcher,
    http: &reqwest::Client,
) -> Result<RepoDownload> {
    const BATCH: usize = 200;
    let account: Account =
        load::create_account(http, base, &format!("bench-{}big.test", tag(kind))).await?;
    let created_at = sys::rfc3339_now();
    let start = Instant::now();
    let mut seed_errors = Vec::new();
    let mut n = 0;
    while n < args.repo_records {
        let k = BATCH.min(args.repo_records - n);
        let writes: Vec<Value> = (n..n + k)
            .map(|i| {
                json!({
                    "$type": "com.atproto.repo.applyWrites#create",
                    "collection": "app.bsky.feed.post",
                    "value": load::post(&format!("record {i} of a large repository"), &created_at),
                })
            })
            .collect();
        let r = ok_body(
            http.post(format!("{base}/xrpc/com.atproto.repo.applyWrites"))
                .bearer_auth(&account.jwt)
                .json(&json!({ "repo": account.did, "writes": writes })),
        )
        .await;
        if let Err(e) = r {
            seed_errors.push(format!("applyWrites at record {n}: {e:#}"));
            if seed_errors.len() > 3 {
                break;
            }
        }
        n += k;
    }
    let seed_elapsed = start.elapsed();
    say(
        kind,
        &format!(
            "W5 seeded {} records by applyWrites x{BATCH} in {:.2} s ({:.0} records/s), {} errors",
            args.repo_records,
            seed_elapsed.as_secs_f64(),
            args.repo_records as f64 / seed_elapsed.as_secs_f64(),
            seed_errors.len()
        ),
    );
    let url = format!("{base}/xrpc/com.atproto.sync.getRepo?did={}", account.did);
    let mut downloads = Vec::new();
    let mut car = bytes::Bytes::new();
    for _ in 0..args.repo_downloads.max(1) {
        let t = Instant::now();
        car = ok_body(http.get(&url)).await.context("sync.getRepo")?;
        downloads.push(t.elapsed());
    }
    let verified = verify(http, &launcher.plc_url, &account.did, &car).await;
    let dl = RepoDownload {
        records: args.repo_records,
        seed_elapsed,
        seed_errors,
        downloads,
        car_bytes: car.len(),
        verified: verified.map_err(|e| format!("{e:#}")),
    };
    say(
        kind,
        &format!(
            "W5 getRepo: {:.1} MiB, {} (median {:.1} ms); verify: {}",
            dl.car_bytes as f64 / 1048576.0,
            dl.downloads
                .iter()
                .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
                .collect::<Vec<_>>()
                .join(", "),
            dl.median().as_secs_f64() * 1000.0,
            match &dl.verified {
                Ok(n) => format!("ok, {n} records"),
                Err(e) => format!("FAILED: {e}"),
            }
        ),
    );
    Ok(dl)
}

/// Verifies a repository CAR against the signing key in the DID's PLC document; the number
/// of records it holds.
async fn verify(http: &reqwest::Client, plc: &str, did: &str, car: &[u8]) -> Result<usize> {
    let doc = ok_body(http.get(format!("{plc}/{did}")))
        .await
        .context("fetching the DID document from the PLC")?;
    let doc: DidDocument = serde_json::from_slice(&doc).context("DID document")?;
    let key = doc.signing_key()?;
    let contents = atproto::repo::verify_repo_car(car, Some(did), Some(&key))?;
    Ok(contents.records.len())
}

fn sanity(m: &Measured, args: &Args) -> Vec<(String, bool)> {
    let uris: HashSet<&str> = m.w1.results.iter().map(|(_, c)| c.uri.as_str()).collect();
    vec![
        (
            format!(
                "W1: {} of {} posts created, distinct URIs",
                m.w1.ok(),
                args.posts
            ),
            m.w1.errors == 0 && m.w1.ok() == args.posts && uris.len() == args.posts,
        ),
        (
            format!(
                "W2: {} of {} reads returned 200, {} checked for the CID the write returned",
                m.w2.ok(),
                args.reads,
                m.w2_cid_checked
            ),
            m.w2.errors == 0 && m.w2.ok() == args.reads,
        ),
        (
            format!(
                "W3: {} of {} subscribers reached head seq {} with strictly increasing seqs, each after the same {} frames",
                m.w3.frames.len(),
                m.w3.subscribers,
                m.w3.head,
                m.probe_frames
            ),
            m.w3.errors.is_empty()
                && m.w3.out_of_order == 0
                && m.w3.frames.len() == m.w3.subscribers
                && m.w3.frames.iter().all(|f| *f == m.probe_frames),
        ),
        (
            format!(
                "W4: {} writes, {} of {} expected frames seen",
                m.w4_writes.ok(),
                m.w4.matched,
                m.w4.expected
            ),
            m.w4_writes.errors == 0
                && m.w4.errors.is_empty()
                && m.w4.matched == m.w4.expected
                && m.w4_writes.ok() == args.live_posts,
        ),
        (
            format!(
                "W5: CAR of {} records verified against the PLC signing key",
                m.w5.records
            ),
            m.w5.passed(),
        ),
    ]
}
