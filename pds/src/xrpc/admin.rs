//! `com.atproto.admin.*` and the admin-only invite methods, behind HTTP Basic auth.

use super::sync::repeated;
use crate::accounts::{invites, service, store};
use crate::auth::AdminAuth;
use crate::db::{DbError, WriteTxn};
use crate::repo::store as repo_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use hearth_xrpc::{XJson, XQuery};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde::Deserialize;
use serde_json::{Value, json};

fn account_view(a: &store::Account) -> Value {
    let mut v = json!({
        "did": a.did,
        "handle": a.handle.clone().unwrap_or_else(|| "handle.invalid".into()),
        "email": a.email,
        "indexedAt": a.created_at,
        "emailConfirmedAt": a.email_confirmed_at,
        "invitesDisabled": false,
    });
    if let Some(o) = v.as_object_mut()
        && let Some(d) = &a.deactivated_at
    {
        o.insert("deactivatedAt".into(), json!(d));
    }
    v
}

#[derive(Deserialize)]
pub struct DidParam {
    did: String,
}

pub async fn get_account_info(
    State(state): State<AppState>,
    _a: AdminAuth,
    XQuery(p): XQuery<DidParam>,
) -> XrpcResult<Json<Value>> {
    let a = state
        .db
        .readers
        .read(move |c| store::by_did(c, &p.did))
        .await?;
    let a = a.ok_or_else(|| XrpcError::not_found("NotFound", "Account not found"))?;
    Ok(Json(account_view(&a)))
}

pub async fn get_account_infos(
    State(state): State<AppState>,
    _a: AdminAuth,
    uri: axum::http::Uri,
) -> XrpcResult<Json<Value>> {
    let dids = repeated(uri.query(), "dids");
    if dids.is_empty() {
        return Err(XrpcError::invalid_request("dids is required"));
    }
    let infos: Vec<Value> = state
        .db
        .readers
        .read(move |c| {
            let mut out = Vec::new();
            for d in &dids {
                if let Some(a) = store::by_did(c, d)? {
                    out.push(account_view(&a));
                }
            }
            Ok::<_, DbError>(out)
        })
        .await?;
    Ok(Json(json!({ "infos": infos })))
}

#[derive(Deserialize)]
pub struct StatusAttr {
    applied: bool,
    #[serde(rename = "ref")]
    reference: Option<String>,
}

#[derive(Deserialize)]
pub struct UpdateSubjectStatusInput {
    subject: Value,
    takedown: Option<StatusAttr>,
    deactivated: Option<StatusAttr>,
}

/// Takedowns of accounts, records and blobs. An account takedown ends its sessions' use at once
/// (every request checks status) and is announced on the firehose.
pub async fn update_subject_status(
    State(state): State<AppState>,
    _a: AdminAuth,
    XJson(input): XJson<UpdateSubjectStatusInput>,
) -> XrpcResult<Json<Value>> {
    let kind = input
        .subject
        .get("$type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let subject = input.subject.clone();
    let takedown = input
        .takedown
        .map(|t| (t.applied, t.reference.unwrap_or_else(|| "takedown".into())));
    if input.deactivated.is_some() {
        return Err(XrpcError::invalid_request(
            "Deactivation by the admin is not supported; use takedown",
        ));
    }
    let Some((applied, reference)) = takedown else {
        return Ok(Json(json!({ "subject": input.subject })));
    };
    let applied_ref = applied.then_some(reference);
    if kind == "com.atproto.admin.defs#repoRef" {
        let did = subject
            .get("did")
            .and_then(Value::as_str)
            .ok_or_else(|| XrpcError::invalid_request("repoRef needs did"))?;
        state.accounts().set_takedown(did, applied_ref).await?;
        return Ok(Json(
            json!({ "subject": input.subject, "takedown": { "applied": applied } }),
        ));
    }
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            let c = txn.conn;
            match kind.as_str() {
                "com.atproto.repo.strongRef" => {
                    let uri = subject
                        .get("uri")
                        .and_then(Value::as_str)
                        .ok_or_else(|| XrpcError::invalid_request("strongRef needs uri"))?;
                    let parsed: atproto::syntax::AtUri = uri
                        .parse()
                        .map_err(|_| XrpcError::invalid_request("Invalid uri"))?;
                    let (Some(col), Some(rkey)) = (parsed.collection(), parsed.rkey()) else {
                        return Err(XrpcError::invalid_request("uri must name a record"));
                    };
                    let a = store::by_identifier(c, parsed.authority().as_str())?
                        .ok_or_else(|| XrpcError::not_found("NotFound", "Account not found"))?;
                    repo_store::set_record_takedown(
                        c,
                        a.id,
                        col.as_str(),
                        rkey.as_str(),
                        applied_ref.as_deref(),
                    )?;
                }
                "com.atproto.admin.defs#repoBlobRef" => {
                    let did = subject
                        .get("did")
                        .and_then(Value::as_str)
                        .ok_or_else(|| XrpcError::invalid_request("repoBlobRef needs did"))?;
                    let cid = subject
                        .get("cid")
                        .and_then(Value::as_str)
                        .ok_or_else(|| XrpcError::invalid_request("repoBlobRef needs cid"))?;
                    let a = store::by_did(c, did)?
                        .ok_or_else(|| XrpcError::not_found("NotFound", "Account not found"))?;
                    repo_store::set_blob_takedown(c, a.id, cid, applied_ref.as_deref())?;
                }
                other => {
                    return Err(XrpcError::invalid_request(format!(
                        "Unsupported subject type: {other:?}"
                    )));
                }
            }
            Ok::<_, XrpcError>(())
        })
        .await?;
    Ok(Json(
        json!({ "subject": input.subject, "takedown": { "applied": applied } }),
    ))
}

