//! A directory for tests and benchmarks: in memory, on a port-0 listener, served from a thread
//! of its own so it answers whatever the caller's runtime is doing (a test blocked on a server
//! start, a runtime being shut down to "crash" a PDS).

use crate::{PlcStore, PlcStoreError, router};
use std::time::Duration;

/// Why a test directory could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("plc store: {0}")]
    Store(#[from] PlcStoreError),
    #[error("plc listener or runtime: {0}")]
    Io(#[from] std::io::Error),
}

/// A running PLC directory; dropping it stops the server and forgets every DID.
pub struct TestPlc {
    url: String,
    store: PlcStore,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestPlc {
    /// Starts a directory on `127.0.0.1`, port 0, with plc.directory's per-DID rate limits off:
    /// tests create and update identities faster than any real account does.
    pub fn spawn() -> Result<TestPlc, SpawnError> {
        let store = PlcStore::open_in_memory()?;
        store.set_rate_limits(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let listener = {
            let _in_runtime = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(store.clone());
        let thread = std::thread::Builder::new()
            .name("test-plc".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        r = axum::serve(listener, app) => {
                            if let Err(e) = r {
                                tracing::error!(error = %e, "test PLC directory stopped");
                            }
                        }
                        _ = stopped => {}
                    }
                });
                // Requests still in flight hold only SQLite calls of a few milliseconds.
                runtime.shutdown_timeout(Duration::from_secs(5));
            })?;
        Ok(TestPlc {
            url: format!("http://127.0.0.1:{port}"),
            store,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The directory's base URL (`http://127.0.0.1:<port>`), what `HEARTH_PLC_URL` takes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store behind the server: to register identities without HTTP, or to turn the rate
    /// limits back on.
    pub fn store(&self) -> &PlcStore {
        &self.store
    }
}

impl Drop for TestPlc {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TestPlc;

    #[tokio::test]
    async fn serves_until_dropped() {
        let plc = TestPlc::spawn().unwrap();
        let url = format!("{}/_health", plc.url());
        let http = reqwest::Client::new();
        let res = http.get(&url).send().await.unwrap();
        assert!(res.status().is_success());
        drop(plc);
        assert!(
            http.get(&url).send().await.is_err(),
            "still answering after drop"
        );
    }
}
