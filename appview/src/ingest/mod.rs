//! Ingesting firehoses: one task per configured host reads frames; events are routed by
//! repository to a fixed set of worker threads (so each repository's events apply in order,
//! and verification uses every core); workers verify each commit (signature, Sync 1.1
//! inversion against `prevData`, `rev` ordering) and hand index changes to the database
//! writer; repositories that are new, broken or reset are resynchronised from `getRepo`.

pub mod apply;
pub mod backfill;
pub mod repo_state;
pub mod stats;
pub mod stream;
pub mod watermark;
pub mod worker;

use crate::state::AppState;
use atproto::firehose::Event;
use std::sync::Arc;
use watermark::Watermark;

/// Events waiting per worker. Bounded: a burst backs up into the socket (TCP backpressure),
/// never into memory.
pub const WORKER_QUEUE: usize = 2048;

/// What a worker is handed: an event, or the outcome of a resync it asked for.
pub enum Work {
    Event(Incoming),
    /// A repository was resynchronised (`head` = its rev and data root), or could not be.
    Resynced {
        did: String,
        head: Option<(String, atproto::data::Cid)>,
    },
}

/// One event from one host, with the bookkeeping to advance that host's cursor.
pub struct Incoming {
    pub event: Event,
    pub host: Arc<HostInfo>,
    pub seq: i64,
}

/// A configured firehose host.
pub struct HostInfo {
    /// `ws://` or `wss://` base URL.
    pub url: String,
    /// Whether the host is a PDS (its accounts are ours to index), as opposed to a relay.
    pub is_pds: bool,
    /// Other URLs the host is known by: the one its `describeServer` DID names (the public
    /// URL its accounts' DID documents use, when the firehose is reached another way, such as
    /// `localhost`).
    pub aliases: Vec<String>,
    pub watermark: Watermark,
}

/// Starts ingesting every configured firehose.
/// Fails only if a worker thread cannot be started.
pub fn start(state: &AppState) -> std::io::Result<()> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let (backfill_tx, backfill_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut senders = Vec::with_capacity(workers);
    let mut receivers = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (tx, rx) = tokio::sync::mpsc::channel::<Work>(WORKER_QUEUE);
        senders.push(tx);
        receivers.push(rx);
    }
    let senders = Arc::new(senders);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(worker::IN_FLIGHT));
    for (i, rx) in receivers.into_iter().enumerate() {
        let st = state.clone();
        let in_flight = in_flight.clone();
        let handle = tokio::runtime::Handle::current();
        let bf = backfill_tx.clone();
        std::thread::Builder::new()
            .name(format!("hearth-ingest-{i}"))
            .spawn(move || worker::run(st, handle, in_flight, rx, bf))?;
    }
    backfill::spawn(state.clone(), backfill_rx, senders.clone());
    for url in state.cfg.firehose_urls() {
        let st = state.clone();
        let senders = senders.clone();
        tokio::spawn(async move { stream::run(st, url, senders).await });
    }
    Ok(())
}

impl HostInfo {
    /// Whether `url` (a DID document's PDS endpoint) names this host.
    pub fn is(&self, url: &str) -> bool {
        worker::same_host(url, &self.url) || self.aliases.iter().any(|a| worker::same_host(url, a))
    }
}

/// Which worker handles a repository: a stable hash of its DID.
pub fn partition(did: &str, n: usize) -> usize {
    // FNV-1a: cheap and stable across runs; no adversary gains by choosing a partition.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in did.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % n.max(1) as u64) as usize
}
