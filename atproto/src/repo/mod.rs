//! Signed repositories: commits, applying writes to the tree, and verifying what others send.

mod commit;
mod verify;
mod write;

pub use commit::{Commit, UnsignedCommit};
pub use verify::{RepoContents, VerifiedCommit, invert_ops, verify_commit_car, verify_repo_car};
pub use write::{CommitData, RecordWrite, RepoOp, WriteAction, apply_writes};

use crate::car::CarError;
use crate::crypto::CryptoError;
use crate::data::{Cid, DataError};
use crate::mst::MstError;

/// The repository format version Hearth writes.
pub const REPO_VERSION: u64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Mst(#[from] MstError),
    #[error(transparent)]
    Car(#[from] CarError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("signature: {0}")]
    Signature(#[from] CryptoError),
    #[error("invalid commit: {0}")]
    InvalidCommit(String),
    #[error("block {0} is missing")]
    MissingBlock(Box<Cid>),
    #[error("commit diff does not invert to prevData (got {got}, want {want})")]
    InversionMismatch { got: Box<Cid>, want: Box<Cid> },
    #[error("invalid operation: {0}")]
    InvalidOp(String),
}
