//! The single writer: one thread owns the write connection and runs jobs from every request in
//! batches, each batch one transaction and one fsync (group commit). A job that fails is rolled
//! back, with the writer state it changed, and leaves the rest of the batch alone; a job's
//! caller hears back only once its batch is durably committed.
//!
//! Rolling back one job alone needs a savepoint around it, and a savepoint is not free: SQLite
//! copies every page the job changes into the statement journal first (measured: about a sixth
//! of the writer's time when indexing a firehose, each savepoint costing per page it touches).
//! Jobs that may run twice ([`Writer::submit_retryable`]) share one: consecutive ones run
//! under a single savepoint, or none at the start of a transaction, and if one fails they are
//! rolled back together and run again, each in its own savepoint.

use super::DbError;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tokio::sync::oneshot;

/// Upper bound on jobs per transaction, so one huge burst cannot delay acknowledgements.
const MAX_BATCH: usize = 512;

type Finish = Box<dyn FnOnce(Result<(), DbError>) + Send>;
type Effect = Box<dyn FnOnce() + Send>;

/// A job that runs once: it reports whether it succeeded and how to tell its caller.
type OnceJob<S> = Box<dyn FnOnce(&mut WriteTxn<'_, S>) -> (bool, Finish) + Send>;

/// A job that may run more than once; it keeps the result of its latest run.
trait Rerun<S>: Send {
    /// Runs the job; whether it succeeded.
    fn run(&mut self, txn: &mut WriteTxn<'_, S>) -> bool;
    /// Drops the latest run's result (its work was rolled back, or is about to run again).
    fn forget(&mut self);
    /// Tells the caller the outcome of the latest run.
    fn finish(self: Box<Self>, committed: Result<(), DbError>);
}

enum Job<S> {
    Once(OnceJob<S>),
    Rerun(Box<dyn Rerun<S>>),
}

/// A job's own result combined with whether its batch committed.
fn outcome<T, E: From<DbError>>(
    result: Result<T, E>,
    committed: Result<(), DbError>,
) -> Result<T, E> {
    match (result, committed) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(E::from(e)),
        (Err(e), _) => Err(e),
    }
}

/// Wraps a job's result and reply into what the writer thread runs once.
fn once<S, T, E, F>(f: F, reply: impl FnOnce(Result<T, E>) + Send + 'static) -> Job<S>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce(&mut WriteTxn<'_, S>) -> Result<T, E> + Send + 'static,
{
    Job::Once(Box::new(move |txn| {
        let result = f(txn);
        let ok = result.is_ok();
        let finish: Finish = Box::new(move |committed| reply(outcome(result, committed)));
        (ok, finish)
    }))
}

struct Retryable<F, D, T, E> {
    f: F,
    done: D,
    result: Option<Result<T, E>>,
}

impl<S, T, E, F, D> Rerun<S> for Retryable<F, D, T, E>
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnMut(&mut WriteTxn<'_, S>) -> Result<T, E> + Send + 'static,
    D: FnOnce(Result<T, E>) + Send + 'static,
{
    fn run(&mut self, txn: &mut WriteTxn<'_, S>) -> bool {
        // Cleared first: a run that panics, or a savepoint that fails, leaves no result.
        self.forget();
        let result = (self.f)(txn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn forget(&mut self) {
        self.result = None;
    }

    fn finish(self: Box<Self>, committed: Result<(), DbError>) {
        let result = self
            .result
            .unwrap_or_else(|| Err(E::from(DbError::Task("the write job did not run".into()))));
        (self.done)(outcome(result, committed))
    }
}

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

/// What the writer thread is sent: a job, or the request to close.
enum Msg<S> {
    Job(Job<S>),
    Close(oneshot::Sender<Result<(), DbError>>),
}

pub struct Writer<S> {
    tx: crossbeam_channel::Sender<Msg<S>>,
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
        let (tx, rx) = crossbeam_channel::unbounded::<Msg<S>>();
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
        let job = once(f, move |out| {
            let _ = done.send(out);
        });
        self.tx
            .send(Msg::Job(job))
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
        self.send(once(f, done));
    }

    /// Like [`Writer::submit`], for a job that may run twice: if it fails after running
    /// without a savepoint of its own, the transaction is rolled back and it runs again. Its
    /// only effects must be on the database, the writer state and [`WriteTxn::after_commit`],
    /// all of which the rollback undoes.
    pub fn submit_retryable<T, E, F, D>(&self, f: F, done: D)
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnMut(&mut WriteTxn<'_, S>) -> Result<T, E> + Send + 'static,
        D: FnOnce(Result<T, E>) + Send + 'static,
    {
        self.send(Job::Rerun(Box::new(Retryable {
            f,
            done,
            result: None,
        })));
    }

    fn send(&self, job: Job<S>) {
        if self.tx.send(Msg::Job(job)).is_err() {
            tracing::error!("the database writer has stopped; work dropped");
        }
    }

    /// Stops the writer, for shutdown: the jobs queued before are committed, then the
    /// write-ahead log is copied into the database file and truncated, and the thread ends.
    /// Jobs sent afterwards, through any clone, fail with [`DbError::WriterGone`], so nothing
    /// lands in the log once this returns.
    pub async fn close(&self) -> Result<(), DbError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Msg::Close(done))
            .map_err(|_| DbError::WriterGone)?;
        wait.await.map_err(|_| DbError::WriterGone)?
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
        let job = once(f, move |out| {
            let _ = done.send(out);
        });
        self.tx
            .send(Msg::Job(job))
            .map_err(|_| E::from(DbError::WriterGone))?;
        wait.recv().map_err(|_| E::from(DbError::WriterGone))?
    }
}

/// How a batch's jobs tell their callers, once the batch has committed or failed.
enum Reply<S> {
    Once(Finish),
    Rerun(Box<dyn Rerun<S>>),
}

impl<S> Reply<S> {
    fn send(self, committed: Result<(), DbError>) {
        match self {
            Reply::Once(f) => f(committed),
            Reply::Rerun(job) => job.finish(committed),
        }
    }
}

fn run<S: Clone>(conn: Connection, rx: crossbeam_channel::Receiver<Msg<S>>, mut state: S) {
    let mut effects: Vec<Effect> = Vec::new();
    let mut closing = None;
    while closing.is_none() {
        let first = match rx.recv() {
            Ok(Msg::Job(j)) => j,
            Ok(Msg::Close(reply)) => {
                closing = Some(reply);
                break;
            }
            Err(_) => return,
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(j)) => batch.push(j),
                // The batch so far commits first.
                Ok(Msg::Close(reply)) => {
                    closing = Some(reply);
                    break;
                }
                Err(_) => break,
            }
        }
        let before_batch = state.clone();
        let replies = match run_batch(&conn, &mut state, &mut effects, batch) {
            Ok(replies) => replies,
            Err((e, replies)) => {
                tracing::error!(error = %e, "write transaction failed");
                state = before_batch;
                effects.clear();
                // Jobs that never ran are dropped, and their reply channels with them: each
                // caller of `run` gets WriterGone.
                for r in replies {
                    r.send(Err(DbError::Task(e.to_string())));
                }
                continue;
            }
        };
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
        for reply in replies {
            reply.send(match &committed {
                Ok(()) => Ok(()),
                Err(e) => Err(DbError::Task(e.to_string())),
            });
        }
    }
    if let Some(reply) = closing {
        let _ = reply.send(crate::checkpoint::truncate(&conn));
    }
    // Returning drops the receiver: whatever is sent from now on fails with WriterGone.
}

