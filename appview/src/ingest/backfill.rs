//! Resynchronising repositories from `com.atproto.sync.getRepo` (new to us, broken chain, or
//! reset by `#sync`), discovering the accounts of configured PDS hosts, and keeping handles
//! verified.

use super::apply::{self, Head, ScopeRule};
use super::{Work, partition};
use crate::state::AppState;
use atproto::data::Cid;
use atproto::repo::verify_repo_car;
use atproto::syntax::{Did, Handle};
use hearth_db::{DbError, WriteTxn};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{Sender, UnboundedReceiver};

/// Concurrent repository downloads.
const PARALLEL: usize = 4;
/// Repositories larger than this are not downloaded.
const MAX_REPO_BYTES: usize = 512 * 1024 * 1024;

pub struct ResyncRequest {
    pub did: String,
    pub scope: ScopeRule,
}

pub fn spawn(
    state: AppState,
    mut rx: UnboundedReceiver<ResyncRequest>,
    workers: Arc<Vec<Sender<Work>>>,
) {
    tokio::spawn(async move {
        let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        let inflight: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            let requests: Vec<ResyncRequest> = tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => vec![r],
                    None => return,
                },
                _ = tick.tick() => wanted(&state).await,
            };
            for req in requests {
                let fresh = inflight
                    .lock()
                    .map(|mut s| s.insert(req.did.clone()))
                    .unwrap_or(false);
                if !fresh {
                    continue;
                }
                let (st, permits, inflight, workers) = (
                    state.clone(),
                    permits.clone(),
                    inflight.clone(),
                    workers.clone(),
                );
                tokio::spawn(async move {
                    let Ok(_permit) = permits.acquire().await else {
                        return;
                    };
                    let head = match resync(&st, &req.did, req.scope).await {
                        Ok(h) => Some(h),
                        Err(e) => {
                            tracing::warn!(did = %req.did, error = %e, "resync failed");
                            mark_failed(&st, &req.did).await;
                            None
                        }
                    };
                    if let Ok(mut s) = inflight.lock() {
                        s.remove(&req.did);
                    }
                    let w = &workers[partition(&req.did, workers.len())];
                    let _ = w.send(Work::Resynced { did: req.did, head }).await;
                });
            }
        }
    });
}

/// Accounts queued for backfill (in scope, never synced).
async fn wanted(state: &AppState) -> Vec<ResyncRequest> {
    let expand = state.cfg.scope == crate::config::Scope::Network;
    state
        .db
        .readers
        .read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT did FROM actor WHERE backfill = 'wanted' LIMIT 32")?;
            let dids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, DbError>(dids)
        })
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|did| ResyncRequest {
            did,
            scope: ScopeRule {
                mark_in_scope: true,
                expand,
            },
        })
        .collect()
}

async fn mark_failed(state: &AppState, did: &str) {
    let did = did.to_owned();
    let _ = state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_, ()>| {
            txn.conn
                .execute("UPDATE actor SET backfill = 'failed' WHERE did = ?1", [did])?;
            Ok::<_, DbError>(())
        })
        .await;
}

