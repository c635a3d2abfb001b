//! The directory's storage: every accepted operation of every DID, in SQLite.

use atproto::data::Cid;
use atproto::plc::{
    IndexedOp, LogEntry, PlcError, PlcOp, check_rate_limit, parse_incoming_op, validate_next_op,
};
use atproto::syntax::Datetime;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS plc_operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    did TEXT NOT NULL,
    cid TEXT NOT NULL,
    operation TEXT NOT NULL,
    nullified INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (did, cid)
);
CREATE INDEX IF NOT EXISTS plc_operations_by_did ON plc_operations (did, seq);
";

/// Why the directory could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PlcStoreError {
    /// The operation breaks a PLC rule; the client's fault.
    #[error(transparent)]
    Rejected(#[from] PlcError),
    /// Lost a race with another operation on the same DID.
    #[error("Proposed prev does not match the most recent operation")]
    Conflict,
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A stored row no longer parses: the database was edited by hand or is damaged.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("storage task failed: {0}")]
    Task(String),
}

/// A PLC directory's operation log in SQLite. Cheap to clone; all clones share one
/// connection, so operations on a DID are applied one at a time.
#[derive(Clone)]
pub struct PlcStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    rate_limits: AtomicBool,
}

fn now_ms() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl PlcStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<PlcStore, PlcStoreError> {
        Self::from_conn(Connection::open(path)?)
    }

    /// A store that lives only as long as the process (tests).
    pub fn open_in_memory() -> Result<PlcStore, PlcStoreError> {
        Self::from_conn(Connection::open_in_memory()?)
    }

    fn from_conn(conn: Connection) -> Result<PlcStore, PlcStoreError> {
        // WAL lets readers in other processes (sqlite3 shell, backups) work during writes;
        // in-memory databases ignore it.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(PlcStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                rate_limits: AtomicBool::new(true),
            }),
        })
    }

    /// Turns plc.directory's per-DID rate limit (10 operations an hour, 30 a day, 100 a
    /// week) on or off; it is on by default. Test suites that churn one identity turn it off.
    pub fn set_rate_limits(&self, on: bool) {
        self.inner.rate_limits.store(on, Ordering::Relaxed);
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &Inner) -> Result<T, PlcStoreError> + Send + 'static,
    ) -> Result<T, PlcStoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled it back, so the connection is still usable.
            let mut conn = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn, &inner)
        })
        .await
        .map_err(|e| PlcStoreError::Task(e.to_string()))?
    }

    /// Validates `body` (the JSON of a signed operation) as an update to `did` and stores it
    /// if the directory's rules accept it, nullifying any operations it forks away from.
    pub async fn submit(&self, did: String, body: Vec<u8>) -> Result<(), PlcStoreError> {
        let op = parse_incoming_op(&body)?;
        self.blocking(move |conn, inner| {
            let now = now_ms();
            let active = indexed_ops(conn, &did, false)?;
            if inner.rate_limits.load(Ordering::Relaxed) {
                check_rate_limit(&active, now)?;
            }
            let accepted = validate_next_op(&did, &active, &op, now)?;
            let cid = op.cid()?;
            let tx = conn.transaction()?;
            // Another writer cannot have moved the log (one connection, held throughout), but
            // the check costs nothing and keeps the invariant local.
            let latest: Option<String> = tx
                .query_row(
                    "SELECT cid FROM plc_operations WHERE did = ?1 AND nullified = 0
                     ORDER BY seq DESC LIMIT 1",
                    params![did],
                    |r| r.get(0),
                )
                .optional()?;
            let expected = active.last().map(|o| o.cid.to_string());
            if latest != expected {
                return Err(PlcStoreError::Conflict);
            }
            let inserted = tx.execute(
                "INSERT INTO plc_operations (did, cid, operation, nullified, created_at_ms)
                 VALUES (?1, ?2, ?3, 0, ?4)",
                params![did, cid.to_string(), op.to_json_string(), now],
            );
            match inserted {
                Ok(_) => {}
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    return Err(PlcStoreError::Conflict);
                }
                Err(e) => return Err(e.into()),
            }
            for gone in &accepted.nullified {
                tx.execute(
                    "UPDATE plc_operations SET nullified = 1 WHERE did = ?1 AND cid = ?2",
                    params![did, gone.to_string()],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// The DID's operations, oldest first; nullified ones only if `include_nullified`.
    pub async fn ops(
        &self,
        did: String,
        include_nullified: bool,
    ) -> Result<Vec<IndexedOp>, PlcStoreError> {
        self.blocking(move |conn, _| indexed_ops(conn, &did, include_nullified))
            .await
    }

    /// The audit log: every operation with its CID, nullified flag and time of acceptance.
    pub async fn audit_log(&self, did: String) -> Result<Vec<LogEntry>, PlcStoreError> {
        Ok(self
            .ops(did, true)
            .await?
            .into_iter()
            .map(|o| LogEntry {
                did: o.did,
                cid: o.cid.to_string(),
                operation: o.op,
                nullified: o.nullified,
                created_at: Datetime::from_unix_millis(o.created_at_ms).to_string(),
            })
            .collect())
    }

    /// The DID's latest operation that is not nullified.
    pub async fn last_op(&self, did: String) -> Result<Option<PlcOp>, PlcStoreError> {
        Ok(self.ops(did, false).await?.pop().map(|o| o.op))
    }

    /// Checks that the database can answer.
    pub async fn health(&self) -> Result<(), PlcStoreError> {
        self.blocking(|conn, _| {
            conn.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}

fn indexed_ops(
    conn: &Connection,
    did: &str,
    include_nullified: bool,
) -> Result<Vec<IndexedOp>, PlcStoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT cid, operation, nullified, created_at_ms FROM plc_operations
         WHERE did = ?1 AND (?2 OR nullified = 0) ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![did, include_nullified], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut ops = Vec::new();
    for row in rows {
        let (cid, json, nullified, created_at_ms) = row?;
        let op = PlcOp::from_json_bytes(json.as_bytes())
            .map_err(|e| PlcStoreError::Corrupt(e.to_string()))?;
        let cid = Cid::try_from(cid.as_str()).map_err(|e| PlcStoreError::Corrupt(e.to_string()))?;
        ops.push(IndexedOp {
            did: did.to_owned(),
            op,
            cid,
            nullified,
            created_at_ms,
        });
    }
    Ok(ops)
}
