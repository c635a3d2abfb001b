//! `com.atproto.repo.*`: writing and reading records, uploading blobs.

use crate::accounts::service::did_document;
use crate::accounts::store;
use crate::auth::AccessAuth;
use crate::clock::{now_iso, now_secs};
use crate::db::{DbError, WriteTxn};
use crate::limits;
use crate::repo::store as repo_store;
use crate::repo::{CommitOutcome, Intent, WriteRequest, prepare_record};
use crate::state::AppState;
use atproto::data::{Cid, cbor, json as datajson, parse_cid};
use atproto::firehose::MAX_OPS;
use atproto::repo::WriteAction;
use atproto::syntax::{Nsid, RecordKey};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use hearth_oauth::scope::RepoAction;
use hearth_xrpc::{XJson, XQuery};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde::Deserialize;
use serde_json::{Value, json};

fn check_collection(c: &str) -> XrpcResult<()> {
    c.parse::<Nsid>()
        .map(|_| ())
        .map_err(|_| XrpcError::invalid_request(format!("Invalid collection: {c}")))
}

fn check_rkey(k: &str) -> XrpcResult<()> {
    k.parse::<RecordKey>()
        .map(|_| ())
        .map_err(|_| XrpcError::invalid_request(format!("Invalid record key: {k}")))
}

fn parse_swap(s: Option<&str>, what: &str) -> XrpcResult<Option<Cid>> {
    s.map(|s| parse_cid(s).map_err(|_| XrpcError::invalid_request(format!("Invalid {what} CID"))))
        .transpose()
}

/// The repo parameter must name the caller (by DID or handle).
async fn own_repo(state: &AppState, auth: &AccessAuth, repo: &str) -> XrpcResult<()> {
    if repo == auth.did {
        return Ok(());
    }
    let handle = repo.to_ascii_lowercase();
    let account = auth.account;
    let mine = state
        .db
        .readers
        .read(move |c| {
            Ok::<_, DbError>(store::by_id(c, account)?.and_then(|a| a.handle) == Some(handle))
        })
        .await?;
    if mine {
        Ok(())
    } else {
        Err(XrpcError::auth_required(
            "Cannot write to another account's repository",
        ))
    }
}

fn write_points(writes: &[WriteRequest]) -> f64 {
    writes
        .iter()
        .map(|w| match w.intent {
            Intent::Create => 3.0,
            Intent::Put | Intent::Update => 2.0,
            Intent::Delete => 1.0,
        })
        .sum()
}

async fn commit(
    state: &AppState,
    auth: &AccessAuth,
    writes: Vec<WriteRequest>,
    swap_commit: Option<Cid>,
) -> XrpcResult<CommitOutcome> {
    auth.require_active()?;
    if !state
        .limits
        .check("writes", &auth.did, limits::WRITES, write_points(&writes))
    {
        return Err(XrpcError::rate_limited());
    }
    let committer = state.committer();
    let (account, did) = (auth.account, auth.did.clone());
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            committer
                .commit_writes(txn, account, &did, writes, swap_commit)
                .map_err(XrpcError::from)
        })
        .await
}

fn status(validated: bool) -> &'static str {
    if validated { "valid" } else { "unknown" }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRecordInput {
    repo: String,
    collection: String,
    rkey: Option<String>,
    validate: Option<bool>,
    record: Value,
    swap_commit: Option<String>,
}

