//! `hearth serve` and `hearth up`: the PDS and the AppView in one process, on two ports or on
//! one port told apart by hostname, stopped gracefully by SIGTERM or SIGINT.

use anyhow::Context;
use clap::Args;
use hearth_appview::config::AppviewConfig;
use hearth_pds::config::PdsConfig;
use std::time::Duration;
use tokio::sync::watch;

/// How the two services listen.
#[derive(Debug, Clone, Args)]
pub struct Listen {
    /// Serve the PDS and the AppView on one port (HEARTH_PORT, HEARTH_BIND), told apart by the
    /// hostname each request names: HEARTH_HOSTNAME and the handle domains
    /// (HEARTH_HANDLE_DOMAINS, for /.well-known/atproto-did) reach the PDS,
    /// HEARTH_APPVIEW_HOSTNAME the AppView, any other hostname is answered 421. The layout for
    /// one TLS front (Fly, Caddy, nginx) proxying every hostname to one upstream. Off: the
    /// AppView listens on HEARTH_APPVIEW_PORT and HEARTH_APPVIEW_BIND. Default: on for
    /// `serve` when the two hostnames differ (the deployed layout), off for `up` (two local
    /// ports, as clients on localhost expect).
    #[arg(long, env = "HEARTH_SINGLE_PORT", action = clap::ArgAction::Set)]
    pub single_port: Option<bool>,
    /// A port serving Prometheus `/metrics` and `/xrpc/_health` (every database of both
    /// services takes writes: 200, else 503) without authentication and whatever the
    /// hostname, for a scraper and an orchestrator's health check. Never expose it publicly;
    /// `/metrics` on the PDS's hostname needs the admin password instead. Unset: no such port.
    #[arg(long, env = "HEARTH_METRICS_PORT")]
    pub metrics_port: Option<u16>,
    /// Address the metrics port binds.
    #[arg(long, env = "HEARTH_METRICS_BIND", default_value = "127.0.0.1")]
    pub metrics_bind: String,
}

/// A process-wide stop request: set once by SIGTERM or SIGINT.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

/// Past this after a stop request the process exits whatever it is doing: every acknowledged
/// write is already durable, so this is no worse than a crash, and better than the SIGKILL
/// that would follow.
const DEADLINE: Duration = Duration::from_millis(9500);

impl Stop {
    /// Listens for SIGTERM and SIGINT.
    pub fn on_signals() -> anyhow::Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!("{name}: shutting down");
            tx.send_replace(true);
            // A second signal means now.
            tokio::select! {
                _ = term.recv() => tracing::warn!("second signal: exiting at once"),
                _ = int.recv() => tracing::warn!("second signal: exiting at once"),
                _ = tokio::time::sleep(DEADLINE) => {
                    tracing::error!("still shutting down after {DEADLINE:?}: exiting");
                }
            }
            std::process::exit(1);
        });
        Ok(Stop(rx))
    }

    /// Completes once a stop was requested.
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            // An error means the sender is gone, which never happens before a stop.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// What `hearth up` prints before anything else: where the web app is and how to sign in to it
/// with an account on the local PDS.
pub fn first_steps(pds: &PdsConfig, appview: &AppviewConfig, listen: &Listen) -> String {
    // OAuth loopback redirects and the session cookie are for 127.0.0.1, not `localhost`; on one
    // port the AppView is told apart by its hostname instead.
    let web = if listen.single_port.unwrap_or(false) {
        format!("http://{}:{}", appview.hostname, pds.port)
    } else {
        format!("http://127.0.0.1:{}", appview.port)
    };
    let pds_url = format!("http://localhost:{}", pds.port);
    let password = if pds.admin_password.is_some() {
        "with the HEARTH_ADMIN_PASSWORD this server runs with"
    } else {
        "after starting `hearth up` with a HEARTH_ADMIN_PASSWORD (none is set now)"
    };
    format!(
        "Hearth, locally: open {web} and sign in.\n\
         \x20 Sign in with an account on this PDS ({pds_url}), e.g. alice.test: enter the handle, \
         then its password on the PDS's own sign-in page.\n\
         \x20 No account yet? In another terminal, {password}:\n\
         \x20   hearth admin --url {pds_url} accounts create --handle alice.test --email alice@example.com --password <password>\n\
         \x20 (or sign up with any Bluesky client pointed at {pds_url})."
    )
}

