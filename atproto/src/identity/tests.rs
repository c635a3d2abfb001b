use super::*;
use crate::crypto::{Algorithm, Keypair};
use crate::syntax::{Did, Handle};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn doc_json(did: &str, key: &Keypair) -> serde_json::Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "alsoKnownAs": ["https://elsewhere.example", "at://alice.test", "at://second.test"],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.public().multikey()
        }],
        "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
             "serviceEndpoint": "https://pds.example.com"},
            {"id": format!("{did}#atproto_labeler"), "type": "AtprotoLabeler",
             "serviceEndpoint": "https://labeler.example.com"},
            {"id": "#odd", "type": ["A", "B"], "serviceEndpoint": {"origins": ["x"]}}
        ],
        "somethingElse": {"ignored": true}
    })
}

#[test]
fn document_lookups() {
    let key = Keypair::generate(Algorithm::K256);
    let did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
    let doc: DidDocument = serde_json::from_value(doc_json(did, &key)).unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "alice.test");
    assert_eq!(doc.pds_endpoint(), Some("https://pds.example.com"));
    for id in [
        "#atproto_labeler",
        "atproto_labeler",
        "did:plc:ewvi7nxzyoun6zhxrhs64oiz#atproto_labeler",
    ] {
        assert_eq!(
            doc.service_endpoint(id),
            Some("https://labeler.example.com"),
            "{id}"
        );
    }
    assert_eq!(doc.service_endpoint("#bsky_appview"), None);
    assert_eq!(doc.service("#odd").unwrap().kind, "A");
    assert_eq!(doc.service_endpoint("#odd"), None);
    assert_eq!(doc.signing_key().unwrap(), key.public());

    // A service named for another DID does not count.
    let mut other = doc.clone();
    other.service[1].id = "did:plc:someoneelse#atproto_labeler".into();
    assert_eq!(other.service_endpoint("#atproto_labeler"), None);
    // The PDS entry must have the PDS type.
    other.service[0].kind = "Other".into();
    assert_eq!(other.pds_endpoint(), None);
    other.verification_method.clear();
    assert!(matches!(
        other.signing_key(),
        Err(IdentityError::NoSigningKey)
    ));

    // Minimal documents load; a string @context is accepted.
    let min: DidDocument =
        serde_json::from_value(json!({"id": did, "@context": "https://www.w3.org/ns/did/v1"}))
            .unwrap();
    assert_eq!(min.context.len(), 1);
    assert!(min.handle().is_none() && min.pds_endpoint().is_none());
    assert!(serde_json::from_value::<DidDocument>(json!({"id": "nope"})).is_err());
}

#[test]
fn legacy_verification_method_types() {
    let key = Keypair::generate(Algorithm::P256);
    let point = multibase::encode(multibase::Base::Base58Btc, key.public().to_compressed());
    let doc: DidDocument = serde_json::from_value(json!({
        "id": "did:web:example.com",
        "verificationMethod": [{"id": "#atproto", "type": "EcdsaSecp256r1VerificationKey2019",
            "controller": "did:web:example.com", "publicKeyMultibase": point}]
    }))
    .unwrap();
    assert_eq!(doc.signing_key().unwrap(), key.public());
}

#[test]
fn did_web_urls() {
    let url = |s: &str, insecure| did_web_url(&s.parse::<Did>().unwrap(), insecure);
    assert_eq!(
        url("did:web:example.com", false).unwrap(),
        "https://example.com/.well-known/did.json"
    );
    assert_eq!(
        url("did:web:localhost%3A8080", false).unwrap(),
        "http://localhost:8080/.well-known/did.json"
    );
    assert_eq!(
        url("did:web:example.com%3a8443", false).unwrap(),
        "https://example.com:8443/.well-known/did.json"
    );
    assert_eq!(
        url("did:web:example.com", true).unwrap(),
        "http://example.com/.well-known/did.json"
    );
    assert!(url("did:web:example.com:user:alice", false).is_err());
    assert!(url("did:web:example.com%3Aport", false).is_err());
    assert!(url("did:web:exa%20mple.com", false).is_err());
    // Hosts a URL parser reads as an IPv4 address are refused outside development: the
    // connection (and its TLS handshake) would reach them before any check of the peer.
    for ip in [
        "did:web:10.0.0.5%3A6379",
        "did:web:127.0.0.1",
        "did:web:167772165",
        "did:web:0xa.0.0.5",
        "did:web:169.254.169.254",
    ] {
        assert!(
            matches!(url(ip, false), Err(IdentityError::InvalidDidWeb(_))),
            "{ip}"
        );
        assert!(url(ip, true).is_ok(), "{ip} in development");
    }
    assert!(matches!(
        url("did:plc:ewvi7nxzyoun6zhxrhs64oiz", false),
        Err(IdentityError::UnsupportedMethod(_))
    ));
}

