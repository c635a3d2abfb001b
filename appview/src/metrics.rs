//! The AppView's metrics, read when metrics are scraped: ingest counters (kept by
//! `ingest::stats` anyway), how far ingest is behind, the writers' queues and the email
//! outbox.

use crate::state::AppState;
use std::sync::atomic::Ordering;

/// Sets the AppView's metrics to their current values.
pub async fn observe(state: &AppState) {
    let stats = &state.stats;
    for (name, counter) in [
        ("hearth_ingest_events_total", &stats.events),
        (
            "hearth_ingest_commits_applied_total",
            &stats.commits_applied,
        ),
        (
            "hearth_ingest_records_indexed_total",
            &stats.records_indexed,
        ),
        ("hearth_ingest_resyncs_total", &stats.resyncs),
    ] {
        metrics::counter!(name).absolute(counter.load(Ordering::Relaxed));
    }
    // Reasons are the fixed set `IngestStats::drop_event` documents.
    for (reason, n) in stats.dropped() {
        metrics::counter!("hearth_ingest_dropped_total", "reason" => reason).absolute(n);
    }
    let lag = stats.last_processed_ms.load(Ordering::Relaxed)
        - stats.last_event_time_ms.load(Ordering::Relaxed);
    metrics::gauge!("hearth_ingest_lag_seconds").set(lag.max(0) as f64 / 1000.0);
    metrics::gauge!("hearth_db_writer_queue", "db" => "index").set(state.db.writer.queued() as f64);
    metrics::gauge!("hearth_db_writer_queue", "db" => "spaces")
        .set(state.spaces.db.writer.queued() as f64);
    match state.spaces.outbox_size().await {
        Ok(n) => metrics::gauge!("hearth_email_outbox").set(n as f64),
        Err(e) => tracing::debug!(error = %e, "email outbox size unavailable"),
    }
}
