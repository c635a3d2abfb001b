//! Reading fields out of record values.

use atproto::data::Ipld;
use atproto::syntax::Datetime;

/// The value at a path of map keys.
pub fn at<'a>(v: &'a Ipld, path: &[&str]) -> Option<&'a Ipld> {
    let mut cur = v;
    for k in path {
        match cur {
            Ipld::Map(m) => cur = m.get(*k)?,
            _ => return None,
        }
    }
    Some(cur)
}

pub fn str_at<'a>(v: &'a Ipld, path: &[&str]) -> Option<&'a str> {
    match at(v, path)? {
        Ipld::String(s) => Some(s),
        _ => None,
    }
}

/// A blob reference's CID at a path, as a string.
pub fn blob_cid_at(v: &Ipld, path: &[&str]) -> Option<String> {
    atproto::data::BlobRef::from_ipld(at(v, path)?).map(|b| b.cid.to_string())
}

pub fn type_of(v: &Ipld) -> Option<&str> {
    str_at(v, &["$type"])
}

/// A datetime normalised to UTC with millisecond precision, so strings sort as times do.
pub fn normalize_datetime(s: &str) -> Option<String> {
    let dt: Datetime = s.parse().ok()?;
    Some(Datetime::from_unix_millis(dt.timestamp_micros().div_euclid(1000)).to_string())
}

/// The earlier of a record's claimed creation time and when it was indexed.
pub fn sort_at(created_at: Option<&str>, indexed_at: &str) -> String {
    match created_at.and_then(normalize_datetime) {
        Some(c) if c.as_str() < indexed_at => c,
        _ => indexed_at.to_owned(),
    }
}

/// The DID of an at:// URI's authority.
pub fn uri_did(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("at://")?;
    let did = rest.split('/').next()?;
    did.starts_with("did:").then_some(did)
}
