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
    probed: std::sync::Arc<tokio::sync::Mutex<Option<Probed>>>,
}

/// The latest writability check: when, and its error if it failed.
type Probed = (std::time::Instant, Option<String>);

/// How long a writability check's answer is reused: health checks arrive from anyone, and a
/// flood of them costs at most one write this often.
const PROBE_REUSE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a writability check waits for its write.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl<S> Clone for Db<S> {
    fn clone(&self) -> Self {
        Db {
            readers: self.readers.clone(),
            writer: self.writer.clone(),
            probed: self.probed.clone(),
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
        Ok(Db {
            readers,
            writer,
            probed: Default::default(),
        })
    }

    /// Proves the database takes writes: a transaction on the writer that rewrites the schema
    /// version with its own value, so a full disk, a read-only file system or a stopped writer
    /// all fail it, and nothing changes. Checks made together share one write, and an answer
    /// is reused for a second.
    pub async fn check_writable(&self) -> Result<(), DbError> {
        let mut probed = self.probed.lock().await;
        if let Some((at, error)) = probed.as_ref()
            && at.elapsed() < PROBE_REUSE
        {
            return match error {
                None => Ok(()),
                Some(e) => Err(DbError::Task(e.clone())),
            };
        }
        let result = self.write_probe().await;
        *probed = Some((
            std::time::Instant::now(),
            result.as_ref().err().map(|e| e.to_string()),
        ));
        result
    }

    async fn write_probe(&self) -> Result<(), DbError> {
        let probe = self.writer.run(|txn| {
            let version: i64 = txn
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))?;
            txn.conn
                .execute_batch(&format!("PRAGMA user_version = {version}"))?;
            Ok::<_, DbError>(())
        });
        // A writer stuck behind a huge queue or a hung disk is not taking writes either.
        tokio::time::timeout(PROBE_TIMEOUT, probe)
            .await
            .map_err(|_| DbError::Task(format!("no write completed within {PROBE_TIMEOUT:?}")))?
    }

    /// For shutdown: commits every write queued so far, checkpoints the database (the file
    /// alone is then the whole database, for a copy or the next start) and stops the writer
    /// ([`Writer::close`]).
    pub async fn close(&self) -> Result<(), DbError> {
        self.writer.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &[&str] = &["CREATE TABLE t (v INTEGER NOT NULL);"];

    fn open_db(dir: &Path) -> (Db<()>, std::path::PathBuf) {
        let path = dir.join("t.sqlite");
        let db = Db::open(&path, SCHEMA, 1, |_| Ok(())).expect("open");
        (db, path)
    }

    fn version(path: &Path) -> i64 {
        open(path)
            .expect("open")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version")
    }

    #[tokio::test]
    async fn a_writable_database_passes_and_is_left_unchanged() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, path) = open_db(dir.path());
        let before = version(&path);
        db.check_writable().await.expect("writable");
        assert_eq!(version(&path), before);
        assert_eq!(before, SCHEMA.len() as i64);
    }

    #[tokio::test]
    async fn a_locked_database_fails_the_check() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, path) = open_db(dir.path());
        // Another process holding the write lock past the busy timeout.
        let other = open(&path).expect("open");
        other.execute_batch("BEGIN IMMEDIATE").expect("lock");
        assert!(db.check_writable().await.is_err());
        other.execute_batch("ROLLBACK").expect("unlock");
        // The failure is reused for a moment, then checked again.
        assert!(db.check_writable().await.is_err());
        tokio::time::sleep(PROBE_REUSE).await;
        db.check_writable().await.expect("writable again");
    }

    #[tokio::test]
    async fn closing_leaves_everything_in_the_database_file_and_refuses_later_writes() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, path) = open_db(dir.path());
        for v in 0..100 {
            db.writer.submit(
                move |txn| {
                    txn.conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                    Ok::<_, DbError>(())
                },
                |r| r.expect("insert"),
            );
        }
        db.close().await.expect("close");
        let late = db
            .writer
            .run(|txn| {
                txn.conn.execute("INSERT INTO t (v) VALUES (-1)", [])?;
                Ok::<_, DbError>(())
            })
            .await;
        assert!(matches!(late, Err(DbError::WriterGone)), "{late:?}");
        let wal = dir.path().join("t.sqlite-wal");
        assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
        // The file alone, copied without its log, holds every row queued before the flush.
        let copy = dir.path().join("copy.sqlite");
        std::fs::copy(&path, &copy).expect("copy");
        let n: i64 = open(&copy)
            .expect("open copy")
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 100);
    }
}
