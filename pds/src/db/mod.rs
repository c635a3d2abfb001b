//! The PDS's SQLite database, on the shared storage layer (`hearth-db`: WAL with
//! `synchronous = FULL`, a group-commit writer thread, reader connections). What the PDS adds is
//! its schema and the writer's state: the firehose sequence counter, which lives with the write
//! connection so a sequence number is handed out inside the transaction that stores its event.

pub use hearth_db::{Connections, DbError, Readers};

/// The writer thread's own state.
#[derive(Clone, Debug)]
pub struct Seq {
    /// The last firehose sequence number handed out (committed, or in the open batch).
    last: i64,
}

impl Seq {
    /// The next firehose sequence number. Numbers handed to a job that then fails are reused:
    /// the writer restores this state with the job's savepoint.
    pub fn advance(&mut self) -> i64 {
        self.last += 1;
        self.last
    }
}

pub type Db = hearth_db::Db<Seq>;
pub type Writer = hearth_db::Writer<Seq>;
pub type WriteTxn<'c> = hearth_db::WriteTxn<'c, Seq>;

/// Each entry moves the schema one version forward. Never edit a shipped entry; append.
const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
];

/// The PDS's connections. Each keeps its own page cache for as long as it lives, so the caches
/// are what the pool costs in memory (figures in `docs/benchmarks.md`, "PDS connection page
/// caches"). Pages that miss come from the operating system's file cache, which is not the
/// server's memory: readers (point lookups and firehose pages) do as well with 1 MiB, and the
/// writer, which walks every account's MST on each commit, keeps 8 MiB.
pub const CONNECTIONS: Connections = Connections {
    readers: 8,
    writer_cache_kib: 8 * 1024,
    reader_cache_kib: 1024,
};

/// Opens (creating and migrating as needed) the database at `path` with the given connections.
pub fn open(path: &std::path::Path, connections: Connections) -> Result<Db, DbError> {
    Db::open(path, MIGRATIONS, connections, |conn| {
        let last = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM repo_seq", [], |r| {
            r.get(0)
        })?;
        Ok(Seq { last })
    })
}
