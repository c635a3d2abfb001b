//! The PDS's SQLite database, on the shared storage layer (`hearth-db`: WAL with
//! `synchronous = FULL`, a group-commit writer thread, reader connections). What the PDS adds is
//! its schema and the writer's state: the firehose sequence counter, which lives with the write
//! connection so a sequence number is handed out inside the transaction that stores its event.

pub use hearth_db::{DbError, Readers};

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
];

/// Opens (creating and migrating as needed) the database at `path` with `readers` reader
/// connections.
pub fn open(path: &std::path::Path, readers: usize) -> Result<Db, DbError> {
    Db::open(path, MIGRATIONS, readers, |conn| {
        let last = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM repo_seq", [], |r| {
            r.get(0)
        })?;
        Ok(Seq { last })
    })
}
