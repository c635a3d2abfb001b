//! Spaces benchmark: a space with 2,000 members and 50,000 posts, built through the service
//! layer on a temporary directory; then
//! - channel feed page latency: 200 `social.hearth.feed.getChannel` requests (50 threads a
//!   page) served through the router, each with a freshly minted service JWT from a real
//!   did:plc member (signature checked, DID document from a local PLC directory);
//! - post fan-out: 100 announcements, each notifying all 2,000 members (the worst case), timed
//!   end to end through the service (gate, insert, fan-out, commit with fsync).
//!
//! Run: `cargo run --release -p hearth-spaces --example spaces_bench`
//! (`SPACES_BENCH_POSTS` / `SPACES_BENCH_MEMBERS` change the sizes; `SPACES_BENCH_KEEP=<dir>`
//! keeps the data set there for `hearth-web`'s `channel_page_bench`.)

use atproto::identity::{DidResolver, DidResolverConfig};
use axum::body::Body;
use axum::http::Request;
use hearth_spaces::ops::posts::CreatePost;
use hearth_spaces::ops::spaces::CreateSpace;
use hearth_spaces::ratelimit::Limits;
use hearth_spaces::{Spaces, SpacesConfig};
use hearth_testkit::{PlcIdentity, TestPlc};
use hearth_xrpc::auth::{Audience, REPLAY_SCHEMA, ReplayCache, ServiceAuth};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const PORT: u16 = 2584;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let members = env_usize("SPACES_BENCH_MEMBERS", 2000);
    let posts = env_usize("SPACES_BENCH_POSTS", 50_000);
    let tmp = tempfile::tempdir()?;
    // SPACES_BENCH_KEEP=<dir>: the data set is built there and left, with `dataset.json` naming
    // the space, the discussion channel and a member, for the web app's channel-page bench.
    let kept = std::env::var_os("SPACES_BENCH_KEEP").map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| tmp.path().join("appview"));
    std::fs::create_dir_all(&dir)?;
    let authority = format!("did:web:localhost%3A{PORT}");

    // A real identity for the reader, on a local PLC directory.
    let directory = TestPlc::spawn()?;
    let plc = directory.url();
    let PlcIdentity {
        did: reader, key, ..
    } = PlcIdentity::register(plc, "reader.test", "http://localhost:1", &[]).await;

    // ---- build the space through the service (no rate limits for the bulk load) ----
    let t = Instant::now();
    let spaces = Spaces::open(SpacesConfig {
        dir: dir.clone(),
        authority: authority.clone(),
        public_url: format!("http://localhost:{PORT}"),
        smtp_url: None,
        smtp_from: None,
        limits: Limits {
            did_burst: 1e12,
            did_rate: 1e12,
            write_burst: 1e12,
            write_rate: 1e12,
            space_burst: 1e12,
            space_rate: 1e12,
            ..Limits::default()
        },
        images_bucket: None,
    })?;
    let owner = "did:plc:benchowner00000000000000";
    let created = spaces
        .create_space(
            owner,
            CreateSpace {
                name: "Bench".into(),
                description: None,
                join_policy: "invite".into(),
                listed: None,
                join_question: None,
                default_channels: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let space = created.space.uri.clone();
    let channel = |kind: &str| {
        created
            .channels
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.uri.clone())
            .unwrap_or_default()
    };
    let (announcements, discussion, questions) = (
        channel("announcements"),
        channel("discussion"),
        channel("questions"),
    );
    let token = spaces
        .create_invite(
            owner,
            hearth_spaces::ops::members::CreateInvite {
                space: space.clone(),
                role: None,
                // Invites default to 50 uses; this one admits the whole data set.
                max_uses: Some(i64::try_from(members)?),
                expires_in_hours: None,
                invitee: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .token;
    let mut dids: Vec<String> = (1..members)
        .map(|i| format!("did:plc:benchmember{i:013}"))
        .collect();
    dids.push(reader.clone());
    for chunk in dids.chunks(256) {
        let joins = chunk.iter().map(|d| spaces.accept_invite(d, &token));
        for r in futures::future::join_all(joins).await {
            r.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let built_members = t.elapsed();
    let t = Instant::now();
    let mut n = 0usize;
    while n < posts {
        let batch = (posts - n).min(512);
        let jobs = (n..n + batch).map(|i| {
            let author = &dids[i % dids.len()];
            let ch = if i % 10 == 0 { &questions } else { &discussion };
            spaces.create_post(
                author,
                CreatePost {
                    channel: Some(ch.clone()),
                    text: format!(
                        "Post number {i}: a few words about the next meeting and who brings what."
                    ),
                    facets: None,
                    images: None,
                    reply_to: None,
                },
            )
        });
        for r in futures::future::join_all(jobs).await {
            r.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        n += batch;
    }
    let built_posts = t.elapsed();
    println!(
        "built: {members} members in {:.1} s, {posts} posts in {:.1} s",
        built_members.as_secs_f64(),
        built_posts.as_secs_f64()
    );

    // ---- fan-out: announcements to every member ----
    let mut fanout = Vec::with_capacity(100);
    for i in 0..100 {
        let t = Instant::now();
        spaces
            .create_post(
                owner,
                CreatePost {
                    channel: Some(announcements.clone()),
                    text: format!("Announcement {i}"),
                    facets: None,
                    images: None,
                    reply_to: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        fanout.push(t.elapsed());
    }
    let notified = spaces
        .db
        .readers
        .read(|c| {
            c.query_row(
                "SELECT count(*) FROM notification WHERE reason = 'announcement'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(hearth_db::DbError::from)
        })
        .await?;
    fanout.sort();

    // ---- the feed, through the router, with real service JWTs ----
    let dids = DidResolver::new(DidResolverConfig {
        plc_url: plc.to_owned(),
        insecure_did_web: true,
        ..DidResolverConfig::default()
    })?;
    let used: hearth_db::Db<()> =
        hearth_db::Db::open(&dir.join("tokens.sqlite"), &[REPLAY_SCHEMA], 1, |_| Ok(()))?;
    let auth = ServiceAuth::new(
        authority.clone(),
        Arc::new(dids),
        |_| Audience::Service(&[hearth_lexicons::SERVICE_ID]),
        ReplayCache::load(&used)?,
    );
    if let Some(kept) = &kept {
        let dataset =
            serde_json::json!({ "space": space, "channel": discussion, "member": reader });
        std::fs::write(kept.join("dataset.json"), dataset.to_string())?;
    }
    let app = hearth_spaces::router(spaces, auth);
    let uri = format!(
        "/xrpc/social.hearth.feed.getChannel?channel={}",
        hearth_spaces::store::form_encode(&discussion)
    );
    let request = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let jwt = atproto::auth::mint(
            &key,
            &reader,
            &format!("{authority}#hearth_appview"),
            Some("social.hearth.feed.getChannel"),
            now,
            60,
        );
        Request::get(&uri)
            .header("authorization", format!("Bearer {jwt}"))
            .body(Body::empty())
    };
    // Warm up: the DID document is fetched once, then cached.
    for _ in 0..5 {
        let res = app.clone().oneshot(request()?).await?;
        anyhow::ensure!(res.status().is_success(), "feed: {}", res.status());
    }
    let mut feed = Vec::with_capacity(200);
    let mut cursor_pages = 0;
    for i in 0..200 {
        let req = request()?;
        let t = Instant::now();
        let res = app.clone().oneshot(req).await?;
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await?;
        feed.push(t.elapsed());
        anyhow::ensure!(status.is_success(), "feed: {status}");
        if i == 0 {
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            cursor_pages = v["posts"].as_array().map(Vec::len).unwrap_or(0);
        }
    }
    feed.sort();
    println!("spaces bench: {members} members, {posts} posts");
    println!(
        "  feed.getChannel ({cursor_pages} threads a page, router + service JWT): p50 {}  p99 {}  (200 requests)",
        ms(pct(&feed, 0.5)),
        ms(pct(&feed, 0.99))
    );
    println!(
        "  announcement fan-out to {} members (post + notifications + commit): p50 {}  p99 {}  max {}  (100 posts, {notified} notifications)",
        members,
        ms(pct(&fanout, 0.5)),
        ms(pct(&fanout, 0.99)),
        ms(fanout[fanout.len() - 1])
    );
    Ok(())
}