/// Runs a batch's jobs, in the order they came, inside one transaction begun here. Each run of
/// consecutive retryable jobs shares one savepoint, or none if it leads the transaction (then
/// the transaction holds only its work); if one of them fails, the run is rolled back and its
/// jobs run again, each in a savepoint of its own. Every other job has its own savepoint. If
/// the transaction cannot begin, or SQLite ends it on its own (it rolls back the whole
/// transaction on some errors, such as a full disk), the error comes back with the replies of
/// every job that ran and of the retryable ones that did not; the others are dropped (their
/// callers hear WriterGone).
#[allow(clippy::type_complexity)]
fn run_batch<S: Clone>(
    conn: &Connection,
    state: &mut S,
    effects: &mut Vec<Effect>,
    batch: Vec<Job<S>>,
) -> Result<Vec<Reply<S>>, (rusqlite::Error, Vec<Reply<S>>)> {
    type Jobs<S> = std::iter::Peekable<std::vec::IntoIter<Job<S>>>;
    // Every retryable job not yet run, as replies to send if the transaction cannot begin.
    fn unrun<S>(run: Vec<Box<dyn Rerun<S>>>, rest: Jobs<S>) -> Vec<Reply<S>> {
        let rest = rest.filter_map(|j| match j {
            Job::Rerun(job) => Some(job),
            Job::Once(_) => None,
        });
        run.into_iter()
            .chain(rest)
            .map(|mut job| {
                job.forget();
                Reply::Rerun(job)
            })
            .collect()
    }
    // After a failure: whether SQLite has ended the transaction itself, taking every job's work
    // with it (a savepoint statement would then open and commit a transaction of its own).
    let ended = |conn: &Connection| conn.is_autocommit();
    let ended_error = || {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
            Some("the transaction was rolled back by SQLite".into()),
        )
    };
    let mut jobs: Jobs<S> = batch.into_iter().peekable();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return Err((e, unrun(Vec::new(), jobs)));
    }
    let mut replies: Vec<Reply<S>> = Vec::with_capacity(jobs.len());
    while jobs.peek().is_some() {
        let mut run: Vec<Box<dyn Rerun<S>>> = Vec::new();
        while let Some(Job::Rerun(_)) = jobs.peek() {
            if let Some(Job::Rerun(job)) = jobs.next() {
                run.push(job);
            }
        }
        if !run.is_empty() {
            let leads = replies.is_empty();
            let shared = leads || conn.execute_batch("SAVEPOINT run").is_ok();
            let (snapshot, effect_count) = (state.clone(), effects.len());
            let ok = shared && {
                let mut txn = WriteTxn {
                    conn,
                    state: &mut *state,
                    after_commit: &mut *effects,
                };
                run.iter_mut().all(|job| {
                    catch_unwind(AssertUnwindSafe(|| job.run(&mut txn))).unwrap_or(false)
                })
            };
            if !ok && !leads && ended(conn) {
                replies.extend(unrun(run, jobs));
                return Err((ended_error(), replies));
            }
            if !leads && shared {
                if !ok {
                    let _ = conn.execute_batch("ROLLBACK TO run");
                }
                let _ = conn.execute_batch("RELEASE run");
            }
            if !ok {
                tracing::warn!(
                    "a write job failed; its run of jobs goes again, each job in its own savepoint"
                );
                *state = snapshot;
                effects.truncate(effect_count);
                if leads {
                    let _ = conn.execute_batch("ROLLBACK");
                    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                        return Err((e, unrun(run, jobs)));
                    }
                }
                for i in 0..run.len() {
                    // Its first run was rolled back; if the savepoint fails it does not run.
                    run[i].forget();
                    in_savepoint(conn, state, effects, |txn| run[i].run(txn));
                    if ended(conn) {
                        replies.extend(unrun(run, jobs));
                        return Err((ended_error(), replies));
                    }
                }
            }
            replies.extend(run.into_iter().map(Reply::Rerun));
        }
        while let Some(Job::Once(_)) = jobs.peek() {
            if let Some(Job::Once(job)) = jobs.next() {
                let mut finish = None;
                in_savepoint(conn, state, effects, |txn| {
                    let (ok, f) = job(txn);
                    finish = Some(f);
                    ok
                });
                // A job that panicked, or never ran, has no reply: its caller hears WriterGone.
                replies.extend(finish.map(Reply::Once));
                if ended(conn) {
                    replies.extend(unrun(Vec::new(), jobs));
                    return Err((ended_error(), replies));
                }
            }
        }
    }
    Ok(replies)
}

