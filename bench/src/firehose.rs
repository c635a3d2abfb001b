//! `com.atproto.sync.subscribeRepos` clients: replay from cursor 0 (W3) and live lag (W4).
//! Every frame is decoded with `atproto::firehose::decode_frame`.

use crate::load::{Created, histogram, micros};
use anyhow::{Context, Result, bail};
use atproto::firehose::{Event, Frame, decode_frame};
use bytes::Bytes;
use futures::StreamExt;
use hdrhistogram::Histogram;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn url(ws_base: &str, cursor: Option<i64>) -> String {
    match cursor {
        Some(c) => format!("{ws_base}/xrpc/com.atproto.sync.subscribeRepos?cursor={c}"),
        None => format!("{ws_base}/xrpc/com.atproto.sync.subscribeRepos"),
    }
}

async fn connect(url: &str) -> Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

/// The next binary frame, decoded; `None` when the stream ends.
async fn next_frame(ws: &mut Ws) -> Result<Option<(Bytes, Frame)>> {
    while let Some(msg) = ws.next().await {
        match msg? {
            Message::Binary(b) => {
                let frame = decode_frame(&b)?;
                if let Frame::Error(e) = &frame {
                    bail!("error frame: {} {:?}", e.error, e.message);
                }
                return Ok(Some((b, frame)));
            }
            Message::Close(c) => bail!("server closed the stream: {c:?}"),
            _ => {}
        }
    }
    Ok(None)
}

fn created_uris(e: &Event) -> Vec<String> {
    match e {
        Event::Commit(c) => c
            .ops
            .iter()
            .filter(|op| op.action == "create")
            .map(|op| format!("at://{}/{}", c.repo, op.path))
            .collect(),
        _ => Vec::new(),
    }
}

/// A single subscriber's replay from cursor 0 until it has seen every URI in `want`: finds the
/// head seq for W3 and keeps the frames (to time decoding alone).
pub struct Probe {
    pub head: i64,
    pub frames: Vec<Bytes>,
    pub elapsed: Duration,
}

