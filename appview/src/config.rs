//! AppView configuration: environment variables, each with a CLI flag, documented in the
//! README, with defaults that work on a laptop.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// What a relay's stream contributes to the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// Every repository on every configured stream.
    All,
    /// Accounts of the configured PDS hosts, plus the accounts they follow and interact with.
    Network,
}

#[derive(Debug, Clone, Args)]
pub struct AppviewConfig {
    /// Public hostname of the AppView (no scheme).
    #[arg(
        id = "appview-hostname",
        long = "appview-hostname",
        env = "HEARTH_APPVIEW_HOSTNAME",
        default_value = "localhost"
    )]
    pub hostname: String,
    /// Port to listen on.
    #[arg(
        id = "appview-port",
        long = "appview-port",
        env = "HEARTH_APPVIEW_PORT",
        default_value_t = 2584
    )]
    pub port: u16,
    /// Address to bind.
    #[arg(
        id = "appview-bind",
        long = "appview-bind",
        env = "HEARTH_APPVIEW_BIND",
        default_value = "127.0.0.1"
    )]
    pub bind: String,
    /// Where the index database lives (shared with the PDS's data directory when run by `up`).
    #[arg(
        id = "appview-data-dir",
        long = "appview-data-dir",
        env = "HEARTH_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
    /// PLC directory for resolving did:plc.
    #[arg(
        id = "appview-plc-url",
        long = "appview-plc-url",
        env = "HEARTH_PLC_URL"
    )]
    pub plc_url: Option<String>,
    /// Firehoses to index: PDS or relay hosts (`host:port` or URLs), comma separated.
    #[arg(long, env = "HEARTH_FIREHOSES", value_delimiter = ',')]
    pub firehoses: Vec<String>,
    /// What a relay's stream contributes.
    #[arg(long, env = "HEARTH_APPVIEW_SCOPE", value_enum, default_value_t = Scope::Network)]
    pub scope: Scope,
    /// Development mode: plain http and localhost are allowed.
    #[arg(
        id = "appview-dev",
        long = "appview-dev",
        env = "HEARTH_DEV",
        default_value_t = false
    )]
    pub dev: bool,
    /// SMTP server for space emails (announcements, digests), e.g. `smtp://127.0.0.1:2525`
    /// or `smtps://user:pass@mail.example.com`. Unset: email is off.
    #[arg(long, env = "HEARTH_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From address of space emails (default `Hearth <hearth@HOSTNAME>`).
    #[arg(long, env = "HEARTH_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Extra root certificates (PEM) trusted for outbound https, besides the built-in ones.
    #[arg(
        id = "appview-ca-certs",
        long = "appview-ca-certs",
        env = "HEARTH_CA_CERTS"
    )]
    pub ca_certs: Option<PathBuf>,
    /// The operator's own hostnames that may resolve to private addresses (see the PDS's
    /// `HEARTH_INTERNAL_HOSTS`).
    #[arg(
        id = "appview-internal-hosts",
        long = "appview-internal-hosts",
        env = "HEARTH_INTERNAL_HOSTS",
        value_delimiter = ','
    )]
    pub internal_hosts: Vec<String>,
    /// Services whose `com.atproto.identity.resolveHandle` is asked first for handles, in order,
    /// comma-separated (e.g. PDSes whose accounts' handles have no DNS, as in development); the
    /// DID document must still name the handle.
    #[arg(long, env = "HEARTH_HANDLE_RESOLVER", value_delimiter = ',')]
    pub handle_resolver: Vec<String>,
    /// Where space images live.
    #[command(flatten)]
    pub images: ImageStoreArgs,
}

/// Where space images live: the PDS's `HEARTH_BLOBSTORE` and `HEARTH_S3_*` settings (one bucket
/// for a server's bytes: PDS blobs under `blobs/`, space images under `space-images/`). Own
/// argument names, as `hearth serve` reads both services' settings.
#[derive(Debug, Clone, Args)]
pub struct ImageStoreArgs {
    #[arg(id = "appview-blobstore", long = "appview-blobstore", env = "HEARTH_BLOBSTORE", default_value = "disk", value_parser = ["disk", "s3"])]
    pub blobstore: String,
    #[arg(
        id = "appview-s3-endpoint",
        long = "appview-s3-endpoint",
        env = "HEARTH_S3_ENDPOINT"
    )]
    pub s3_endpoint: Option<String>,
    #[arg(
        id = "appview-s3-bucket",
        long = "appview-s3-bucket",
        env = "HEARTH_S3_BUCKET"
    )]
    pub s3_bucket: Option<String>,
    #[arg(
        id = "appview-s3-region",
        long = "appview-s3-region",
        env = "HEARTH_S3_REGION",
        default_value = "us-east-1"
    )]
    pub s3_region: String,
    #[arg(
        id = "appview-s3-access-key-id",
        long = "appview-s3-access-key-id",
        env = "HEARTH_S3_ACCESS_KEY_ID"
    )]
    pub s3_access_key_id: Option<String>,
    #[arg(
        id = "appview-s3-secret-access-key",
        long = "appview-s3-secret-access-key",
        env = "HEARTH_S3_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,
    #[arg(id = "appview-s3-path-style", long = "appview-s3-path-style", env = "HEARTH_S3_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_path_style: bool,
}

impl Default for ImageStoreArgs {
    fn default() -> Self {
        ImageStoreArgs {
            blobstore: "disk".into(),
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: false,
        }
    }
}

impl ImageStoreArgs {
    pub fn settings(&self) -> hearth_net::s3::S3Settings {
        hearth_net::s3::S3Settings {
            blobstore: self.blobstore.clone(),
            endpoint: self.s3_endpoint.clone(),
            bucket: self.s3_bucket.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
            path_style: self.s3_path_style,
        }
    }
}

impl AppviewConfig {
    /// The guarded client's settings (for URLs remote documents name).
    pub fn net(&self) -> hearth_net::Config {
        let mut net = hearth_net::Config::new(
            self.dev,
            concat!("hearth-appview/", env!("CARGO_PKG_VERSION")),
        );
        net.ca_certs = self.ca_certs.clone();
        net.internal_hosts = self.internal_hosts.clone();
        net
    }

    /// The configured hostname and port, from which the public URL and did:web derive.
    pub fn host(&self) -> hearth_xrpc::PublicHost<'_> {
        hearth_xrpc::PublicHost {
            hostname: &self.hostname,
            port: self.port,
        }
    }

    pub fn is_local(&self) -> bool {
        self.host().is_local()
    }

    pub fn public_url(&self) -> String {
        self.host().url()
    }

    /// The AppView's did:web.
    pub fn service_did(&self) -> String {
        self.host().did_web()
    }

    pub fn plc_url(&self) -> String {
        self.plc_url
            .clone()
            .unwrap_or_else(|| "https://plc.directory".into())
    }

    /// Firehose base URLs (`ws://` or `wss://`).
    pub fn firehose_urls(&self) -> Vec<String> {
        self.firehoses
            .iter()
            .map(|h| h.trim().trim_end_matches('/'))
            .filter(|h| !h.is_empty())
            .map(|h| {
                if let Some(rest) = h.strip_prefix("https://") {
                    format!("wss://{rest}")
                } else if let Some(rest) = h.strip_prefix("http://") {
                    format!("ws://{rest}")
                } else if h.starts_with("ws://") || h.starts_with("wss://") {
                    h.to_owned()
                } else if h.starts_with("localhost") || h.starts_with("127.") {
                    format!("ws://{h}")
                } else {
                    format!("wss://{h}")
                }
            })
            .collect()
    }
}
