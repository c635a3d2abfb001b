//! Client discovery: a `client_id` URL's metadata document, fetched only through the guarded
//! client (`hearth-net`: public addresses only outside development, checked at connect time),
//! with a size cap and a timeout, and kept for a while; the loopback form in development.

use super::error::OAuthError;
use hearth_net::{NetError, RemoteClient};
use hearth_oauth::client_metadata::{self, ClientId, ClientMetadata, MAX_DOCUMENT_BYTES};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a fetched document (or JWK Set) is used before it is fetched again.
const CACHE_FOR: Duration = Duration::from_secs(10 * 60);
/// Limit on one fetch, connection included: the person is waiting on the other end.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Entries kept before the cache is emptied: client ids come from anyone.
const MAX_ENTRIES: usize = 1000;

/// Fetches and caches client metadata documents and JWK Sets.
pub struct ClientResolver {
    remote: RemoteClient,
    dev: bool,
    documents: Mutex<HashMap<String, (Instant, Arc<ClientMetadata>)>>,
    jwks: Mutex<HashMap<String, (Instant, Arc<serde_json::Value>)>>,
}

fn cached<T>(map: &Mutex<HashMap<String, (Instant, Arc<T>)>>, key: &str) -> Option<Arc<T>> {
    // A poisoned lock means a panic mid-insert: the map itself is intact.
    let map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_FOR)
        .map(|(_, v)| v.clone())
}

fn remember<T>(map: &Mutex<HashMap<String, (Instant, Arc<T>)>>, key: &str, value: Arc<T>) {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
    map.insert(key.to_owned(), (Instant::now(), value));
}

fn fetch_failed(what: &str, e: NetError) -> OAuthError {
    OAuthError::InvalidClientMetadata(format!("{what} could not be fetched: {e}"))
}

impl ClientResolver {
    pub fn new(remote: RemoteClient, dev: bool) -> ClientResolver {
        ClientResolver {
            remote,
            dev,
            documents: Mutex::default(),
            jwks: Mutex::default(),
        }
    }

    /// The validated metadata of `client_id`.
    pub async fn resolve(&self, client_id: &str) -> Result<Arc<ClientMetadata>, OAuthError> {
        let url = match ClientId::parse(client_id, self.dev)? {
            ClientId::Loopback(md) => return Ok(Arc::new(*md)),
            ClientId::Discoverable(url) => url,
        };
        if let Some(md) = cached(&self.documents, client_id) {
            return Ok(md);
        }
        let body = self.fetch(&url, "the client metadata document").await?;
        let md = Arc::new(client_metadata::from_document(&url, &body, self.dev)?);
        remember(&self.documents, client_id, md.clone());
        Ok(md)
    }

    /// A confidential client's JWK Set: by value, or fetched from its `jwks_uri`.
    pub async fn jwks(&self, md: &ClientMetadata) -> Result<Arc<serde_json::Value>, OAuthError> {
        if let Some(jwks) = &md.jwks {
            return Ok(Arc::new(jwks.clone()));
        }
        let Some(uri) = &md.jwks_uri else {
            return Err(OAuthError::InvalidClient("The client lists no keys".into()));
        };
        if let Some(set) = cached(&self.jwks, uri) {
            return Ok(set);
        }
        let url = self
            .remote
            .check(uri)
            .map_err(|e| fetch_failed("jwks_uri", e))?;
        let body = self.fetch(&url, "jwks_uri").await?;
        let set: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| OAuthError::InvalidClientMetadata("jwks_uri is not a JWK Set".into()))?;
        if !set.get("keys").is_some_and(|k| k.is_array()) {
            return Err(OAuthError::InvalidClientMetadata(
                "jwks_uri is not a JWK Set".into(),
            ));
        }
        let set = Arc::new(set);
        remember(&self.jwks, uri, set.clone());
        Ok(set)
    }

    /// Forgets a client's cached keys (an assertion named a key the cached set lacks: the
    /// client may have rotated them).
    pub fn forget_jwks(&self, uri: &str) {
        let mut map = self.jwks.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(uri);
    }

    async fn fetch(&self, url: &reqwest::Url, what: &str) -> Result<Vec<u8>, OAuthError> {
        let req = self
            .remote
            .request(reqwest::Method::GET, url)
            .map_err(|e| fetch_failed(what, e))?
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(FETCH_TIMEOUT);
        let res = self
            .remote
            .send(req)
            .await
            .map_err(|e| fetch_failed(what, e))?;
        if !res.status().is_success() {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "{what} could not be fetched: status {}",
                res.status().as_u16()
            )));
        }
        hearth_net::read_capped(res, MAX_DOCUMENT_BYTES)
            .await
            .map_err(|e| fetch_failed(what, e))
    }
}
