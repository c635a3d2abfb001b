//! A real SMTP server for the email tests: Python's aiosmtpd on a free port, saving every
//! message it accepts into a maildir the test reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every file under a directory, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// aiosmtpd on a free port, writing every message it accepts into `dir/new/`.
pub struct Smtp {
    _child: tokio::process::Child,
    pub port: u16,
    pub maildir: PathBuf,
}

pub async fn start_smtp(dir: &Path) -> Smtp {
    let have = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        // scripts/test installs it; a bare `cargo test` gets it here.
        let _ = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
            .status();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let maildir = dir.join("maildir");
    let child = tokio::process::Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&maildir)
        .kill_on_drop(true)
        .spawn()
        .expect("python3 -m aiosmtpd (pip install aiosmtpd)");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Smtp {
                _child: child,
                port,
                maildir,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start (is it installed? python3 -m pip install aiosmtpd)");
}

impl Smtp {
    /// The server's URL, as `HEARTH_SMTP_URL` takes it.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, as text, in the order they arrived.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> =
            files_under(&self.maildir.join("new"))
                .into_iter()
                .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
                .collect();
        files.sort();
        files
            .iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits for the message to `addr` after the first `seen` and returns it with the code it
    /// carries (`XXXXX-XXXXX`).
    pub async fn next_code(&self, addr: &str, seen: usize) -> (String, String) {
        for _ in 0..200 {
            if let Some(m) = self.to(addr).into_iter().nth(seen) {
                let code = code_in(&m).unwrap_or_else(|| panic!("no code in {m}"));
                return (m, code);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no email #{} to {addr}; got {:?}",
            seen + 1,
            self.messages()
        );
    }

    /// Waits until a message satisfying `f` has arrived.
    pub async fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        for _ in 0..200 {
            if let Some(m) = self.messages().into_iter().find(|m| f(m)) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email {what}; got {:?}", self.messages());
    }

    /// Every message to `addr` so far.
    pub fn to(&self, addr: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| m.contains(&format!("To: {addr}")))
            .collect()
    }

    /// Opens the confirmation link sent to `addr` (the newest one); returns the link.
    pub async fn confirm(&self, addr: &str) -> String {
        let mail = self
            .wait_for(&format!("confirming {addr}"), |m| {
                m.contains(&format!("To: {addr}")) && m.contains("/email/confirm/")
            })
            .await;
        let link = link_in(&mail, "/email/confirm/").expect("a confirmation link");
        let res = reqwest::get(&link).await.expect("open the link");
        assert!(
            res.status().is_success(),
            "confirm {addr}: {}",
            res.status()
        );
        link
    }
}

/// The first `http…{path}{token}` URL in a raw message (unfolding headers and soft breaks).
pub fn link_in(raw: &str, path: &str) -> Option<String> {
    let flat = raw
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("\r\n ", "")
        .replace("\n ", "");
    let at = flat.find(path)?;
    let start = flat[..at].rfind("http")?;
    let token: String = flat[at + path.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(format!("{}{token}", &flat[start..at + path.len()]))
}

/// The first code of the form `XXXXX-XXXXX` (base32: `A-Z`, `2-7`) in a raw message.
pub fn code_in(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let is = |c: u8| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c);
    (0..b.len().saturating_sub(10)).find_map(|i| {
        let w = &b[i..i + 11];
        let edge = |j: Option<&u8>| !j.is_some_and(|c| c.is_ascii_alphanumeric());
        (w[..5].iter().all(|c| is(*c))
            && w[5] == b'-'
            && w[6..].iter().all(|c| is(*c))
            && edge(i.checked_sub(1).and_then(|k| b.get(k)))
            && edge(b.get(i + 11)))
        .then(|| String::from_utf8_lossy(w).into_owned())
    })
}
