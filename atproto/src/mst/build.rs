//! Building a whole tree from sorted entries in one pass.

use super::MstError;
use super::key::{height, is_valid};
use super::node::{Entry, Leaf, Node, Subtree};
use crate::data::Cid;
use std::iter::Peekable;

struct Item {
    key: Box<str>,
    value: Cid,
    height: u32,
}

/// Builds the tree of `entries` (sorted, unique). Returns the root and its layer.
pub(crate) fn from_sorted(entries: Vec<(String, Cid)>) -> Result<(Subtree, u32), MstError> {
    let mut items = Vec::with_capacity(entries.len());
    let mut prev: Option<&str> = None;
    for (key, _) in &entries {
        if !is_valid(key) {
            return Err(MstError::InvalidKey(key.clone()));
        }
        if prev.is_some_and(|p| p >= key.as_str()) {
            return Err(MstError::Malformed(format!("entries not sorted at {key}")));
        }
        prev = Some(key);
    }
    let mut layer = 0;
    for (key, value) in entries {
        let h = height(key.as_bytes());
        layer = layer.max(h);
        items.push(Item {
            key: key.into_boxed_str(),
            value,
            height: h,
        });
    }
    let mut iter = items.into_iter().peekable();
    let root = build(&mut iter, layer);
    Ok((Subtree::dirty(root), layer))
}

/// Consumes the items that belong at `layer` or below and returns the node for them.
fn build(items: &mut Peekable<std::vec::IntoIter<Item>>, layer: u32) -> Node {
    let mut entries = Vec::new();
    while let Some(next) = items.peek() {
        if next.height > layer {
            break;
        }
        if next.height == layer {
            if let Some(item) = items.next() {
                entries.push(Entry::Leaf(Leaf {
                    key: item.key,
                    value: item.value,
                }));
            }
        } else {
            // Lower keys form a subtree one layer down; `height < layer` means layer >= 1.
            let child = build(items, layer - 1);
            entries.push(Entry::Tree(Subtree::dirty(child)));
        }
    }
    Node { entries }
}