/// Why a repository could not be resynchronised.
#[derive(Debug, thiserror::Error)]
enum ResyncError {
    #[error("bad DID")]
    BadDid,
    #[error("identity: {0}")]
    Identity(#[from] atproto::identity::IdentityError),
    #[error("no PDS in the DID document")]
    NoPds,
    #[error("fetching the repository: {0}")]
    Http(#[from] reqwest::Error),
    #[error("fetching the repository: {0}")]
    Net(#[from] hearth_net::NetError),
    #[error("getRepo answered {0}")]
    Status(reqwest::StatusCode),
    #[error("repository larger than {MAX_REPO_BYTES} bytes")]
    TooLarge,
    #[error("repository: {0}")]
    Repo(#[from] atproto::repo::RepoError),
    #[error("repository without rev")]
    NoRev,
    #[error("verification task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("index: {0}")]
    Db(#[from] DbError),
}

/// Downloads, verifies and indexes a whole repository. Returns its rev and data root.
async fn resync(
    state: &AppState,
    did: &str,
    scope: ScopeRule,
) -> Result<(String, Cid), ResyncError> {
    let parsed: Did = did.parse().map_err(|_| ResyncError::BadDid)?;
    let doc = state.dids.refresh(&parsed).await?;
    let key = doc.signing_key()?;
    // The PDS is whatever the document names: fetched through the guarded client.
    let mut url = hearth_net::endpoint_url(
        doc.pds_endpoint().ok_or(ResyncError::NoPds)?,
        "/xrpc/com.atproto.sync.getRepo",
    )?;
    url.query_pairs_mut().append_pair("did", did);
    let req = state.remote.request(reqwest::Method::GET, &url)?;
    let mut res = state.remote.send(req).await?;
    if !res.status().is_success() {
        return Err(ResyncError::Status(res.status()));
    }
    let mut car = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        car.extend_from_slice(&chunk);
        if car.len() > MAX_REPO_BYTES {
            return Err(ResyncError::TooLarge);
        }
    }
    let did_owned = did.to_owned();
    let repo =
        tokio::task::spawn_blocking(move || verify_repo_car(&car, Some(&did_owned), Some(&key)))
            .await??;
    let rev = repo.rev.clone().ok_or(ResyncError::NoRev)?;
    let (data, commit) = (repo.data, repo.commit_cid);
    let (did_owned, rev2) = (did.to_owned(), rev.clone());
    let n = state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_, ()>| {
            let head = Head {
                rev: &rev2,
                data,
                commit,
            };
            apply::replace_repo(txn.conn, &did_owned, &head, &repo.records, scope)
                .map_err(DbError::from)
        })
        .await?;
    tracing::info!(did, records = n, rev = %rev, "repository resynced");
    refresh_identity_now(state, did, false).await;
    Ok((rev, data))
}

/// Learns the accounts a PDS hosts (listRepos) and queues those never synced.
pub async fn discover(state: AppState, base: String) {
    let mut cursor: Option<String> = None;
    // A host that hands back an empty page, or a cursor it gave before, has nothing more.
    let mut cursors = HashSet::new();
    loop {
        let mut url = format!("{base}/xrpc/com.atproto.sync.listRepos?limit=1000");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: serde_json::Value = match state.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
            _ => return,
        };
        let listed = page["repos"].as_array().map_or(0, Vec::len);
        let dids: Vec<String> = page["repos"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|r| r["active"] != false)
                    .filter_map(|r| r["did"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !dids.is_empty() {
            let _ = state
                .db
                .writer
                .run(move |txn: &mut WriteTxn<'_, ()>| {
                    let now = crate::state::now_iso();
                    for did in &dids {
                        let id = crate::index::actor_id(txn.conn, did, &now)?;
                        txn.conn.execute(
                            "UPDATE actor SET in_scope = 1, backfill = 'wanted' WHERE id = ?1 AND rev IS NULL AND backfill IS NULL",
                            [id],
                        )?;
                    }
                    Ok::<_, DbError>(())
                })
                .await;
        }
        cursor = page["cursor"].as_str().map(str::to_owned);
        match &cursor {
            Some(c) if listed > 0 && cursors.insert(c.clone()) => {}
            _ => return,
        }
    }
}

/// Re-reads an account's DID document and handle in the background.
pub fn refresh_identity(state: &AppState, rt: &tokio::runtime::Handle, did: &str, force: bool) {
    let (st, did) = (state.clone(), did.to_owned());
    rt.spawn(async move { refresh_identity_now(&st, &did, force).await });
}

/// The handle is kept only if it resolves back to the DID (DNS or HTTPS, or, in development
/// where `.test` names do not resolve, the hosting PDS's own answer).
pub async fn refresh_identity_now(state: &AppState, did: &str, force: bool) {
    let Ok(parsed) = did.parse::<Did>() else {
        return;
    };
    let doc = if force {
        state.dids.refresh(&parsed).await
    } else {
        state.dids.resolve(&parsed).await
    };
    let Ok(doc) = doc else { return };
    let mut verified: Option<String> = None;
    if let Some(handle) = doc.handle() {
        let h = handle.normalize();
        if state
            .handles
            .resolve(&h)
            .await
            .is_ok_and(|d| d.as_str() == did)
        {
            verified = Some(h.to_string());
        } else if state.cfg.dev
            && let Some(pds) = doc.pds_endpoint()
            && pds_vouches(state, pds, &h, did).await
        {
            verified = Some(h.to_string());
        }
    }
    let did = did.to_owned();
    let _ = state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_, ()>| {
            apply::set_handle(txn.conn, &did, verified.as_deref()).map_err(DbError::from)
        })
        .await;
}

async fn pds_vouches(state: &AppState, pds: &str, handle: &Handle, did: &str) -> bool {
    let url = format!(
        "{}/xrpc/com.atproto.identity.resolveHandle?handle={handle}",
        pds.trim_end_matches('/')
    );
    // The PDS is whatever the document names, as in `resync`.
    match state.remote.reqwest().get(url).send().await {
        Ok(r) if r.status().is_success() => r
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|v| v["did"].as_str() == Some(did)),
        _ => false,
    }
}
