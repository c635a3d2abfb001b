//! SQLite storage: one database file in WAL mode, one writer thread that batches transactions
//! from many requests into one commit (group commit), and a pool of reader connections used
//! from blocking threads.
//!
//! Durability: `synchronous = FULL`, so a transaction is on disk (WAL fsynced) before the writer
//! reports it committed, and no acknowledged write is lost even on power failure.

mod migrations;
mod pool;
mod writer;

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
fn open(path: &Path) -> Result<Connection, DbError> {
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

/// The database: readers and the writer.
#[derive(Clone)]
pub struct Db {
    pub readers: Readers,
    pub writer: Writer,
}

impl Db {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path, readers: usize) -> Result<Db, DbError> {
        let mut conn = open(path)?;
        migrations::run(&mut conn)?;
        let writer = Writer::start(conn)?;
        let readers = Readers::open(path, readers)?;
        Ok(Db { readers, writer })
    }
}
