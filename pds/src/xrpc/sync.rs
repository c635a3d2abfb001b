//! `com.atproto.sync.*` (except subscribeRepos, in the sequencer): repositories, records with
//! proofs, blocks, blobs, status and listings, for relays, AppViews and migrating clients.

use super::repo::{hosted, served, served_to};
use crate::accounts::AccountStatus;
use crate::auth::OwnerOrAnyone;
use crate::repo::SqlBlocks;
use crate::repo::store as repo_store;
use crate::state::AppState;
use atproto::car::{CarWriter, write_car};
use atproto::data::{Cid, parse_cid};
use atproto::mst::Mst;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hearth_xrpc::XQuery;
use hearth_xrpc::{XrpcError, XrpcResult};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const CAR_TYPE: &str = "application/vnd.ipld.car";

/// `did` parameters are DIDs by the lexicon. Anything else (a handle, a path like `../x`) is a
/// malformed request, refused before any lookup, as the reference's parameter validation does.
fn did_param(did: &str) -> XrpcResult<()> {
    did.parse::<atproto::syntax::Did>()
        .map(|_| ())
        .map_err(|_| XrpcError::invalid_request("did must be a valid DID"))
}

fn car_response(body: Body) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CAR_TYPE));
    r
}

#[derive(Deserialize)]
pub struct GetRepoParams {
    did: String,
    since: Option<String>,
}

