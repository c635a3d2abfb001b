//! The directory's acceptance rules: what an incoming operation may look like, whether it
//! may follow the log so far (including recovery forks), and replaying a whole log.

use super::document::DocumentData;
use super::op::{Operation, PlcOp};
use super::sign::verify_sig;
use super::{DID_PLC_ID_LEN, PlcError};
use crate::crypto::parse_did_key;
use crate::data::{Cid, cbor};

/// Largest accepted operation, in bytes of DAG-CBOR.
pub const MAX_OP_BYTES: usize = 4000;
pub const MAX_AKA_ENTRIES: usize = 10;
/// In UTF-16 code units, as JavaScript counts string length.
pub const MAX_AKA_LENGTH: usize = 256;
/// Cap on rotation keys of an incoming update; a genesis op has the tighter
/// [`GENESIS_MAX_ROTATION_KEYS`].
pub const MAX_ROTATION_ENTRIES: usize = 10;
pub const GENESIS_MAX_ROTATION_KEYS: usize = 5;
pub const MAX_SERVICE_ENTRIES: usize = 10;
pub const MAX_SERVICE_TYPE_LENGTH: usize = 256;
pub const MAX_SERVICE_ENDPOINT_LENGTH: usize = 512;
/// Cap on the names of services and verification methods.
pub const MAX_ID_LENGTH: usize = 32;
/// How long after the first operation it would nullify a higher-priority rotation key may
/// still fork the log.
pub const RECOVERY_WINDOW_MS: i64 = 72 * 60 * 60 * 1000;

const HOUR_MS: i64 = 60 * 60 * 1000;
/// Per-DID operation limits: (window, most operations in it).
const RATE_LIMITS: [(i64, usize, &str); 3] = [
    (7 * 24 * HOUR_MS, 100, "week"),
    (24 * HOUR_MS, 30, "day"),
    (HOUR_MS, 10, "hour"),
];

/// An operation as the directory stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedOp {
    pub did: String,
    pub op: PlcOp,
    pub cid: Cid,
    pub nullified: bool,
    /// Milliseconds since the UNIX epoch.
    pub created_at_ms: i64,
}

/// What accepting an operation changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The operation's `prev` (`None` for a genesis).
    pub prev: Option<Cid>,
    /// Operations the new one forks away from; they become nullified.
    pub nullified: Vec<Cid>,
}

fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Checks an operation submitted to `POST /{did}` before it is looked at against the log:
/// its DAG-CBOR size, its shape (a signed `plc_operation` or `plc_tombstone`, no unknown
/// fields), and the directory's limits on lists, names and keys.
///
/// `body` is the request's JSON text. It is read twice: as a generic value for the size
/// check, and straight into the typed operation so map entries keep their written order.
pub fn parse_incoming_op(body: &[u8]) -> Result<PlcOp, PlcError> {
    let input: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| PlcError::Malformed(e.to_string()))?;
    let size = cbor::to_vec(&input)
        .map_err(|e| PlcError::Malformed(e.to_string()))?
        .len();
    if size > MAX_OP_BYTES {
        return Err(PlcError::TooLarge);
    }
    let op = PlcOp::from_json_bytes(body)?;
    if op.sig().is_none() {
        return Err(PlcError::Malformed("missing field `sig`".into()));
    }
    let op = match op {
        PlcOp::LegacyCreate(_) => {
            return Err(PlcError::Malformed(
                "legacy `create` operations are no longer accepted".into(),
            ));
        }
        PlcOp::Tombstone(_) => return Ok(op),
        PlcOp::Operation(op) => op,
    };
    check_limits(&op)?;
    Ok(PlcOp::Operation(op))
}

