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

    /// Counts an event dropped for `reason`. The reasons, as `/xrpc/_health` shows them under
    /// `ingest.dropped`:
    ///
    /// - frames: `malformed_frame` (undecodable or over the size limit), `unknown_type` (an
    ///   event type this code does not know, skipped), `error_frame` (the host sent an error and
    ///   the connection was restarted), `stale_seq` (a sequence number not above the last one);
    /// - events: `bad_did`, `wrong_host` (a PDS speaking for an account it does not host),
    ///   `unresolvable_did`, `no_signing_key`, `out_of_scope`, `inactive_account`;
    /// - commits: `bad_rev`, `future_rev`, `stale_rev`, `bad_op`, `too_large`, `bad_signature`,
    ///   `inversion_mismatch`, `missing_block`, `bad_car`, `invalid_commit`, `commit_mismatch`;
    ///   `broken_chain` (the commit is held and the repository resynchronised from `getRepo`),
    ///   `broken_chain_after_resync`, `resync_failed`, `held_overflow`;
    /// - `state_unavailable` (the index could not be read), `panic` (a bug, caught).
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
