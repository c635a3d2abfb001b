//! Request metrics every service records the same way: a count by method, route and status,
//! and a latency histogram by route. They go to the `metrics` facade, which does nothing until
//! the binary installs a recorder (`hearth serve` exports them for Prometheus).
//!
//! Routes are axum's matched path patterns (`/xrpc/com.atproto.repo.createRecord`,
//! `/xrpc/{*nsid}` for whatever the PDS proxies), never the raw path: the label set stays
//! bounded whatever clients send.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Requests answered, by service, HTTP method, route and status.
pub const REQUESTS: &str = "hearth_http_requests_total";
/// Time to answer a request (to the response head; a WebSocket's upgrade), by service and
/// route.
pub const DURATION: &str = "hearth_http_request_duration_seconds";

/// Records every request `router` answers under `service` (`pds`, `appview`). Apply it to the
/// router with its routes, so the matched route is known.
pub fn record<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    service: &'static str,
) -> Router<S> {
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| observe(service, req, next),
    ))
}

async fn observe(service: &'static str, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::histogram!(DURATION, "service" => service, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(REQUESTS, "service" => service, "method" => method, "route" => route, "status" => status)
        .increment(1);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower::ServiceExt;

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let app = record(
            Router::new().route("/xrpc/{nsid}", get(|| async { "ok" })),
            "pds",
        );
        metrics::with_local_recorder(&recorder, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            rt.block_on(async {
                for uri in ["/xrpc/a.b.c", "/xrpc/d.e.f", "/nowhere"] {
                    let req = Request::builder()
                        .uri(uri)
                        .body(Body::empty())
                        .expect("req");
                    app.clone().oneshot(req).await.expect("infallible");
                }
            });
        });
        let mut counts = std::collections::BTreeMap::new();
        let mut timed = 0;
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            match value {
                DebugValue::Counter(n) if key.key().name() == REQUESTS => {
                    counts.insert(labels.join(","), n);
                }
                DebugValue::Histogram(v) if key.key().name() == DURATION => timed += v.len(),
                _ => {}
            }
        }
        assert_eq!(
            counts.get("service=pds,method=GET,route=/xrpc/{nsid},status=200"),
            Some(&2),
            "{counts:?}"
        );
        assert_eq!(
            counts.get("service=pds,method=GET,route=unmatched,status=404"),
            Some(&1),
            "{counts:?}"
        );
        assert_eq!(timed, 3);
    }
}
