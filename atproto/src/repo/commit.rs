//! Commit objects: the signed root of a repository.

use super::{REPO_VERSION, RepoError};
use crate::crypto::{Keypair, PublicKey};
use crate::data::{Cid, Ipld, cbor, cid_for_cbor};
use serde::{Deserialize, Serialize};

/// A commit before signing. Field order does not matter: DAG-CBOR sorts keys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UnsignedCommit {
    pub did: String,
    pub version: u64,
    pub data: Cid,
    pub rev: String,
    /// Always written, as null in version 3: the reference includes the key.
    pub prev: Option<Cid>,
}

/// A signed commit as stored in a block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Commit {
    pub did: String,
    pub version: u64,
    pub data: Cid,
    pub rev: String,
    pub prev: Option<Cid>,
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

impl UnsignedCommit {
    pub fn new(did: &str, data: Cid, rev: &str) -> Self {
        UnsignedCommit {
            did: did.to_owned(),
            version: REPO_VERSION,
            data,
            rev: rev.to_owned(),
            prev: None,
        }
    }

    /// Signs the DAG-CBOR encoding of the unsigned commit.
    pub fn sign(self, key: &Keypair) -> Result<Commit, RepoError> {
        let bytes = cbor::to_vec(&self)?;
        let sig = key.sign(&bytes).to_vec();
        Ok(Commit {
            did: self.did,
            version: self.version,
            data: self.data,
            rev: self.rev,
            prev: self.prev,
            sig,
        })
    }
}

impl Commit {
    /// Encodes the commit block and its CID.
    pub fn to_block(&self) -> Result<(Cid, Vec<u8>), RepoError> {
        let bytes = cbor::to_vec(self)?;
        Ok((cid_for_cbor(&bytes), bytes))
    }

    /// Decodes a version 3 commit block.
    pub fn from_block(bytes: &[u8]) -> Result<Commit, RepoError> {
        let c: Commit = cbor::from_slice(bytes)
            .map_err(|e| RepoError::InvalidCommit(format!("not a commit: {e}")))?;
        if c.version != REPO_VERSION {
            return Err(RepoError::InvalidCommit(format!(
                "unsupported version {}",
                c.version
            )));
        }
        Ok(c)
    }

    pub fn unsigned(&self) -> UnsignedCommit {
        UnsignedCommit {
            did: self.did.clone(),
            version: self.version,
            data: self.data,
            rev: self.rev.clone(),
            prev: self.prev,
        }
    }

    pub fn verify(&self, key: &PublicKey) -> Result<(), RepoError> {
        let bytes = cbor::to_vec(&self.unsigned())?;
        Ok(key.verify(&bytes, &self.sig)?)
    }
}

/// Verifies a commit block of any version by re-encoding it without `sig`: older versions have
/// other fields (or lack `rev`), and the signature covers exactly what was there.
pub(crate) fn verify_any_version(bytes: &[u8], key: &PublicKey) -> Result<Ipld, RepoError> {
    let value = cbor::decode(bytes)?;
    let Ipld::Map(mut map) = value.clone() else {
        return Err(RepoError::InvalidCommit("commit is not a map".into()));
    };
    let Some(Ipld::Bytes(sig)) = map.remove("sig") else {
        return Err(RepoError::InvalidCommit("commit has no signature".into()));
    };
    let unsigned = cbor::encode(&Ipld::Map(map))?;
    key.verify(&unsigned, &sig)?;
    Ok(value)
}
