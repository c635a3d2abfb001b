//! Reader connections, used from tokio's blocking threads.

use crate::{DbError, open_with_cache};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct Readers {
    inner: Arc<Inner>,
}

struct Inner {
    conns: Mutex<Vec<Connection>>,
    returned: Condvar,
    /// One permit per connection, taken before a read goes to a blocking thread: without it,
    /// fifty firehose replays at once parked fifty blocking threads waiting for eight
    /// connections, each thread with its own stack and allocator caches.
    permits: Arc<Semaphore>,
}

impl Readers {
    /// `n` connections (at least one), each with a page cache of at most `cache_kib` KiB.
    pub fn open(path: &Path, n: usize, cache_kib: u32) -> Result<Readers, DbError> {
        let mut conns = Vec::with_capacity(n.max(1));
        for _ in 0..n.max(1) {
            let c = open_with_cache(path, cache_kib)?;
            c.execute_batch("PRAGMA query_only = ON;")?;
            conns.push(c);
        }
        Ok(Readers {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(conns.len())),
                conns: Mutex::new(conns),
                returned: Condvar::new(),
            }),
        })
    }

    /// Runs `f` with a reader connection on a blocking thread.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| E::from(DbError::Task("reader pool closed".into())))?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let out = this.read_blocking(f).map_err(E::from)?;
            drop(permit);
            out
        })
        .await
        .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    /// Runs `f` with a reader connection on the current thread, waiting for one to be free.
    /// Only for code already on a blocking thread.
    pub fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> T) -> Result<T, DbError> {
        let poisoned = |_| DbError::Task("reader pool lock poisoned".into());
        let conn = {
            let mut pool = self.inner.conns.lock().map_err(poisoned)?;
            loop {
                if let Some(c) = pool.pop() {
                    break c;
                }
                pool = self.inner.returned.wait(pool).map_err(poisoned)?;
            }
        };
        // Return the connection even if `f` panics, so the pool never shrinks.
        struct Return<'a>(&'a Inner, Option<Connection>);
        impl Drop for Return<'_> {
            fn drop(&mut self) {
                if let (Some(c), Ok(mut pool)) = (self.1.take(), self.0.conns.lock()) {
                    pool.push(c);
                    self.0.returned.notify_one();
                }
            }
        }
        let guard = Return(&self.inner, Some(conn));
        let out = match &guard.1 {
            Some(c) => f(c),
            None => return Err(DbError::Task("reader vanished".into())),
        };
        drop(guard);
        Ok(out)
    }
}