fn check_limits(op: &Operation) -> Result<(), PlcError> {
    let limit = |msg: String| Err(PlcError::Limit(msg));
    if op.also_known_as.len() > MAX_AKA_ENTRIES {
        return limit(format!(
            "Too many alsoKnownAs entries (max {MAX_AKA_ENTRIES})"
        ));
    }
    for (i, aka) in op.also_known_as.iter().enumerate() {
        if js_len(aka) > MAX_AKA_LENGTH {
            return limit(format!(
                "alsoKnownAs entry too long (max {MAX_AKA_LENGTH}): {aka}"
            ));
        }
        if op.also_known_as[..i].contains(aka) {
            return limit(format!("duplicate alsoKnownAs entry: {aka}"));
        }
    }
    if op.rotation_keys.len() > MAX_ROTATION_ENTRIES {
        return limit(format!(
            "Too many rotationKey entries (max {MAX_ROTATION_ENTRIES})"
        ));
    }
    for key in &op.rotation_keys {
        if parse_did_key(key).is_err() {
            return limit(format!("Invalid rotationKey: {key}"));
        }
    }
    if op.services.len() > MAX_SERVICE_ENTRIES {
        return limit(format!(
            "Too many service entries (max {MAX_SERVICE_ENTRIES})"
        ));
    }
    for (id, service) in &op.services {
        if js_len(id) > MAX_ID_LENGTH {
            return limit(format!("Service id too long (max {MAX_ID_LENGTH}): {id}"));
        }
        if js_len(&service.kind) > MAX_SERVICE_TYPE_LENGTH {
            return limit(format!(
                "Service type too long (max {MAX_SERVICE_TYPE_LENGTH})"
            ));
        }
        if js_len(&service.endpoint) > MAX_SERVICE_ENDPOINT_LENGTH {
            return limit(format!(
                "Service endpoint too long (max {MAX_SERVICE_ENDPOINT_LENGTH})"
            ));
        }
    }
    for (id, key) in &op.verification_methods {
        if js_len(id) > MAX_ID_LENGTH {
            return limit(format!(
                "Verification Method id too long (max {MAX_ID_LENGTH}): {id}"
            ));
        }
        if parse_did_key(key).is_err() {
            return limit(format!("Invalid verificationMethod key: {key}"));
        }
    }
    Ok(())
}

/// Keys must parse, and a genesis needs 1 to 5 rotation keys (the reference `assureValidOp`).
fn assure_valid_genesis_fields(op: &Operation) -> Result<(), PlcError> {
    for key in op.verification_methods.values().chain(&op.rotation_keys) {
        parse_did_key(key).map_err(|e| PlcError::UnsupportedKey {
            key: key.clone(),
            reason: e.to_string(),
        })?;
    }
    if op.rotation_keys.len() > GENESIS_MAX_ROTATION_KEYS {
        return Err(PlcError::ImproperOperation("too many rotation keys"));
    }
    if op.rotation_keys.is_empty() {
        return Err(PlcError::ImproperOperation(
            "need at least one rotation key",
        ));
    }
    Ok(())
}

/// Checks that `op` may create `did`: well-formed, signed by one of its own rotation keys,
/// hashing to the DID, with a null `prev` (the reference `assureValidCreationOp`).
pub fn validate_genesis(did: &str, op: &PlcOp) -> Result<DocumentData, PlcError> {
    let normalized = op.normalize().ok_or(PlcError::Misordered)?;
    assure_valid_genesis_fields(&normalized)?;
    verify_sig(op, &normalized.rotation_keys)?;
    // The whole hash (52 base32 characters); any prefix of it at least 24 long is the DID.
    let expected = op.did_with_len(usize::MAX)?;
    if did.len() < "did:plc:".len() + DID_PLC_ID_LEN {
        return Err(PlcError::ImproperDid("too short"));
    }
    if !expected.starts_with(did) {
        return Err(PlcError::GenesisHash(expected));
    }
    if op.prev().is_some() {
        return Err(PlcError::ImproperOperation("expected null prev on create"));
    }
    DocumentData::from_op(did, op).ok_or(PlcError::Misordered)
}

fn parse_prev(prev: &str) -> Result<Cid, PlcError> {
    crate::data::cid_from_str(prev).map_err(|e| PlcError::BadPrev(e.to_string()))
}

