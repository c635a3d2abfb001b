//! Creating and updating accounts' did:plc identities at the PLC directory.

use atproto::crypto::{Keypair, PublicKey};
use atproto::plc::{Operation, PlcOp, create_genesis, update_op};
use reqwest::StatusCode;

/// Why the directory did not take an operation. None of it is the client's doing.
#[derive(Debug, thiserror::Error)]
pub enum PlcError {
    #[error("signing the PLC operation: {0}")]
    Sign(String),
    #[error("PLC directory unreachable: {0}")]
    Unreachable(reqwest::Error),
    #[error("PLC directory answered {status} for {did}")]
    Status { status: StatusCode, did: String },
    #[error("PLC directory sent an unreadable operation: {0}")]
    Unreadable(String),
    #[error("PLC directory refused the operation ({status}): {body}")]
    Refused { status: StatusCode, body: String },
}

pub struct PlcClient {
    url: String,
    http: reqwest::Client,
}

impl PlcClient {
    pub fn new(url: &str, http: reqwest::Client) -> Self {
        PlcClient {
            url: url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// Registers a new DID whose document names `endpoint` (this PDS), the account's signing
    /// key and handle. The server's rotation key controls it; a user-supplied recovery key goes
    /// first, so it outranks the server's within the recovery window.
    pub async fn create_did(
        &self,
        rotation_key: &Keypair,
        endpoint: &str,
        signing: &PublicKey,
        handle: &str,
        recovery: Option<&PublicKey>,
    ) -> Result<String, PlcError> {
        let mut rotation = vec![rotation_key.public().did_key()];
        if let Some(r) = recovery {
            rotation.insert(0, r.did_key());
        }
        let op = Operation::atproto(signing, handle, endpoint, rotation, None);
        let (did, signed) =
            create_genesis(op, rotation_key).map_err(|e| PlcError::Sign(e.to_string()))?;
        self.submit(&did, &signed).await?;
        Ok(did)
    }

    /// Points the DID document at a new handle.
    pub async fn update_handle(
        &self,
        rotation_key: &Keypair,
        did: &str,
        handle: &str,
    ) -> Result<(), PlcError> {
        let op = self
            .sign_update(rotation_key, did, |o| {
                o.also_known_as = vec![format!("at://{handle}")];
            })
            .await?;
        self.submit(did, &op).await
    }

    /// The DID's next operation, `edit` applied to its current one, signed and not submitted
    /// (signPlcOperation hands it to the account, which submits it itself).
    pub async fn sign_update(
        &self,
        rotation_key: &Keypair,
        did: &str,
        edit: impl FnOnce(&mut Operation),
    ) -> Result<PlcOp, PlcError> {
        let last = self.last_op(did).await?;
        update_op(&last, rotation_key, edit).map_err(|e| PlcError::Sign(e.to_string()))
    }

    async fn last_op(&self, did: &str) -> Result<PlcOp, PlcError> {
        let res = self
            .http
            .get(format!("{}/{did}/log/last", self.url))
            .send()
            .await
            .map_err(PlcError::Unreachable)?;
        if !res.status().is_success() {
            return Err(PlcError::Status {
                status: res.status(),
                did: did.to_owned(),
            });
        }
        let json: serde_json::Value = res
            .json()
            .await
            .map_err(|e| PlcError::Unreadable(e.to_string()))?;
        PlcOp::from_json(&json).map_err(|e| PlcError::Unreadable(e.to_string()))
    }

    /// Sends a signed operation to the directory.
    pub async fn submit(&self, did: &str, op: &PlcOp) -> Result<(), PlcError> {
        let res = self
            .http
            .post(format!("{}/{did}", self.url))
            .json(&op.to_json())
            .send()
            .await
            .map_err(PlcError::Unreachable)?;
        if res.status().is_success() {
            return Ok(());
        }
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        Err(PlcError::Refused { status, body })
    }
}
