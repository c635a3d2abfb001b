//! Account migration in: importing the repository, the blobs still missing, the DID
//! credentials to put in the PLC operation, and submitting it.

use crate::accounts::AccountStatus;
use crate::auth::{AccessAuth, Need};
use crate::db::WriteTxn;
use crate::repo::import::{self, ImportError, MAX_IMPORT_BYTES};
use crate::repo::store as repo_store;
use crate::sequencer::emit_identity;
use crate::state::AppState;
use atproto::plc::{Operation, PlcOp};
use atproto::syntax::Did;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use hearth_oauth::scope::{AccountAction, AccountAttr, IdentityAttr};
use hearth_xrpc::{XJson, XQuery, XrpcError, XrpcResult};
use serde::Deserialize;
use serde_json::{Value, json};

/// importRepo: the whole repository of the account migrating in, checked against its DID
/// document's current key, replaces whatever it had here. Nothing is stored unless every
/// check passes.
pub async fn import_repo(
    State(state): State<AppState>,
    auth: AccessAuth,
    headers: HeaderMap,
    body: Body,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Account(AccountAttr::Repo, AccountAction::Manage))?;
    if auth.status != AccountStatus::Deactivated {
        return Err(ImportError::NotDeactivated.into());
    }
    if headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_IMPORT_BYTES)
    {
        return Err(ImportError::TooLarge.into());
    }
    // A chunked body is cut off at the limit as it arrives.
    let body = axum::body::to_bytes(body, MAX_IMPORT_BYTES as usize)
        .await
        .map_err(|_| ImportError::TooLarge)?;
    let did: Did = auth
        .did
        .parse()
        .map_err(|_| XrpcError::internal("account DID is malformed"))?;
    // The key may have changed since a cached copy: an import is rare, ask the source.
    let doc = state.dids.refresh(&did).await.map_err(|e| {
        XrpcError::invalid_request(format!("Could not resolve the account's DID: {e}"))
    })?;
    let key = doc.signing_key().map_err(|_| {
        XrpcError::invalid_request("The account's DID document has no atproto signing key")
    })?;
    let d = auth.did.clone();
    let checked = tokio::task::spawn_blocking(move || import::check(&body, &d, &key))
        .await
        .map_err(XrpcError::internal)??;
    let (committer, account, d) = (state.committer(), auth.account, auth.did.clone());
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            // Checked again in the writer: an activation may have raced the check above.
            let status = crate::accounts::store::by_id(txn.conn, account)?.map(|a| a.status);
            if status != Some(AccountStatus::Deactivated) {
                return Err(ImportError::NotDeactivated);
            }
            committer.import_repo(txn, account, &d, checked)
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct MissingBlobsParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// listMissingBlobs: blobs the account's records reference that were not uploaded here yet.
pub async fn list_missing_blobs(
    State(state): State<AppState>,
    auth: AccessAuth,
    XQuery(p): XQuery<MissingBlobsParams>,
) -> XrpcResult<Json<Value>> {
    auth.require_permission(Need::Account(AccountAttr::Repo, AccountAction::Read))?;
    let limit = p.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(XrpcError::invalid_request("limit must be 1 to 1000"));
    }
    let (account, cursor) = (auth.account, p.cursor.unwrap_or_default());
    let rows = state
        .db
        .readers
        .read(move |c| repo_store::missing_blobs(c, account, &cursor, limit))
        .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| r.0.clone()))
        .flatten();
    let blobs: Vec<Value> = rows
        .into_iter()
        .map(|(cid, path)| json!({ "cid": cid, "recordUri": format!("at://{}/{path}", auth.did) }))
        .collect();
    let mut out = json!({ "blobs": blobs });
    if let (Some(c), Some(o)) = (next, out.as_object_mut()) {
        o.insert("cursor".into(), json!(c));
    }
    Ok(Json(out))
}

/// The DID document fields that make this server the account's host.
fn recommended(state: &AppState, handle: Option<&str>, key: &atproto::crypto::PublicKey) -> Value {
    json!({
        "rotationKeys": [state.secrets.plc_rotation_key.public().did_key()],
        "alsoKnownAs": handle.map(|h| vec![format!("at://{h}")]).unwrap_or_default(),
        "verificationMethods": { "atproto": key.did_key() },
        "services": {
            "atproto_pds": { "type": "AtprotoPersonalDataServer", "endpoint": state.public_url }
        },
    })
}

pub async fn get_recommended_did_credentials(
    State(state): State<AppState>,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    auth.require_permission(Need::Identity(IdentityAttr::All))?;
    let (account, st) = (auth.account, state.clone());
    let (handle, key) = state
        .db
        .readers
        .read(move |c| {
            let a = crate::accounts::store::by_id(c, account)?
                .ok_or_else(|| XrpcError::invalid_token("Account not found"))?;
            let k = st.keys.get(c, account).map_err(XrpcError::internal)?;
            Ok::<_, XrpcError>((a.handle, k.public()))
        })
        .await?;
    Ok(Json(recommended(&state, handle.as_deref(), &key)))
}

#[derive(Deserialize)]
pub struct SubmitPlcOperationInput {
    operation: Value,
}

/// submitPlcOperation: the operation (signed by the old server, or a recovery key) must make
/// this server the account's host, with its signing key and a rotation key of ours, before it
/// goes to the directory.
pub async fn submit_plc_operation(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<SubmitPlcOperationInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Identity(IdentityAttr::All))?;
    if !auth.did.starts_with("did:plc:") {
        return Err(XrpcError::invalid_request(
            "Only did:plc identities have PLC operations",
        ));
    }
    let op = PlcOp::from_json(&input.operation)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid PLC operation: {e}")))?;
    let Some(Operation {
        rotation_keys,
        verification_methods,
        also_known_as,
        services,
        ..
    }) = op.normalize()
    else {
        return Err(XrpcError::invalid_request(
            "The operation must be a PLC update, not a tombstone",
        ));
    };
    let (account, st) = (auth.account, state.clone());
    let (handle, key) = state
        .db
        .readers
        .read(move |c| {
            let a = crate::accounts::store::by_id(c, account)?
                .ok_or_else(|| XrpcError::invalid_token("Account not found"))?;
            let k = st.keys.get(c, account).map_err(XrpcError::internal)?;
            Ok::<_, XrpcError>((a.handle, k.public()))
        })
        .await?;
    let ours = state.secrets.plc_rotation_key.public().did_key();
    if !rotation_keys.contains(&ours) {
        return Err(XrpcError::invalid_request(
            "Rotation keys do not include the server's rotation key",
        ));
    }
    if verification_methods.get("atproto") != Some(&key.did_key()) {
        return Err(XrpcError::invalid_request(
            "Incorrect signing key: the atproto verification method must be this server's key for the account",
        ));
    }
    match services.get("atproto_pds") {
        Some(s) if s.kind == "AtprotoPersonalDataServer" && s.endpoint == state.public_url => {}
        _ => {
            return Err(XrpcError::invalid_request(
                "The atproto_pds service must name this server",
            ));
        }
    }
    if let Some(h) = &handle
        && !also_known_as.contains(&format!("at://{h}"))
    {
        return Err(XrpcError::invalid_request(
            "alsoKnownAs must include the account's handle",
        ));
    }
    state
        .plc
        .submit(&auth.did, &op)
        .await
        .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
    let (sequencer, d) = (state.sequencer.clone(), auth.did.clone());
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            emit_identity(txn, &sequencer, &d, handle.as_deref())?;
            Ok::<_, XrpcError>(())
        })
        .await?;
    Ok(Json(json!({})))
}