/// A tiny HTTP/1.1 server answering GETs from a path → (status, body) map built from its own
/// base URL, counting requests. Enough for a client test without a server framework here.
async fn serve(
    routes: impl FnOnce(&str) -> HashMap<String, (u16, String)>,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = routes(&base);
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(m) => n += m,
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&buf[..n]);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = routes
                    .get(&path)
                    .cloned()
                    .unwrap_or((404, "not found".into()));
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (base, hits)
}

fn port(base: &str) -> &str {
    base.rsplit(':').next().unwrap()
}

fn config(plc: &str) -> DidResolverConfig {
    DidResolverConfig {
        plc_url: plc.to_owned(),
        timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

#[tokio::test]
async fn resolves_plc_with_cache_and_refresh() {
    let key = Keypair::generate(Algorithm::K256);
    let did: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse().unwrap();
    let liar: Did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".parse().unwrap();
    let gone: Did = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb".parse().unwrap();
    let routes = HashMap::from([
        (
            format!("/{did}"),
            (200, doc_json(did.as_str(), &key).to_string()),
        ),
        (
            format!("/{liar}"),
            (200, doc_json(did.as_str(), &key).to_string()),
        ),
        (format!("/{gone}"), (410, "{}".into())),
    ]);
    let (base, hits) = serve(|_| routes).await;
    let resolver = DidResolver::new(config(&base)).unwrap();

    let doc = resolver.resolve(&did).await.unwrap();
    assert_eq!(doc.signing_key().unwrap(), key.public());
    resolver.resolve(&did).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1, "second resolve is cached");
    resolver.refresh(&did).await.unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "refresh goes to the network"
    );

    assert!(matches!(
        resolver.resolve(&liar).await,
        Err(IdentityError::DidMismatch { .. })
    ));
    assert!(matches!(
        resolver.resolve(&gone).await,
        Err(IdentityError::DidDeactivated(_))
    ));
    let missing: Did = "did:plc:cccccccccccccccccccccccc".parse().unwrap();
    assert!(matches!(
        resolver.resolve(&missing).await,
        Err(IdentityError::DidNotFound(_))
    ));
    let unsupported: Did = "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
        .parse()
        .unwrap();
    assert!(matches!(
        resolver.resolve(&unsupported).await,
        Err(IdentityError::UnsupportedMethod(_))
    ));
}

#[tokio::test]
async fn resolves_did_web_over_localhost() {
    let key = Keypair::generate(Algorithm::P256);
    let (base, _) = serve(|base| {
        let did = format!("did:web:localhost%3A{}", port(base));
        HashMap::from([(
            "/.well-known/did.json".to_owned(),
            (200, doc_json(&did, &key).to_string()),
        )])
    })
    .await;
    let did: Did = format!("did:web:localhost%3A{}", port(&base))
        .parse()
        .unwrap();
    let resolver = DidResolver::new(config("http://127.0.0.1:9")).unwrap();
    let doc = resolver.resolve(&did).await.unwrap();
    assert_eq!(doc.id, did);
    assert_eq!(doc.signing_key().unwrap(), key.public());
}

#[tokio::test]
async fn resolves_handles_through_overrides() {
    let did: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse().unwrap();
    let routes = HashMap::from([(
        "/.well-known/atproto-did".to_owned(),
        (200, format!("{did}\n")),
    )]);
    let (base, _) = serve(|_| routes).await;
    let (empty, _) = serve(|_| HashMap::new()).await;
    let resolver = HandleResolver::new(Duration::from_secs(5))
        .unwrap()
        .without_dns()
        .with_well_known_base("Alice.Test", &base)
        .with_well_known_base("nobody.test", &empty)
        .with_static_did("bob.test", did.clone());
    let handle = |s: &str| s.parse::<Handle>().unwrap();
    assert_eq!(resolver.resolve(&handle("alice.test")).await.unwrap(), did);
    assert_eq!(resolver.resolve(&handle("bob.test")).await.unwrap(), did);
    assert!(matches!(
        resolver.resolve(&handle("nobody.test")).await,
        Err(IdentityError::HandleNotFound(_))
    ));
    assert!(matches!(
        resolver.resolve(&handle("alice.local")).await,
        Err(IdentityError::DisallowedTld(_))
    ));
}