/// Streams the repository as a CAR (the head commit as root), in chunks, so a large repository
/// never sits whole in memory.
pub async fn get_repo(
    State(state): State<AppState>,
    OwnerOrAnyone(viewer): OwnerOrAnyone,
    XQuery(p): XQuery<GetRepoParams>,
) -> XrpcResult<Response> {
    did_param(&p.did)?;
    let acct = served_to(&state, &p.did, viewer.as_ref()).await?;
    let id = acct.id;
    let head = state
        .db
        .readers
        .read(move |c| repo_store::head(c, id))
        .await?;
    let Some((root, _, _)) = head else {
        return Err(XrpcError::named(
            "RepoNotFound",
            format!("Could not find repo for DID: {}", p.did),
        ));
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let readers = state.db.readers.clone();
    let since = p.since.clone();
    tokio::task::spawn_blocking(move || {
        let chunked = ChunkSender {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let result = readers.read_blocking(|conn| -> Result<(), String> {
            let mut car = CarWriter::new(chunked, &[root]).map_err(|e| e.to_string())?;
            let mut failed = None;
            repo_store::for_each_block(conn, id, since.as_deref(), |cid, bytes| {
                match car.write_block(&cid, &bytes) {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e.to_string());
                        false
                    }
                }
            })
            .map_err(|e| e.to_string())?;
            if let Some(e) = failed {
                return Err(e);
            }
            car.finish().flush_final().map_err(|e| e.to_string())
        });
        if let Err(e) | Ok(Err(e)) = result.map_err(|e| e.to_string()) {
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    Ok(car_response(Body::from_stream(tokio_stream(rx))))
}

const CHUNK: usize = 64 * 1024;

/// A `Write` that hands 64 KiB chunks to the response stream.
struct ChunkSender {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChunkSender {
    fn flush_final(mut self) -> std::io::Result<()> {
        self.send()
    }

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("client went away"))
    }
}

impl std::io::Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[derive(Deserialize)]
pub struct DidParam {
    did: String,
}

pub async fn get_latest_commit(
    State(state): State<AppState>,
    XQuery(p): XQuery<DidParam>,
) -> XrpcResult<Json<Value>> {
    did_param(&p.did)?;
    let acct = served(&state, &p.did).await?;
    let id = acct.id;
    let head = state
        .db
        .readers
        .read(move |c| repo_store::head(c, id))
        .await?;
    let (cid, rev, _) = head.ok_or_else(|| {
        XrpcError::named(
            "RepoNotFound",
            format!("Could not find root for DID: {}", p.did),
        )
    })?;
    Ok(Json(json!({ "cid": cid.to_string(), "rev": rev })))
}

pub async fn get_repo_status(
    State(state): State<AppState>,
    XQuery(p): XQuery<DidParam>,
) -> XrpcResult<Json<Value>> {
    did_param(&p.did)?;
    let acct = hosted(&state, &p.did).await?.ok_or_else(|| {
        XrpcError::named(
            "RepoNotFound",
            format!("Could not find repo for DID: {}", p.did),
        )
    })?;
    let id = acct.id;
    let head = state
        .db
        .readers
        .read(move |c| repo_store::head(c, id))
        .await?;
    let mut v = json!({ "did": acct.did, "active": acct.status == AccountStatus::Active });
    if let Some(o) = v.as_object_mut() {
        if let Some(s) = acct.status.as_status() {
            o.insert("status".into(), json!(s));
        }
        if acct.status == AccountStatus::Active
            && let Some((_, rev, _)) = head
        {
            o.insert("rev".into(), json!(rev));
        }
    }
    Ok(Json(v))
}

#[derive(Deserialize)]
pub struct GetRecordParams {
    did: String,
    collection: String,
    rkey: String,
}

/// A CAR proving one record (or its absence): the commit, the covering proof, the record.
pub async fn get_record(
    State(state): State<AppState>,
    XQuery(p): XQuery<GetRecordParams>,
) -> XrpcResult<Response> {
    did_param(&p.did)?;
    let acct = served(&state, &p.did).await?;
    let id = acct.id;
    let path = format!("{}/{}", p.collection, p.rkey);
    if !atproto::mst::key::is_valid(&path) {
        return Err(XrpcError::invalid_request("Invalid collection or rkey"));
    }
    let car = state
        .db
        .readers
        .read(move |c| {
            let Some((commit, _, data)) = repo_store::head(c, id)? else {
                return Err(XrpcError::named("RepoNotFound", "Could not find repo"));
            };
            let mut blocks: BTreeMap<Cid, Vec<u8>> = BTreeMap::new();
            let mut mst = Mst::load(
                SqlBlocks {
                    conn: c,
                    account: id,
                },
                data,
            );
            mst.covering_proof(&path, &mut blocks)
                .map_err(XrpcError::internal)?;
            let value = mst.get(&path).map_err(XrpcError::internal)?;
            drop(mst);
            let Some(value) = value else {
                return Err(XrpcError::named(
                    "RecordNotFound",
                    "Could not locate record",
                ));
            };
            for cid in [commit, value] {
                if let Some(b) = repo_store::block(c, id, &cid)? {
                    blocks.insert(cid, b);
                }
            }
            write_car(&commit, blocks.iter().map(|(c, b)| (c, b.as_slice())))
                .map_err(XrpcError::internal)
        })
        .await?;
    Ok(car_response(Body::from(car)))
}

/// All values of a parameter that may repeat (`cids=a&cids=b`), which axum's query
/// extractor cannot express.
pub fn repeated(query: Option<&str>, name: &str) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
        .map(|(_, v)| v.into_owned())
        .collect()
}

pub async fn get_blocks(
    State(state): State<AppState>,
    uri: axum::http::Uri,
) -> XrpcResult<Response> {
    let did = repeated(uri.query(), "did")
        .into_iter()
        .next()
        .ok_or_else(|| XrpcError::invalid_request("did is required"))?;
    did_param(&did)?;
    let cids: Vec<Cid> = repeated(uri.query(), "cids")
        .iter()
        .map(|c| parse_cid(c).map_err(|_| XrpcError::invalid_request(format!("Invalid CID: {c}"))))
        .collect::<Result<_, _>>()?;
    if cids.len() > 1000 {
        return Err(XrpcError::invalid_request("Too many CIDs"));
    }
    let acct = served(&state, &did).await?;
    let id = acct.id;
    let car = state
        .db
        .readers
        .read(move |c| {
            let mut found = Vec::with_capacity(cids.len());
            let mut missing = Vec::new();
            for cid in &cids {
                match repo_store::block(c, id, cid)? {
                    Some(b) => found.push((*cid, b)),
                    None => missing.push(cid.to_string()),
                }
            }
            if !missing.is_empty() {
                return Err(XrpcError::named(
                    "BlockNotFound",
                    format!("Could not find blocks: {}", missing.join(", ")),
                ));
            }
            // A CAR needs a root; the reference uses the first block's CID for this list.
            let root = found
                .first()
                .map(|(c, _)| *c)
                .unwrap_or_else(|| atproto::data::cid_for_cbor(b"\xa0"));
            write_car(&root, found.iter().map(|(c, b)| (c, b.as_slice())))
                .map_err(XrpcError::internal)
        })
        .await?;
    Ok(car_response(Body::from(car)))
}

#[derive(Deserialize)]
pub struct ListReposParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_repos(
    State(state): State<AppState>,
    XQuery(p): XQuery<ListReposParams>,
) -> XrpcResult<Json<Value>> {
    let limit = p.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 1000",
        ));
    }
    let after: i64 = match p.cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse()
            .map_err(|_| XrpcError::invalid_request("Malformed cursor"))?,
    };
    let rows = state
        .db
        .readers
        .read(move |c| repo_store::list_repos(c, after, limit))
        .await?;
    let cursor = (rows.len() as u32 == limit)
        .then(|| rows.last().map(|r| r.0.to_string()))
        .flatten();
    let repos: Vec<Value> = rows
        .into_iter()
        .map(|(_, did, cid, rev, status)| {
            let status = AccountStatus::from_column(status.as_deref());
            let mut v = json!({
                "did": did,
                "head": Cid::try_from(cid.as_slice()).map(|c| c.to_string()).unwrap_or_default(),
                "rev": rev,
                "active": status == AccountStatus::Active,
            });
            if let (Some(s), Some(o)) = (status.as_status(), v.as_object_mut()) {
                o.insert("status".into(), json!(s));
            }
            v
        })
        .collect();
    let mut out = json!({ "repos": repos });
    if let (Some(c), Some(o)) = (cursor, out.as_object_mut()) {
        o.insert("cursor".into(), json!(c));
    }
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct GetBlobParams {
    did: String,
    cid: String,
}

