//! SQLite as both Hearth services use it: one database file in WAL mode, one writer thread
//! that batches transactions from many requests into one commit (group commit), and a pool of
//! reader connections used from blocking threads.
//!
//! Durability: `synchronous = FULL`, so a transaction is on disk (WAL fsynced) before the
//! writer reports it committed; no acknowledged write is lost, even on power failure.

mod checkpoint;
pub mod files;
mod migrations;
mod pool;
mod snapshot;
mod writer;

pub use checkpoint::spawn_checkpointer;
pub use migrations::migrate;
pub use pool::Readers;
pub use snapshot::{integrity_check, snapshot, table_counts};
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
    #[error("creating the database file: {0}")]
    File(std::io::Error),
}

/// Prepared statements each connection keeps compiled.
const STATEMENT_CACHE: usize = 128;

/// The page cache a connection gets unless told otherwise, in KiB.
pub const DEFAULT_CACHE_KIB: u32 = 32_000;

/// Opens a connection with the settings every connection needs and the default page cache.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    open_with_cache(path, DEFAULT_CACHE_KIB)
}

/// Opens a connection with the settings every connection needs and a page cache of at most
/// `cache_kib` KiB. Each connection has its own cache, kept until the connection closes, so
/// this is what a pool of connections costs in memory; pages that miss it come from the
/// operating system's file cache.
pub fn open_with_cache(path: &Path, cache_kib: u32) -> Result<Connection, DbError> {
    files::create_private_file(path).map_err(DbError::File)?;
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA temp_store = MEMORY;",
    )?;
    // A negative cache_size is in KiB rather than pages.
    conn.execute_batch(&format!("PRAGMA cache_size = -{cache_kib};"))?;
    // rusqlite keeps 16 prepared statements by default; an indexing batch that mixes record
    // kinds runs more distinct statements than that, so each would be compiled again and again.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// How many connections a database keeps and how much page cache each may hold.
#[derive(Clone, Copy, Debug)]
pub struct Connections {
    pub readers: usize,
    pub writer_cache_kib: u32,
    pub reader_cache_kib: u32,
}

impl Connections {
    /// `readers` reader connections, every connection with the default cache.
    pub const fn with_readers(readers: usize) -> Connections {
        Connections {
            readers,
            writer_cache_kib: DEFAULT_CACHE_KIB,
            reader_cache_kib: DEFAULT_CACHE_KIB,
        }
    }
}

impl From<usize> for Connections {
    fn from(readers: usize) -> Connections {
        Connections::with_readers(readers)
    }
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
    /// Opens (creating and migrating as needed) the database at `path` with the given
    /// connections (a bare number is that many readers, every connection with the default
    /// cache); `init` computes the writer's state from the migrated database.
    pub fn open(
        path: &Path,
        migrations: &[&str],
        connections: impl Into<Connections>,
        init: impl FnOnce(&Connection) -> Result<S, DbError>,
    ) -> Result<Db<S>, DbError> {
        let connections = connections.into();
        let mut conn = open_with_cache(path, connections.writer_cache_kib)?;
        migrate(&mut conn, migrations)?;
        let state = init(&conn)?;
        let writer = Writer::start(conn, state)?;
        let readers = Readers::open(path, connections.readers, connections.reader_cache_kib)?;
        Ok(Db { readers, writer })
    }
}
