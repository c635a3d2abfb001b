//! The Merkle Search Tree that holds a repository's records (atproto repository spec).
//!
//! Written here rather than taken from atrium-repo, rsky-repo or jacquard-repo: none of them
//! offered Sync 1.1 covering proofs with the reference's exact block set and a synchronous,
//! allocation-light core at the same time, and the MST is the hottest code on the write path.
//! The structure follows `@atproto/repo` operation for operation (split, merge, trim), so that
//! trees, proofs and inversions agree with the reference byte for byte; the interop fixtures
//! and property tests hold it to that.

mod build;
pub mod key;
mod node;
mod ops;
mod proof;
mod walk;

use crate::blockstore::{BlockStore, BlockStoreError};
use crate::data::Cid;
use node::{Entry, Node, Subtree};

/// Encoded blocks with their CIDs.
pub type Blocks = Vec<(Cid, Vec<u8>)>;

/// Why an MST operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MstError {
    #[error("block {0} is missing")]
    MissingBlock(Box<Cid>),
    #[error(transparent)]
    Store(#[from] BlockStoreError),
    #[error("malformed MST node: {0}")]
    Malformed(String),
    #[error("invalid MST key: {0:?}")]
    InvalidKey(String),
    #[error("key already present: {0}")]
    KeyExists(String),
    #[error("key not found: {0}")]
    KeyNotFound(String),
    #[error("tree has unsaved nodes")]
    Unsaved,
    #[error("tree is unusable after an earlier storage error")]
    Poisoned,
}

/// A repository tree over a block store. Nodes are read lazily and cached; changes stay in
/// memory until [`Mst::save`] encodes them.
///
/// If an operation fails with a storage error ([`MstError::MissingBlock`], [`MstError::Store`],
/// [`MstError::Malformed`]) part-way through a change, the tree refuses further use
/// ([`MstError::Poisoned`]) rather than risk a half-applied edit; load it again from its root.
/// Key errors ([`MstError::KeyExists`], [`MstError::KeyNotFound`], [`MstError::InvalidKey`])
/// are detected before anything changes.
pub struct Mst<S> {
    store: S,
    root: Subtree,
    /// The root's layer, once known.
    layer: Option<u32>,
    /// CIDs of stored nodes that changes have replaced since the last save.
    removed: Vec<Cid>,
    poisoned: bool,
}

impl<S: BlockStore> Mst<S> {
    /// An empty tree.
    pub fn create(store: S) -> Self {
        Mst {
            store,
            root: Subtree::dirty(Node::default()),
            layer: Some(0),
            removed: Vec::new(),
            poisoned: false,
        }
    }

    /// The tree whose root node is `root`. Nothing is read until needed.
    pub fn load(store: S, root: Cid) -> Self {
        Mst {
            store,
            root: Subtree::stub(root),
            layer: None,
            removed: Vec::new(),
            poisoned: false,
        }
    }

