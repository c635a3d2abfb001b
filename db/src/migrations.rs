//! Embedded schema migrations, applied in order and recorded in `PRAGMA user_version`.

use super::DbError;
use rusqlite::Connection;

/// Applies every migration after the database's current version. Each entry moves the schema
/// one version forward; never edit a shipped entry, append.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), DbError> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in migrations.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied database migration");
    }
    Ok(())
}
