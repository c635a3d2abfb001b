//! `hearth`: the PDS, the AppView, or both in one process.

mod admin;
mod ops;
mod serve;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hearth_appview::config::AppviewConfig;
use hearth_pds::config::PdsConfig;

/// glibc's malloc gives each busy thread an arena and keeps what is freed there: with tokio's
/// blocking threads each taking one, memory freed after a burst (Argon2's hash memory, firehose
/// replay pages) stayed resident. mimalloc returns freed pages to the system. Without
/// transparent huge pages (`no_thp`): with them every touched 2 MiB of its arenas stays
/// resident. The measurements are in `docs/benchmarks.md` ("Memory: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "hearth",
    version,
    about = "A PDS, an AppView and members-only spaces on the AT Protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr: `text` to read, `json` (one object per line) for a log pipeline.
    #[arg(long, env = "HEARTH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the personal data server.
    Pds(PdsConfig),
    /// Run the AppView.
    Appview(AppviewConfig),
    /// Run the PDS and the AppView together in production: the AppView follows the PDS's
    /// firehose (and any other HEARTH_FIREHOSES); identities go to HEARTH_PLC_URL.
    Serve {
        #[command(flatten)]
        pds: PdsConfig,
        #[command(flatten)]
        appview: AppviewConfig,
        #[command(flatten)]
        backup: hearth_ops::BackupConfig,
        #[command(flatten)]
        listen: serve::Listen,
    },
    /// Run everything for local use, with no internet: PDS, AppView, and (unless
    /// HEARTH_PLC_URL is set) a PLC directory, all on localhost. The AppView follows the PDS's
    /// firehose, and the PDS sends app.bsky and social.hearth calls to the AppView.
    Up {
        #[command(flatten)]
        pds: PdsConfig,
        #[command(flatten)]
        appview: AppviewConfig,
        #[command(flatten)]
        listen: serve::Listen,
        /// Port of the local PLC directory started when HEARTH_PLC_URL is unset.
        #[arg(long, env = "HEARTH_PLC_PORT", default_value_t = 2582)]
        plc_port: u16,
        #[command(flatten)]
        backup: hearth_ops::BackupConfig,
    },
    /// Operate a Hearth server: accounts, invites, backups and restores, checks, figures.
    Admin(admin::AdminArgs),
    /// Run a PLC directory alone, on 127.0.0.1 (for a private network or a test behind a TLS
    /// proxy; the public one is https://plc.directory): the one `hearth up` runs.
    Plc {
        #[arg(long, env = "HEARTH_DATA_DIR", default_value = "./data")]
        data_dir: std::path::PathBuf,
        #[arg(long, env = "HEARTH_PLC_PORT", default_value_t = 2582)]
        port: u16,
    },
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// Opens the PLC directory kept in `data_dir` and binds it to 127.0.0.1:`port`.
async fn plc_directory(
    data_dir: &std::path::Path,
    port: u16,
) -> anyhow::Result<(tokio::net::TcpListener, axum::Router)> {
    std::fs::create_dir_all(data_dir)?;
    let store = hearth_plc::PlcStore::open(data_dir.join("plc.sqlite"))
        .context("opening the local PLC directory")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding the local PLC directory to port {port}"))?;
    tracing::info!("local PLC directory on http://localhost:{port}");
    Ok((listener, hearth_plc::router(store)))
}

/// Starts the in-process PLC directory for `hearth up` and returns its URL.
async fn local_plc(data_dir: &std::path::Path, port: u16) -> anyhow::Result<String> {
    let (listener, router) = plc_directory(data_dir, port).await?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "local PLC directory stopped");
        }
    });
    Ok(format!("http://localhost:{port}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let command = match cli.command {
        Command::Admin(args) => return admin::run(args).await,
        server => server,
    };
    // Servers stop gracefully on SIGTERM and SIGINT; `hearth admin` keeps the default handling.
    let stop = serve::Stop::on_signals()?;
    match command {
        Command::Admin(_) => Ok(()),
        Command::Pds(cfg) => {
            let _lock = hearth_ops::lock::DataDirLock::acquire(&cfg.data_dir)?;
            Ok(hearth_pds::serve(cfg, stop.requested()).await?)
        }
        Command::Appview(cfg) => Ok(hearth_appview::serve(cfg, stop.requested()).await?),
        Command::Serve {
            pds,
            appview,
            listen,
            backup,
        } => {
            hearth_ops::backup::spawn_schedule(pds.data_dir.clone(), &backup);
            // Deployed, one TLS front proxies every hostname to one port; a port tells the
            // services apart only when their hostnames cannot.
            let distinct = !pds.hostname.eq_ignore_ascii_case(&appview.hostname);
            let listen = serve::Listen {
                single_port: Some(listen.single_port.unwrap_or(distinct)),
                ..listen
            };
            serve::run(pds, appview, listen, stop).await
        }
        Command::Plc { data_dir, port } => {
            let (listener, router) = plc_directory(&data_dir, port).await?;
            Ok(axum::serve(listener, router)
                .with_graceful_shutdown(stop.requested())
                .await?)
        }
        Command::Up {
            mut pds,
            mut appview,
            listen,
            plc_port,
            backup,
        } => {
            println!("{}", serve::first_steps(&pds, &appview, &listen));
            hearth_ops::backup::spawn_schedule(pds.data_dir.clone(), &backup);
            pds.dev = true;
            appview.dev = true;
            // Local accounts' handles (alice.test) have no DNS: the local PDS answers for them,
            // so they can be typed on the web app's sign-in page. Other handles fall through to
            // DNS and .well-known as before.
            if appview.handle_resolver.is_empty() {
                appview.handle_resolver.push(pds.public_url());
            }
            if pds.plc_url.is_none() {
                pds.plc_url = Some(local_plc(&pds.data_dir, plc_port).await?);
            }
            serve::run(pds, appview, listen, stop).await
        }
    }
}
