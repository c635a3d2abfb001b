//! PDS configuration: environment variables (each with a CLI flag), with defaults that work on a
//! laptop. Every variable is listed in the README.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct PdsConfig {
    /// Public hostname of this PDS (no scheme).
    #[arg(long, env = "HEARTH_HOSTNAME", default_value = "localhost")]
    pub hostname: String,
    /// Port to listen on.
    #[arg(long, env = "HEARTH_PORT", default_value_t = 2583)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, env = "HEARTH_BIND", default_value = "127.0.0.1")]
    pub bind: String,
    /// Where SQLite databases, blobs and generated secrets live.
    #[arg(long, env = "HEARTH_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The PLC directory used to create and update did:plc identities
    /// (default `https://plc.directory`; `hearth up` runs a local one when unset).
    #[arg(long, env = "HEARTH_PLC_URL")]
    pub plc_url: Option<String>,
    /// Handle suffixes this server hands out, comma separated (e.g. `.example.org`).
    /// Defaults to `.<hostname>`, or `.test` for localhost.
    #[arg(long, env = "HEARTH_HANDLE_DOMAINS", value_delimiter = ',')]
    pub handle_domains: Vec<String>,
    /// The AppView that `app.bsky.*` calls go to.
    #[arg(
        long,
        env = "HEARTH_APPVIEW_URL",
        default_value = "https://api.bsky.app"
    )]
    pub appview_url: String,
    /// The AppView's DID (the audience of the service tokens the PDS signs for it).
    #[arg(
        long,
        env = "HEARTH_APPVIEW_DID",
        default_value = "did:web:api.bsky.app"
    )]
    pub appview_did: String,
    /// The Hearth AppView that `social.hearth.*` (spaces) calls go to when the client names no
    /// service; unset, the `app.bsky.*` AppView. Set it to keep spaces on a Hearth AppView while
    /// `app.bsky.*` goes to Bluesky's.
    #[arg(long, env = "HEARTH_SPACES_APPVIEW_URL")]
    pub spaces_appview_url: Option<String>,
    /// That AppView's DID (tokens for it name `<did>#hearth_appview`, [`hearth_lexicons::SERVICE_ID`]); unset, the `app.bsky.*`
    /// AppView's DID.
    #[arg(long, env = "HEARTH_SPACES_APPVIEW_DID")]
    pub spaces_appview_did: Option<String>,
    /// Password for the admin API (HTTP Basic, user `admin`). Admin API is off when unset.
    #[arg(long, env = "HEARTH_ADMIN_PASSWORD")]
    pub admin_password: Option<String>,
    /// Whether new accounts need an invite code.
    #[arg(long, env = "HEARTH_INVITE_REQUIRED", default_value_t = false)]
    pub invite_required: bool,
    /// Relays to notify with requestCrawl, comma separated hosts or URLs.
    #[arg(long, env = "HEARTH_CRAWLERS", value_delimiter = ',')]
    pub crawlers: Vec<String>,
    /// Development mode: plain http and localhost are allowed everywhere.
    #[arg(long, env = "HEARTH_DEV", default_value_t = false)]
    pub dev: bool,
    /// Largest blob accepted, in bytes.
    #[arg(long, env = "HEARTH_BLOB_MAX_BYTES", default_value_t = 50 * 1024 * 1024)]
    pub blob_max_bytes: u64,
    /// How long firehose events are kept for cursor replay, in hours.
    #[arg(long, env = "HEARTH_BACKFILL_HOURS", default_value_t = 72)]
    pub backfill_hours: u64,
    /// Take client IPs from the proxy in front (only behind a proxy you control): the hop it
    /// appended to `X-Forwarded-For` (the rightmost), or the header named by
    /// `HEARTH_CLIENT_IP_HEADER`.
    #[arg(long, env = "HEARTH_TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_proxy: bool,
    /// With `HEARTH_TRUST_PROXY`: a header the proxy sets to the client's address, replacing
    /// any the client sent (e.g. `Fly-Client-IP`), read instead of `X-Forwarded-For`.
    #[arg(long, env = "HEARTH_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// Extra root certificates (PEM) trusted for outbound https, besides the built-in ones.
    #[arg(long, env = "HEARTH_CA_CERTS")]
    pub ca_certs: Option<PathBuf>,
    /// The operator's own hostnames that may resolve to private addresses (each with its
    /// subdomains), comma separated, e.g. `internal.example.org` when the PDS and the AppView
    /// reach each other on a private network. Every other name a DID document or handle
    /// gives must resolve to a public address outside development.
    #[arg(long, env = "HEARTH_INTERNAL_HOSTS", value_delimiter = ',')]
    pub internal_hosts: Vec<String>,
    /// SMTP server for account email (the codes that confirm an address, reset a password,
    /// change an address, delete an account or sign a PLC operation), e.g.
    /// `smtp://127.0.0.1:2525` or `smtps://user:pass@mail.example.com`; the spaces service uses
    /// the same one. Unset: the PDS sends no email, and the flows that need it say so.
    #[arg(id = "pds-smtp-url", long = "pds-smtp-url", env = "HEARTH_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From address of account email (default `Hearth <hearth@HOSTNAME>`).
    #[arg(id = "pds-smtp-from", long = "pds-smtp-from", env = "HEARTH_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Whether per-IP and per-account rate limits apply.
    #[arg(long, env = "HEARTH_RATE_LIMITS", default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limits: bool,
    /// Where blob bytes live.
    #[command(flatten)]
    pub blobstore: BlobStoreArgs,
}

