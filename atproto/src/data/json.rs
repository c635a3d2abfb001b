//! The JSON form of atproto data: `$link` for CIDs, `$bytes` for byte strings.

use super::{DataError, Ipld, MAX_DEPTH, cid::parse_cid, validate};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// Largest integer JSON can carry exactly in every implementation (JavaScript's safe range).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Converts JSON to a data-model value, applying the atproto rules: `$link` and `$bytes`
/// objects become links and bytes, integer-valued numbers become integers, other numbers are
/// refused, and `$type`/blob objects must be well formed.
pub fn from_json(value: &Value) -> Result<Ipld, DataError> {
    let ipld = convert(value, 0)?;
    validate::value(&ipld)?;
    Ok(ipld)
}

/// Converts JSON to a record value: like [`from_json`], and the top level must be an object.
pub fn record_from_json(value: &Value) -> Result<Ipld, DataError> {
    let ipld = from_json(value)?;
    validate::record(&ipld)?;
    Ok(ipld)
}

fn convert(value: &Value, depth: usize) -> Result<Ipld, DataError> {
    if depth > MAX_DEPTH {
        return Err(DataError::TooDeep);
    }
    Ok(match value {
        Value::Null => Ipld::Null,
        Value::Bool(b) => Ipld::Bool(*b),
        Value::Number(n) => Ipld::Integer(number(n)?),
        Value::String(s) => Ipld::String(s.clone()),
        Value::Array(items) => Ipld::List(
            items
                .iter()
                .map(|v| convert(v, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => object(map, depth)?,
    })
}

fn number(n: &Number) -> Result<i128, DataError> {
    if let Some(i) = n.as_i64() {
        return Ok(i.into());
    }
    if n.as_u64().is_some() {
        return Err(DataError::IntegerRange);
    }
    // JSON has one number type, so `123.0` from a JavaScript client is an integer.
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER => Ok(f as i128),
        _ => Err(DataError::Float),
    }
}

fn object(map: &Map<String, Value>, depth: usize) -> Result<Ipld, DataError> {
    if let Some(link) = map.get("$link") {
        if map.len() != 1 {
            return Err(DataError::Link("$link object has extra fields".into()));
        }
        let Value::String(s) = link else {
            return Err(DataError::Link("$link must be a string".into()));
        };
        return Ok(Ipld::Link(
            parse_cid(s).map_err(|e| DataError::Link(e.to_string()))?,
        ));
    }
    if let Some(bytes) = map.get("$bytes") {
        if map.len() != 1 {
            return Err(DataError::Bytes("$bytes object has extra fields".into()));
        }
        let Value::String(s) = bytes else {
            return Err(DataError::Bytes("$bytes must be a string".into()));
        };
        return Ok(Ipld::Bytes(decode_base64(s)?));
    }
    let mut out = BTreeMap::new();
    for (k, v) in map {
        out.insert(k.clone(), convert(v, depth + 1)?);
    }
    Ok(Ipld::Map(out))
}

/// `$bytes` decoding as the reference implementations do it: padding optional, and non-zero
/// bits after the last byte ignored (the Go and JavaScript decoders both accept them; the
/// interop vectors contain such a string).
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_base64(s: &str) -> Result<Vec<u8>, DataError> {
    LENIENT_BASE64
        .decode(s)
        .map_err(|e| DataError::Bytes(e.to_string()))
}

/// Converts a data-model value to its JSON form.
pub fn to_json(value: &Ipld) -> Value {
    match value {
        Ipld::Null => Value::Null,
        Ipld::Bool(b) => Value::Bool(*b),
        Ipld::Integer(i) => match i64::try_from(*i) {
            Ok(i) => Value::Number(i.into()),
            // Out-of-range integers never pass validation; render them losslessly anyway.
            Err(_) => Value::String(i.to_string()),
        },
        Ipld::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Ipld::String(s) => Value::String(s.clone()),
        Ipld::Bytes(b) => {
            let mut m = Map::with_capacity(1);
            m.insert("$bytes".into(), Value::String(STANDARD_NO_PAD.encode(b)));
            Value::Object(m)
        }
        Ipld::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Ipld::Map(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Ipld::Link(cid) => {
            let mut m = Map::with_capacity(1);
            m.insert("$link".into(), Value::String(cid.to_string()));
            Value::Object(m)
        }
    }
}
