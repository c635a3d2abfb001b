//! Starting a Hearth service: binding its address, and serving its routes behind the layers
//! every service has (a panicking handler answers a generic XRPC 500, CORS is open to any
//! origin, every request gets a trace span), with each connection's peer address available to
//! handlers (`ConnectInfo<SocketAddr>`).

use crate::error::XrpcError;
use axum::Router;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Why a service could not listen, or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("invalid bind address {0}")]
    Address(String),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Binds `bind:port` (`bind` an IP address).
pub async fn bind(bind: &str, port: u16) -> Result<TcpListener, ServeError> {
    let address = format!("{bind}:{port}");
    let addr: SocketAddr = address.parse().map_err(|_| ServeError::Address(address))?;
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })
}

/// Serves `app` on `listener` until the process is stopped.
pub async fn serve(listener: TcpListener, app: Router) -> Result<(), ServeError> {
    serve_until(listener, app, std::future::pending()).await
}

/// How long requests in flight may take to finish once shutdown begins: past it the service
/// returns anyway, so the process can checkpoint and exit within the 10 s orchestrators allow
/// before SIGKILL.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(7);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting connections and
/// returns once every request in flight has been answered (idle keep-alive connections are
/// closed), or after [`DRAIN`] if some never are. Upgraded connections (WebSockets) are the
/// service's to end.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (begun, draining) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        shutdown.await;
        let _ = begun.send(());
    };
    let drain_over = async move {
        match draining.await {
            Ok(()) => tokio::time::sleep(DRAIN).await,
            // The server ended without a shutdown.
            Err(_) => std::future::pending().await,
        }
    };
    let app = app
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(XrpcError::internal("handler panicked"))
        }))
        .layer(cors())
        .layer(tower_http::trace::TraceLayer::new_for_http());
    // Responses are written as they are produced (the firehose, streamed CARs): without
    // TCP_NODELAY a short last segment waits for the client's delayed ACK, about 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    let serving = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown);
    tokio::select! {
        served = serving => served.map_err(ServeError::Serve),
        _ = drain_over => {
            tracing::warn!("requests still in flight {DRAIN:?} after shutdown began: stopping anyway");
            Ok(())
        }
    }
}

/// Browsers on any site may call the services (XRPC, OAuth, DID documents), but never with
/// the visitor's cookies: the answer is `Access-Control-Allow-Origin: *` without
/// `Allow-Credentials`, so a page elsewhere cannot read the web app's pages as the signed-in
/// visitor. Requested headers (`Authorization`, `DPoP`, `atproto-proxy`) and methods are
/// allowed by echoing them, as a `*` would not cover `Authorization`.
fn cors() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_methods(AllowMethods::mirror_request())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_an_xrpc_error() {
        let listener = bind("127.0.0.1", 0).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let app = Router::new().route(
            "/xrpc/boom",
            axum::routing::get(|| async {
                panic!("a handler bug");
                #[allow(unreachable_code)]
                ""
            }),
        );
        tokio::spawn(serve(listener, app));
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /xrpc/boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
        assert!(
            answer.contains(r#""error":"InternalServerError""#),
            "{answer}"
        );
        assert!(matches!(
            bind("not an address", 1).await,
            Err(ServeError::Address(_))
        ));
    }

    #[tokio::test]
    async fn cross_origin_calls_are_allowed_without_credentials() {
        use tower::ServiceExt;
        let app = Router::new()
            .route("/xrpc/x", axum::routing::get(|| async { "ok" }))
            .layer(cors());
        let preflight = axum::http::Request::builder()
            .method("OPTIONS")
            .uri("/xrpc/x")
            .header("origin", "https://elsewhere.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,dpop")
            .body(axum::body::Body::empty())
            .expect("request");
        let res = app.clone().oneshot(preflight).await.expect("preflight");
        let h = res.headers();
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["access-control-allow-headers"], "authorization,dpop");
        assert_eq!(h["access-control-allow-methods"], "POST");
        assert!(h.get("access-control-allow-credentials").is_none());
        let get = axum::http::Request::get("/xrpc/x")
            .header("origin", "https://elsewhere.example")
            .body(axum::body::Body::empty())
            .expect("request");
        let res = app.oneshot(get).await.expect("get");
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        assert!(
            res.headers()
                .get("access-control-allow-credentials")
                .is_none()
        );
    }
}