/// Where blob bytes live: `disk` (under the data directory, the default) or `s3` (an
/// S3-compatible bucket; the `HEARTH_S3_*` variables say which).
#[derive(Debug, Clone, Args)]
pub struct BlobStoreArgs {
    /// `disk` or `s3`.
    #[arg(long, env = "HEARTH_BLOBSTORE", default_value = "disk", value_parser = ["disk", "s3"])]
    pub blobstore: String,
    /// The S3 endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://minio:9000`.
    #[arg(long, env = "HEARTH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The bucket (it must exist).
    #[arg(long, env = "HEARTH_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// The region requests are signed for.
    #[arg(long, env = "HEARTH_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Credentials allowed to get, put and delete the bucket's objects.
    #[arg(long, env = "HEARTH_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    #[arg(long, env = "HEARTH_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`), as MinIO and most self-hosted servers need.
    #[arg(long, env = "HEARTH_S3_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_path_style: bool,
}

impl Default for BlobStoreArgs {
    fn default() -> Self {
        BlobStoreArgs {
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

impl BlobStoreArgs {
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

impl PdsConfig {
    /// The guarded client's settings (for URLs remote documents name).
    pub fn net(&self) -> hearth_net::Config {
        let mut net =
            hearth_net::Config::new(self.dev, concat!("hearth-pds/", env!("CARGO_PKG_VERSION")));
        net.ca_certs = self.ca_certs.clone();
        net.internal_hosts = self.internal_hosts.clone();
        net
    }

    pub fn plc_url(&self) -> String {
        self.plc_url
            .clone()
            .unwrap_or_else(|| "https://plc.directory".into())
    }

    /// Where `social.hearth.*` goes by default: (base URL, DID).
    pub fn spaces_appview(&self) -> (String, String) {
        (
            self.spaces_appview_url
                .clone()
                .unwrap_or_else(|| self.appview_url.clone()),
            self.spaces_appview_did
                .clone()
                .unwrap_or_else(|| self.appview_did.clone()),
        )
    }

    /// The base URL clients and other services reach this PDS at.
    pub fn public_url(&self) -> String {
        self.host().url()
    }

    /// The PDS's own did:web.
    pub fn service_did(&self) -> String {
        self.host().did_web()
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

    /// Handle suffixes, each starting with a dot and lowercased.
    pub fn handle_domains(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .handle_domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .map(|d| {
                if d.starts_with('.') {
                    d
                } else {
                    format!(".{d}")
                }
            })
            .collect();
        if out.is_empty() {
            out.push(if self.is_local() {
                ".test".into()
            } else {
                format!(".{}", self.hostname)
            });
        }
        out
    }
}
