//! Turning a batch of record writes into a signed commit and the blocks that go with it.

use super::{Commit, RepoError, UnsignedCommit};
use crate::blockstore::BlockStore;
use crate::crypto::Keypair;
use crate::data::Cid;
use crate::mst::Mst;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteAction {
    Create,
    Update,
    Delete,
}

impl WriteAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteAction::Create => "create",
            WriteAction::Update => "update",
            WriteAction::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<WriteAction> {
        match s {
            "create" => Some(WriteAction::Create),
            "update" => Some(WriteAction::Update),
            "delete" => Some(WriteAction::Delete),
            _ => None,
        }
    }
}

/// One write in a batch. `record` is the encoded record and its CID, absent for deletes.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    pub action: WriteAction,
    pub collection: String,
    pub rkey: String,
    pub record: Option<(Cid, Vec<u8>)>,
}

impl RecordWrite {
    pub fn path(&self) -> String {
        format!("{}/{}", self.collection, self.rkey)
    }
}

/// An operation as the firehose describes it: `cid` is the new value (none for deletes) and
/// `prev` the old one (none for creates), which is what lets a consumer invert it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoOp {
    pub action: WriteAction,
    pub path: String,
    pub cid: Option<Cid>,
    pub prev: Option<Cid>,
}

/// Everything a commit produced.
#[derive(Debug, Clone)]
pub struct CommitData {
    pub cid: Cid,
    pub rev: String,
    /// The data root before the commit (`prevData` on the firehose).
    pub prev_data: Cid,
    /// The data root after.
    pub data: Cid,
    pub commit: Commit,
    pub commit_block: Vec<u8>,
    /// Blocks to store: new tree nodes, new records, the commit.
    pub new_blocks: Vec<(Cid, Vec<u8>)>,
    /// Tree nodes the commit replaced, and the previous values of updated or deleted records.
    /// A record value may still be used by another key; the store decides before deleting.
    pub removed: Vec<Cid>,
    /// What the firehose event carries: the new blocks plus the covering proof of every
    /// touched key, so that consumers can verify and invert the commit (Sync 1.1).
    pub relevant_blocks: BTreeMap<Cid, Vec<u8>>,
    pub ops: Vec<RepoOp>,
}

/// Applies `writes` to `mst` (which must hold the repository's current tree, saved) and signs
/// the result. On error the tree may hold part of the batch: discard it.
pub fn apply_writes<S: BlockStore>(
    mst: &mut Mst<S>,
    did: &str,
    rev: &str,
    key: &Keypair,
    writes: Vec<RecordWrite>,
) -> Result<CommitData, RepoError> {
    // A tree that was never saved (a new repository) yields its blocks here; keep them.
    let (prev_data, unsaved) = mst.save()?;
    let mut ops = Vec::with_capacity(writes.len());
    let mut record_blocks = Vec::new();
    let mut removed = Vec::new();
    for w in writes {
        let path = w.path();
        let new = w.record.as_ref().map(|(cid, _)| *cid);
        let prev = match (w.action, new) {
            (WriteAction::Create, Some(cid)) => {
                mst.add(&path, cid)?;
                None
            }
            (WriteAction::Update, Some(cid)) => Some(mst.update(&path, cid)?),
            (WriteAction::Delete, None) => Some(mst.delete(&path)?),
            _ => {
                return Err(RepoError::InvalidOp(format!(
                    "{} of {path}",
                    w.action.as_str()
                )));
            }
        };
        removed.extend(prev);
        if let Some(block) = w.record {
            record_blocks.push(block);
        }
        ops.push(RepoOp {
            action: w.action,
            path,
            cid: new,
            prev,
        });
    }
    let (data, mut node_blocks) = mst.save()?;
    node_blocks.extend(unsaved);
    let fresh: HashSet<Cid> = node_blocks.iter().map(|(c, _)| *c).collect();
    removed.extend(
        mst.take_removed()
            .into_iter()
            .filter(|c| !fresh.contains(c)),
    );

    let commit = UnsignedCommit::new(did, data, rev).sign(key)?;
    let (cid, commit_block) = commit.to_block()?;

    let mut relevant: BTreeMap<Cid, Vec<u8>> = BTreeMap::new();
    for op in &ops {
        mst.covering_proof(&op.path, &mut relevant)?;
    }
    let mut new_blocks = node_blocks;
    new_blocks.extend(record_blocks);
    for (c, b) in &new_blocks {
        relevant.entry(*c).or_insert_with(|| b.clone());
    }
    relevant.insert(cid, commit_block.clone());
    new_blocks.push((cid, commit_block.clone()));

    Ok(CommitData {
        cid,
        rev: rev.to_owned(),
        prev_data,
        data,
        commit,
        commit_block,
        new_blocks,
        removed,
        relevant_blocks: relevant,
        ops,
    })
}
