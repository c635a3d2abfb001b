//! Sequencing events inside a write transaction.

use super::{SeqFrame, Sequencer, store};
use crate::clock::{now_iso, now_secs};
use crate::db::{DbError, WriteTxn};
use atproto::car::write_car;
use atproto::firehose::{Account, Event, Identity, Sync, encode_event};
use bytes::Bytes;

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("encoding event: {0}")]
    Encode(String),
}

impl From<rusqlite::Error> for EmitError {
    fn from(e: rusqlite::Error) -> Self {
        EmitError::Db(e.into())
    }
}

/// Assigns the next sequence number, stores the encoded frame, and arranges for it to reach
/// live subscribers once the transaction commits. Returns the sequence number.
pub fn emit(txn: &mut WriteTxn<'_>, seq: &Sequencer, mut event: Event) -> Result<i64, EmitError> {
    let n = txn.state.advance();
    match &mut event {
        Event::Commit(e) => e.seq = n,
        Event::Sync(e) => e.seq = n,
        Event::Identity(e) => e.seq = n,
        Event::Account(e) => e.seq = n,
        Event::Info(_) => return Err(EmitError::Encode("#info events are not sequenced".into())),
    }
    let did = event.did().unwrap_or_default().to_owned();
    let frame = Bytes::from(encode_event(&event).map_err(|e| EmitError::Encode(e.to_string()))?);
    store::insert(txn.conn, n, &did, event.type_name(), &frame, now_secs())?;
    let seq = seq.clone();
    txn.after_commit(move || seq.publish(SeqFrame { seq: n, frame }));
    Ok(n)
}

pub fn emit_identity(
    txn: &mut WriteTxn<'_>,
    seq: &Sequencer,
    did: &str,
    handle: Option<&str>,
) -> Result<i64, EmitError> {
    let e = Identity {
        seq: 0,
        did: did.into(),
        time: now_iso(),
        handle: handle.map(Into::into),
    };
    emit(txn, seq, Event::Identity(e))
}

pub fn emit_account(
    txn: &mut WriteTxn<'_>,
    seq: &Sequencer,
    did: &str,
    active: bool,
    status: Option<&str>,
) -> Result<i64, EmitError> {
    let e = Account {
        seq: 0,
        did: did.into(),
        time: now_iso(),
        active,
        status: status.map(Into::into),
    };
    emit(txn, seq, Event::Account(e))
}

/// A `#sync` event: the current commit, for consumers to resynchronise from.
pub fn emit_sync(
    txn: &mut WriteTxn<'_>,
    seq: &Sequencer,
    did: &str,
    commit_cid: &atproto::data::Cid,
    commit_block: &[u8],
    rev: &str,
) -> Result<i64, EmitError> {
    let blocks = write_car(commit_cid, [(commit_cid, commit_block)])
        .map_err(|e| EmitError::Encode(e.to_string()))?;
    let e = Sync {
        seq: 0,
        did: did.into(),
        blocks,
        rev: rev.into(),
        time: now_iso(),
    };
    emit(txn, seq, Event::Sync(e))
}
