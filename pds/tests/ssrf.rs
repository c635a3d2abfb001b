//! The PDS proxy cannot be turned on the machine it runs on or its networks (issue 14, item 1):
//! proxying needs a signed-in user, a DID document naming a loopback or private address gets
//! nothing from it outside development, and errors do not tell the caller what is behind a
//! URL it named.

mod common;

use atproto::crypto::{Algorithm, Keypair};
use atproto::plc::{Operation, Service, create_genesis};
use common::{Options, World};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "TOPSECRET-internal-answer";

/// A plain-http server on 127.0.0.1 standing for an internal service: answers every request
/// with [`SECRET`] and counts the connections it accepted.
struct Internal {
    port: u16,
    connections: Arc<AtomicUsize>,
}

async fn internal(answer: Option<String>) -> Internal {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let answer = answer.unwrap_or_else(|| {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n\"{SECRET}\"",
            SECRET.len() + 2
        )
    });
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                    if read == buf.len() {
                        return;
                    }
                }
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    Internal { port, connections }
}

/// Registers a did:plc whose `#svc` service is `endpoint`.
async fn did_naming(plc: &str, endpoint: &str) -> String {
    let key = Keypair::generate(Algorithm::K256);
    let rotation = Keypair::generate(Algorithm::K256);
    let mut op = Operation::atproto(
        &key.public(),
        "svc.test",
        "https://pds.example.com",
        vec![rotation.public().did_key()],
        None,
    );
    op.services.insert(
        "svc".to_owned(),
        Service {
            kind: "Custom".to_owned(),
            endpoint: endpoint.to_owned(),
        },
    );
    let (did, op) = create_genesis(op, &rotation).expect("genesis");
    let res = hearth_testkit::client()
        .post(format!("{plc}/{did}"))
        .json(&op.to_json())
        .send()
        .await
        .expect("plc");
    assert!(
        res.status().is_success(),
        "PLC took the document for {endpoint}"
    );
    did
}

/// GET through the proxy naming `did#svc`.
async fn proxied(w: &World, token: Option<&str>, did: &str) -> (u16, String) {
    let mut req = w
        .pds
        .http
        .get(w.pds.xrpc("com.example.internal.read?x=1"))
        .header("atproto-proxy", format!("{did}#svc"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("GET");
    let status = res.status().as_u16();
    (status, res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_requires_auth() {
    // Development mode: loopback is allowed, so only the missing token stops the call.
    let w = World::new(Options::default());
    let a = w.pds.create_account("alice").await;
    let svc = internal(None).await;
    let did = did_naming(w.plc.url(), &format!("http://127.0.0.1:{}", svc.port)).await;
    let (status, text) = proxied(&w, None, &did).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("AuthenticationRequired"), "{text}");
    assert!(!text.contains(SECRET));
    assert_eq!(
        svc.connections.load(Ordering::SeqCst),
        0,
        "nothing was called"
    );
    // A malformed header is still refused as such, before any lookup.
    let res = w
        .pds
        .http
        .get(w.pds.xrpc("com.example.internal.read"))
        .header("atproto-proxy", "not-a-did#svc")
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status().as_u16(), 400);
    // Signed in, the same call goes through: the refusal above was the token's absence.
    let (status, text) = proxied(&w, Some(&a.access), &did).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_refuses_private_addresses() {
    let w = World::new(Options {
        dev: false,
        ..Options::default()
    });
    let a = w.pds.create_account("alice").await;
    let svc = internal(None).await;
    let p = svc.port;
    // A did:web host that redirects to the internal service.
    let redirector = internal(Some(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{p}/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )))
    .await;
    let mut dids = Vec::new();
    for endpoint in [
        format!("http://127.0.0.1:{p}"),
        format!("https://127.0.0.1:{p}"),
        format!("https://[::ffff:127.0.0.1]:{p}"),
        format!("https://0.0.0.0:{p}"),
        // DNS names that resolve to loopback.
        format!("https://localhost:{p}"),
        format!("https://localhost.:{p}"),
        "https://10.255.255.1:8443".to_owned(),
        "https://169.254.169.254".to_owned(),
    ] {
        dids.push((endpoint.clone(), did_naming(w.plc.url(), &endpoint).await));
    }
    dids.push((
        "did:web on loopback".into(),
        format!("did:web:localhost%3A{p}"),
    ));
    dids.push((
        "did:web redirecting to loopback".into(),
        format!("did:web:localhost%3A{}", redirector.port),
    ));
    for (what, did) in &dids {
        let (status, text) = proxied(&w, Some(&a.access), did).await;
        assert!(status >= 400, "{what}: {status} {text}");
        assert!(!text.contains(SECRET), "{what}: {text}");
    }
    assert_eq!(
        svc.connections.load(Ordering::SeqCst),
        0,
        "no connection reached the internal service"
    );
    assert_eq!(redirector.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_errors_do_not_echo_internal_urls() {
    let w = World::new(Options {
        dev: false,
        ..Options::default()
    });
    let a = w.pds.create_account("alice").await;
    let open = internal(None).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut unreachable = Vec::new();
    for endpoint in [
        format!("https://127.0.0.1:{}", open.port),
        format!("https://127.0.0.1:{closed}"),
        "https://10.0.0.1:8443".to_owned(),
        "https://internal-host.invalid:8443".to_owned(),
    ] {
        let did = did_naming(w.plc.url(), &endpoint).await;
        let (status, text) = proxied(&w, Some(&a.access), &did).await;
        for leak in ["127.0.0.1", "10.0.0.1", "internal-host", "8443", "http"] {
            assert!(!text.contains(leak), "{endpoint}: {text}");
        }
        assert!(!text.contains(&open.port.to_string()) && !text.contains(&closed.to_string()));
        unreachable.push((status, text));
    }
    // An open port, a closed one, a private network and a name that does not resolve all
    // answer the same: nothing to scan with.
    assert!(
        unreachable.windows(2).all(|p| p[0] == p[1]),
        "{unreachable:?}"
    );
    // A did:web that cannot be fetched: the document's URL is not in the error.
    for did in [
        format!("did:web:localhost%3A{closed}"),
        format!("did:web:localhost%3A{}", open.port),
    ] {
        let (status, text) = proxied(&w, Some(&a.access), &did).await;
        assert_eq!(status, 400, "{text}");
        for leak in ["http", ".well-known", "127.0.0.1", "error sending"] {
            assert!(!text.contains(leak), "{did}: {text}");
        }
    }
    // A serviceEndpoint with a fragment or query cannot swallow or rewrite the path.
    for endpoint in ["https://svc.example#", "https://svc.example/?a=b"] {
        let did = did_naming(w.plc.url(), endpoint).await;
        let (status, text) = proxied(&w, Some(&a.access), &did).await;
        assert_eq!(status, 400, "{endpoint}: {text}");
    }
    assert_eq!(open.connections.load(Ordering::SeqCst), 0);
}
