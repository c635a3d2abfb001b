//! The atproto rules on top of plain DAG-CBOR: no floats, 64-bit integers, well-formed
//! `$type` and blob objects, bounded depth.

use super::{DataError, Ipld, MAX_DEPTH};

/// Checks that a value is valid atproto data.
pub fn value(v: &Ipld) -> Result<(), DataError> {
    walk(v, 0)
}

/// Checks that a value is valid atproto data and an object, as every record must be.
pub fn record(v: &Ipld) -> Result<(), DataError> {
    if !matches!(v, Ipld::Map(_)) {
        return Err(DataError::NotObject);
    }
    value(v)
}

fn walk(v: &Ipld, depth: usize) -> Result<(), DataError> {
    if depth > MAX_DEPTH {
        return Err(DataError::TooDeep);
    }
    match v {
        Ipld::Float(_) => Err(DataError::Float),
        Ipld::Integer(i) if i64::try_from(*i).is_err() => Err(DataError::IntegerRange),
        Ipld::List(items) => items.iter().try_for_each(|i| walk(i, depth + 1)),
        Ipld::Map(map) => {
            if let Some(t) = map.get("$type") {
                match t {
                    Ipld::String(s) if !s.is_empty() => {
                        if s == "blob" {
                            blob_shape(map)?;
                        }
                    }
                    Ipld::String(_) => return Err(DataError::Type("empty $type".into())),
                    _ => return Err(DataError::Type("$type must be a string".into())),
                }
            }
            map.values().try_for_each(|i| walk(i, depth + 1))
        }
        _ => Ok(()),
    }
}

fn blob_shape(map: &std::collections::BTreeMap<String, Ipld>) -> Result<(), DataError> {
    match map.get("ref") {
        Some(Ipld::Link(_)) => {}
        Some(_) => return Err(DataError::Blob("ref must be a link".into())),
        None => return Err(DataError::Blob("missing ref".into())),
    }
    match map.get("mimeType") {
        Some(Ipld::String(s)) if !s.is_empty() => {}
        Some(_) => {
            return Err(DataError::Blob(
                "mimeType must be a non-empty string".into(),
            ));
        }
        None => return Err(DataError::Blob("missing mimeType".into())),
    }
    match map.get("size") {
        Some(Ipld::Integer(i)) if *i >= 0 => Ok(()),
        Some(_) => Err(DataError::Blob(
            "size must be a non-negative integer".into(),
        )),
        None => Err(DataError::Blob("missing size".into())),
    }
}
