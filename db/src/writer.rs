//! The single writer: one thread owns the write connection and runs jobs from every request in
//! batches, each batch one transaction and one fsync (group commit). A job that fails is rolled
//! back to its own savepoint, with the writer state it changed, and leaves the rest of the
//! batch alone; a job's caller hears back only once its batch is durably committed.

use super::DbError;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::oneshot;

/// Upper bound on jobs per transaction, so one huge burst cannot delay acknowledgements.
const MAX_BATCH: usize = 512;

type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;
type Job<S> = Box<dyn FnOnce(&mut WriteTxn<'_, S>) -> (bool, Finish) + Send>;
type Effect = Box<dyn FnOnce() + Send>;

/// A job's view of the open transaction.
pub struct WriteTxn<'c, S> {
    pub conn: &'c Connection,
    /// The writer's own state, restored if the job fails.
    pub state: &'c mut S,
    after_commit: &'c mut Vec<Effect>,
}

impl<S> WriteTxn<'_, S> {
    /// Runs `f` after the batch commits (never if it rolls back), in job order: how committed
    /// changes reach in-memory subscribers.
    pub fn after_commit(&mut self, f: impl FnOnce() + Send + 'static) {
        self.after_commit.push(Box::new(f));
    }
}

pub struct Writer<S> {
    tx: crossbeam_channel::Sender<Job<S>>,
}

impl<S> Clone for Writer<S> {
    fn clone(&self) -> Self {
        Writer {
            tx: self.tx.clone(),
        }
    }
}

impl<S: Clone + Send + 'static> Writer<S> {
    /// Starts the writer thread on an already migrated connection.
    pub fn start(conn: Connection, state: S) -> Result<Writer<S>, DbError> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job<S>>();
        std::thread::Builder::new()
            .name("hearth-db-writer".into())
            .spawn(move || run(conn, rx, state))
            .map_err(|e| DbError::Task(e.to_string()))?;
        Ok(Writer { tx })
    }

    /// Runs `f` inside the next write transaction and returns its result once committed.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut WriteTxn<'_, S>) -> Result<T, E> + Send + 'static,
    {
        let (done, wait) = oneshot::channel::<Result<T, E>>();
        let job: Job<S> = Box::new(move |txn| {
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

    /// Queues `f` without waiting; `done` receives the outcome once the batch commits (or
    /// fails). For streams of work, such as indexing, where the caller must not wait out an
    /// fsync per item. Blocks only if the writer has gone.
    pub fn submit<T, E, F, D>(&self, f: F, done: D)
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut WriteTxn<'_, S>) -> Result<T, E> + Send + 'static,
        D: FnOnce(Result<T, E>) + Send + 'static,
    {
        let job: Job<S> = Box::new(move |txn| {
            let result = f(txn);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |committed| {
                done(match (result, committed) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(E::from(e)),
                    (Err(e), _) => Err(e),
                })
            });
            (ok, finish)
        });
        if self.tx.send(job).is_err() {
            tracing::error!("the database writer has stopped; work dropped");
        }
    }

    /// How many jobs wait for the writer: a measure of backpressure.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// Like [`Writer::run`], for callers on a plain thread.
    pub fn run_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut WriteTxn<'_, S>) -> Result<T, E> + Send + 'static,
    {
        let (done, wait) = std::sync::mpsc::channel::<Result<T, E>>();
        let job: Job<S> = Box::new(move |txn| {
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
        wait.recv().map_err(|_| E::from(DbError::WriterGone))?
    }
}

fn run<S: Clone>(conn: Connection, rx: crossbeam_channel::Receiver<Job<S>>, mut state: S) {
    let mut effects: Vec<Effect> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "could not begin write transaction");
            // Dropping the jobs drops their reply channels: each caller gets WriterGone.
            drop(batch);
            continue;
        }
        let before_batch = state.clone();
        let finishes = run_batch(&conn, &mut state, &mut effects, batch);
        let committed = conn.execute_batch("COMMIT").map_err(DbError::from);
        match &committed {
            Ok(()) => {
                for f in effects.drain(..) {
                    f();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write transaction failed to commit");
                let _ = conn.execute_batch("ROLLBACK");
                effects.clear();
                state = before_batch;
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

fn run_batch<S: Clone>(
    conn: &Connection,
    state: &mut S,
    effects: &mut Vec<Effect>,
    batch: Vec<Job<S>>,
) -> Vec<Finish> {
    let mut finishes = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed");
            continue;
        }
        let (snapshot, effect_count) = (state.clone(), effects.len());
        let mut txn = WriteTxn {
            conn,
            state: &mut *state,
            after_commit: &mut *effects,
        };
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
            *state = snapshot;
            effects.truncate(effect_count);
        }
        let _ = conn.execute_batch("RELEASE job");
    }
    finishes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failed_jobs_leave_no_trace_and_others_commit() {
        let dir = tempfile::tempdir().expect("dir");
        let db = crate::Db::open(
            &dir.path().join("t.sqlite"),
            &["CREATE TABLE t (x INTEGER);"],
            2,
            |_| Ok(0i64),
        )
        .expect("open");
        let ok = db.writer.run(|txn: &mut WriteTxn<'_, i64>| {
            txn.conn.execute("INSERT INTO t VALUES (1)", [])?;
            *txn.state += 1;
            Ok::<_, DbError>(*txn.state)
        });
        let bad = db.writer.run(|txn: &mut WriteTxn<'_, i64>| {
            txn.conn.execute("INSERT INTO t VALUES (2)", [])?;
            *txn.state += 10;
            Err::<(), _>(DbError::Task("refused".into()))
        });
        let (a, b) = tokio::join!(ok, bad);
        assert_eq!(a.expect("first commits"), 1);
        assert!(b.is_err());
        let after = db
            .writer
            .run(|txn: &mut WriteTxn<'_, i64>| Ok::<_, DbError>(*txn.state))
            .await
            .expect("state");
        assert_eq!(after, 1, "a failed job's state change is undone");
        let rows: Vec<i64> = db
            .readers
            .read(|c| {
                let mut s = c.prepare("SELECT x FROM t")?;
                let v = s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok::<_, DbError>(v)
            })
            .await
            .expect("read");
        assert_eq!(rows, vec![1]);
    }
}
