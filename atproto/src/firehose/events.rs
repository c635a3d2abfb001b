//! The events of the repository stream, field for field as the lexicon defines them.

use crate::data::Cid;
use crate::repo::{RepoOp, WriteAction};
use serde::{Deserialize, Serialize};

/// A repository change: the commit, the CAR slice that proves it, and its operations.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Commit {
    pub seq: i64,
    /// Deprecated; always false.
    pub rebase: bool,
    /// Deprecated; always false.
    #[serde(rename = "tooBig")]
    pub too_big: bool,
    pub repo: String,
    pub commit: Cid,
    pub rev: String,
    /// The previous commit's rev; null for a repository's first commit.
    pub since: Option<String>,
    #[serde(with = "serde_bytes")]
    pub blocks: Vec<u8>,
    pub ops: Vec<RepoOpWire>,
    /// Deprecated; always empty.
    pub blobs: Vec<Cid>,
    /// The data root before this commit (Sync 1.1).
    #[serde(rename = "prevData", default, skip_serializing_if = "Option::is_none")]
    pub prev_data: Option<Cid>,
    pub time: String,
}

/// One operation of a commit. `cid` is required but null for deletes; `prev` is omitted for
/// creates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepoOpWire {
    pub action: String,
    pub path: String,
    pub cid: Option<Cid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Cid>,
}

impl From<&RepoOp> for RepoOpWire {
    fn from(op: &RepoOp) -> Self {
        RepoOpWire {
            action: op.action.as_str().into(),
            path: op.path.clone(),
            cid: op.cid,
            prev: op.prev,
        }
    }
}

impl RepoOpWire {
    /// The operation in the form the inversion code takes; `None` for an unknown action.
    pub fn to_op(&self) -> Option<RepoOp> {
        Some(RepoOp {
            action: WriteAction::parse(&self.action)?,
            path: self.path.clone(),
            cid: self.cid,
            prev: self.prev,
        })
    }
}

/// A repository's current state, without a diff: consumers resynchronise from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sync {
    pub seq: i64,
    pub did: String,
    /// A CAR holding only the commit block.
    #[serde(with = "serde_bytes")]
    pub blocks: Vec<u8>,
    pub rev: String,
    pub time: String,
}

/// The account's identity (handle or DID document) may have changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub seq: i64,
    pub did: String,
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

/// The account's hosting status changed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Account {
    pub seq: i64,
    pub did: String,
    pub time: String,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Informational message, such as `OutdatedCursor`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Info {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Any event of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Boxed: a commit is several times larger than every other event.
    Commit(Box<Commit>),
    Sync(Sync),
    Identity(Identity),
    Account(Account),
    Info(Info),
}

impl Event {
    /// The `t` of the frame header.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Commit(_) => "#commit",
            Event::Sync(_) => "#sync",
            Event::Identity(_) => "#identity",
            Event::Account(_) => "#account",
            Event::Info(_) => "#info",
        }
    }

    pub fn seq(&self) -> Option<i64> {
        match self {
            Event::Commit(e) => Some(e.seq),
            Event::Sync(e) => Some(e.seq),
            Event::Identity(e) => Some(e.seq),
            Event::Account(e) => Some(e.seq),
            Event::Info(_) => None,
        }
    }

    pub fn did(&self) -> Option<&str> {
        match self {
            Event::Commit(e) => Some(&e.repo),
            Event::Sync(e) => Some(&e.did),
            Event::Identity(e) => Some(&e.did),
            Event::Account(e) => Some(&e.did),
            Event::Info(_) => None,
        }
    }
}
