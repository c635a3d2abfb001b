//! The PDS's gauges, read when metrics are scraped rather than kept up to date on every write:
//! the firehose's subscribers and head, how far behind the slowest subscriber is, and the
//! writer's queue.

use crate::state::AppState;

/// Sets the PDS's gauges to their current values.
pub fn observe(state: &AppState) {
    let seq = &state.sequencer;
    metrics::gauge!("hearth_firehose_subscribers").set(seq.subscribers() as f64);
    metrics::gauge!("hearth_firehose_head_seq").set(seq.head() as f64);
    metrics::gauge!("hearth_firehose_max_lag_events").set(seq.max_lag() as f64);
    metrics::gauge!("hearth_db_writer_queue", "db" => "pds").set(state.db.writer.queued() as f64);
}
