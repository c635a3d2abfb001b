//! What an operator watches when the PDS and the AppView run together: Prometheus metrics and a
//! health check covering both services' databases. `/metrics` is served on the PDS behind the
//! admin password, and, with `HEARTH_METRICS_PORT`, on a port of its own (with the health
//! check) for a scraper and an orchestrator on the private network.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::Arc;
use std::time::Duration;

/// Latency buckets, in seconds: from a cached read to a slow proxied call.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// Both services' metrics, rendered for Prometheus.
pub struct Ops {
    handle: PrometheusHandle,
    pds: hearth_pds::state::AppState,
    appview: hearth_appview::state::AppState,
}

impl Ops {
    /// Installs the process's metrics recorder (once; later calls fail) and starts its upkeep.
    pub fn install(
        pds: hearth_pds::state::AppState,
        appview: hearth_appview::state::AppState,
    ) -> anyhow::Result<Arc<Ops>> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(hearth_xrpc::metrics::DURATION.into()),
                BUCKETS,
            )?
            .install_recorder()?;
        let upkeep = handle.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP);
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
        Ok(Arc::new(Ops {
            handle,
            pds,
            appview,
        }))
    }

    /// The Prometheus text exposition of every metric, gauges read now.
    pub async fn render(&self) -> Response {
        hearth_pds::metrics::observe(&self.pds);
        hearth_appview::metrics::observe(&self.appview).await;
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            self.handle.render(),
        )
            .into_response()
    }

    /// 200 when every database of both services takes writes, else 503 naming the first that
    /// does not.
    pub async fn health(&self) -> Response {
        let (pds, appview) = tokio::join!(
            hearth_pds::check_health(&self.pds),
            hearth_appview::check_health(&self.appview)
        );
        let problem = match (pds, appview) {
            (Ok(()), Ok(())) => None,
            (Err(e), _) => Some(format!("the PDS database does not take writes: {e}")),
            (_, Err(e)) => Some(e.to_string()),
        };
        match problem {
            None => axum::Json(serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }))
                .into_response(),
            Some(message) => hearth_xrpc::XrpcError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            )
            .into_response(),
        }
    }

    /// `/metrics` for the PDS's own routes, behind the admin password.
    pub fn admin_routes(self: &Arc<Ops>) -> Router {
        let ops = self.clone();
        Router::new()
            .route(
                "/metrics",
                get(move |_: hearth_pds::auth::AdminAuth| async move { ops.render().await }),
            )
            .with_state(self.pds.clone())
    }

    /// The private port: `/metrics` and `/xrpc/_health`, answered whatever the hostname.
    pub fn private_routes(self: &Arc<Ops>) -> Router {
        let (metrics, health) = (self.clone(), self.clone());
        Router::new()
            .route(
                "/metrics",
                get(move || async move { metrics.render().await }),
            )
            .route(
                "/xrpc/_health",
                get(move || async move { health.health().await }),
            )
    }
}