    /// A tree of the given entries, which must be sorted by key without duplicates. Much faster
    /// than adding one at a time, and yields the same tree.
    pub fn from_sorted(store: S, entries: Vec<(String, Cid)>) -> Result<Self, MstError> {
        let (root, layer) = build::from_sorted(entries)?;
        Ok(Mst {
            store,
            root,
            layer: Some(layer),
            removed: Vec::new(),
            poisoned: false,
        })
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The value stored at `key`.
    pub fn get(&mut self, key: &str) -> Result<Option<Cid>, MstError> {
        self.check()?;
        let mut t = &mut self.root;
        loop {
            let node = load(&self.store, t)?;
            let i = node.gte_index(key);
            if let Some(Entry::Leaf(l)) = node.entries.get(i)
                && &*l.key == key
            {
                return Ok(Some(l.value));
            }
            match i.checked_sub(1).map(|j| &mut node.entries[j]) {
                Some(Entry::Tree(sub)) => t = sub,
                _ => return Ok(None),
            }
        }
    }

    /// Adds a new key. Fails if the key is already present.
    pub fn add(&mut self, key: &str, value: Cid) -> Result<(), MstError> {
        if !key::is_valid(key) {
            return Err(MstError::InvalidKey(key.to_owned()));
        }
        if self.get(key)?.is_some() {
            return Err(MstError::KeyExists(key.to_owned()));
        }
        let layer = self.layer()?;
        self.mutate(|ctx, root| ops::add_at_root(ctx, root, layer, key, value))
    }

    /// Replaces the value of an existing key, returning the old value.
    pub fn update(&mut self, key: &str, value: Cid) -> Result<Cid, MstError> {
        let Some(prev) = self.get(key)? else {
            return Err(MstError::KeyNotFound(key.to_owned()));
        };
        let layer = self.layer()?;
        self.mutate(|ctx, root| Ok((ops::update(ctx, root, key, value)?, layer)))?;
        Ok(prev)
    }

    /// Removes a key, returning its value.
    pub fn delete(&mut self, key: &str) -> Result<Cid, MstError> {
        let Some(prev) = self.get(key)? else {
            return Err(MstError::KeyNotFound(key.to_owned()));
        };
        let layer = self.layer()?;
        self.mutate(|ctx, root| ops::delete_at_root(ctx, root, layer, key))?;
        Ok(prev)
    }

    /// Encodes every changed node. Returns the root CID and the new blocks, children before
    /// parents.
    pub fn save(&mut self) -> Result<(Cid, Blocks), MstError> {
        self.check()?;
        let mut blocks = Vec::new();
        let cid = seal(&mut self.root, &mut blocks)?;
        Ok((cid, blocks))
    }

    /// The root CID, encoding changed nodes as needed. The new blocks are discarded: use
    /// [`Mst::save`] when they must be stored.
    pub fn root_cid(&mut self) -> Result<Cid, MstError> {
        Ok(self.save()?.0)
    }

    /// CIDs of stored nodes that the changes since the last call replaced. A CID can be both
    /// removed and re-created (a change undone in the same batch): check against new blocks.
    pub fn take_removed(&mut self) -> Vec<Cid> {
        std::mem::take(&mut self.removed)
    }

    /// The root's layer, computed from its contents as the reference does when it loads a tree.
    pub fn layer(&mut self) -> Result<u32, MstError> {
        self.check()?;
        if let Some(l) = self.layer {
            return Ok(l);
        }
        let l = ops::attempt_layer(&self.store, &mut self.root)?.unwrap_or(0);
        self.layer = Some(l);
        Ok(l)
    }

    fn check(&self) -> Result<(), MstError> {
        if self.poisoned {
            Err(MstError::Poisoned)
        } else {
            Ok(())
        }
    }

    fn mutate(
        &mut self,
        f: impl FnOnce(&mut ops::Ctx<'_, S>, Subtree) -> Result<(Subtree, u32), MstError>,
    ) -> Result<(), MstError> {
        let root = std::mem::replace(&mut self.root, Subtree::dirty(Node::default()));
        let mut ctx = ops::Ctx {
            store: &self.store,
            removed: &mut self.removed,
        };
        match f(&mut ctx, root) {
            Ok((root, layer)) => {
                self.root = root;
                self.layer = Some(layer);
                Ok(())
            }
            Err(e) => {
                self.poisoned = true;
                Err(e)
            }
        }
    }
}

/// Reads a subtree's node from the store if it is not in memory yet.
fn load<'t, S: BlockStore>(store: &S, t: &'t mut Subtree) -> Result<&'t mut Node, MstError> {
    if t.node.is_none() {
        let cid = t.cid.ok_or(MstError::Unsaved)?;
        let bytes = store
            .get_block(&cid)?
            .ok_or_else(|| MstError::MissingBlock(Box::new(cid)))?;
        t.node = Some(Box::new(Node::decode(&bytes)?));
    }
    t.node.as_deref_mut().ok_or(MstError::Unsaved)
}

/// Computes the CID of a subtree, encoding it and its changed descendants.
fn seal(t: &mut Subtree, out: &mut Vec<(Cid, Vec<u8>)>) -> Result<Cid, MstError> {
    if let Some(cid) = t.cid {
        return Ok(cid);
    }
    let node = t.node.as_deref_mut().ok_or(MstError::Unsaved)?;
    for e in &mut node.entries {
        if let Entry::Tree(sub) = e {
            seal(sub, out)?;
        }
    }
    let bytes = node.encode()?;
    let cid = crate::data::cid_for_cbor(&bytes);
    out.push((cid, bytes));
    t.cid = Some(cid);
    Ok(cid)
}
