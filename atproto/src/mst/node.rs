//! MST nodes in memory and as DAG-CBOR blocks.
//!
//! In memory a node is the reference implementation's "flat" view: leaves and subtree pointers
//! interleaved in key order, never two subtrees side by side. That view makes split and merge
//! read like the spec. On the wire it becomes `{l, e: [{p, k, v, t}]}` with prefix-compressed
//! keys. Encoding is written by hand rather than through serde: every write re-encodes the
//! nodes on its path, and the fixed shape (single-letter keys, already in canonical order)
//! makes a direct encoder both simple and several times faster than the generic one.

use super::MstError;
use super::key::{common_prefix_len, is_valid};
use crate::data::{Cid, cbor};
use serde::Deserialize;

/// One slot of a node: a record (leaf) or a pointer to a subtree one layer down.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Leaf(Leaf),
    Tree(Subtree),
}

#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub key: Box<str>,
    pub value: Cid,
}

/// A subtree pointer. `cid` is `None` while the subtree has unsaved changes; `node` is `None`
/// until the subtree is first read from the block store.
#[derive(Debug, Clone)]
pub(crate) struct Subtree {
    pub cid: Option<Cid>,
    pub node: Option<Box<Node>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    pub entries: Vec<Entry>,
}

impl Subtree {
    pub fn stub(cid: Cid) -> Self {
        Subtree {
            cid: Some(cid),
            node: None,
        }
    }

    pub fn dirty(node: Node) -> Self {
        Subtree {
            cid: None,
            node: Some(Box::new(node)),
        }
    }
}

impl Entry {
    pub fn leaf_key(&self) -> Option<&str> {
        match self {
            Entry::Leaf(l) => Some(&l.key),
            Entry::Tree(_) => None,
        }
    }
}

impl Node {
    /// Index of the first leaf whose key is >= `key`, or the number of entries. Nodes hold a
    /// handful of entries at fanout 4, so a scan beats a binary search over mixed slots.
    pub fn gte_index(&self, key: &str) -> usize {
        self.entries
            .iter()
            .position(|e| matches!(e, Entry::Leaf(l) if &*l.key >= key))
            .unwrap_or(self.entries.len())
    }

    /// Encodes the node. Every subtree must already have its CID.
    pub fn encode(&self) -> Result<Vec<u8>, MstError> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 80);
        let leaves = self
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Leaf(_)))
            .count();
        out.push(0xa2); // map(2)
        text(&mut out, "e");
        head(&mut out, 4, leaves as u64);
        let mut prev: &[u8] = &[];
        let mut iter = self.entries.iter().peekable();
        let left = match iter.peek() {
            Some(Entry::Tree(t)) => {
                let cid = t.cid.ok_or(MstError::Unsaved)?;
                iter.next();
                Some(cid)
            }
            _ => None,
        };
        while let Some(entry) = iter.next() {
            let Entry::Leaf(leaf) = entry else {
                return Err(MstError::Malformed("adjacent subtrees".into()));
            };
            let right = match iter.peek() {
                Some(Entry::Tree(t)) => {
                    let cid = t.cid.ok_or(MstError::Unsaved)?;
                    iter.next();
                    Some(cid)
                }
                _ => None,
            };
            let key = leaf.key.as_bytes();
            let p = common_prefix_len(prev, key);
            out.push(0xa4); // map(4)
            text(&mut out, "k");
            head(&mut out, 2, (key.len() - p) as u64);
            out.extend_from_slice(&key[p..]);
            text(&mut out, "p");
            head(&mut out, 0, p as u64);
            text(&mut out, "t");
            opt_link(&mut out, right.as_ref());
            text(&mut out, "v");
            link(&mut out, &leaf.value);
            prev = key;
        }
        text(&mut out, "l");
        opt_link(&mut out, left.as_ref());
        Ok(out)
    }

    /// Decodes a node block into entries whose subtrees are unloaded stubs.
    pub fn decode(bytes: &[u8]) -> Result<Node, MstError> {
        let data: NodeData = cbor::from_slice(bytes)
            .map_err(|e| MstError::Malformed(format!("not an MST node: {e}")))?;
        let mut entries = Vec::with_capacity(data.e.len() * 2 + 1);
        if let Some(l) = data.l {
            entries.push(Entry::Tree(Subtree::stub(l)));
        }
        let mut prev = String::new();
        for e in data.e {
            if e.p > prev.len() {
                return Err(MstError::Malformed(
                    "prefix longer than previous key".into(),
                ));
            }
            let mut key = Vec::with_capacity(e.p + e.k.len());
            key.extend_from_slice(&prev.as_bytes()[..e.p]);
            key.extend_from_slice(&e.k);
            let key = String::from_utf8(key)
                .map_err(|_| MstError::Malformed("key is not UTF-8".into()))?;
            if !is_valid(&key) {
                return Err(MstError::InvalidKey(key));
            }
            if !prev.is_empty() && key <= prev {
                return Err(MstError::Malformed("keys out of order".into()));
            }
            entries.push(Entry::Leaf(Leaf {
                key: key.as_str().into(),
                value: e.v,
            }));
            if let Some(t) = e.t {
                entries.push(Entry::Tree(Subtree::stub(t)));
            }
            prev = key;
        }
        Ok(Node { entries })
    }
}

#[derive(Deserialize)]
struct NodeData {
    l: Option<Cid>,
    e: Vec<EntryData>,
}

#[derive(Deserialize)]
struct EntryData {
    p: usize,
    #[serde(with = "serde_bytes")]
    k: Vec<u8>,
    v: Cid,
    t: Option<Cid>,
}

fn head(out: &mut Vec<u8>, major: u8, len: u64) {
    let m = major << 5;
    if len < 24 {
        out.push(m | len as u8);
    } else if len <= u8::MAX as u64 {
        out.extend_from_slice(&[m | 24, len as u8]);
    } else if len <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else if len <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A CID as DAG-CBOR writes it: tag 42 around a byte string of 0x00 and the binary CID.
pub(crate) fn link(out: &mut Vec<u8>, cid: &Cid) {
    out.extend_from_slice(&[0xd8, 0x2a]);
    head(out, 2, cid.encoded_len() as u64 + 1);
    out.push(0);
    // Writing into a Vec cannot fail.
    let _ = cid.write_bytes(&mut *out);
}

fn opt_link(out: &mut Vec<u8>, cid: Option<&Cid>) {
    match cid {
        Some(c) => link(out, c),
        None => out.push(0xf6),
    }
}
