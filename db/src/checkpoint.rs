//! Background WAL checkpoints. Left to itself SQLite checkpoints inside whichever commit
//! crosses the WAL size limit, and that commit pays for copying the WAL into the database file
//! and its fsync. A busy writer (ingest, a large fan-out) should not: a thread checkpoints
//! instead, PASSIVE so it never blocks the writer or readers.

use crate::DbError;
use std::path::Path;
use std::sync::Weak;
use std::time::Duration;

/// How often the checkpointer runs.
const INTERVAL: Duration = Duration::from_millis(250);

/// Checkpoints the database at `path` four times a second on a thread named `name`, until
/// `alive` can no longer be upgraded (its owner was dropped). Pair it with a raised
/// `PRAGMA wal_autocheckpoint` on the writer, which then checkpoints only as a fallback.
pub fn spawn_checkpointer(path: &Path, name: &str, alive: Weak<()>) -> Result<(), DbError> {
    let conn = crate::open(path)?;
    let label = name.to_owned();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while alive.upgrade().is_some() {
                std::thread::sleep(INTERVAL);
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::debug!(error = %e, thread = %label, "checkpoint skipped");
                }
            }
        })
        .map_err(|e| DbError::Task(e.to_string()))?;
    Ok(())
}

/// Copies the whole write-ahead log into the database file and truncates the log, waiting (up
/// to the busy timeout) for readers rather than skipping pages they hold. Run on the writer's
/// connection, outside a transaction, as it closes.
pub(crate) fn truncate(conn: &rusqlite::Connection) -> Result<(), DbError> {
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if busy != 0 {
        return Err(DbError::Task(
            "checkpoint incomplete: the database stayed busy".into(),
        ));
    }
    Ok(())
}
