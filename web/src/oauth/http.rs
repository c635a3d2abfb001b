//! The client's HTTP: every request through hearth-net's guarded client (a DID document or a
//! metadata document cannot aim this server at a private address outside development), bodies
//! capped, DPoP proofs on every request to an authorization server or a PDS, and one retry when
//! a server answers with a fresh DPoP nonce.

use super::OAuthError;
use atproto::crypto::Keypair;
use atproto::syntax::Datetime;
use hearth_net::{RemoteClient, read_capped};
use hearth_oauth::client::{as_wants_nonce, dpop_proof, rs_wants_nonce};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Mutex;

/// Metadata documents and token answers are small; anything larger is refused.
const MAX_BODY: usize = 64 * 1024;

/// An answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, OAuthError> {
        serde_json::from_slice(&self.body).map_err(|_| OAuthError::BadAnswer)
    }

    /// The OAuth or XRPC error name of a refusal, for the person and the log.
    pub fn error_name(&self) -> String {
        #[derive(serde::Deserialize)]
        struct E {
            error: Option<String>,
        }
        serde_json::from_slice::<E>(&self.body)
            .ok()
            .and_then(|e| e.error)
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }
}

pub struct Http {
    remote: RemoteClient,
    /// The latest DPoP nonce of each server (by origin).
    nonces: Mutex<HashMap<String, String>>,
}

fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

impl Http {
    pub fn new(remote: RemoteClient) -> Http {
        Http {
            remote,
            nonces: Mutex::new(HashMap::new()),
        }
    }

    fn nonce(&self, origin: &str) -> Option<String> {
        self.nonces.lock().ok()?.get(origin).cloned()
    }

    fn remember_nonce(&self, origin: String, res: &reqwest::Response) {
        if let Some(n) = res
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            && let Ok(mut m) = self.nonces.lock()
        {
            m.insert(origin, n.to_owned());
        }
    }

    /// GETs a JSON document; anything but a 200 is an error.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, OAuthError> {
        let url = self.remote.check(url)?;
        let req = self
            .remote
            .request(Method::GET, &url)?
            .header("accept", "application/json");
        let res = self.remote.send(req).await?;
        if res.status().as_u16() != 200 {
            return Err(OAuthError::BadAnswer);
        }
        let body = read_capped(res, MAX_BODY).await?;
        serde_json::from_slice(&body).map_err(|_| OAuthError::BadAnswer)
    }

    /// POSTs a form to an authorization server's endpoint with a DPoP proof of `key`. `fields`
    /// is called for each attempt, so a client assertion is never sent twice.
    pub async fn as_post(
        &self,
        url: &str,
        key: &Keypair,
        fields: impl Fn() -> Vec<(&'static str, String)>,
    ) -> Result<Answer, OAuthError> {
        let url = self.remote.check(url)?;
        let origin = origin_of(&url);
        let mut retried = false;
        loop {
            let proof = dpop_proof(
                key,
                "POST",
                url.as_str(),
                self.nonce(&origin).as_deref(),
                None,
                Datetime::unix_now_secs(),
            )
            .ok_or(OAuthError::Key)?;
            let req = self
                .remote
                .request(Method::POST, &url)?
                .header("dpop", proof)
                .header("accept", "application/json")
                .form(&fields());
            let res = self.remote.send(req).await?;
            self.remember_nonce(origin.clone(), &res);
            let status = res.status().as_u16();
            let body = read_capped(res, MAX_BODY).await?;
            if !retried && as_wants_nonce(status, &body) {
                retried = true;
                continue;
            }
            return Ok(Answer { status, body });
        }
    }

    /// A request to a PDS with a DPoP-bound access token (and a JSON body, if any).
    pub async fn resource(
        &self,
        method: Method,
        url: &str,
        key: &Keypair,
        access_token: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, OAuthError> {
        let url = self.remote.check(url)?;
        let origin = origin_of(&url);
        let mut retried = false;
        loop {
            let proof = dpop_proof(
                key,
                method.as_str(),
                url.as_str(),
                self.nonce(&origin).as_deref(),
                Some(access_token),
                Datetime::unix_now_secs(),
            )
            .ok_or(OAuthError::Key)?;
            let mut req = self
                .remote
                .request(method.clone(), &url)?
                .header("authorization", format!("DPoP {access_token}"))
                .header("dpop", proof);
            if let Some(b) = body {
                req = req.json(b);
            }
            let res = self.remote.send(req).await?;
            self.remember_nonce(origin.clone(), &res);
            let status = res.status().as_u16();
            let www = res
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = read_capped(res, MAX_BODY).await?;
            if !retried && rs_wants_nonce(status, www.as_deref()) {
                retried = true;
                continue;
            }
            return Ok(Answer { status, body });
        }
    }
}
