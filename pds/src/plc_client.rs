//! Creating and updating accounts' did:plc identities at the PLC directory.

use crate::state::AppState;
use atproto::crypto::PublicKey;
use atproto::plc::{Operation, PlcOp, create_genesis, update_op};
use hearth_xrpc::{XrpcError, XrpcResult};

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

    /// Registers a new DID whose document names this PDS, the account's signing key and
    /// handle. The server's rotation key controls it; a user-supplied recovery key goes first,
    /// so it outranks the server's within the recovery window.
    pub async fn create_did(
        &self,
        state: &AppState,
        signing: &PublicKey,
        handle: &str,
        recovery: Option<&PublicKey>,
    ) -> XrpcResult<String> {
        let mut rotation = vec![state.secrets.plc_rotation_key.public().did_key()];
        if let Some(r) = recovery {
            rotation.insert(0, r.did_key());
        }
        let op = Operation::atproto(signing, handle, &state.public_url, rotation, None);
        let (did, signed) =
            create_genesis(op, &state.secrets.plc_rotation_key).map_err(XrpcError::internal)?;
        self.submit(&did, &signed).await?;
        Ok(did)
    }

    /// Points the DID document at a new handle.
    pub async fn update_handle(
        &self,
        state: &AppState,
        _account: i64,
        did: &str,
        handle: &str,
    ) -> XrpcResult<()> {
        let last = self.last_op(did).await?;
        let op = update_op(&last, &state.secrets.plc_rotation_key, |o| {
            o.also_known_as = vec![format!("at://{handle}")];
        })
        .map_err(XrpcError::internal)?;
        self.submit(did, &op).await
    }

    async fn last_op(&self, did: &str) -> XrpcResult<PlcOp> {
        let res = self
            .http
            .get(format!("{}/{did}/log/last", self.url))
            .send()
            .await
            .map_err(|e| XrpcError::internal(format!("PLC directory unreachable: {e}")))?;
        if !res.status().is_success() {
            return Err(XrpcError::internal(format!(
                "PLC directory answered {} for {did}",
                res.status()
            )));
        }
        let json: serde_json::Value = res.json().await.map_err(XrpcError::internal)?;
        PlcOp::from_json(&json).map_err(XrpcError::internal)
    }

    async fn submit(&self, did: &str, op: &PlcOp) -> XrpcResult<()> {
        let res = self
            .http
            .post(format!("{}/{did}", self.url))
            .json(&op.to_json())
            .send()
            .await
            .map_err(|e| XrpcError::internal(format!("PLC directory unreachable: {e}")))?;
        if res.status().is_success() {
            return Ok(());
        }
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        Err(XrpcError::internal(format!(
            "PLC directory refused the operation ({status}): {body}"
        )))
    }
}