pub async fn get_subject_status(
    State(state): State<AppState>,
    _a: AdminAuth,
    uri: axum::http::Uri,
) -> XrpcResult<Json<Value>> {
    let q = uri.query();
    let did = repeated(q, "did").into_iter().next();
    let blob = repeated(q, "blob").into_iter().next();
    let Some(did) = did else {
        return Err(XrpcError::invalid_request("did is required"));
    };
    let (d, b) = (did.clone(), blob.clone());
    let found: Option<(Option<String>, Option<String>)> = state
        .db
        .readers
        .read(move |c| {
            let Some(a) = store::by_did(c, &d)? else {
                return Ok::<_, DbError>(None);
            };
            let blob_ref = match &b {
                Some(cid) => repo_store::blob(c, a.id, cid)?.and_then(|(_, _, r)| r),
                None => None,
            };
            Ok(Some((a.takedown_ref, blob_ref)))
        })
        .await?;
    let (account_ref, blob_ref) =
        found.ok_or_else(|| XrpcError::not_found("NotFound", "Subject not found"))?;
    let (subject, r) = match blob {
        Some(cid) => (
            json!({ "$type": "com.atproto.admin.defs#repoBlobRef", "did": did, "cid": cid }),
            blob_ref,
        ),
        None => (
            json!({ "$type": "com.atproto.admin.defs#repoRef", "did": did }),
            account_ref,
        ),
    };
    let mut takedown = json!({ "applied": r.is_some() });
    if let (Some(r), Some(o)) = (r, takedown.as_object_mut()) {
        o.insert("ref".into(), json!(r));
    }
    Ok(Json(json!({ "subject": subject, "takedown": takedown })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInviteInput {
    use_count: i64,
    for_account: Option<String>,
}

pub async fn create_invite_code(
    State(state): State<AppState>,
    _a: AdminAuth,
    XJson(input): XJson<CreateInviteInput>,
) -> XrpcResult<Json<Value>> {
    let issued = invites::issue(
        &state.db.writer,
        &state.cfg.hostname,
        1,
        input.use_count,
        vec![input.for_account.unwrap_or_else(|| "admin".into())],
    )
    .await?;
    let code = issued
        .into_iter()
        .flat_map(|(_, codes)| codes)
        .next()
        .ok_or_else(|| XrpcError::internal("no code was made"))?;
    Ok(Json(json!({ "code": code })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInvitesInput {
    code_count: i64,
    use_count: i64,
    for_accounts: Option<Vec<String>>,
}

pub async fn create_invite_codes(
    State(state): State<AppState>,
    _a: AdminAuth,
    XJson(input): XJson<CreateInvitesInput>,
) -> XrpcResult<Json<Value>> {
    let accounts = input.for_accounts.unwrap_or_else(|| vec!["admin".into()]);
    let plan = invites::issue(
        &state.db.writer,
        &state.cfg.hostname,
        input.code_count,
        input.use_count,
        accounts,
    )
    .await?;
    let codes: Vec<Value> = plan
        .into_iter()
        .map(|(account, codes)| json!({ "account": account, "codes": codes }))
        .collect();
    Ok(Json(json!({ "codes": codes })))
}

pub async fn get_invite_codes(
    State(state): State<AppState>,
    _a: AdminAuth,
) -> XrpcResult<Json<Value>> {
    let codes = state.db.readers.read(|c| invites::list(c, None)).await?;
    Ok(Json(json!({ "codes": codes })))
}

#[derive(Deserialize)]
pub struct DisableInvitesInput {
    codes: Option<Vec<String>>,
    accounts: Option<Vec<String>>,
}

pub async fn disable_invite_codes(
    State(state): State<AppState>,
    _a: AdminAuth,
    XJson(input): XJson<DisableInvitesInput>,
) -> XrpcResult<Json<Value>> {
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            for code in input.codes.unwrap_or_default() {
                invites::disable(txn.conn, &code)?;
            }
            for account in input.accounts.unwrap_or_default() {
                invites::disable_for_account(txn.conn, &account)?;
            }
            Ok::<_, DbError>(())
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct AdminDeleteInput {
    did: String,
}

pub async fn delete_account(
    State(state): State<AppState>,
    _a: AdminAuth,
    XJson(input): XJson<AdminDeleteInput>,
) -> XrpcResult<Json<Value>> {
    state.accounts().delete_by_did(&input.did).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct UpdatePasswordInput {
    did: String,
    password: String,
}

pub async fn update_account_password(
    State(state): State<AppState>,
    _a: AdminAuth,
    XJson(input): XJson<UpdatePasswordInput>,
) -> XrpcResult<Json<Value>> {
    state
        .accounts()
        .reset_password(&input.did, &input.password)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct UpdateHandleInput {
    did: String,
    handle: String,
}

pub async fn update_account_handle(
    State(state): State<AppState>,
    _a: AdminAuth,
    XJson(input): XJson<UpdateHandleInput>,
) -> XrpcResult<Json<Value>> {
    let did = input.did.clone();
    let a = state
        .db
        .readers
        .read(move |c| store::by_did(c, &did))
        .await?;
    let a = a.ok_or_else(|| XrpcError::not_found("NotFound", "Account not found"))?;
    let handle = service::check_service_handle(&state.handle_domains, &input.handle)?;
    state
        .accounts()
        .update_handle(a.id, &a.did, &handle)
        .await?;
    Ok(Json(json!({})))
}
