//! Blob references inside records.

use super::{Cid, Ipld, cid::parse_cid};
use std::collections::BTreeMap;

/// A reference to a blob: its raw-codec CID, declared MIME type and size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub cid: Cid,
    pub mime_type: String,
    pub size: u64,
}

impl BlobRef {
    /// Reads a blob object (`$type: blob`), or the legacy `{cid, mimeType}` form, whose size
    /// is unknown and reported as 0.
    pub fn from_ipld(v: &Ipld) -> Option<BlobRef> {
        let Ipld::Map(map) = v else { return None };
        match map.get("$type") {
            Some(Ipld::String(t)) if t == "blob" => {
                let Some(Ipld::Link(cid)) = map.get("ref") else {
                    return None;
                };
                let Some(Ipld::String(mime)) = map.get("mimeType") else {
                    return None;
                };
                let Some(Ipld::Integer(size)) = map.get("size") else {
                    return None;
                };
                Some(BlobRef {
                    cid: *cid,
                    mime_type: mime.clone(),
                    size: u64::try_from(*size).ok()?,
                })
            }
            None if map.len() == 2 => {
                let Some(Ipld::String(cid)) = map.get("cid") else {
                    return None;
                };
                let Some(Ipld::String(mime)) = map.get("mimeType") else {
                    return None;
                };
                Some(BlobRef {
                    cid: parse_cid(cid).ok()?,
                    mime_type: mime.clone(),
                    size: 0,
                })
            }
            _ => None,
        }
    }

    /// The blob object as it appears in a record.
    pub fn to_ipld(&self) -> Ipld {
        let mut m = BTreeMap::new();
        m.insert("$type".into(), Ipld::String("blob".into()));
        m.insert("ref".into(), Ipld::Link(self.cid));
        m.insert("mimeType".into(), Ipld::String(self.mime_type.clone()));
        m.insert("size".into(), Ipld::Integer(self.size.into()));
        Ipld::Map(m)
    }

    /// The blob object in its JSON form.
    pub fn to_json(&self) -> serde_json::Value {
        super::json::to_json(&self.to_ipld())
    }
}

/// Every blob a record references, in document order, duplicates removed.
pub fn collect(record: &Ipld) -> Vec<BlobRef> {
    let mut out: Vec<BlobRef> = Vec::new();
    visit(record, &mut out, 0);
    out
}

fn visit(v: &Ipld, out: &mut Vec<BlobRef>, depth: usize) {
    if depth > super::MAX_DEPTH {
        return;
    }
    match v {
        Ipld::Map(map) => {
            if let Some(b) = BlobRef::from_ipld(v) {
                if !out.iter().any(|o| o.cid == b.cid) {
                    out.push(b);
                }
                return;
            }
            map.values().for_each(|i| visit(i, out, depth + 1));
        }
        Ipld::List(items) => items.iter().for_each(|i| visit(i, out, depth + 1)),
        _ => {}
    }
}
