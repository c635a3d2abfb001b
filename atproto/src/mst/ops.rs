//! Insert, update, delete: the reference's algorithms, applied to owned nodes.
//!
//! Each function takes a subtree by value and returns its replacement, so a change rebuilds
//! exactly the nodes on its path and leaves every other subtree untouched (and unloaded).

use super::key::height;
use super::node::{Entry, Leaf, Node, Subtree};
use super::{MstError, load};
use crate::blockstore::BlockStore;
use crate::data::Cid;

pub(crate) struct Ctx<'a, S> {
    pub store: &'a S,
    pub removed: &'a mut Vec<Cid>,
}

impl<S: BlockStore> Ctx<'_, S> {
    /// Takes a subtree's node out for editing; its stored version, if any, is now replaced.
    fn open(&mut self, mut t: Subtree) -> Result<Node, MstError> {
        load(self.store, &mut t)?;
        if let Some(cid) = t.cid {
            self.removed.push(cid);
        }
        t.node.map(|n| *n).ok_or(MstError::Unsaved)
    }
}

fn take_tree(entries: &mut Vec<Entry>, i: usize) -> Result<Subtree, MstError> {
    match entries.remove(i) {
        Entry::Tree(t) => Ok(t),
        Entry::Leaf(_) => Err(MstError::Malformed("expected a subtree".into())),
    }
}

fn is_tree(entries: &[Entry], i: Option<usize>) -> bool {
    matches!(i.and_then(|i| entries.get(i)), Some(Entry::Tree(_)))
}

/// The layer of a subtree: from its first leaf, or one above its first subtree that knows.
pub(crate) fn attempt_layer<S: BlockStore>(
    store: &S,
    t: &mut Subtree,
) -> Result<Option<u32>, MstError> {
    let node = load(store, t)?;
    if let Some(k) = node.entries.iter().find_map(Entry::leaf_key) {
        return Ok(Some(height(k.as_bytes())));
    }
    for e in &mut node.entries {
        if let Entry::Tree(sub) = e
            && let Some(l) = attempt_layer(store, sub)?
        {
            return Ok(Some(l + 1));
        }
    }
    Ok(None)
}

/// Adds at the root, growing the tree upward when the key belongs above the current root.
pub(crate) fn add_at_root<S: BlockStore>(
    ctx: &mut Ctx<'_, S>,
    root: Subtree,
    layer: u32,
    key: &str,
    value: Cid,
) -> Result<(Subtree, u32), MstError> {
    let kh = height(key.as_bytes());
    if kh <= layer {
        return Ok((add(ctx, root, layer, key, value, kh)?, layer));
    }
    let (mut left, mut right) = split(ctx, root, key)?;
    // The split halves sit at the old root's layer; give each a chain of single-child parents
    // up to the layer just below the new root.
    for _ in 1..(kh - layer) {
        left = left.map(|l| {
            Subtree::dirty(Node {
                entries: vec![Entry::Tree(l)],
            })
        });
        right = right.map(|r| {
            Subtree::dirty(Node {
                entries: vec![Entry::Tree(r)],
            })
        });
    }
    let mut entries = Vec::with_capacity(3);
    entries.extend(left.map(Entry::Tree));
    entries.push(Entry::Leaf(Leaf {
        key: key.into(),
        value,
    }));
    entries.extend(right.map(Entry::Tree));
    Ok((Subtree::dirty(Node { entries }), kh))
}

fn add<S: BlockStore>(
    ctx: &mut Ctx<'_, S>,
    t: Subtree,
    layer: u32,
    key: &str,
    value: Cid,
    kh: u32,
) -> Result<Subtree, MstError> {
    let mut node = ctx.open(t)?;
    let i = node.gte_index(key);
    let before = i.checked_sub(1);
    if kh == layer {
        let leaf = Entry::Leaf(Leaf {
            key: key.into(),
            value,
        });
        if let (true, Some(b)) = (is_tree(&node.entries, before), before) {
            // The key lands inside the subtree before it: split that subtree around the key.
            let prev = take_tree(&mut node.entries, b)?;
            let (l, r) = split(ctx, prev, key)?;
            let mut ins = Vec::with_capacity(3);
            ins.extend(l.map(Entry::Tree));
            ins.push(leaf);
            ins.extend(r.map(Entry::Tree));
            node.entries.splice(b..b, ins);
        } else {
            node.entries.insert(i, leaf);
        }
    } else {
        let below = layer
            .checked_sub(1)
            .ok_or(MstError::Malformed("layer below 0".into()))?;
        if let (true, Some(b)) = (is_tree(&node.entries, before), before) {
            let prev = take_tree(&mut node.entries, b)?;
            let sub = add(ctx, prev, below, key, value, kh)?;
            node.entries.insert(b, Entry::Tree(sub));
        } else {
            let sub = add(ctx, Subtree::dirty(Node::default()), below, key, value, kh)?;
            node.entries.insert(i, Entry::Tree(sub));
        }
    }
    Ok(Subtree::dirty(node))
}

