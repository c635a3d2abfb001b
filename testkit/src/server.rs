//! Servers on threads of their own.

use std::future::Future;
use std::time::Duration;

/// A server running on its own thread and runtime. Dropping it stops the server and every task
/// it spawned (the runtime shuts down), which is how a test "stops" a PDS in-process.
pub struct ServerThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `setup` on a fresh runtime; it returns a value for the caller and the future that
    /// serves until stopped.
    pub fn start<T, S, F1, F2>(setup: S) -> (ServerThread, T)
    where
        T: Send + 'static,
        S: FnOnce() -> F1 + Send + 'static,
        F1: Future<Output = (T, F2)>,
        F2: Future<Output = ()>,
    {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<T>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let (value, serve) = setup().await;
                let _ = ready_tx.send(value);
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_secs(10));
        });
        let value = ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not start");
        (
            ServerThread {
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            value,
        )
    }

    pub fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.stop();
    }
}