pub async fn create_record(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<CreateRecordInput>,
) -> XrpcResult<Json<Value>> {
    own_repo(&state, &auth, &input.repo).await?;
    check_collection(&input.collection)?;
    auth.require_repo(&input.collection, RepoAction::Create)?;
    let rkey = match input.rkey {
        Some(k) => {
            check_rkey(&k)?;
            k
        }
        None => state.tids.next().to_string(),
    };
    let prepared = prepare_record(
        state.lexicons,
        &input.collection,
        &rkey,
        &input.record,
        input.validate,
    )?;
    let swap = parse_swap(input.swap_commit.as_deref(), "swapCommit")?;
    let write = WriteRequest {
        intent: Intent::Create,
        collection: input.collection,
        rkey,
        record: Some(prepared),
        swap_record: None,
    };
    let out = commit(&state, &auth, vec![write], swap).await?;
    let r = out
        .results
        .first()
        .ok_or_else(|| XrpcError::internal("commit returned no result"))?;
    Ok(Json(json!({
        "uri": r.uri,
        "cid": r.cid.map(|c| c.to_string()),
        "commit": { "cid": out.cid.to_string(), "rev": out.rev },
        "validationStatus": status(r.validated),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRecordInput {
    repo: String,
    collection: String,
    rkey: String,
    validate: Option<bool>,
    record: Value,
    /// Absent: no check. Null: the record must not exist. A CID: it must be the current one.
    #[serde(default, deserialize_with = "present")]
    swap_record: Option<Option<String>>,
    swap_commit: Option<String>,
}

/// Tells an absent field (`None`) from an explicit null (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::<String>::deserialize(d)?))
}

pub async fn put_record(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<PutRecordInput>,
) -> XrpcResult<Json<Value>> {
    own_repo(&state, &auth, &input.repo).await?;
    check_collection(&input.collection)?;
    // An upsert: it may create or replace, so it needs both, as on the reference PDS.
    auth.require_repo(&input.collection, RepoAction::Create)?;
    auth.require_repo(&input.collection, RepoAction::Update)?;
    check_rkey(&input.rkey)?;
    let prepared = prepare_record(
        state.lexicons,
        &input.collection,
        &input.rkey,
        &input.record,
        input.validate,
    )?;
    let swap_record = match input.swap_record {
        None => None,
        Some(None) => Some(None),
        Some(Some(s)) => {
            Some(Some(parse_cid(&s).map_err(|_| {
                XrpcError::invalid_request("Invalid swapRecord CID")
            })?))
        }
    };
    let swap = parse_swap(input.swap_commit.as_deref(), "swapCommit")?;
    let write = WriteRequest {
        intent: Intent::Put,
        collection: input.collection,
        rkey: input.rkey,
        record: Some(prepared),
        swap_record,
    };
    let out = commit(&state, &auth, vec![write], swap).await?;
    let r = out
        .results
        .first()
        .ok_or_else(|| XrpcError::internal("commit returned no result"))?;
    Ok(Json(json!({
        "uri": r.uri,
        "cid": r.cid.map(|c| c.to_string()),
        "commit": { "cid": out.cid.to_string(), "rev": out.rev },
        "validationStatus": status(r.validated),
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRecordInput {
    repo: String,
    collection: String,
    rkey: String,
    swap_record: Option<String>,
    swap_commit: Option<String>,
}

pub async fn delete_record(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<DeleteRecordInput>,
) -> XrpcResult<Json<Value>> {
    own_repo(&state, &auth, &input.repo).await?;
    check_collection(&input.collection)?;
    auth.require_repo(&input.collection, RepoAction::Delete)?;
    check_rkey(&input.rkey)?;
    let swap_record = parse_swap(input.swap_record.as_deref(), "swapRecord")?;
    let swap = parse_swap(input.swap_commit.as_deref(), "swapCommit")?;
    // Deleting what is not there is a no-op, as in the reference (unless a swap was asked).
    let (account, c, k) = (auth.account, input.collection.clone(), input.rkey.clone());
    let exists = state
        .db
        .readers
        .read(move |conn| Ok::<_, DbError>(repo_store::record(conn, account, &c, &k)?.is_some()))
        .await?;
    if !exists && swap_record.is_none() && swap.is_none() {
        return Ok(Json(json!({})));
    }
    let write = WriteRequest {
        intent: Intent::Delete,
        collection: input.collection,
        rkey: input.rkey,
        record: None,
        swap_record: swap_record.map(Some),
    };
    let out = commit(&state, &auth, vec![write], swap).await?;
    Ok(Json(
        json!({ "commit": { "cid": out.cid.to_string(), "rev": out.rev } }),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyWritesInput {
    repo: String,
    validate: Option<bool>,
    writes: Vec<Value>,
    swap_commit: Option<String>,
}

pub async fn apply_writes(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<ApplyWritesInput>,
) -> XrpcResult<Json<Value>> {
    own_repo(&state, &auth, &input.repo).await?;
    if input.writes.len() > MAX_OPS {
        return Err(XrpcError::invalid_request(format!(
            "Too many writes. Max: {MAX_OPS}"
        )));
    }
    let mut writes = Vec::with_capacity(input.writes.len());
    for w in &input.writes {
        let t = w.get("$type").and_then(Value::as_str).unwrap_or_default();
        let collection = w
            .get("collection")
            .and_then(Value::as_str)
            .ok_or_else(|| XrpcError::invalid_request("Write is missing collection"))?;
        check_collection(collection)?;
        let rkey = w.get("rkey").and_then(Value::as_str);
        let (intent, rkey) = match t {
            "com.atproto.repo.applyWrites#create" => (
                Intent::Create,
                rkey.map(str::to_owned)
                    .unwrap_or_else(|| state.tids.next().to_string()),
            ),
            "com.atproto.repo.applyWrites#update" => (
                Intent::Update,
                rkey.ok_or_else(|| XrpcError::invalid_request("Update is missing rkey"))?
                    .to_owned(),
            ),
            "com.atproto.repo.applyWrites#delete" => (
                Intent::Delete,
                rkey.ok_or_else(|| XrpcError::invalid_request("Delete is missing rkey"))?
                    .to_owned(),
            ),
            other => {
                return Err(XrpcError::invalid_request(format!(
                    "Invalid write $type: {other:?}"
                )));
            }
        };
        check_rkey(&rkey)?;
        let action = match intent {
            Intent::Create => RepoAction::Create,
            Intent::Delete => RepoAction::Delete,
            Intent::Put | Intent::Update => RepoAction::Update,
        };
        auth.require_repo(collection, action)?;
        let record = match intent {
            Intent::Delete => None,
            _ => {
                let value = w
                    .get("value")
                    .ok_or_else(|| XrpcError::invalid_request("Write is missing value"))?;
                Some(prepare_record(
                    state.lexicons,
                    collection,
                    &rkey,
                    value,
                    input.validate,
                )?)
            }
        };
        writes.push(WriteRequest {
            intent,
            collection: collection.to_owned(),
            rkey,
            record,
            swap_record: None,
        });
    }
    let swap = parse_swap(input.swap_commit.as_deref(), "swapCommit")?;
    let out = commit(&state, &auth, writes, swap).await?;
    let results: Vec<Value> = out
        .results
        .iter()
        .map(|r| match r.action {
            WriteAction::Create => json!({ "$type": "com.atproto.repo.applyWrites#createResult", "uri": r.uri, "cid": r.cid.map(|c| c.to_string()), "validationStatus": status(r.validated) }),
            WriteAction::Update => json!({ "$type": "com.atproto.repo.applyWrites#updateResult", "uri": r.uri, "cid": r.cid.map(|c| c.to_string()), "validationStatus": status(r.validated) }),
            WriteAction::Delete => json!({ "$type": "com.atproto.repo.applyWrites#deleteResult" }),
        })
        .collect();
    Ok(Json(
        json!({ "commit": { "cid": out.cid.to_string(), "rev": out.rev }, "results": results }),
    ))
}

/// Finds a hosted account by DID or handle; `None` if this server does not host it.
pub async fn hosted(state: &AppState, repo: &str) -> XrpcResult<Option<store::Account>> {
    let repo = repo.to_owned();
    Ok(state
        .db
        .readers
        .read(move |c| store::by_identifier(c, &repo))
        .await?)
}

/// Like [`hosted`], but refuses accounts whose repository may not be served.
pub async fn served(state: &AppState, repo: &str) -> XrpcResult<store::Account> {
    served_to(state, repo, None).await
}

/// Like [`served`], but a deactivated account's own session is still served (it exports its
/// repository and blobs when it migrates away), as the reference does.
pub async fn served_to(
    state: &AppState,
    repo: &str,
    viewer: Option<&AccessAuth>,
) -> XrpcResult<store::Account> {
    let acct = hosted(state, repo)
        .await?
        .ok_or_else(|| XrpcError::named("RepoNotFound", format!("Could not find repo: {repo}")))?;
    match acct.status {
        crate::accounts::AccountStatus::Active => Ok(acct),
        crate::accounts::AccountStatus::Deactivated
            if viewer.is_some_and(|v| v.account == acct.id) =>
        {
            Ok(acct)
        }
        crate::accounts::AccountStatus::Deactivated => Err(XrpcError::named(
            "RepoDeactivated",
            format!("Repo has been deactivated: {repo}"),
        )),
        crate::accounts::AccountStatus::Takendown => Err(XrpcError::named(
            "RepoTakendown",
            format!("Repo has been takendown: {repo}"),
        )),
    }
}

#[derive(Deserialize)]
pub struct GetRecordParams {
    repo: String,
    collection: String,
    rkey: String,
    cid: Option<String>,
}

pub async fn get_record(
    State(state): State<AppState>,
    XQuery(p): XQuery<GetRecordParams>,
) -> XrpcResult<Json<Value>> {
    check_collection(&p.collection)?;
    check_rkey(&p.rkey)?;
    let acct = served(&state, &p.repo).await?;
    let want = parse_swap(p.cid.as_deref(), "cid")?;
    let (id, c, k) = (acct.id, p.collection.clone(), p.rkey.clone());
    let found = state
        .db
        .readers
        .read(move |conn| repo_store::record(conn, id, &c, &k))
        .await?;
    let (cid, bytes) = match found {
        Some((cid, bytes)) if want.is_none_or(|w| w == cid) => (cid, bytes),
        _ => {
            return Err(XrpcError::named(
                "RecordNotFound",
                format!(
                    "Could not locate record: at://{}/{}/{}",
                    acct.did, p.collection, p.rkey
                ),
            ));
        }
    };
    let value = cbor::decode(&bytes).map_err(XrpcError::internal)?;
    Ok(Json(json!({
        "uri": format!("at://{}/{}/{}", acct.did, p.collection, p.rkey),
        "cid": cid.to_string(),
        "value": datajson::to_json(&value),
    })))
}

#[derive(Deserialize)]
pub struct ListRecordsParams {
    repo: String,
    collection: String,
    limit: Option<u32>,
    cursor: Option<String>,
    reverse: Option<bool>,
}

pub async fn list_records(
    State(state): State<AppState>,
    XQuery(p): XQuery<ListRecordsParams>,
) -> XrpcResult<Json<Value>> {
    check_collection(&p.collection)?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 100",
        ));
    }
    let acct = served(&state, &p.repo).await?;
    let (id, c, cursor, reverse) = (
        acct.id,
        p.collection.clone(),
        p.cursor.clone(),
        p.reverse.unwrap_or(false),
    );
    let rows = state
        .db
        .readers
        .read(move |conn| repo_store::list(conn, id, &c, limit, cursor.as_deref(), reverse))
        .await?;
    let cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.0.clone()))
        .flatten();
    let mut records = Vec::with_capacity(rows.len());
    for (rkey, cid, bytes) in rows {
        let value = cbor::decode(&bytes).map_err(XrpcError::internal)?;
        records.push(json!({
            "uri": format!("at://{}/{}/{}", acct.did, p.collection, rkey),
            "cid": cid.to_string(),
            "value": datajson::to_json(&value),
        }));
    }
    let mut out = json!({ "records": records });
    if let (Some(c), Some(o)) = (cursor, out.as_object_mut()) {
        o.insert("cursor".into(), json!(c));
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct DescribeRepoParams {
    repo: String,
}

pub async fn describe_repo(
    State(state): State<AppState>,
    XQuery(p): XQuery<DescribeRepoParams>,
) -> XrpcResult<Json<Value>> {
    let acct = served(&state, &p.repo).await?;
    let (id, st) = (acct.id, state.clone());
    let (collections, key) = state
        .db
        .readers
        .read(move |c| {
            let cols = repo_store::collections(c, id)?;
            let key = st.keys.get(c, id).map_err(XrpcError::internal)?;
            Ok::<_, XrpcError>((cols, key))
        })
        .await?;
    Ok(Json(json!({
        "handle": acct.handle.clone().unwrap_or_else(|| "handle.invalid".into()),
        "did": acct.did,
        "didDoc": did_document(&state.public_url, &acct.did, acct.handle.as_deref(), &key.public()),
        "collections": collections,
        "handleIsCorrect": acct.handle.is_some(),
    })))
}

pub async fn upload_blob(
    State(state): State<AppState>,
    auth: AccessAuth,
    headers: HeaderMap,
    body: Body,
) -> XrpcResult<Json<Value>> {
    // A deactivated account may upload: an account migrating in brings its blobs before it
    // activates.
    if auth.status != crate::accounts::AccountStatus::Deactivated {
        auth.require_active()?;
    }
    if !state
        .limits
        .check("uploads", &auth.did, limits::UPLOADS, 1.0)
    {
        return Err(XrpcError::rate_limited());
    }
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > state.cfg.blob_max_bytes
    {
        return Err(XrpcError::payload_too_large(format!(
            "Blob is larger than the limit of {} bytes",
            state.cfg.blob_max_bytes
        )));
    }
    let declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // The declared type is checked before a byte is read; the stored one (which may come
    // from the bytes themselves) after.
    auth.require_blob(declared.unwrap_or("application/octet-stream"))?;
    let stored = state
        .blobs
        .put(body.into_data_stream(), state.cfg.blob_max_bytes, declared)
        .await?;
    if let Err(e) = auth.require_blob(&stored.mime_type) {
        state.blobs.discard(&stored).await;
        return Err(e);
    }
    // With S3 the object is written now, before the row (see `blobs`).
    let staged = match state.blobs.stage(&stored).await {
        Ok(staged) => staged,
        Err(e) => {
            state.blobs.discard(&stored).await;
            return Err(e.into());
        }
    };
    let (account, placed, st) = (auth.account, stored.clone(), state.clone());
    let recorded = state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            repo_store::record_upload(
                txn.conn,
                account,
                &placed.cid,
                &placed.mime_type,
                placed.size,
                &now_iso(),
                now_secs(),
            )?;
            // The bytes go into place in the same job as the row (see `blobs`), last, so a
            // failed insert leaves them in the temporary directory to be discarded.
            st.blobs.place(&placed).map_err(XrpcError::internal)
        })
        .await;
    drop(staged);
    // Nothing left to drop once the disk store moved it into place.
    state.blobs.discard(&stored).await;
    recorded?;
    Ok(Json(json!({
        "blob": { "$type": "blob", "ref": { "$link": stored.cid.to_string() }, "mimeType": stored.mime_type, "size": stored.size }
    })))
}
