//! Whole-tree traversal: listing leaves, exporting nodes, and checking a tree's structure.

use super::key::height;
use super::node::{Entry, Subtree};
use super::{Mst, MstError, load};
use crate::blockstore::BlockStore;
use crate::data::{Cid, cid_for_cbor};

impl<S: BlockStore> Mst<S> {
    /// Every (key, value) in key order.
    pub fn leaves(&mut self) -> Result<Vec<(String, Cid)>, MstError> {
        self.check()?;
        let mut out = Vec::new();
        collect(&self.store, &mut self.root, &mut out)?;
        Ok(out)
    }

    /// Every node block of the (saved) tree, parents before children.
    pub fn node_blocks(&mut self) -> Result<Vec<(Cid, Vec<u8>)>, MstError> {
        self.check()?;
        let mut out = Vec::new();
        nodes(&self.store, &mut self.root, &mut out)?;
        Ok(out)
    }

    /// Checks the whole tree against the spec: each node re-encodes to its CID (canonical
    /// DAG-CBOR), keys ascend across the tree, every key sits on the layer its hash gives and
    /// every subtree one layer down. Returns the number of leaves.
    pub fn verify(&mut self) -> Result<usize, MstError> {
        let layer = self.layer()?;
        let mut last: Option<String> = None;
        verify_node(&self.store, &mut self.root, layer, &mut last)
    }
}

fn collect<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
    out: &mut Vec<(String, Cid)>,
) -> Result<(), MstError> {
    for e in &mut load(store, t)?.entries {
        match e {
            Entry::Leaf(l) => out.push((l.key.to_string(), l.value)),
            Entry::Tree(sub) => collect(store, sub, out)?,
        }
    }
    Ok(())
}

fn nodes<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
    out: &mut Vec<(Cid, Vec<u8>)>,
) -> Result<(), MstError> {
    let cid = t.cid.ok_or(MstError::Unsaved)?;
    let node = load(store, t)?;
    out.push((cid, node.encode()?));
    for e in &mut node.entries {
        if let Entry::Tree(sub) = e {
            nodes(store, sub, out)?;
        }
    }
    Ok(())
}

fn verify_node<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
    layer: u32,
    last: &mut Option<String>,
) -> Result<usize, MstError> {
    let cid = t.cid;
    let node = load(store, t)?;
    if let Some(cid) = cid
        && cid_for_cbor(&node.encode()?) != cid
    {
        return Err(MstError::Malformed(format!(
            "node {cid} is not canonically encoded"
        )));
    }
    let mut count = 0;
    let mut prev_tree = false;
    for e in &mut node.entries {
        match e {
            Entry::Leaf(l) => {
                prev_tree = false;
                if height(l.key.as_bytes()) != layer {
                    return Err(MstError::Malformed(format!("key {} on wrong layer", l.key)));
                }
                if last.as_deref().is_some_and(|p| p >= &*l.key) {
                    return Err(MstError::Malformed(format!("key {} out of order", l.key)));
                }
                *last = Some(l.key.to_string());
                count += 1;
            }
            Entry::Tree(sub) => {
                if prev_tree {
                    return Err(MstError::Malformed("adjacent subtrees".into()));
                }
                prev_tree = true;
                let below = layer
                    .checked_sub(1)
                    .ok_or_else(|| MstError::Malformed("subtree below layer 0".into()))?;
                count += verify_node(store, sub, below, last)?;
            }
        }
    }
    Ok(count)
}