pub async fn probe(ws_base: &str, want: &HashSet<String>, limit: Duration) -> Result<Probe> {
    let start = Instant::now();
    let mut ws = connect(&url(ws_base, Some(0))).await?;
    let mut missing = want.clone();
    let (mut head, mut frames) = (0i64, Vec::new());
    let run = async {
        while !missing.is_empty() {
            let Some((bytes, frame)) = next_frame(&mut ws).await? else {
                bail!("stream ended with {} posts unseen", missing.len());
            };
            if let Frame::Event(e) = &frame {
                if let Some(seq) = e.seq() {
                    head = head.max(seq);
                    frames.push(bytes);
                }
                for uri in created_uris(e) {
                    missing.remove(&uri);
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(limit, run)
        .await
        .context("replay probe timed out")??;
    let elapsed = start.elapsed();
    let _ = ws.close(None).await;
    Ok(Probe {
        head,
        frames,
        elapsed,
    })
}

/// Decodes the frames again and again on this thread for about a second: the client's own
/// ceiling in frames per second per core.
pub fn decode_ceiling(frames: &[Bytes]) -> f64 {
    if frames.is_empty() {
        return 0.0;
    }
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(1) {
        for f in frames {
            std::hint::black_box(decode_frame(f).ok());
        }
        n += frames.len();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub struct Replay {
    pub subscribers: usize,
    pub head: i64,
    /// Frames per subscriber that completed, in the order they were started.
    pub frames: Vec<usize>,
    /// Subscribers that saw a seq not above the previous one.
    pub out_of_order: usize,
    pub errors: Vec<String>,
    pub elapsed: Duration,
    pub server_cpu: f64,
    pub client_cpu: f64,
}

impl Replay {
    pub fn total(&self) -> usize {
        self.frames.iter().sum()
    }
    pub fn per_sec(&self) -> f64 {
        self.total() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `n` subscribers replay from cursor 0 at once, each until it has seen seq `head`.
pub async fn replay(
    ws_base: &str,
    n: usize,
    head: i64,
    server_pid: u32,
    limit: Duration,
) -> Replay {
    let (client0, server0) = (
        crate::sys::own_cpu_secs(),
        crate::sys::cpu_secs(server_pid).unwrap_or(0.0),
    );
    let start = Instant::now();
    let u = url(ws_base, Some(0));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let u = u.clone();
            tokio::spawn(tokio::time::timeout(limit, async move {
                let mut ws = connect(&u).await?;
                let (mut last, mut count, mut ordered) = (i64::MIN, 0usize, true);
                while last < head {
                    let Some((_, frame)) = next_frame(&mut ws).await? else {
                        bail!("stream ended at seq {last}, before {head}");
                    };
                    if let Frame::Event(e) = frame
                        && let Some(seq) = e.seq()
                    {
                        ordered &= seq > last;
                        last = seq;
                        count += 1;
                    }
                }
                let _ = ws.close(None).await;
                Ok::<_, anyhow::Error>((count, ordered))
            }))
        })
        .collect();
    let mut out = Replay {
        subscribers: n,
        head,
        frames: Vec::new(),
        out_of_order: 0,
        errors: Vec::new(),
        elapsed: Duration::ZERO,
        server_cpu: 0.0,
        client_cpu: 0.0,
    };
    for t in tasks {
        match t.await {
            Ok(Ok(Ok((count, ordered)))) => {
                out.frames.push(count);
                out.out_of_order += usize::from(!ordered);
            }
            Ok(Ok(Err(e))) => out.errors.push(format!("{e:#}")),
            Ok(Err(_)) => out.errors.push(format!("timed out after {limit:?}")),
            Err(e) => out.errors.push(format!("task: {e}")),
        }
    }
    out.elapsed = start.elapsed();
    out.client_cpu = crate::sys::own_cpu_secs() - client0;
    out.server_cpu = crate::sys::cpu_secs(server_pid).unwrap_or(0.0) - server0;
    out
}

/// What a live subscriber saw: each created record's URI and when its frame arrived.
type Arrivals = Vec<(String, Instant)>;

/// Live subscribers, connected before a write load starts.
pub struct Live {
    tasks: Vec<tokio::task::JoinHandle<Result<Arrivals>>>,
    counts: Vec<Arc<AtomicUsize>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// Opens `n` live subscriptions (no cursor) and returns once every handshake is done.
pub async fn live(ws_base: &str, n: usize) -> Result<Live> {
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let u = url(ws_base, None);
    let sockets = futures::future::try_join_all((0..n).map(|_| connect(&u))).await?;
    let mut tasks = Vec::with_capacity(n);
    let mut counts = Vec::with_capacity(n);
    for mut ws in sockets {
        let count = Arc::new(AtomicUsize::new(0));
        let (c, mut stop_rx) = (count.clone(), stop_rx.clone());
        counts.push(count);
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                tokio::select! {
                    f = next_frame(&mut ws) => {
                        let arrived = Instant::now();
                        let e = match f? {
                            Some((_, Frame::Event(e))) => e,
                            Some(_) => continue,
                            None => break,
                        };
                        for uri in created_uris(&e) {
                            seen.push((uri, arrived));
                        }
                        c.store(seen.len(), Ordering::Relaxed);
                    }
                    _ = stop_rx.changed() => break,
                }
            }
            let _ = ws.close(None).await;
            Ok(seen)
        }));
    }
    Ok(Live {
        tasks,
        counts,
        stop,
    })
}

pub struct Lag {
    pub hist: Histogram<u64>,
    pub expected: usize,
    pub matched: usize,
    /// Frames that arrived before the client had the write's HTTP response.
    pub before_ack: usize,
    pub errors: Vec<String>,
}

impl Lag {
    pub fn p_ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

impl Live {
    /// Waits (at most `limit`) until every subscriber has seen every write, then stops them
    /// and computes each frame's lag behind its write's acknowledgement.
    pub async fn finish(self, writes: &[(usize, Created)], limit: Duration) -> Lag {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline
            && self
                .counts
                .iter()
                .any(|c| c.load(Ordering::Relaxed) < writes.len())
            && !self.tasks.iter().all(|t| t.is_finished())
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = self.stop.send(true);
        let acked: HashMap<&str, Instant> = writes
            .iter()
            .map(|(_, c)| (c.uri.as_str(), c.acked))
            .collect();
        let mut lag = Lag {
            hist: histogram(),
            expected: writes.len() * self.tasks.len(),
            matched: 0,
            before_ack: 0,
            errors: Vec::new(),
        };
        for t in self.tasks {
            match t.await {
                Ok(Ok(seen)) => {
                    for (uri, arrived) in seen {
                        let Some(ack) = acked.get(uri.as_str()) else {
                            continue;
                        };
                        lag.matched += 1;
                        if arrived < *ack {
                            lag.before_ack += 1;
                        }
                        lag.hist
                            .saturating_record(micros(arrived.saturating_duration_since(*ack)));
                    }
                }
                Ok(Err(e)) => lag.errors.push(format!("{e:#}")),
                Err(e) => lag.errors.push(format!("task: {e}")),
            }
        }
        lag
    }
}
