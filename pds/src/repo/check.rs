//! Checking a stored repository the way a consumer would: its blocks, written out as the CAR
//! `getRepo` serves, must verify (signed by the account's key, a well-formed MST, every record
//! present and decodable), and the record index the read methods use must list exactly the
//! MST's records with the same CIDs.

use super::store;
use crate::accounts::store as accounts;
use crate::db::DbError;
use atproto::crypto::{Algorithm, Keypair};
use rusqlite::Connection;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("no repository")]
    NoRepo,
    #[error("the signing key is missing or unreadable")]
    Key,
    #[error("writing the CAR: {0}")]
    Car(String),
    #[error("does not verify: {0}")]
    Verify(#[from] atproto::repo::RepoError),
    #[error("the head is {head} but the CAR's commit is {car}")]
    Head { head: String, car: String },
    #[error("the record index disagrees with the MST at {0} path(s), first {1}")]
    Index(usize, String),
}

/// What a repository holds, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub commit: String,
    pub rev: Option<String>,
    pub records: usize,
}

/// Checks the repository of `account` (whose DID is `did`).
pub fn check_repo(conn: &Connection, account: i64, did: &str) -> Result<Checked, CheckError> {
    let (root, _, _) = store::head(conn, account)?.ok_or(CheckError::NoRepo)?;
    let key_bytes = accounts::signing_key(conn, account)?.ok_or(CheckError::Key)?;
    let key = Keypair::from_bytes(Algorithm::K256, &key_bytes)
        .map_err(|_| CheckError::Key)?
        .public();
    let mut blocks = Vec::new();
    store::for_each_block(conn, account, None, |cid, bytes| {
        blocks.push((cid, bytes));
        true
    })?;
    let car = atproto::car::write_car(&root, blocks.iter().map(|(c, b)| (c, b.as_slice())))
        .map_err(|e| CheckError::Car(e.to_string()))?;
    drop(blocks);
    let repo = atproto::repo::verify_repo_car(&car, Some(did), Some(&key))?;
    if repo.commit_cid != root {
        return Err(CheckError::Head {
            head: root.to_string(),
            car: repo.commit_cid.to_string(),
        });
    }
    let in_mst: BTreeMap<String, String> = repo
        .records
        .iter()
        .map(|(path, cid, _)| (path.clone(), cid.to_string()))
        .collect();
    let indexed: BTreeMap<String, String> = store::all_record_cids(conn, account)?
        .into_iter()
        .map(|(path, cid)| (path, cid.to_string()))
        .collect();
    let mut wrong = in_mst
        .iter()
        .filter(|(p, c)| indexed.get(*p) != Some(*c))
        .map(|(p, _)| p.clone())
        .chain(indexed.keys().filter(|p| !in_mst.contains_key(*p)).cloned())
        .collect::<Vec<_>>();
    if !wrong.is_empty() {
        wrong.sort();
        return Err(CheckError::Index(wrong.len(), wrong[0].clone()));
    }
    Ok(Checked {
        commit: root.to_string(),
        rev: repo.rev,
        records: in_mst.len(),
    })
}
