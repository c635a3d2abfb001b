//! did:plc: operations, their signatures, the DIDs they create, the DID documents they
//! describe, and the rules the PLC directory applies before it accepts one.
//!
//! Behaviour follows the reference implementation (`@did-plc/lib` and `@did-plc/server` in
//! github.com/did-method-plc/did-method-plc) as plc.directory runs it today, including where
//! that differs from the written spec:
//!
//! - the recovery window (72 hours) is measured from the creation of the first operation a
//!   fork would nullify, not from the operation it forks from, and a fork exactly 72 hours
//!   later is still in time;
//! - a genesis operation needs 1 to 5 rotation keys, but an update may list none (freezing
//!   the DID) or up to 10;
//! - duplicate rotation keys are allowed;
//! - a DID longer than 32 characters is accepted if it is a prefix of the full-hash DID;
//! - signatures must be 64-byte compact, low-S, unpadded base64url with zero trailing bits.
//!
//! Signing and hashing use DAG-CBOR ([`crate::data::cbor`]); keys are did:key strings
//! ([`crate::crypto`]).

mod audit;
mod document;
mod error;
mod op;
mod sign;
mod validate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

pub use audit::{LogEntry, verify_audit_log};
pub use document::DocumentData;
pub use error::PlcError;
pub use op::{
    DID_PLC_ID_LEN, LegacyCreate, Operation, PlcOp, Service, Tombstone, ensure_atproto_prefix,
    ensure_http_prefix,
};
pub use sign::{create_genesis, decode_sig, tombstone_op, update_op, verify_sig};
pub use validate::{
    Accepted, GENESIS_MAX_ROTATION_KEYS, IndexedOp, MAX_AKA_ENTRIES, MAX_AKA_LENGTH, MAX_ID_LENGTH,
    MAX_OP_BYTES, MAX_ROTATION_ENTRIES, MAX_SERVICE_ENDPOINT_LENGTH, MAX_SERVICE_ENTRIES,
    MAX_SERVICE_TYPE_LENGTH, RECOVERY_WINDOW_MS, check_rate_limit, parse_incoming_op,
    validate_genesis, validate_next_op, validate_operation_log,
};
