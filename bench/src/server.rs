//! Launching a PDS under test (Hearth's binary, or the reference under Node), waiting for it
//! to answer `/xrpc/_health`, watching its memory, and stopping it.
//!
//! Each launch gets a fresh data directory and a free port, and writes `<run dir>/<tag>.pid`
//! so that `scripts/bench` can kill the process if this binary dies first.

use crate::sys;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long a server may take to become healthy before the run fails.
const STARTUP_LIMIT: Duration = Duration::from_secs(90);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Reference,
    Hearth,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Reference => "reference",
            Kind::Hearth => "hearth",
        }
    }
}

/// What is needed to launch either server.
pub struct Launcher {
    pub hearth_bin: PathBuf,
    pub node: PathBuf,
    pub reference_script: PathBuf,
    pub plc_url: String,
    pub run_dir: PathBuf,
}

pub struct Server {
    pub kind: Kind,
    pub pid: u32,
    pub url: String,
    pub ws_url: String,
    pub log: PathBuf,
    pidfile: PathBuf,
    child: Child,
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// The last lines of a log, to show why a server failed.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Launcher {
    /// Starts a server with a fresh data directory and waits until `/xrpc/_health` answers
    /// 200. Returns it with the time from spawn to that first healthy answer.
    pub async fn launch(
        &self,
        kind: Kind,
        tag: &str,
        http: &reqwest::Client,
    ) -> Result<(Server, Duration)> {
        let port = free_port()?;
        let data = self.run_dir.join(format!("{tag}-data"));
        if data.exists() {
            std::fs::remove_dir_all(&data)?;
        }
        std::fs::create_dir_all(&data)?;
        let log = self.run_dir.join(format!("{tag}.log"));
        let out = std::fs::File::create(&log)?;
        let mut cmd = match kind {
            Kind::Hearth => {
                let mut c = Command::new(&self.hearth_bin);
                c.arg("pds")
                    .env("HEARTH_PORT", port.to_string())
                    .env("HEARTH_BIND", "127.0.0.1")
                    .env("HEARTH_HOSTNAME", "localhost")
                    .env("HEARTH_DATA_DIR", &data)
                    .env("HEARTH_PLC_URL", &self.plc_url)
                    .env("HEARTH_DEV", "true")
                    .env("HEARTH_RATE_LIMITS", "false")
                    .env("HEARTH_HANDLE_DOMAINS", ".test")
                    .env("HEARTH_ADMIN_PASSWORD", "admin-pass")
                    // Nothing is proxied in this benchmark; keep it off the network.
                    .env("HEARTH_APPVIEW_URL", "http://127.0.0.1:9")
                    .env("HEARTH_APPVIEW_DID", "did:web:appview.invalid")
                    .env("RUST_LOG", "warn");
                c
            }
            Kind::Reference => {
                let mut c = Command::new(&self.node);
                c.arg(&self.reference_script)
                    .env("PDS_PORT", port.to_string())
                    .env("REF_DATA", &data)
                    .env("PLC_URL", &self.plc_url);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning the {} server", kind.name()))?;
        let pid = child.id().context("server has no pid")?;
        let pidfile = self.run_dir.join(format!("{tag}.pid"));
        std::fs::write(&pidfile, pid.to_string())?;
        let url = format!("http://127.0.0.1:{port}");
        let health = format!("{url}/xrpc/_health");
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the {} server exited before becoming healthy ({status}); log {}:\n{}",
                    kind.name(),
                    log.display(),
                    log_tail(&log, 30)
                );
            }
            if start.elapsed() > STARTUP_LIMIT {
                let _ = child.kill().await;
                bail!(
                    "the {} server was not healthy after {:?}; log {}:\n{}",
                    kind.name(),
                    STARTUP_LIMIT,
                    log.display(),
                    log_tail(&log, 30)
                );
            }
            let ok = http
                .get(&health)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let took = start.elapsed();
        Ok((
            Server {
                kind,
                pid,
                ws_url: format!("ws://127.0.0.1:{port}"),
                url,
                log,
                pidfile,
                child,
            },
            took,
        ))
    }
}

impl Server {
    pub fn rss_kib(&self) -> Option<u64> {
        sys::vm_kib(self.pid, "VmRSS")
    }

    pub fn hwm_kib(&self) -> Option<u64> {
        sys::vm_kib(self.pid, "VmHWM")
    }

    /// Fails if the server has died.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the {} server died ({status}); log {}:\n{}",
                self.kind.name(),
                self.log.display(),
                log_tail(&self.log, 30)
            );
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it has not exited within 10 s.
    pub async fn stop(mut self) -> Result<()> {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        let _ = std::fs::remove_file(&self.pidfile);
        Ok(())
    }
}

/// Samples a process's VmRSS every 100 ms until stopped; keeps the largest.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        // A thread of its own, so that a busy runtime cannot skip samples.
        let task = tokio::task::spawn_blocking(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(kib) = sys::vm_kib(pid, "VmRSS") {
                    p.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssSampler { stop, peak, task }
    }

    /// Stops sampling; the peak VmRSS seen, in KiB.
    pub async fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}
