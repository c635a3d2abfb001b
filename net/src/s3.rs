//! Objects in an S3-compatible bucket the operator configured (blob bytes, space images).
//!
//! Requests are signed with `rusty-s3`, which only builds presigned URLs and sends nothing, and
//! go out on the operator client ([`Config::operator_client`]), so an endpoint behind
//! `HEARTH_CA_CERTS` is trusted like every other operator-configured host and there is one HTTP
//! and TLS stack in the process. The alternatives bring their own: `object_store`'s `aws`
//! feature a second reqwest with aws-lc-rs (a C build), and `rust-s3` builds its own reqwest
//! client with no way to add a root certificate (only to turn verification off).

use crate::{Config, NetError};
use bytes::Bytes;
use futures::Stream;
use rusty_s3::actions::S3Action as _;
use rusty_s3::{Bucket, Credentials, UrlStyle};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How many locks the object keys are spread over ([`ObjectStore::lock`]): writes of different
/// objects rarely wait on each other, and the set stays fixed in size.
const KEY_LOCKS: usize = 64;

/// How long a signature is valid: only for the request made right after signing.
const SIGNED_FOR: Duration = Duration::from_secs(300);

/// Where the objects are and who may write them.
#[derive(Clone, Debug)]
pub struct S3Config {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (MinIO, most
    /// self-hosted servers).
    pub path_style: bool,
}

/// The settings as the operator gives them (`HEARTH_BLOBSTORE`, `HEARTH_S3_*`), shared by the
/// services that keep bytes in the bucket.
#[derive(Clone, Debug, Default)]
pub struct S3Settings {
    /// `disk` or `s3`.
    pub blobstore: String,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub path_style: bool,
}

impl S3Settings {
    /// The bucket when bytes go to S3 (`None`: on disk), or which setting is missing.
    pub fn config(self) -> Result<Option<S3Config>, S3Error> {
        if self.blobstore != "s3" {
            return Ok(None);
        }
        let need = |v: Option<String>, name: &str| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| S3Error::Setup(format!("HEARTH_BLOBSTORE=s3 needs {name}")))
        };
        Ok(Some(S3Config {
            endpoint: need(self.endpoint, "HEARTH_S3_ENDPOINT")?,
            bucket: need(self.bucket, "HEARTH_S3_BUCKET")?,
            region: self.region,
            access_key_id: need(self.access_key_id, "HEARTH_S3_ACCESS_KEY_ID")?,
            secret_access_key: need(self.secret_access_key, "HEARTH_S3_SECRET_ACCESS_KEY")?,
            path_style: self.path_style,
        }))
    }
}

/// Why an object operation failed. Operator-facing: it names the object key, never a URL with
/// its signature.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("S3 setup: {0}")]
    Setup(String),
    #[error("S3 {op} {key}: {why}")]
    Request {
        op: &'static str,
        key: String,
        why: String,
    },
    #[error("reading {0}: {1}")]
    Io(String, std::io::Error),
}

impl From<NetError> for S3Error {
    fn from(e: NetError) -> S3Error {
        S3Error::Setup(e.to_string())
    }
}

/// A bucket and the client that reaches it.
#[derive(Clone)]
pub struct ObjectStore {
    bucket: Bucket,
    credentials: Credentials,
    client: reqwest::Client,
    locks: Arc<[Arc<Mutex<()>>]>,
}

impl std::fmt::Debug for ObjectStore {
    // Never the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("bucket", &self.bucket.name())
            .field("url", &self.bucket.base_url().as_str())
            .finish()
    }
}

/// An object's bytes as they arrive.
pub type ObjectStream = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;