/// Runs the PDS and the AppView in one process. They still talk only through the firehose and
/// XRPC, as they would across machines.
pub async fn run(
    mut pds: PdsConfig,
    mut appview: AppviewConfig,
    listen: Listen,
    stop: Stop,
) -> anyhow::Result<()> {
    // Held until the process ends: `hearth admin` does not write beside a running server.
    let _lock = hearth_ops::lock::DataDirLock::acquire(&pds.data_dir)?;
    let single_port = listen.single_port.unwrap_or(false);
    if single_port {
        anyhow::ensure!(
            !pds.hostname.eq_ignore_ascii_case(&appview.hostname),
            "HEARTH_SINGLE_PORT tells the PDS and the AppView apart by hostname, but both are {:?}: set HEARTH_APPVIEW_HOSTNAME",
            pds.hostname
        );
        // The AppView's URL and did:web name the port it is reached on.
        appview.port = pds.port;
        appview.bind = pds.bind.clone();
    }
    link(&mut pds, &mut appview);
    let single = single_port.then(|| (pds.bind.clone(), pds.port));
    let pds = hearth_pds::build_state(pds).context("PDS")?;
    let appview = hearth_appview::build_state(appview).context("AppView")?;
    let ops = crate::ops::Ops::install(pds.clone(), appview.clone())?;
    let pds_app = hearth_pds::start(&pds).merge(ops.admin_routes());
    let appview_app = hearth_appview::start(&appview).context("AppView")?;
    if let Some(port) = listen.metrics_port {
        let listener = hearth_xrpc::server::bind(&listen.metrics_bind, port).await?;
        tracing::info!("metrics and health on {}:{port}", listen.metrics_bind);
        let (routes, requested) = (ops.private_routes(), stop.requested());
        tokio::spawn(async move {
            if let Err(e) = hearth_xrpc::server::serve_until(listener, routes, requested).await {
                tracing::error!(error = %e, "metrics port stopped");
            }
        });
    }

    let pds_stop = {
        let (requested, pds) = (stop.requested(), pds.clone());
        async move {
            requested.await;
            // Subscribers are upgraded connections the server no longer waits for: end them.
            pds.sequencer.close();
        }
    };
    let served = async {
        match single {
            Some((bind, port)) => {
                let mut hosts = hearth_xrpc::vhost::HostRouter::new()
                    .host(&pds.cfg.hostname, pds_app.clone())
                    .host(&appview.cfg.hostname, appview_app);
                for domain in &pds.handle_domains {
                    hosts = hosts.suffix(domain, pds_app.clone());
                }
                // Locally the AppView reads the firehose at `localhost:<port>` (`link`), and
                // local tools address the PDS by loopback address.
                if pds.cfg.is_local() {
                    for alias in ["localhost", "127.0.0.1"] {
                        if !appview.cfg.hostname.eq_ignore_ascii_case(alias) {
                            hosts = hosts.host(alias, pds_app.clone());
                        }
                    }
                }
                let listener = hearth_xrpc::server::bind(&bind, port).await?;
                tracing::info!(
                    pds = %pds.public_url,
                    appview = %appview.public_url,
                    "PDS and AppView listening on {bind}:{port}, by hostname"
                );
                hearth_xrpc::server::serve_until(listener, hosts.into_router(), pds_stop)
                    .await
                    .context("serving")
            }
            None => {
                let pds_listener = hearth_xrpc::server::bind(&pds.cfg.bind, pds.cfg.port).await?;
                let appview_listener =
                    hearth_xrpc::server::bind(&appview.cfg.bind, appview.cfg.port).await?;
                tracing::info!(url = %pds.public_url, "PDS listening on {}:{}", pds.cfg.bind, pds.cfg.port);
                tracing::info!(url = %appview.public_url, "AppView listening on {}:{}", appview.cfg.bind, appview.cfg.port);
                let (p, a) = tokio::join!(
                    hearth_xrpc::server::serve_until(pds_listener, pds_app, pds_stop),
                    hearth_xrpc::server::serve_until(
                        appview_listener,
                        appview_app,
                        stop.requested()
                    ),
                );
                p.context("PDS")?;
                a.context("AppView")
            }
        }
    };
    served.await?;
    tokio::join!(
        hearth_pds::shut_down(&pds),
        hearth_appview::shut_down(&appview)
    );
    tracing::info!("stopped");
    Ok(())
}

/// Points the PDS at the AppView running beside it, and the AppView at the PDS's firehose,
/// unless configured otherwise.
fn link(pds: &mut PdsConfig, appview: &mut AppviewConfig) {
    appview.plc_url = pds.plc_url.clone();
    appview.data_dir = pds.data_dir.clone();
    if appview.firehoses.is_empty() {
        appview.firehoses = vec![if pds.is_local() {
            format!("localhost:{}", pds.port)
        } else {
            pds.hostname.clone()
        }];
    }
    if std::env::var_os("HEARTH_APPVIEW_URL").is_none() {
        pds.appview_url = appview.public_url();
        pds.appview_did = appview.service_did();
    }
    // Spaces exist only on a Hearth AppView: with app.bsky.* sent to Bluesky's, they still go
    // to the one running here.
    if pds.spaces_appview_url.is_none() {
        pds.spaces_appview_url = Some(appview.public_url());
        pds.spaces_appview_did
            .get_or_insert_with(|| appview.service_did());
    }
}
