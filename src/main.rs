//! `hearth`: the PDS, the AppView, or both in one process.

use anyhow::Context;
use clap::{Parser, Subcommand};
use hearth_pds::config::PdsConfig;

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "A PDS, an AppView and members-only spaces on the AT Protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the personal data server.
    Pds(PdsConfig),
    /// Run the AppView.
    Appview,
    /// Run everything for local use, with no internet: PDS, AppView, and (unless
    /// HEARTH_PLC_URL is set) a PLC directory, all on localhost.
    Up {
        #[command(flatten)]
        pds: PdsConfig,
        /// Port of the local PLC directory started when HEARTH_PLC_URL is unset.
        #[arg(long, env = "HEARTH_PLC_PORT", default_value_t = 2582)]
        plc_port: u16,
    },
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    match Cli::parse().command {
        Command::Pds(cfg) => hearth_pds::serve(cfg).await,
        Command::Appview => anyhow::bail!("`hearth appview` is not built yet"),
        Command::Up { mut pds, plc_port } => {
            pds.dev = true;
            if pds.plc_url.is_none() {
                std::fs::create_dir_all(&pds.data_dir)?;
                let store = hearth_pds::plc_server::PlcStore::open(pds.data_dir.join("plc.sqlite"))
                    .context("opening the local PLC directory")?;
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", plc_port))
                    .await
                    .with_context(|| {
                        format!("binding the local PLC directory to port {plc_port}")
                    })?;
                tracing::info!("local PLC directory on http://localhost:{plc_port}");
                tokio::spawn(async move {
                    if let Err(e) =
                        axum::serve(listener, hearth_pds::plc_server::router(store)).await
                    {
                        tracing::error!(error = %e, "local PLC directory stopped");
                    }
                });
                pds.plc_url = Some(format!("http://localhost:{plc_port}"));
            }
            hearth_pds::serve(pds).await
        }
    }
}
