use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A plain-http server on 127.0.0.1 that answers every request with `answer` and counts the
/// requests it read (a refused connection is dropped before a request is written).
struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
}

async fn serve(answer: String) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (answer, counted) = (answer.clone(), counted.clone());
            tokio::spawn(async move {
                if !read_request_head(&mut sock).await {
                    return;
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    Server { port, requests }
}

/// Reads up to the end of a request's head; false if the connection ended first.
async fn read_request_head(sock: &mut (impl tokio::io::AsyncRead + Unpin)) -> bool {
    let mut buf = vec![0u8; 4096];
    let mut read = 0;
    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf[read..]).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => read += n,
        }
    }
    true
}

fn ok_answer(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn config() -> Config {
    let mut cfg = Config::new(false, "hearth-net-test");
    cfg.timeout = Duration::from_secs(5);
    cfg.resolve.insert(
        "internal.example".into(),
        vec!["127.0.0.1".parse().unwrap()],
    );
    cfg.resolve.insert(
        "mixed.example".into(),
        vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    );
    cfg
}

/// Plain http allowed (the test servers have no TLS), private addresses refused: the address
/// guard exactly as in production.
fn guarded() -> RemoteClient {
    RemoteClient::build(&config(), true, false).expect("client")
}

fn dev() -> RemoteClient {
    RemoteClient::build(&config(), true, true).expect("client")
}

async fn get(client: &RemoteClient, url: &str) -> Result<Vec<u8>, NetError> {
    let url = client.check(url)?;
    let res = client
        .send(client.request(reqwest::Method::GET, &url)?)
        .await?;
    read_capped(res, 1024).await
}

#[tokio::test]
async fn literal_private_addresses_are_refused() {
    let s = serve(ok_answer("secret")).await;
    let client = guarded();
    for url in [
        format!("http://127.0.0.1:{}/", s.port),
        format!("http://[::ffff:127.0.0.1]:{}/", s.port),
        format!("http://0.0.0.0:{}/", s.port),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.1.2.3/".to_owned(),
        "http://[fd00::1]/".to_owned(),
    ] {
        assert!(
            matches!(get(&client, &url).await, Err(NetError::Forbidden)),
            "{url}"
        );
    }
    // A caller that skips check() (a library given the bare reqwest client) is stopped at
    // connect time: the connection is dropped before the request is written.
    let raw = client
        .reqwest()
        .get(format!("http://127.0.0.1:{}/", s.port))
        .send()
        .await
        .expect_err("refused");
    assert!(matches!(error_of(&raw), NetError::Forbidden), "{raw}");
    assert!(
        !error_of(&raw).to_string().contains("127"),
        "the caller-facing error names no address"
    );
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused() {
    let s = serve(ok_answer("secret")).await;
    let client = guarded();
    for host in [
        "internal.example",
        "localhost",
        "localhost.",
        "mixed.example",
    ] {
        let url = format!("http://{host}:{}/", s.port);
        let got = get(&client, &url).await;
        assert!(matches!(got, Err(NetError::Forbidden)), "{url}: {got:?}");
        let raw = client
            .reqwest()
            .get(&url)
            .send()
            .await
            .expect_err("refused");
        assert!(matches!(error_of(&raw), NetError::Forbidden), "{url}");
    }
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = serve(ok_answer("secret")).await;
    let redirect = serve(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{}/secret\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        target.port
    ))
    .await;
    // Even where loopback is allowed (development), a redirect is an error, not a second
    // request: nothing a remote answer names is fetched without the caller's checks.
    for client in [dev(), guarded()] {
        let url = format!("http://localhost:{}/", redirect.port);
        let got = get(&client, &url).await;
        if client.allow_private {
            assert!(matches!(got, Err(NetError::Redirect)), "{got:?}");
        } else {
            assert!(matches!(got, Err(NetError::Forbidden)), "{got:?}");
        }
    }
    assert_eq!(redirect.requests.load(Ordering::SeqCst), 1);
    assert_eq!(target.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn development_reaches_loopback() {
    let s = serve(ok_answer("hello")).await;
    let got = get(&dev(), &format!("http://localhost:{}/", s.port)).await;
    assert_eq!(got.expect("fetched"), b"hello");
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bodies_are_capped_while_streaming() {
    let big = "x".repeat(5000);
    // Declared length over the cap, and a chunked body with no length that grows past it.
    let declared = serve(ok_answer(&big)).await;
    let chunked = serve(format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    ))
    .await;
    for port in [declared.port, chunked.port] {
        let got = get(&dev(), &format!("http://localhost:{port}/")).await;
        assert!(matches!(got, Err(NetError::TooLarge)), "{got:?}");
    }
}

#[test]
fn production_fetches_https_only() {
    let client = RemoteClient::new(&config()).expect("client");
    assert!(matches!(
        client.check("http://example.com/"),
        Err(NetError::NotHttps)
    ));
    assert!(matches!(
        client.check("ftp://example.com/"),
        Err(NetError::BadUrl)
    ));
    assert!(matches!(
        client.check("https://user:pw@example.com/"),
        Err(NetError::BadUrl)
    ));
    assert!(matches!(
        client.check("https://127.0.0.1/"),
        Err(NetError::Forbidden)
    ));
    assert!(client.check("https://example.com/x").is_ok());
}

#[test]
fn endpoint_paths_are_appended_not_swallowed() {
    let path = "/xrpc/app.bsky.feed.getFeedSkeleton";
    for (endpoint, want) in [
        (
            "https://fg.example",
            "https://fg.example/xrpc/app.bsky.feed.getFeedSkeleton",
        ),
        (
            "https://fg.example/",
            "https://fg.example/xrpc/app.bsky.feed.getFeedSkeleton",
        ),
        (
            "https://fg.example/base/",
            "https://fg.example/base/xrpc/app.bsky.feed.getFeedSkeleton",
        ),
    ] {
        assert_eq!(endpoint_url(endpoint, path).expect(endpoint).as_str(), want);
    }
    for bad in [
        "https://fg.example#",
        "https://fg.example/#frag",
        "https://fg.example/?x=1",
        "https://user@fg.example",
        "mailto:a@fg.example",
        "not a url",
        "",
    ] {
        assert!(endpoint_url(bad, path).is_err(), "{bad}");
    }
}

#[test]
fn ca_file_errors_name_the_file() {
    let mut cfg = config();
    cfg.ca_certs = Some(PathBuf::from("/nonexistent/ca.pem"));
    let e = RemoteClient::new(&cfg).expect_err("missing file");
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    let dir = std::env::temp_dir().join(format!("hearth-net-ca-{}", std::process::id()));
    std::fs::write(&dir, "not a certificate").expect("write");
    cfg.ca_certs = Some(dir.clone());
    let e = RemoteClient::new(&cfg).expect_err("no certificates");
    let _ = std::fs::remove_file(&dir);
    assert!(matches!(e, NetError::Setup(_)), "{e}");
}

/// A test CA and a server certificate it signed for `localhost` and the test hostnames.
struct TestCa {
    ca_file: tempfile_path::TempPath,
    server: rustls::ServerConfig,
}

/// A temporary file removed when dropped (the crate has no tempfile dependency).
mod tempfile_path {
    pub struct TempPath(pub std::path::PathBuf);
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn test_ca(tag: &str) -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("server key");
    let names = ["localhost", "vouched.hearth.test", "other.example"].map(str::to_owned);
    let cert = CertificateParams::new(names.to_vec())
        .expect("server params")
        .signed_by(&key, &issuer)
        .expect("server cert");
    let path = std::env::temp_dir().join(format!("hearth-net-{tag}-{}.pem", std::process::id()));
    std::fs::write(&path, ca_cert.pem()).expect("write CA");
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    TestCa {
        ca_file: tempfile_path::TempPath(path),
        server,
    }
}

/// An https (or, with `websocket`, wss) server on 127.0.0.1 that counts accepted TCP
/// connections: a refused destination must not even be connected to, let alone shaken hands
/// with.
async fn serve_tls(server: rustls::ServerConfig, websocket: bool) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = accepted.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                if websocket {
                    if let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await {
                        use futures::SinkExt;
                        let _ = ws
                            .send(tokio_tungstenite::tungstenite::Message::text("hello"))
                            .await;
                    }
                    return;
                }
                if !read_request_head(&mut tls).await {
                    return;
                }
                let _ = tls.write_all(ok_answer("hello").as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Server {
        port,
        requests: accepted,
    }
}

/// Production settings (https only, public addresses only) with the test CA trusted, both
/// test hostnames pointing at loopback, and `hearth.test` vouched for by the operator.
fn production_tls(ca: &TestCa) -> Config {
    let mut cfg = Config::new(false, "hearth-net-test");
    cfg.timeout = Duration::from_secs(5);
    cfg.ca_certs = Some(ca.ca_file.0.clone());
    cfg.internal_hosts = vec!["hearth.test".into()];
    for host in ["vouched.hearth.test", "other.example"] {
        cfg.resolve
            .insert(host.into(), vec!["127.0.0.1".parse().expect("ip")]);
    }
    cfg
}

#[tokio::test]
async fn https_reaches_a_vouched_internal_host_and_nothing_else() {
    let ca = test_ca("guarded");
    let s = serve_tls(ca.server.clone(), false).await;
    let client = RemoteClient::new(&production_tls(&ca)).expect("client");
    let got = get(&client, &format!("https://vouched.hearth.test:{}/", s.port)).await;
    assert_eq!(got.expect("listed host allowed"), b"hello");
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);

    // Unlisted name, literal loopback through check(), and literal loopback through the bare
    // reqwest client (a library skipping check()): refused before any TCP connection.
    let unlisted = get(&client, &format!("https://other.example:{}/", s.port)).await;
    assert!(matches!(unlisted, Err(NetError::Forbidden)), "{unlisted:?}");
    let literal = get(&client, &format!("https://127.0.0.1:{}/", s.port)).await;
    assert!(matches!(literal, Err(NetError::Forbidden)), "{literal:?}");
    let raw = client
        .reqwest()
        .get(format!("https://127.0.0.1:{}/", s.port))
        .send()
        .await
        .expect_err("refused");
    assert!(matches!(error_of(&raw), NetError::Forbidden), "{raw}");
    assert_eq!(
        s.requests.load(Ordering::SeqCst),
        1,
        "no connection, so no TLS handshake, with a refused peer"
    );

    // Without the operator's CA the same host fails verification: trust comes from the
    // setting, never from turning verification off.
    let mut untrusted = production_tls(&ca);
    untrusted.ca_certs = None;
    let client = RemoteClient::new(&untrusted).expect("client");
    let got = get(&client, &format!("https://vouched.hearth.test:{}/", s.port)).await;
    assert!(matches!(got, Err(NetError::Unreachable)), "{got:?}");
}

#[tokio::test]
async fn operator_and_websocket_clients_trust_the_operator_ca() {
    let ca = test_ca("operator");
    let https = serve_tls(ca.server.clone(), false).await;
    let wss = serve_tls(ca.server.clone(), true).await;
    let with_ca = production_tls(&ca);
    let mut without_ca = production_tls(&ca);
    without_ca.ca_certs = None;

    let url = format!("https://localhost:{}/", https.port);
    let body = with_ca
        .operator_client()
        .expect("client")
        .get(&url)
        .send()
        .await
        .expect("trusted")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "hello");
    let refused = without_ca
        .operator_client()
        .expect("client")
        .get(&url)
        .send()
        .await;
    assert!(refused.is_err(), "untrusted without the CA");

    let url = format!(
        "wss://localhost:{}/xrpc/com.atproto.sync.subscribeRepos",
        wss.port
    );
    let connect = |cfg: &Config| {
        let tls = cfg.websocket_tls().expect("tls");
        let url = url.clone();
        async move {
            tokio_tungstenite::connect_async_tls_with_config(url, None, false, Some(tls)).await
        }
    };
    let (mut socket, _) = connect(&with_ca).await.expect("wss with the CA");
    use futures::StreamExt;
    let first = socket.next().await.expect("a message").expect("read");
    assert_eq!(first.into_text().expect("text").as_str(), "hello");
    assert!(
        connect(&without_ca).await.is_err(),
        "untrusted without the CA"
    );
}

#[test]
fn internal_hosts_that_are_not_hostnames_are_setup_errors() {
    let mut cfg = config();
    cfg.internal_hosts = vec!["*".into()];
    let e = RemoteClient::new(&cfg).expect_err("a wildcard is not a hostname");
    assert!(matches!(e, NetError::Setup(_)), "{e}");
    cfg.internal_hosts = vec!["127.0.0.1".into()];
    assert!(
        RemoteClient::new(&cfg).is_err(),
        "an address is not a hostname"
    );
}
