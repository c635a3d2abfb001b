//! Importing a whole repository exported by another PDS: the account migrating in brings its
//! repo as a CAR (`com.atproto.repo.importRepo`).

use super::{Committer, store};
use crate::db::{DbError, WriteTxn};
use crate::sequencer::{EmitError, emit_sync};
use atproto::car::read_car;
use atproto::crypto::PublicKey;
use atproto::data::{BlobRef, Cid, blob, cbor};
use atproto::repo::{Commit, RepoError, UnsignedCommit, verify_repo_car};

/// The largest CAR importRepo accepts.
pub const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

/// Why an import was refused or failed. The messages of the first group are what clients are
/// shown.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("The repository's commit is for {0}, not for this account")]
    WrongDid(String),
    #[error("The repository's commit is not signed by the account's current signing key")]
    BadSignature,
    #[error("Invalid repository: {0}")]
    Invalid(String),
    #[error("Repository is larger than the limit of {MAX_IMPORT_BYTES} bytes")]
    TooLarge,
    #[error("Only an account being migrated in (deactivated) can import a repository")]
    NotDeactivated,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Emit(#[from] EmitError),
    #[error("signing the commit: {0}")]
    Sign(RepoError),
    #[error("the account's signing key: {0}")]
    Key(String),
}

/// A repository that passed every check, ready to store.
pub struct CheckedRepo {
    /// The blocks to keep: every block of the CAR but the exporter's commit, which is replaced
    /// (an exporter sends the tree and the records; anything else counts against the size limit
    /// like they do).
    blocks: Vec<(Cid, Vec<u8>)>,
    /// (collection, rkey, record CID, blobs the record references).
    records: Vec<(String, String, Cid, Vec<BlobRef>)>,
    data: Cid,
    commit_cid: Cid,
    prev_rev: Option<String>,
}

/// Checks an exported repository for `did`: every block hashes to its CID, the commit is the
/// DID's and signed by `key` (its current key, from its DID document), the tree is well formed
/// and every record decodes.
pub fn check(car: &[u8], did: &str, key: &PublicKey) -> Result<CheckedRepo, ImportError> {
    if car.len() as u64 > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge);
    }
    let invalid = |e: RepoError| ImportError::Invalid(e.to_string());
    // Unsigned first: a CAR that is not this DID's is named as such, not as a bad signature.
    let contents = verify_repo_car(car, None, None).map_err(invalid)?;
    if contents.did != did {
        return Err(ImportError::WrongDid(contents.did));
    }
    let (_, all) = read_car(car).map_err(|e| ImportError::Invalid(e.to_string()))?;
    let signed = all
        .iter()
        .find(|(c, _)| **c == contents.commit_cid)
        .map(|(_, b)| b.as_slice())
        .ok_or_else(|| ImportError::Invalid("the commit block is missing".into()))?;
    Commit::from_block(signed)
        .map_err(invalid)?
        .verify(key)
        .map_err(|_| ImportError::BadSignature)?;
    let blocks = all
        .iter()
        .filter(|(c, _)| **c != contents.commit_cid)
        .map(|(c, b)| (*c, b.clone()))
        .collect();
    let mut records = Vec::with_capacity(contents.records.len());
    for (path, cid, bytes) in &contents.records {
        let Some((collection, rkey)) = path.split_once('/') else {
            return Err(ImportError::Invalid(format!("bad record path {path}")));
        };
        let value = cbor::decode(bytes).map_err(|e| ImportError::Invalid(e.to_string()))?;
        records.push((
            collection.to_owned(),
            rkey.to_owned(),
            *cid,
            blob::collect(&value),
        ));
    }
    Ok(CheckedRepo {
        blocks,
        records,
        data: contents.data,
        commit_cid: contents.commit_cid,
        prev_rev: contents.rev,
    })
}

impl Committer {
    /// Replaces a deactivated account's repository with `repo`, under a new commit signed with
    /// the account's key (the tree is unchanged; only the signer differs, so the repository
    /// verifies against the DID document once it names this server), and sequences a `#sync`
    /// event so relays resynchronise. Returns the new commit's CID and rev.
    pub fn import_repo(
        &self,
        txn: &mut WriteTxn<'_>,
        account: i64,
        did: &str,
        repo: CheckedRepo,
    ) -> Result<(Cid, String), ImportError> {
        let conn = txn.conn;
        let current = store::head(conn, account)?.map(|h| h.1);
        let rev = self.next_rev(current.as_deref().max(repo.prev_rev.as_deref()));
        let key = self
            .keys
            .get(conn, account)
            .map_err(|e| ImportError::Key(e.to_string()))?;
        let (cid, block) = UnsignedCommit::new(did, repo.data, &rev)
            .sign(&key)
            .and_then(|c| c.to_block())
            .map_err(ImportError::Sign)?;
        tracing::debug!(replaced = %repo.commit_cid, "importing repository");
        store::clear_repo(conn, account)?;
        store::insert_blocks(conn, account, &rev, &repo.blocks)?;
        store::insert_blocks(conn, account, &rev, &[(cid, block.clone())])?;
        store::insert_head(conn, account, &cid, &rev, &repo.data)?;
        let now = self.clock.now_iso();
        for (collection, rkey, rcid, blobs) in &repo.records {
            store::put_record(conn, account, collection, rkey, rcid, &rev, &now)?;
            store::link_blobs(conn, account, &format!("{collection}/{rkey}"), blobs)?;
        }
        emit_sync(txn, &self.sequencer, did, &cid, &block, &rev)?;
        Ok((cid, rev))
    }
}
