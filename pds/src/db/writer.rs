//! The single writer: one thread owns the write connection and runs jobs from every request in
//! batches, each batch one transaction and one fsync (group commit). A job that fails is rolled
//! back to its own savepoint and leaves the rest of the batch alone; a job's caller hears back
//! only once its batch is durably committed.

use super::DbError;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::oneshot;

/// Upper bound on jobs per transaction, so one huge burst cannot delay acknowledgements.
const MAX_BATCH: usize = 512;

type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;
type Job = Box<dyn FnOnce(&mut WriteTxn<'_>) -> (bool, Finish) + Send>;

/// A job's view of the open transaction.
pub struct WriteTxn<'c> {
    pub conn: &'c Connection,
    state: &'c mut State,
}

struct State {
    /// The last firehose sequence number handed out (committed or in this batch).
    last_seq: i64,
    after_commit: Vec<Box<dyn FnOnce() + Send>>,
}

impl WriteTxn<'_> {
    /// The next firehose sequence number. Numbers handed to a job that then fails are reused.
    pub fn next_seq(&mut self) -> i64 {
        self.state.last_seq += 1;
        self.state.last_seq
    }

    /// Runs `f` after the batch commits (never if it rolls back), in job order: how committed
    /// events reach live subscribers.
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.state.after_commit.push(Box::new(f));
    }
}

#[derive(Clone)]
pub struct Writer {
    tx: crossbeam_channel::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on an already migrated connection.
    pub fn start(conn: Connection) -> Result<Writer, DbError> {
        let last_seq: i64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM repo_seq", [], |r| {
                r.get(0)
            })?;
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        std::thread::Builder::new()
            .name("hearth-db-writer".into())
            .spawn(move || {
                run(
                    conn,
                    rx,
                    State {
                        last_seq,
                        after_commit: Vec::new(),
                    },
                )
            })
            .map_err(|e| DbError::Task(e.to_string()))?;
        Ok(Writer { tx })
    }

    /// Runs `f` inside the next write transaction and returns its result once committed.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut WriteTxn<'_>) -> Result<T, E> + Send + 'static,
    {
        let (done, wait) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |committed| {
                let out = match (result, committed) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(E::from(e)),
                    (Err(e), _) => Err(e),
                };
                let _ = done.send(out);
            });
            (ok, finish)
        });
        self.tx
            .send(job)
            .map_err(|_| E::from(DbError::WriterGone))?;
        wait.await.map_err(|_| E::from(DbError::WriterGone))?
    }
}

fn run(conn: Connection, rx: crossbeam_channel::Receiver<Job>, mut state: State) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let finishes = match conn.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => run_batch(&conn, &mut state, batch),
            Err(e) => {
                tracing::error!(error = %e, "could not begin write transaction");
                // Dropping the jobs drops their reply channels: each caller gets WriterGone.
                drop(batch);
                continue;
            }
        };
        let seq_before_commit = state.last_seq;
        let committed = conn.execute_batch("COMMIT").map_err(DbError::from);
        match &committed {
            Ok(()) => {
                for f in state.after_commit.drain(..) {
                    f();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write transaction failed to commit");
                let _ = conn.execute_batch("ROLLBACK");
                state.after_commit.clear();
                // Re-read: the sequence numbers of this batch were never stored.
                state.last_seq = conn
                    .query_row("SELECT COALESCE(MAX(seq), 0) FROM repo_seq", [], |r| {
                        r.get(0)
                    })
                    .unwrap_or(seq_before_commit);
            }
        }
        for finish in finishes {
            finish(match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(DbError::Task(e.to_string())),
            });
        }
    }
}

fn run_batch(conn: &Connection, state: &mut State, batch: Vec<Job>) -> Vec<Finish> {
    let mut finishes = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed");
            continue;
        }
        let (seq, effects) = (state.last_seq, state.after_commit.len());
        let mut txn = WriteTxn { conn, state };
        let outcome = catch_unwind(AssertUnwindSafe(|| job(&mut txn)));
        let ok = match outcome {
            Ok((ok, finish)) => {
                finishes.push(finish);
                ok
            }
            Err(_) => {
                tracing::error!("a write job panicked; its changes are rolled back");
                false
            }
        };
        if !ok {
            let _ = conn.execute_batch("ROLLBACK TO job");
            state.last_seq = seq;
            state.after_commit.truncate(effects);
        }
        let _ = conn.execute_batch("RELEASE job");
    }
    finishes
}