#[tokio::test]
async fn asks_a_resolver_service_first_and_falls_back() {
    let did: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse().unwrap();
    let routes = HashMap::from([
        (
            "/xrpc/com.atproto.identity.resolveHandle?handle=carol.test".to_owned(),
            (200, format!(r#"{{"did":"{did}"}}"#)),
        ),
        (
            "/xrpc/com.atproto.identity.resolveHandle?handle=junk.test".to_owned(),
            (200, r#"{"did":"not a did"}"#.to_owned()),
        ),
    ]);
    let (service, hits) = serve(|_| routes).await;
    // A second service, asked only when the first has no answer (two local PDSes in development).
    let dave: Did = "did:plc:dddddddddddddddddddddddd".parse().unwrap();
    let second_routes = HashMap::from([(
        "/xrpc/com.atproto.identity.resolveHandle?handle=dave.test".to_owned(),
        (200, format!(r#"{{"did":"{dave}"}}"#)),
    )]);
    let (second, second_hits) = serve(|_| second_routes).await;
    let resolver = HandleResolver::new(Duration::from_secs(5))
        .unwrap()
        .without_dns()
        .with_xrpc_resolver(&format!("{service}/"))
        .with_xrpc_resolver(&second);
    let handle = |s: &str| s.parse::<Handle>().unwrap();
    assert_eq!(resolver.resolve(&handle("carol.test")).await.unwrap(), did);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(second_hits.load(Ordering::SeqCst), 0, "the first answered");
    assert_eq!(resolver.resolve(&handle("dave.test")).await.unwrap(), dave);
    assert_eq!(hits.load(Ordering::SeqCst), 2, "the first was asked first");
    // No answer (404) and a malformed one are not a DID: resolution goes on, and finds nothing.
    for h in ["nobody.test", "junk.test"] {
        assert!(resolver.resolve(&handle(h)).await.is_err(), "{h}");
    }
}

/// A forged token or event can name any DID: a failed look-up is remembered for a while, so
/// naming the same unknown DID again costs the directory nothing, and a bad signature does not
/// send us to the directory while the cached document is fresh.
#[tokio::test]
async fn failed_lookups_and_fresh_refreshes_are_not_fetched_again() {
    let key = Keypair::generate(Algorithm::K256);
    let did: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse().unwrap();
    let routes = HashMap::from([(
        format!("/{did}"),
        (200, doc_json(did.as_str(), &key).to_string()),
    )]);
    let (base, hits) = serve(|_| routes).await;
    let resolver = DidResolver::new(config(&base)).unwrap();

    let missing: Did = "did:plc:cccccccccccccccccccccccc".parse().unwrap();
    for _ in 0..5 {
        assert!(matches!(
            resolver.resolve(&missing).await,
            Err(IdentityError::DidNotFound(_))
        ));
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "one fetch for five look-ups"
    );

    resolver.resolve(&did).await.unwrap();
    for _ in 0..5 {
        resolver
            .refresh_stale(&did, Duration::from_secs(60))
            .await
            .unwrap();
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "fresh documents are not refetched"
    );
    resolver.refresh_stale(&did, Duration::ZERO).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 3, "a stale one is");
}

/// Failures are remembered only for `failure_ttl`.
#[tokio::test]
async fn failed_lookups_are_retried_after_their_ttl() {
    let (base, hits) = serve(|_| HashMap::new()).await;
    let resolver = DidResolver::new(DidResolverConfig {
        failure_ttl: Duration::from_millis(50),
        ..config(&base)
    })
    .unwrap();
    let missing: Did = "did:plc:cccccccccccccccccccccccc".parse().unwrap();
    assert!(resolver.resolve(&missing).await.is_err());
    assert!(resolver.resolve(&missing).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(resolver.resolve(&missing).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}
