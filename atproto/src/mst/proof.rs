//! Covering proofs: the nodes a commit carries for each key it touched, so that a consumer can
//! check the operation and invert it (Sync 1.1). The block set is the reference's
//! `getCoveringProof`: the path to the key, and the paths to its left and right neighbours.

use super::node::{Entry, Subtree};
use super::{Mst, MstError, load};
use crate::blockstore::BlockStore;
use crate::data::Cid;
use std::collections::BTreeMap;

impl<S: BlockStore> Mst<S> {
    /// Adds the covering proof of `key` in the current (saved) tree to `out`.
    pub fn covering_proof(
        &mut self,
        key: &str,
        out: &mut BTreeMap<Cid, Vec<u8>>,
    ) -> Result<(), MstError> {
        self.check()?;
        proof_for_key(&self.store, &mut self.root, key, out)?;
        left_sibling(&self.store, &mut self.root, key, out)?;
        right_sibling(&self.store, &mut self.root, key, out)?;
        Ok(())
    }
}

fn add_node<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
    out: &mut BTreeMap<Cid, Vec<u8>>,
) -> Result<(), MstError> {
    let cid = t.cid.ok_or(MstError::Unsaved)?;
    if let std::collections::btree_map::Entry::Vacant(slot) = out.entry(cid) {
        slot.insert(load(store, t)?.encode()?);
    }
    Ok(())
}

fn proof_for_key<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
    key: &str,
    out: &mut BTreeMap<Cid, Vec<u8>>,
) -> Result<bool, MstError> {
    let node = load(store, t)?;
    let i = node.gte_index(key);
    let found = matches!(node.entries.get(i), Some(Entry::Leaf(l)) if &*l.key == key);
    if !found {
        match i.checked_sub(1).map(|b| &mut node.entries[b]) {
            Some(Entry::Tree(sub)) => {
                proof_for_key(store, sub, key, out)?;
            }
            _ => return Ok(false),
        }
    }
    add_node(store, t, out)?;
    Ok(true)
}

fn left_sibling<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
    key: &str,
    out: &mut BTreeMap<Cid, Vec<u8>>,
) -> Result<(), MstError> {
    let node = load(store, t)?;
    let i = node.gte_index(key);
    if let Some(Entry::Tree(sub)) = i.checked_sub(1).map(|b| &mut node.entries[b]) {
        left_sibling(store, sub, key, out)?;
    }
    add_node(store, t, out)
}

fn right_sibling<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
    key: &str,
    out: &mut BTreeMap<Cid, Vec<u8>>,
) -> Result<(), MstError> {
    let node = load(store, t)?;
    let i = node.gte_index(key);
    let len = node.entries.len();
    let found = if i < len { Some(i) } else { i.checked_sub(1) };
    let next = match found.map(|f| (f, &node.entries[f])) {
        Some((f, Entry::Tree(_))) => Some(f),
        Some((_, Entry::Leaf(l))) if &*l.key == key => Some(i + 1),
        Some(_) => i.checked_sub(1),
        None => None,
    };
    if let Some(Entry::Tree(sub)) = next.and_then(|n| node.entries.get_mut(n)) {
        right_sibling(store, sub, key, out)?;
    }
    add_node(store, t, out)
}
