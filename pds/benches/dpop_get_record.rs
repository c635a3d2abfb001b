//! A DPoP-authenticated `com.atproto.repo.getRecord` against the same call with a legacy
//! access token, on one in-process PDS, one client, sequential requests over keep-alive.
//! Criterion-free: `cargo bench -p hearth-pds --bench dpop_get_record`. Proofs are signed
//! before the clock starts (a client signs its own; the server's work is what is compared):
//! each DPoP request still costs the server a token HMAC, a proof signature check, a nonce
//! check, the replay cache and the scope parse.

#[path = "../tests/common/mod.rs"]
mod common;

use atproto::crypto::{Algorithm, Keypair};
use common::*;
use hearth_oauth::access_token::{self, Claims, Cnf};
use hearth_oauth::dpop;
use hearth_oauth::jwk::Jwk;
use std::time::{Duration, Instant};

const N: usize = 4000;
const ROUNDS: usize = 3;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("bench").await;
    let made = pds
        .create_record(&a, "app.bsky.feed.post", post("measured"))
        .await;
    let rkey = made["uri"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("rkey")
        .to_owned();
    let path = format!(
        "/xrpc/com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey={rkey}",
        a.did
    );
    let url = format!("{}{path}", pds.url);
    let st = pds.state();
    let htu = format!("{}/xrpc/com.atproto.repo.getRecord", st.public_url);
    let http = &pds.http;
    // Per kind of credential: each request's time, and the time of all of them.
    let mut legacy = (Vec::new(), Duration::ZERO);
    let mut oauth: Vec<(Algorithm, Vec<Duration>, Duration)> = Vec::new();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..N {
            let t0 = Instant::now();
            let r = http
                .get(&url)
                .bearer_auth(&a.access)
                .send()
                .await
                .expect("get");
            assert!(r.status().is_success());
            r.bytes().await.expect("body");
            legacy.0.push(t0.elapsed());
        }
        legacy.1 += start.elapsed();
        for (i, alg) in [Algorithm::P256, Algorithm::K256].into_iter().enumerate() {
            let key = Keypair::generate(alg);
            let t = now();
            let token = access_token::sign(
                &st.secrets.jwt_key,
                &Claims {
                    iss: st.public_url.clone(),
                    sub: a.did.clone(),
                    aud: st.service_did.clone(),
                    client_id: "http://localhost".into(),
                    scope: "atproto transition:generic".into(),
                    cnf: Cnf {
                        jkt: Jwk::from_public(&key.public()).thumbprint(),
                    },
                    iat: t,
                    exp: t + 3600,
                    jti: "bench".into(),
                },
            );
            let nonce = st.dpop.nonces.current(now());
            let proofs: Vec<String> = (0..N)
                .map(|_| {
                    dpop::sign(
                        &key,
                        &dpop::ProofRequest {
                            htm: "GET",
                            htu: &htu,
                            now: now(),
                            nonce: Some(&nonce),
                            access_token: Some(&token),
                        },
                    )
                })
                .collect();
            if oauth.len() <= i {
                oauth.push((alg, Vec::new(), Duration::ZERO));
            }
            let start = Instant::now();
            for proof in proofs {
                let t0 = Instant::now();
                let r = http
                    .get(&url)
                    .header("authorization", format!("DPoP {token}"))
                    .header("dpop", proof)
                    .send()
                    .await
                    .expect("get");
                assert!(r.status().is_success(), "{}", r.status());
                r.bytes().await.expect("body");
                oauth[i].1.push(t0.elapsed());
            }
            oauth[i].2 += start.elapsed();
        }
    }
    let per_s = |d: Duration| (N * ROUNDS) as f64 / d.as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let legacy_p50 = p50(legacy.0);
    println!(
        "getRecord, {} sequential requests each, one client",
        N * ROUNDS
    );
    println!(
        "  legacy bearer:  p50 {:.3} ms, {:.0} req/s",
        ms(legacy_p50),
        per_s(legacy.1)
    );
    for (alg, times, total) in oauth {
        let p = p50(times);
        println!(
            "  DPoP {:<7}: p50 {:.3} ms, {:.0} req/s; vs legacy: p50 {:.2}x, throughput {:.2}x",
            alg.jwt_name(),
            ms(p),
            per_s(total),
            ms(p) / ms(legacy_p50),
            per_s(legacy.1) / per_s(total),
        );
    }
}