/// Splits a subtree into the parts below and above `key`, each at the same layer; an empty
/// part is `None`.
pub(crate) fn split<S: BlockStore>(
    ctx: &mut Ctx<'_, S>,
    t: Subtree,
    key: &str,
) -> Result<(Option<Subtree>, Option<Subtree>), MstError> {
    let mut node = ctx.open(t)?;
    let i = node.gte_index(key);
    let mut right = node.entries.split_off(i);
    let mut left = node.entries;
    if let Some(Entry::Tree(_)) = left.last() {
        let at = left.len() - 1;
        let last = take_tree(&mut left, at)?;
        let (l, r) = split(ctx, last, key)?;
        left.extend(l.map(Entry::Tree));
        if let Some(r) = r {
            right.insert(0, Entry::Tree(r));
        }
    }
    let wrap =
        |entries: Vec<Entry>| (!entries.is_empty()).then(|| Subtree::dirty(Node { entries }));
    Ok((wrap(left), wrap(right)))
}

pub(crate) fn update<S: BlockStore>(
    ctx: &mut Ctx<'_, S>,
    t: Subtree,
    key: &str,
    value: Cid,
) -> Result<Subtree, MstError> {
    let mut node = ctx.open(t)?;
    let i = node.gte_index(key);
    if let Some(Entry::Leaf(l)) = node.entries.get_mut(i)
        && &*l.key == key
    {
        l.value = value;
        return Ok(Subtree::dirty(node));
    }
    match i.checked_sub(1) {
        Some(b) if is_tree(&node.entries, Some(b)) => {
            let sub = take_tree(&mut node.entries, b)?;
            let sub = update(ctx, sub, key, value)?;
            node.entries.insert(b, Entry::Tree(sub));
            Ok(Subtree::dirty(node))
        }
        _ => Err(MstError::KeyNotFound(key.to_owned())),
    }
}

/// Deletes, then trims single-subtree roots as the reference does. Returns the new root layer.
pub(crate) fn delete_at_root<S: BlockStore>(
    ctx: &mut Ctx<'_, S>,
    root: Subtree,
    layer: u32,
    key: &str,
) -> Result<(Subtree, u32), MstError> {
    let mut root = delete(ctx, root, key)?;
    let mut layer = layer;
    loop {
        let node = load(ctx.store, &mut root)?;
        if node.entries.len() != 1 || !matches!(node.entries[0], Entry::Tree(_)) {
            break;
        }
        // The root is only a pointer to the layer below: that layer becomes the root.
        let mut n = ctx.open(root)?;
        root = take_tree(&mut n.entries, 0)?;
        layer = layer.saturating_sub(1);
    }
    // An emptied tree starts again at layer 0, as a freshly loaded empty tree would.
    if load(ctx.store, &mut root)?.entries.is_empty() {
        layer = 0;
    }
    Ok((root, layer))
}

fn delete<S: BlockStore>(ctx: &mut Ctx<'_, S>, t: Subtree, key: &str) -> Result<Subtree, MstError> {
    let mut node = ctx.open(t)?;
    let i = node.gte_index(key);
    let found = matches!(node.entries.get(i), Some(Entry::Leaf(l)) if &*l.key == key);
    let before = i.checked_sub(1);
    if found {
        match before {
            Some(b) if is_tree(&node.entries, before) && is_tree(&node.entries, Some(i + 1)) => {
                let right = take_tree(&mut node.entries, i + 1)?;
                node.entries.remove(i);
                let left = take_tree(&mut node.entries, b)?;
                let merged = merge(ctx, left, right)?;
                node.entries.insert(b, Entry::Tree(merged));
            }
            _ => {
                node.entries.remove(i);
            }
        }
        return Ok(Subtree::dirty(node));
    }
    match before {
        Some(b) if is_tree(&node.entries, before) => {
            let sub = take_tree(&mut node.entries, b)?;
            let sub = delete(ctx, sub, key)?;
            let empty = sub.node.as_ref().is_some_and(|n| n.entries.is_empty());
            if !empty {
                node.entries.insert(b, Entry::Tree(sub));
            }
            Ok(Subtree::dirty(node))
        }
        _ => Err(MstError::KeyNotFound(key.to_owned())),
    }
}

/// Joins two subtrees of one layer where every key on the left is below every key on the right.
fn merge<S: BlockStore>(
    ctx: &mut Ctx<'_, S>,
    left: Subtree,
    right: Subtree,
) -> Result<Subtree, MstError> {
    let mut l = ctx.open(left)?;
    let mut r = ctx.open(right)?;
    if matches!(l.entries.last(), Some(Entry::Tree(_)))
        && matches!(r.entries.first(), Some(Entry::Tree(_)))
    {
        let at = l.entries.len() - 1;
        let a = take_tree(&mut l.entries, at)?;
        let b = take_tree(&mut r.entries, 0)?;
        l.entries.push(Entry::Tree(merge(ctx, a, b)?));
    }
    l.entries.append(&mut r.entries);
    Ok(Subtree::dirty(l))
}
