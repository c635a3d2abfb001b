//! Reader connections, used from tokio's blocking threads.

use crate::{DbError, open};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Clone)]
pub struct Readers {
    inner: Arc<Inner>,
}

struct Inner {
    conns: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl Readers {
    pub fn open(path: &Path, n: usize) -> Result<Readers, DbError> {
        let mut conns = Vec::with_capacity(n.max(1));
        for _ in 0..n.max(1) {
            let c = open(path)?;
            c.execute_batch("PRAGMA query_only = ON;")?;
            conns.push(c);
        }
        Ok(Readers {
            inner: Arc::new(Inner {
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
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read_blocking(f).map_err(E::from)?)
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
