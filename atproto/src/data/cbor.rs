//! DAG-CBOR encoding and decoding of data-model values.

use super::{DataError, Ipld, validate};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes any serializable value as canonical DAG-CBOR.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, DataError> {
    serde_ipld_dagcbor::to_vec(value).map_err(|e| DataError::Cbor(e.to_string()))
}

/// Decodes one DAG-CBOR value that fills `bytes` exactly.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DataError> {
    serde_ipld_dagcbor::from_slice(bytes).map_err(|e| DataError::Cbor(e.to_string()))
}

/// Decodes a DAG-CBOR block into a generic value.
pub fn decode(bytes: &[u8]) -> Result<Ipld, DataError> {
    from_slice(bytes)
}

/// Encodes a generic value.
pub fn encode(value: &Ipld) -> Result<Vec<u8>, DataError> {
    to_vec(value)
}

/// Decodes a record block: DAG-CBOR that is also valid atproto data and a map.
pub fn decode_record(bytes: &[u8]) -> Result<Ipld, DataError> {
    let value = decode(bytes)?;
    validate::record(&value)?;
    Ok(value)
}
