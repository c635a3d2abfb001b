//! Where the MST and repository code read blocks from.
//!
//! Reads are synchronous on purpose: the stores are SQLite (used from blocking threads) and
//! in-memory maps, and keeping `async` out of the tree code lets it run without allocation of
//! futures on the hot path.

use crate::data::Cid;
// foldhash, not SipHash: every block of every firehose commit goes through this map, and its
// keys are content hashes an attacker cannot aim at one bucket (the seed is random as well).
use foldhash::HashMap;

/// A read-only source of blocks by CID.
pub trait BlockStore {
    /// The block's bytes, or `None` if this store does not hold it.
    fn get_block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, BlockStoreError>;
}

/// A store failed for a reason other than a missing block (an I/O or database error).
#[derive(Debug, thiserror::Error)]
#[error("block store: {0}")]
pub struct BlockStoreError(pub String);

impl<T: BlockStore + ?Sized> BlockStore for &T {
    fn get_block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, BlockStoreError> {
        (**self).get_block(cid)
    }
}

impl<T: BlockStore + ?Sized> BlockStore for std::sync::Arc<T> {
    fn get_block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, BlockStoreError> {
        (**self).get_block(cid)
    }
}

/// Blocks held in memory: CAR contents, proofs, tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryBlockStore {
    blocks: HashMap<Cid, Vec<u8>>,
}

impl MemoryBlockStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, cid: Cid, bytes: Vec<u8>) {
        self.blocks.insert(cid, bytes);
    }

    pub fn contains(&self, cid: &Cid) -> bool {
        self.blocks.contains_key(cid)
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Cid, &Vec<u8>)> {
        self.blocks.iter()
    }

    /// Removes and returns a block.
    pub fn take(&mut self, cid: &Cid) -> Option<Vec<u8>> {
        self.blocks.remove(cid)
    }
}

impl FromIterator<(Cid, Vec<u8>)> for MemoryBlockStore {
    fn from_iter<I: IntoIterator<Item = (Cid, Vec<u8>)>>(iter: I) -> Self {
        Self {
            blocks: iter.into_iter().collect(),
        }
    }
}

impl Extend<(Cid, Vec<u8>)> for MemoryBlockStore {
    fn extend<I: IntoIterator<Item = (Cid, Vec<u8>)>>(&mut self, iter: I) {
        self.blocks.extend(iter)
    }
}

impl BlockStore for MemoryBlockStore {
    fn get_block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, BlockStoreError> {
        Ok(self.blocks.get(cid).cloned())
    }
}