pub async fn get_blob(
    State(state): State<AppState>,
    OwnerOrAnyone(viewer): OwnerOrAnyone,
    XQuery(p): XQuery<GetBlobParams>,
) -> XrpcResult<Response> {
    did_param(&p.did)?;
    let cid = parse_cid(&p.cid).map_err(|_| XrpcError::invalid_request("Invalid CID"))?;
    let acct = served_to(&state, &p.did, viewer.as_ref()).await?;
    let (id, c) = (acct.id, cid.to_string());
    let found: Option<(String, i64, Option<String>)> = state
        .db
        .readers
        .read(move |conn| repo_store::blob(conn, id, &c))
        .await?;
    let Some((mime, size, takedown)) = found else {
        return Err(XrpcError::named("BlobNotFound", "Blob not found"));
    };
    if takedown.is_some() {
        return Err(XrpcError::named("BlobNotFound", "Blob not found"));
    }
    let body = state
        .blobs
        .read(&cid)
        .await?
        .ok_or_else(|| XrpcError::named("BlobNotFound", "Blob not found"))?;
    let mut r = Body::from_stream(body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    // Blobs are user content: never let a browser run them as a page.
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(r)
}

#[derive(Deserialize)]
pub struct ListBlobsParams {
    did: String,
    since: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_blobs(
    State(state): State<AppState>,
    OwnerOrAnyone(viewer): OwnerOrAnyone,
    XQuery(p): XQuery<ListBlobsParams>,
) -> XrpcResult<Json<Value>> {
    let limit = p.limit.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(XrpcError::invalid_request(
            "limit must be between 1 and 1000",
        ));
    }
    did_param(&p.did)?;
    let acct = served_to(&state, &p.did, viewer.as_ref()).await?;
    let (id, since, cursor) = (
        acct.id,
        p.since.clone(),
        p.cursor.clone().unwrap_or_default(),
    );
    let cids: Vec<String> = state
        .db
        .readers
        .read(move |c| repo_store::linked_blobs(c, id, &cursor, since.as_deref(), limit))
        .await?;
    let next = (cids.len() as u32 == limit)
        .then(|| cids.last().cloned())
        .flatten();
    let mut out = json!({ "cids": cids });
    if let (Some(c), Some(o)) = (next, out.as_object_mut()) {
        o.insert("cursor".into(), json!(c));
    }
    Ok(Json(out))
}
