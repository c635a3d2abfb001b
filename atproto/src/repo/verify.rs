//! Checking repositories and commit diffs that come from elsewhere.

use super::commit::verify_any_version;
use super::{RepoError, RepoOp, WriteAction};
use crate::blockstore::{BlockStore, MemoryBlockStore};
use crate::car::read_car;
use crate::crypto::PublicKey;
use crate::data::{Cid, Ipld, cbor};
use crate::mst::Mst;

/// A whole repository, checked.
#[derive(Debug)]
pub struct RepoContents {
    pub commit_cid: Cid,
    pub did: String,
    pub version: u64,
    pub rev: Option<String>,
    pub data: Cid,
    /// (path, CID, record block) in key order.
    pub records: Vec<(String, Cid, Vec<u8>)>,
}

/// A commit diff, checked.
#[derive(Debug)]
pub struct VerifiedCommit {
    pub commit_cid: Cid,
    pub did: String,
    pub rev: String,
    pub data: Cid,
    pub blocks: MemoryBlockStore,
}

fn field<'a>(m: &'a Ipld, k: &str) -> Option<&'a Ipld> {
    match m {
        Ipld::Map(map) => map.get(k),
        _ => None,
    }
}

fn read_commit(
    blocks: &MemoryBlockStore,
    cid: &Cid,
    key: Option<&PublicKey>,
) -> Result<Ipld, RepoError> {
    let bytes = blocks
        .get_block(cid)
        .ok()
        .flatten()
        .ok_or_else(|| RepoError::MissingBlock(Box::new(*cid)))?;
    match key {
        Some(k) => verify_any_version(&bytes, k),
        None => Ok(cbor::decode(&bytes)?),
    }
}

fn commit_fields(c: &Ipld) -> Result<(String, u64, Option<String>, Cid), RepoError> {
    let bad = |m: &str| RepoError::InvalidCommit(m.to_owned());
    let Some(Ipld::String(did)) = field(c, "did") else {
        return Err(bad("missing did"));
    };
    let Some(Ipld::Integer(version)) = field(c, "version") else {
        return Err(bad("missing version"));
    };
    let Some(Ipld::Link(data)) = field(c, "data") else {
        return Err(bad("missing data"));
    };
    let rev = match field(c, "rev") {
        Some(Ipld::String(r)) => Some(r.clone()),
        _ => None,
    };
    let version = u64::try_from(*version).map_err(|_| bad("bad version"))?;
    if !(2..=3).contains(&version) {
        return Err(bad("unsupported version"));
    }
    if version == 3 && rev.is_none() {
        return Err(bad("version 3 commit without rev"));
    }
    Ok((did.clone(), version, rev, *data))
}

/// Checks a repository export: the commit (and its signature, if a key is given), the whole
/// tree, and every record block.
pub fn verify_repo_car(
    car: &[u8],
    did: Option<&str>,
    key: Option<&PublicKey>,
) -> Result<RepoContents, RepoError> {
    let (roots, blocks) = read_car(car)?;
    let commit_cid = *roots
        .first()
        .ok_or_else(|| RepoError::InvalidCommit("CAR has no root".into()))?;
    let commit = read_commit(&blocks, &commit_cid, key)?;
    let (commit_did, version, rev, data) = commit_fields(&commit)?;
    if did.is_some_and(|d| d != commit_did) {
        return Err(RepoError::InvalidCommit(format!(
            "commit is for {commit_did}"
        )));
    }
    let mut mst = Mst::load(&blocks, data);
    mst.verify()?;
    let mut records = Vec::new();
    for (path, cid) in mst.leaves()? {
        let bytes = blocks
            .get_block(&cid)
            .ok()
            .flatten()
            .ok_or_else(|| RepoError::MissingBlock(Box::new(cid)))?;
        cbor::decode_record(&bytes)?;
        records.push((path, cid, bytes));
    }
    Ok(RepoContents {
        commit_cid,
        did: commit_did,
        version,
        rev,
        data,
        records,
    })
}

/// Inverts `ops` on the tree rooted at `root` (using only `blocks`) and returns the root it
/// lands on. Each op is checked against the tree: a create must find its value, an update its
/// new value, a delete no value.
pub fn invert_ops<S: BlockStore>(blocks: S, root: Cid, ops: &[RepoOp]) -> Result<Cid, RepoError> {
    let mut mst = Mst::load(blocks, root);
    for op in ops {
        let current = mst.get(&op.path)?;
        let bad =
            |m: &str| RepoError::InvalidOp(format!("{} {}: {m}", op.action.as_str(), op.path));
        match (op.action, op.cid, op.prev) {
            (WriteAction::Create, Some(cid), None) => {
                if current != Some(cid) {
                    return Err(bad("tree does not hold the created value"));
                }
                mst.delete(&op.path)?;
            }
            (WriteAction::Update, Some(cid), Some(prev)) => {
                if current != Some(cid) {
                    return Err(bad("tree does not hold the updated value"));
                }
                mst.update(&op.path, prev)?;
            }
            (WriteAction::Delete, None, Some(prev)) => {
                if current.is_some() {
                    return Err(bad("tree still holds the deleted key"));
                }
                mst.add(&op.path, prev)?;
            }
            _ => return Err(bad("missing cid or prev")),
        }
    }
    Ok(mst.root_cid()?)
}

/// Checks a firehose commit diff: the CAR's root is the commit, signed by `key`; every created
/// or updated record is in the CAR; and, when `prev_data` is known, inverting the ops on the new
/// tree lands exactly on it (Sync 1.1).
pub fn verify_commit_car(
    car: &[u8],
    ops: &[RepoOp],
    prev_data: Option<Cid>,
    key: Option<&PublicKey>,
) -> Result<VerifiedCommit, RepoError> {
    let (roots, blocks) = read_car(car)?;
    let commit_cid = *roots
        .first()
        .ok_or_else(|| RepoError::InvalidCommit("CAR has no root".into()))?;
    let commit = read_commit(&blocks, &commit_cid, key)?;
    let (did, version, rev, data) = commit_fields(&commit)?;
    if version != 3 {
        return Err(RepoError::InvalidCommit(
            "firehose commits must be version 3".into(),
        ));
    }
    for op in ops {
        if let Some(cid) = op.cid
            && !blocks.contains(&cid)
        {
            return Err(RepoError::MissingBlock(Box::new(cid)));
        }
    }
    if let Some(want) = prev_data {
        let got = invert_ops(&blocks, data, ops)?;
        if got != want {
            return Err(RepoError::InversionMismatch {
                got: Box::new(got),
                want: Box::new(want),
            });
        }
    }
    Ok(VerifiedCommit {
        commit_cid,
        did,
        rev: rev.unwrap_or_default(),
        data,
        blocks,
    })
}
