//! The member pages' server time, on the spaces benchmark's data set (a space with 2,000
//! members and 50,000 posts, built by `spaces_bench` with `SPACES_BENCH_KEEP=<dir>`): 200
//! requests each for the channel page (the bar), the space page, a thread and the home
//! page, through the web app's router with a signed-in member's session cookie: the session
//! looked up, the gate and the reads through the spaces service, the page rendered.
//! `scripts/bench --spaces` runs both.
//!
//! Run: `cargo run --release -p hearth-web --example channel_page_bench -- <dir>`

use anyhow::Context;
use atproto::identity::{DidResolver, DidResolverConfig, HandleResolver};
use axum::body::Body;
use axum::http::{Request, header};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PORT: u16 = 2584;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: channel_page_bench <dir kept by spaces_bench>")?,
    );
    let dataset: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("dataset.json"))
            .context("dataset.json: run spaces_bench with SPACES_BENCH_KEEP first")?,
    )?;
    let field = |k: &str| dataset[k].as_str().map(str::to_owned).context(k.to_owned());
    let (space, channel, member) = (field("space")?, field("channel")?, field("member")?);

    let spaces = hearth_spaces::Spaces::open(hearth_spaces::SpacesConfig {
        dir: dir.clone(),
        authority: format!("did:web:localhost%3A{PORT}"),
        public_url: format!("http://localhost:{PORT}"),
        smtp_url: None,
        smtp_from: None,
        limits: Default::default(),
        images_bucket: None,
    })?;
    let net = hearth_net::Config::new(true, "hearth-bench");
    let web = hearth_web::Web::open(
        hearth_web::WebConfig {
            dir: dir.clone(),
            public_url: format!("http://localhost:{PORT}"),
            dev: true,
        },
        hearth_web::Deps {
            spaces,
            dids: Arc::new(DidResolver::new(DidResolverConfig::default())?),
            handles: Arc::new(HandleResolver::new(Duration::from_secs(5))?),
            remote: hearth_net::RemoteClient::new(&net)?,
        },
    )?;
    let created = web.sessions.create(&member, "member.test").await?;
    let cookie = created
        .set_cookie
        .to_str()?
        .split(';')
        .next()
        .context("a session cookie")?
        .to_owned();
    // A thread of the channel, for the thread page.
    let thread = web
        .spaces
        .channel_feed(&member, &channel, 1, None)
        .await?
        .posts
        .first()
        .map(|p| p.uri.clone())
        .context("a post in the channel")?;
    let app = hearth_web::router(web);
    let path = hearth_web::pages::path_of(&channel);
    anyhow::ensure!(path != "/", "no web path for {channel} (space {space})");
    let pages = [
        (
            "channel page",
            path.clone(),
            "session + gate + feed + render",
        ),
        (
            "space page",
            hearth_web::pages::path_of(&space),
            "session + gate + pinned and latest + render",
        ),
        (
            "thread page",
            hearth_web::pages::path_of(&thread),
            "session + gate + thread + render",
        ),
        (
            "home page",
            "/".to_owned(),
            "session + inbox + my spaces + render",
        ),
    ];
    for (name, path, what) in pages {
        let (bytes, times) = measure(&app, &path, &cookie).await?;
        println!(
            "  {name} GET {path} (signed-in member, {what}, {bytes} bytes of HTML): p50 {}  p99 {}  (200 requests)",
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99))
        );
    }
    Ok(())
}

/// 5 warm-up requests, then 200 timed: the page's size and the sorted times.
async fn measure(
    app: &axum::Router,
    path: &str,
    cookie: &str,
) -> anyhow::Result<(usize, Vec<Duration>)> {
    let request = || {
        Request::get(path)
            .header(header::HOST, format!("127.0.0.1:{PORT}"))
            .header(header::COOKIE, cookie)
            .body(Body::empty())
    };
    let mut bytes = 0;
    for _ in 0..5 {
        let res = app.clone().oneshot(request()?).await?;
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
        anyhow::ensure!(status.is_success(), "{path}: {status}");
        bytes = body.len();
    }
    let mut times = Vec::with_capacity(200);
    for _ in 0..200 {
        let req = request()?;
        let t = Instant::now();
        let res = app.clone().oneshot(req).await?;
        let status = res.status();
        let _ = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
        times.push(t.elapsed());
        anyhow::ensure!(status.is_success(), "{path}: {status}");
    }
    times.sort();
    Ok((bytes, times))
}
