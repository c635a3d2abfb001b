//! Ingest counters: what was applied, what was dropped and why, and how far behind we are.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Default)]
pub struct IngestStats {
    pub events: AtomicU64,
    pub commits_applied: AtomicU64,
    pub records_indexed: AtomicU64,
    pub resyncs: AtomicU64,
    /// Unix milliseconds of the newest event's `time`, and when it was processed: firehose lag.
    pub last_event_time_ms: AtomicI64,
    pub last_processed_ms: AtomicI64,
    dropped: Mutex<BTreeMap<&'static str, u64>>,
}

impl IngestStats {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an event dropped for `reason` (bad signature, broken chain, malformed, ...).
    pub fn drop_event(&self, reason: &'static str) {
        if let Ok(mut m) = self.dropped.lock() {
            *m.entry(reason).or_default() += 1;
        }
    }

    pub fn dropped(&self) -> BTreeMap<&'static str, u64> {
        self.dropped.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn snapshot(&self) -> serde_json::Value {
        let lag = self.last_processed_ms.load(Ordering::Relaxed)
            - self.last_event_time_ms.load(Ordering::Relaxed);
        serde_json::json!({
            "events": self.events.load(Ordering::Relaxed),
            "commitsApplied": self.commits_applied.load(Ordering::Relaxed),
            "recordsIndexed": self.records_indexed.load(Ordering::Relaxed),
            "resyncs": self.resyncs.load(Ordering::Relaxed),
            "lagMs": lag.max(0),
            "dropped": self.dropped(),
        })
    }
}
