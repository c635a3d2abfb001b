//! Request workloads: a fixed number of requests spread over a fixed number of concurrent
//! workers, each request timed from send to the last byte of the response.

use crate::sys;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A latency histogram in microseconds, 1 µs to 10 min, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// What a workload measured.
pub struct Outcome<T> {
    /// (request index, what it returned), successes only.
    pub results: Vec<(usize, T)>,
    pub hist: Histogram<u64>,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    pub client_cpu: f64,
    pub server_cpu: f64,
}

impl<T> Outcome<T> {
    pub fn ok(&self) -> usize {
        self.results.len()
    }

    pub fn per_sec(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p_ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} ok, {} errors in {:.2} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms; CPU: server {:.1} s, client {:.1} s",
            self.ok(),
            self.errors,
            self.elapsed.as_secs_f64(),
            self.per_sec(),
            self.p_ms(0.5),
            self.p_ms(0.99),
            self.hist.max() as f64 / 1000.0,
            self.server_cpu,
            self.client_cpu,
        );
        if let Some(e) = &self.first_error {
            s.push_str(&format!("; first error: {e}"));
        }
        s
    }
}

/// Runs `total` calls of `f(i)` over `workers` concurrent tasks; each task takes the next index
/// as soon as its previous call completes.
pub async fn drive<T, F, Fut>(workers: usize, total: usize, server_pid: u32, f: F) -> Outcome<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let (client0, server0) = (
        sys::own_cpu_secs(),
        sys::cpu_secs(server_pid).unwrap_or(0.0),
    );
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (f, next) = (f.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = histogram();
            let mut results = Vec::new();
            let (mut errors, mut first_error) = (0usize, None::<String>);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                match f(i).await {
                    Ok(v) => {
                        hist.saturating_record(micros(t.elapsed()));
                        results.push((i, v));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            (hist, results, errors, first_error)
        }));
    }
    let mut out = Outcome {
        results: Vec::with_capacity(total),
        hist: histogram(),
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
        client_cpu: 0.0,
        server_cpu: 0.0,
    };
    for t in tasks {
        match t.await {
            Ok((hist, results, errors, first_error)) => {
                out.hist.add(hist).expect("same histogram bounds");
                out.results.extend(results);
                out.errors += errors;
                if out.first_error.is_none() {
                    out.first_error = first_error;
                }
            }
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("worker: {e}"));
            }
        }
    }
    out.elapsed = start.elapsed();
    out.client_cpu = sys::own_cpu_secs() - client0;
    out.server_cpu = sys::cpu_secs(server_pid).unwrap_or(0.0) - server0;
    out.results.sort_by_key(|(i, _)| *i);
    out
}

/// The client every workload shares: HTTP/1.1 keep-alive, no proxy, Nagle off.
pub fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(120))
        .build()?)
}

/// Sends a request and returns the body, failing on any status but 200.
pub async fn ok_body(req: reqwest::RequestBuilder) -> Result<Bytes> {
    let resp = req.send().await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if status != reqwest::StatusCode::OK {
        bail!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(body)
}

pub struct Account {
    pub did: String,
    pub jwt: String,
}

/// Creates an account (handle `<handle>`) and returns its DID and access token.
pub async fn create_account(http: &reqwest::Client, base: &str, handle: &str) -> Result<Account> {
    let body = ok_body(
        http.post(format!("{base}/xrpc/com.atproto.server.createAccount"))
            .json(&json!({
                "handle": handle,
                "email": format!("{}@example.com", handle.replace('.', "-")),
                "password": "bench-password",
            })),
    )
    .await
    .with_context(|| format!("createAccount {handle}"))?;
    let v: Value = serde_json::from_slice(&body)?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("createAccount response lacks {k}"))
    };
    Ok(Account {
        did: field("did")?,
        jwt: field("accessJwt")?,
    })
}

/// A post record as `app.bsky.feed.post` defines it.
pub fn post(text: &str, created_at: &str) -> Value {
    json!({ "$type": "app.bsky.feed.post", "text": text, "createdAt": created_at })
}

/// A created record: its URI and CID, as the server acknowledged them.
pub struct Created {
    pub uri: String,
    pub cid: String,
    pub acked: Instant,
}

/// `com.atproto.repo.createRecord` of one post.
pub async fn create_post(
    http: &reqwest::Client,
    base: &str,
    account: &Account,
    text: &str,
    created_at: &str,
) -> Result<Created> {
    let body = ok_body(
        http.post(format!("{base}/xrpc/com.atproto.repo.createRecord"))
            .bearer_auth(&account.jwt)
            .json(&json!({
                "repo": account.did,
                "collection": "app.bsky.feed.post",
                "record": post(text, created_at),
            })),
    )
    .await?;
    let acked = Instant::now();
    let v: Value = serde_json::from_slice(&body)?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("createRecord response lacks {k}"))
    };
    Ok(Created {
        uri: s("uri")?,
        cid: s("cid")?,
        acked,
    })
}

/// The `com.atproto.repo.getRecord` URL for an `at://` URI.
pub fn get_record_url(base: &str, uri: &str) -> Result<String> {
    let rest = uri.strip_prefix("at://").context("not an at:// URI")?;
    let mut parts = rest.splitn(3, '/');
    let (Some(did), Some(collection), Some(rkey)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("malformed record URI {uri}");
    };
    Ok(format!(
        "{base}/xrpc/com.atproto.repo.getRecord?repo={did}&collection={collection}&rkey={rkey}"
    ))
}
