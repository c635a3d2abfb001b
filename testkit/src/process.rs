//! Suites that run the real `hearth` binary: a child process that dies with the test, a free
//! port, waiting until a server answers.

use std::process::Child;
use std::time::{Duration, Instant};

/// A child process, killed and reaped when dropped, however the test ends.
pub struct Spawned(pub Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits (up to a minute) until `http://localhost:<port>/xrpc/_health` answers 200.
pub async fn wait_healthy(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http
            .get(format!("http://localhost:{port}/xrpc/_health"))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing healthy came up on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
