//! SQLite as both Hearth services use it: one database file in WAL mode, one writer thread
//! that batches transactions from many requests into one commit (group commit), and a pool of
//! reader connections used from blocking threads.
//!
//! Durability: `synchronous = FULL`, so a transaction is on disk (WAL fsynced) before the
//! writer reports it committed; no acknowledged write is lost, even on power failure.

mod migrations;
mod pool;
mod writer;

pub use migrations::migrate;
pub use pool::Readers;
pub use writer::{WriteTxn, Writer};

use rusqlite::Connection;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed: {0}")]
    Task(String),
    #[error("the writer has stopped")]
    WriterGone,
}

/// Opens a connection with the settings every connection needs.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -32000;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(conn)
}

/// A database: readers and the writer. `S` is state the writer thread keeps alongside the
/// connection (such as the last firehose sequence number); it is restored when a job fails.
pub struct Db<S> {
    pub readers: Readers,
    pub writer: Writer<S>,
}

impl<S> Clone for Db<S> {
    fn clone(&self) -> Self {
        Db {
            readers: self.readers.clone(),
            writer: self.writer.clone(),
        }
    }
}

impl<S: Clone + Send + 'static> Db<S> {
    /// Opens (creating and migrating as needed) the database at `path`; `init` computes the
    /// writer's state from the migrated database.
    pub fn open(
        path: &Path,
        migrations: &[&str],
        readers: usize,
        init: impl FnOnce(&Connection) -> Result<S, DbError>,
    ) -> Result<Db<S>, DbError> {
        let mut conn = open(path)?;
        migrate(&mut conn, migrations)?;
        let state = init(&conn)?;
        let writer = Writer::start(conn, state)?;
        let readers = Readers::open(path, readers)?;
        Ok(Db { readers, writer })
    }
}
