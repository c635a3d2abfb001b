//! `com.atproto.identity.*`: handles.

use crate::accounts::{service, store};
use crate::auth::{AccessAuth, Need};
use crate::db::DbError;
use crate::email::Purpose;
use crate::state::AppState;
use atproto::plc::Service;
use atproto::syntax::Handle;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use hearth_oauth::scope::IdentityAttr;
use hearth_xrpc::{XJson, XQuery};
use hearth_xrpc::{XrpcError, XrpcResult};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

#[derive(Deserialize)]
pub struct ResolveParams {
    handle: String,
}

/// Local accounts first; any other handle through DNS and HTTPS.
pub async fn resolve_handle(
    State(state): State<AppState>,
    XQuery(p): XQuery<ResolveParams>,
) -> XrpcResult<Json<Value>> {
    let handle: Handle = p
        .handle
        .parse()
        .map_err(|_| XrpcError::invalid_request("Invalid handle"))?;
    let h = handle.normalize().to_string();
    let local = {
        let h = h.clone();
        state
            .db
            .readers
            .read(move |c| Ok::<_, DbError>(store::by_handle(c, &h)?.map(|a| a.did)))
            .await?
    };
    if let Some(did) = local {
        return Ok(Json(json!({ "did": did })));
    }
    match state.handles.resolve(&handle).await {
        Ok(did) => Ok(Json(json!({ "did": did.as_str() }))),
        Err(_) => Err(XrpcError::named(
            "HandleNotFound",
            "Unable to resolve handle",
        )),
    }
}

#[derive(Deserialize)]
pub struct UpdateHandleInput {
    handle: String,
}

/// A handle under a service domain is checked like at sign-up; any other must already resolve
/// to the account's DID (DNS TXT or HTTPS), so nobody can claim a domain they do not control.
pub async fn update_handle(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<UpdateHandleInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Identity(IdentityAttr::Handle))?;
    let parsed: Handle = input
        .handle
        .parse()
        .map_err(|_| XrpcError::named("InvalidHandle", "Invalid handle"))?;
    let h = parsed.normalize().to_string();
    let under_service = state.handle_domains.iter().any(|d| h.ends_with(d.as_str()));
    let h = if under_service {
        service::check_service_handle(&state.handle_domains, &h)?
    } else {
        match state.handles.resolve(&parsed).await {
            Ok(did) if did.as_str() == auth.did => h,
            _ => {
                return Err(XrpcError::named(
                    "InvalidHandle",
                    "External handle did not resolve to DID (DNS TXT _atproto or https://<handle>/.well-known/atproto-did)",
                ));
            }
        }
    };
    let taken_by_other = {
        let (hh, did) = (h.clone(), auth.did.clone());
        state
            .db
            .readers
            .read(move |c| {
                Ok::<_, DbError>(store::by_handle(c, &hh)?.is_some_and(|a| a.did != did))
            })
            .await?
    };
    if taken_by_other {
        return Err(XrpcError::named(
            "HandleNotAvailable",
            "Handle already taken",
        ));
    }
    state
        .accounts()
        .update_handle(auth.account, &auth.did, &h)
        .await?;
    Ok(Json(json!({})))
}

pub async fn request_plc_operation_signature(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    super::server::send_code(&state, &headers, peer, &auth, Purpose::PlcOperation).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignPlcOperationInput {
    token: Option<String>,
    rotation_keys: Option<Vec<String>>,
    also_known_as: Option<Vec<String>>,
    verification_methods: Option<IndexMap<String, String>>,
    services: Option<IndexMap<String, Service>>,
}

/// Signs the account's next PLC operation with the server's rotation key (the fields given
/// replace the current ones) and returns it unsubmitted; the emailed code is required, and
/// used up.
pub async fn sign_plc_operation(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AccessAuth,
    XJson(input): XJson<SignPlcOperationInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Identity(IdentityAttr::All))?;
    let Some(token) = input.token.filter(|t| !t.trim().is_empty()) else {
        return Err(XrpcError::invalid_request(
            "email confirmation token required to sign PLC operations",
        ));
    };
    if !auth.did.starts_with("did:plc:") {
        return Err(XrpcError::invalid_request(
            "Only did:plc identities have PLC operations",
        ));
    }
    let keys = input.rotation_keys.iter().flatten();
    let methods = input.verification_methods.iter().flat_map(|m| m.values());
    if keys
        .chain(methods)
        .any(|k| atproto::crypto::parse_did_key(k).is_err())
    {
        return Err(XrpcError::invalid_request(
            "rotationKeys and verificationMethods must be did:key values",
        ));
    }
    super::server::code_attempt_allowed(&state, &headers, peer, Some(&auth.did))?;
    let accounts = state.accounts();
    accounts
        .take_code(auth.account, Purpose::PlcOperation, &token)
        .await?;
    let op = state
        .plc
        .sign_update(&state.secrets.plc_rotation_key, &auth.did, |o| {
            if let Some(k) = input.rotation_keys {
                o.rotation_keys = k;
            }
            if let Some(a) = input.also_known_as {
                o.also_known_as = a;
            }
            if let Some(v) = input.verification_methods {
                o.verification_methods = v;
            }
            if let Some(s) = input.services {
                o.services = s;
            }
        })
        .await
        .map_err(crate::accounts::AccountError::from)?;
    Ok(Json(json!({ "operation": op.to_json() })))
}