impl ObjectStore {
    /// `net` gives the trusted roots and the user agent; objects may be large, so a request
    /// is limited by `timeout` rather than the operator client's usual limit.
    pub fn new(cfg: &S3Config, net: &Config, timeout: Duration) -> Result<ObjectStore, S3Error> {
        let endpoint = cfg
            .endpoint
            .parse()
            .map_err(|e| S3Error::Setup(format!("endpoint {}: {e}", cfg.endpoint)))?;
        let style = if cfg.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(endpoint, style, cfg.bucket.clone(), cfg.region.clone())
            .map_err(|e| S3Error::Setup(format!("bucket {}: {e}", cfg.bucket)))?;
        let client = net
            .client_builder()?
            .timeout(timeout)
            .build()
            .map_err(|e| S3Error::Setup(e.to_string()))?;
        Ok(ObjectStore {
            bucket,
            credentials: Credentials::new(&cfg.access_key_id, &cfg.secret_access_key),
            client,
            locks: (0..KEY_LOCKS).map(|_| Arc::new(Mutex::new(()))).collect(),
        })
    }

    /// A lock for one key (shared with a few others), for callers that must order a write of
    /// an object with a delete of it: content-addressed objects shared by several rows.
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<()> {
        let mut h = std::hash::DefaultHasher::new();
        key.hash(&mut h);
        let i = (h.finish() % self.locks.len() as u64) as usize;
        self.locks[i].clone().lock_owned().await
    }

    fn failed(op: &'static str, key: &str, why: impl std::fmt::Display) -> S3Error {
        // reqwest's errors carry the URL, and with it the signature: keep only the reason.
        S3Error::Request {
            op,
            key: key.to_owned(),
            why: why.to_string(),
        }
    }

    async fn send(
        &self,
        op: &'static str,
        key: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, S3Error> {
        let response = request
            .send()
            .await
            .map_err(|e| Self::failed(op, key, e.without_url()))?;
        Ok(response)
    }

    /// Uploads a file's bytes under `key`, replacing any object there.
    pub async fn put_file(
        &self,
        key: &str,
        file: &Path,
        content_type: &str,
    ) -> Result<(), S3Error> {
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| S3Error::Io(file.display().to_string(), e))?;
        let len = f
            .metadata()
            .await
            .map_err(|e| S3Error::Io(file.display().to_string(), e))?
            .len();
        self.put(key, reqwest::Body::from(f), len, content_type)
            .await
    }

    /// Uploads `bytes` under `key`, replacing any object there.
    pub async fn put_bytes(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), S3Error> {
        let len = bytes.len() as u64;
        self.put(key, reqwest::Body::from(bytes), len, content_type)
            .await
    }

    async fn put(
        &self,
        key: &str,
        body: reqwest::Body,
        len: u64,
        content_type: &str,
    ) -> Result<(), S3Error> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        // S3 refuses chunked uploads: the length goes in the header, the bytes stream.
        let request = self
            .client
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        let response = self.send("PUT", key, request).await?;
        if !response.status().is_success() {
            return Err(Self::failed("PUT", key, response.status()));
        }
        Ok(())
    }

    /// The object's bytes, or `None` when there is no such object.
    pub async fn get(&self, key: &str) -> Result<Option<ObjectStream>, S3Error> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let response = self.send("GET", key, self.client.get(url)).await?;
        match response.status() {
            s if s.is_success() => Ok(Some(Box::pin(response.bytes_stream()))),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s => Err(Self::failed("GET", key, s)),
        }
    }

    /// The whole object, or `None` when there is no such object (for small objects; large
    /// ones stream with [`ObjectStore::get`]).
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Bytes>, S3Error> {
        let Some(mut body) = self.get(key).await? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut body).await {
            bytes.extend_from_slice(&chunk.map_err(|e| Self::failed("GET", key, e.without_url()))?);
        }
        Ok(Some(bytes.into()))
    }

    /// Deletes the object; deleting one that is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let response = self.send("DELETE", key, self.client.delete(url)).await?;
        match response.status() {
            s if s.is_success() || s == reqwest::StatusCode::NOT_FOUND => Ok(()),
            s => Err(Self::failed("DELETE", key, s)),
        }
    }

    /// Whether an object is there (for checks and tests; serving uses [`ObjectStore::get`]).
    pub async fn exists(&self, key: &str) -> Result<bool, S3Error> {
        let url = self
            .bucket
            .head_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let response = self.send("HEAD", key, self.client.head(url)).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            s => Err(Self::failed("HEAD", key, s)),
        }
    }
}
