//! An S3 API server for the tests of blobs in a bucket: moto in server mode, started per test on
//! a free port. scripts/test installs it; a bare `cargo test` installs it here. A test that
//! needs it fails when it cannot be had: a skipped S3 suite would pass without testing anything.

use std::time::Duration;

pub struct Moto {
    _child: tokio::process::Child,
    pub port: u16,
}

/// The bucket every test uses (each test has its own server).
pub const BUCKET: &str = "hearth-test";
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

fn have_moto() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts moto and creates [`BUCKET`]; panics, naming the cause, when moto cannot be had.
pub async fn start_moto() -> Moto {
    if !have_moto() {
        let _ = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "moto[server]"])
            .status();
        assert!(
            have_moto(),
            "the S3 tests need moto: python3 -m pip install 'moto[server]'"
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = tokio::process::Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 -m moto.server");
    let http = reqwest::Client::new();
    for _ in 0..400 {
        // moto accepts unsigned requests: creating the bucket is also the readiness check.
        if let Ok(r) = http
            .put(format!("http://127.0.0.1:{port}/{BUCKET}"))
            .send()
            .await
        {
            assert!(
                r.status().is_success(),
                "creating the bucket: {}",
                r.status()
            );
            return Moto {
                _child: child,
                port,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto did not start on port {port}");
}

impl Moto {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Whether an object is in the bucket at `key`. Listing, unsigned as moto allows: moto
    /// refuses an unsigned HEAD of a private object.
    pub async fn has(&self, key: &str) -> bool {
        let listing = reqwest::Client::new()
            .get(format!("{}/{BUCKET}", self.endpoint()))
            .query(&[("prefix", key)])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("list objects")
            .text()
            .await
            .expect("listing");
        listing.contains(&format!("<Key>{key}</Key>"))
    }
}