/// Runs one job in a savepoint of its own, rolled back (with the writer state and the effects
/// it added) if the job fails or panics.
fn in_savepoint<S: Clone>(
    conn: &Connection,
    state: &mut S,
    effects: &mut Vec<Effect>,
    job: impl FnOnce(&mut WriteTxn<'_, S>) -> bool,
) {
    if let Err(e) = conn.execute_batch("SAVEPOINT job") {
        tracing::error!(error = %e, "savepoint failed");
        return;
    }
    let (snapshot, effect_count) = (state.clone(), effects.len());
    let mut txn = WriteTxn {
        conn,
        state: &mut *state,
        after_commit: &mut *effects,
    };
    let ok = catch_unwind(AssertUnwindSafe(|| job(&mut txn))).unwrap_or_else(|_| {
        tracing::error!("a write job panicked; its changes are rolled back");
        false
    });
    if !ok {
        let _ = conn.execute_batch("ROLLBACK TO job");
        *state = snapshot;
        effects.truncate(effect_count);
    }
    let _ = conn.execute_batch("RELEASE job");
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// A database with one table `t (x)` and an `i64` writer state starting at 0.
    fn test_db(path: &std::path::Path) -> crate::Db<i64> {
        crate::Db::open(path, &["CREATE TABLE t (x INTEGER);"], 2, |_| Ok(0i64)).expect("open")
    }

    #[tokio::test]
    async fn failed_jobs_leave_no_trace_and_others_commit() {
        let dir = tempfile::tempdir().expect("dir");
        let db = test_db(&dir.path().join("t.sqlite"));
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

    /// The writer's queue is held by a job that waits until `release` fires, so everything
    /// queued meanwhile lands in one batch after it. Returns once that job runs (its own
    /// batch is formed by then).
    fn hold(db: &crate::Db<i64>) -> std::sync::mpsc::Sender<()> {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        db.writer.submit(
            move |_txn: &mut WriteTxn<'_, i64>| {
                let _ = started.send(());
                let _ = wait.recv();
                Ok::<_, DbError>(())
            },
            |_r: Result<(), DbError>| {},
        );
        running.recv().expect("the holding job runs");
        release
    }

    fn rows(path: &std::path::Path) -> Vec<i64> {
        let conn = crate::open(path).expect("open");
        let mut s = conn.prepare("SELECT x FROM t ORDER BY x").expect("prepare");
        s.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn a_failed_retryable_job_reruns_its_run_and_only_it_is_undone() {
        let dir = tempfile::tempdir().expect("dir");
        let db = test_db(&dir.path().join("t.sqlite"));
        let release = hold(&db);
        let runs = Arc::new(AtomicUsize::new(0));
        let effects = Arc::new(AtomicUsize::new(0));
        let (replies, answers) = std::sync::mpsc::channel::<(i64, Result<i64, DbError>)>();
        // Retryable jobs 1 to 3 lead the batch (3 fails), a run-once job 4 follows, then
        // retryable jobs 5 and 6 (6 fails), which share a savepoint.
        for x in 1..=6i64 {
            let (runs, effects, replies) = (runs.clone(), effects.clone(), replies.clone());
            let job = move |txn: &mut WriteTxn<'_, i64>| {
                runs.fetch_add(1, SeqCst);
                txn.conn.execute("INSERT INTO t VALUES (?1)", [x])?;
                *txn.state += x;
                let effects = effects.clone();
                txn.after_commit(move || {
                    effects.fetch_add(1, SeqCst);
                });
                if x == 3 || x == 6 {
                    return Err(DbError::Task("refused".into()));
                }
                Ok(*txn.state)
            };
            let reply = move |r| {
                let _ = replies.send((x, r));
            };
            if x == 4 {
                db.writer.submit(job, reply);
            } else {
                db.writer.submit_retryable(job, reply);
            }
        }
        release.send(()).expect("release");
        let mut got: Vec<(i64, Result<i64, DbError>)> =
            (0..6).map(|_| answers.recv().expect("answer")).collect();
        got.sort_by_key(|(x, _)| *x);
        let oks: Vec<(i64, Option<i64>)> = got
            .iter()
            .map(|(x, r)| (*x, r.as_ref().ok().copied()))
            .collect();
        // Each job sees the state its predecessors that committed left: 1, 1+2, then 4 after 3
        // was undone, then 5.
        assert_eq!(
            oks,
            vec![
                (1, Some(1)),
                (2, Some(3)),
                (3, None),
                (4, Some(7)),
                (5, Some(12)),
                (6, None)
            ]
        );
        assert_eq!(
            rows(&dir.path().join("t.sqlite")),
            vec![1, 2, 4, 5],
            "failed jobs leave no rows"
        );
        // Jobs 1 to 3 ran bare, then again each in a savepoint; 4 ran once; 5 and 6 ran under
        // one savepoint, then again each in its own.
        assert_eq!(runs.load(SeqCst), 3 + 3 + 1 + 2 + 2);
        assert_eq!(
            effects.load(SeqCst),
            4,
            "only committed jobs' effects fire, once each"
        );
        let state = db
            .writer
            .run_blocking(|txn: &mut WriteTxn<'_, i64>| Ok::<_, DbError>(*txn.state))
            .expect("state");
        assert_eq!(state, 12);
    }

    #[test]
    fn retryable_jobs_that_succeed_run_once() {
        let dir = tempfile::tempdir().expect("dir");
        let db = test_db(&dir.path().join("t.sqlite"));
        let release = hold(&db);
        let runs = Arc::new(AtomicUsize::new(0));
        let (replies, answers) = std::sync::mpsc::channel::<Result<(), DbError>>();
        for x in 1..=3i64 {
            let (runs, replies) = (runs.clone(), replies.clone());
            db.writer.submit_retryable(
                move |txn: &mut WriteTxn<'_, i64>| {
                    runs.fetch_add(1, SeqCst);
                    txn.conn.execute("INSERT INTO t VALUES (?1)", [x])?;
                    Ok::<_, DbError>(())
                },
                move |r| {
                    let _ = replies.send(r);
                },
            );
        }
        release.send(()).expect("release");
        for _ in 0..3 {
            answers.recv().expect("answer").expect("committed");
        }
        assert_eq!(runs.load(SeqCst), 3);
        assert_eq!(rows(&dir.path().join("t.sqlite")), vec![1, 2, 3]);
    }

    /// When SQLite ends the transaction itself (as it does on a full disk), every job of the
    /// batch is told so and nothing of the batch is committed, not even by a later savepoint.
    #[test]
    fn a_transaction_sqlite_ended_fails_the_whole_batch() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.sqlite");
        let db = test_db(&path);
        let release = hold(&db);
        let (replies, answers) = std::sync::mpsc::channel::<(i64, bool)>();
        // 1 (retryable) and 2 (run once) succeed; 3 (retryable) ends the transaction as SQLite
        // would and fails; 4 (retryable) comes after it.
        for x in 1..=4i64 {
            let replies = replies.clone();
            let job = move |txn: &mut WriteTxn<'_, i64>| {
                txn.conn.execute("INSERT INTO t VALUES (?1)", [x])?;
                *txn.state += x;
                if x == 3 {
                    txn.conn.execute_batch("ROLLBACK")?;
                    return Err(DbError::Task("disk full".into()));
                }
                Ok(())
            };
            let reply = move |r: Result<(), DbError>| {
                let _ = replies.send((x, r.is_ok()));
            };
            if x == 2 {
                db.writer.submit(job, reply);
            } else {
                db.writer.submit_retryable(job, reply);
            }
        }
        release.send(()).expect("release");
        let mut got: Vec<(i64, bool)> = (0..4).map(|_| answers.recv().expect("answer")).collect();
        got.sort();
        assert_eq!(got, vec![(1, false), (2, false), (3, false), (4, false)]);
        assert_eq!(
            rows(&path),
            Vec::<i64>::new(),
            "nothing of the batch is committed"
        );
        // The writer carries on, from the state before the batch.
        let state = db
            .writer
            .run_blocking(|txn: &mut WriteTxn<'_, i64>| {
                txn.conn.execute("INSERT INTO t VALUES (5)", [])?;
                Ok::<_, DbError>(*txn.state)
            })
            .expect("next batch");
        assert_eq!(state, 0);
        assert_eq!(rows(&path), vec![5]);
    }
}
