//! Checking a full audit log (`GET /{did}/log/audit`), nullified forks included.

use super::PlcError;
use super::document::DocumentData;
use super::op::PlcOp;
use super::validate::{IndexedOp, validate_next_op};
use crate::syntax::Datetime;
use serde::{Deserialize, Serialize};

/// One entry of an audit log, as the directory serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub did: String,
    pub operation: PlcOp,
    pub cid: String,
    pub nullified: bool,
    pub created_at: String,
}

impl LogEntry {
    /// The entry the directory records for `op` accepted at `created_at_ms`.
    pub fn new(did: &str, operation: PlcOp, created_at_ms: i64) -> Result<LogEntry, PlcError> {
        Ok(LogEntry {
            did: did.to_owned(),
            cid: operation.cid()?.to_string(),
            operation,
            nullified: false,
            created_at: Datetime::from_unix_millis(created_at_ms).to_string(),
        })
    }
}

fn audit(msg: impl Into<String>) -> PlcError {
    PlcError::AuditLog(msg.into())
}

/// Verifies that `entries` is exactly what a PLC directory following the rules would have
/// recorded for `did`, and returns the DID's current state (`None` once tombstoned).
///
/// The log is replayed in order: each operation must have been acceptable at its
/// `createdAt` given the operations before it that were still active
/// ([`validate_next_op`]), and the `nullified` flags must be the ones those acceptances
/// imply. Each entry's `cid` and `did` must match its operation, and timestamps must not go
/// backwards.
pub fn verify_audit_log(did: &str, entries: &[LogEntry]) -> Result<Option<DocumentData>, PlcError> {
    if entries.is_empty() {
        return Err(audit("empty log"));
    }
    let mut replayed: Vec<IndexedOp> = Vec::with_capacity(entries.len());
    let mut last_ms = i64::MIN;
    for entry in entries {
        if entry.did != did {
            return Err(audit(format!("entry for another DID: {}", entry.did)));
        }
        if entry.operation.sig().is_none() {
            return Err(audit("unsigned operation"));
        }
        let cid = entry.operation.cid()?;
        if cid.to_string() != entry.cid {
            return Err(audit(format!(
                "cid {} does not match its operation",
                entry.cid
            )));
        }
        let created_at_ms = entry
            .created_at
            .parse::<Datetime>()
            .map_err(|_| audit(format!("bad createdAt: {}", entry.created_at)))?
            .timestamp_micros()
            .div_euclid(1000);
        if created_at_ms < last_ms {
            return Err(audit("entries are not in time order"));
        }
        last_ms = created_at_ms;

        let active: Vec<IndexedOp> = replayed.iter().filter(|o| !o.nullified).cloned().collect();
        let accepted = validate_next_op(did, &active, &entry.operation, created_at_ms)?;
        for op in replayed.iter_mut() {
            if accepted.nullified.contains(&op.cid) {
                op.nullified = true;
            }
        }
        replayed.push(IndexedOp {
            did: did.to_owned(),
            op: entry.operation.clone(),
            cid,
            nullified: false,
            created_at_ms,
        });
    }
    for (entry, replay) in entries.iter().zip(&replayed) {
        if entry.nullified != replay.nullified {
            return Err(audit(format!(
                "{} is marked nullified={} but the rules make it nullified={}",
                entry.cid, entry.nullified, replay.nullified
            )));
        }
    }
    let current = replayed
        .iter()
        .rev()
        .find(|o| !o.nullified)
        .ok_or_else(|| audit("no active operation"))?;
    Ok(DocumentData::from_op(did, &current.op))
}