/// Decides whether `proposed` may be appended to a DID's log (the reference
/// `assureValidNextOp`).
///
/// `ops` are the DID's operations that are not nullified, oldest first; `now_ms` is the
/// time of submission. An operation whose `prev` is older than the latest forks the log:
/// allowed only if it is signed by a rotation key listed (in the forked-from operation)
/// before the key that signed the first operation it displaces, and only within
/// [`RECOVERY_WINDOW_MS`] of that operation's creation.
pub fn validate_next_op(
    did: &str,
    ops: &[IndexedOp],
    proposed: &PlcOp,
    now_ms: i64,
) -> Result<Accepted, PlcError> {
    if ops.is_empty() {
        validate_genesis(did, proposed)?;
        return Ok(Accepted {
            prev: None,
            nullified: Vec::new(),
        });
    }
    let prev = parse_prev(proposed.prev().ok_or(PlcError::Misordered)?)?;
    let index = ops
        .iter()
        .position(|o| o.cid == prev)
        .ok_or(PlcError::Misordered)?;
    let (history, displaced) = ops.split_at(index + 1);
    let last = history.last().ok_or(PlcError::Misordered)?;
    let last = last.op.normalize().ok_or(PlcError::Misordered)?;

    let Some(first_displaced) = displaced.first() else {
        verify_sig(proposed, &last.rotation_keys)?;
        return Ok(Accepted {
            prev: Some(prev),
            nullified: Vec::new(),
        });
    };
    let disputed = verify_sig(&first_displaced.op, &last.rotation_keys)?;
    let rank = last
        .rotation_keys
        .iter()
        .position(|k| k == disputed)
        .unwrap_or(0);
    verify_sig(proposed, &last.rotation_keys[..rank])?;
    let lapsed = now_ms - first_displaced.created_at_ms;
    if lapsed > RECOVERY_WINDOW_MS {
        return Err(PlcError::LateRecovery(lapsed));
    }
    Ok(Accepted {
        prev: Some(prev),
        nullified: displaced.iter().map(|o| o.cid).collect(),
    })
}

/// Replays a log of active (non-nullified) operations, oldest first, and returns the state
/// it ends in: `None` if it ends in a tombstone (the reference `validateOperationLog`).
pub fn validate_operation_log(did: &str, ops: &[PlcOp]) -> Result<Option<DocumentData>, PlcError> {
    let Some((first, rest)) = ops.split_first() else {
        return Err(PlcError::ImproperOperation("incorrect structure"));
    };
    for op in ops {
        if op.sig().is_none() {
            return Err(PlcError::ImproperOperation("incorrect structure"));
        }
    }
    if rest.iter().any(|o| matches!(o, PlcOp::LegacyCreate(_))) {
        return Err(PlcError::ImproperOperation("incorrect structure"));
    }
    let mut doc = validate_genesis(did, first)?;
    let mut prev = first.cid()?;
    for (i, op) in rest.iter().enumerate() {
        match op.prev() {
            Some(p) if parse_prev(p)? == prev => {}
            _ => return Err(PlcError::Misordered),
        }
        verify_sig(op, &doc.rotation_keys)?;
        match DocumentData::from_op(did, op) {
            Some(next) => doc = next,
            None if i + 1 == rest.len() => return Ok(None),
            None => return Err(PlcError::Misordered),
        }
        prev = op.cid()?;
    }
    Ok(Some(doc))
}

/// The directory's per-DID rate limit: at most 10 operations an hour, 30 a day and 100 a
/// week, counting the DID's existing (non-nullified) operations.
pub fn check_rate_limit(ops: &[IndexedOp], now_ms: i64) -> Result<(), PlcError> {
    for (window, max, name) in RATE_LIMITS {
        let recent = ops
            .iter()
            .filter(|o| o.created_at_ms > now_ms - window)
            .count();
        if recent >= max {
            return Err(PlcError::RateLimited(format!(
                "Too many operations within last {name} (max {max})"
            )));
        }
    }
    Ok(())
}
