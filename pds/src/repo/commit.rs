//! Committing writes inside the writer's transaction: the tree, the blocks, the record index,
//! blob references, the repository head and the `#commit` event, all or nothing.

use super::blocks::SqlBlocks;
use super::prepare::PreparedWrite;
use super::store;
use crate::clock::Clock;
use crate::db::{DbError, WriteTxn};
use crate::keys::{KeyCache, KeyError};
use crate::sequencer::{self, EmitError, Sequencer};
use atproto::car::write_car;
use atproto::data::Cid;
use atproto::firehose::{Commit as CommitEvent, Event, MAX_BLOCKS_BYTES, RepoOpWire};
use atproto::mst::{Mst, MstError};
use atproto::repo::{RecordWrite, RepoError, WriteAction, apply_writes};
use atproto::syntax::{Tid, TidClock};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// What a write asks for. `Put` is putRecord: an update if the record exists, else a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Create,
    Put,
    Update,
    Delete,
}

#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub intent: Intent,
    pub collection: String,
    pub rkey: String,
    pub record: Option<PreparedWrite>,
    /// Compare-and-swap on the current record: `Some(None)` requires that there is none.
    pub swap_record: Option<Option<Cid>>,
}

#[derive(Debug, Clone)]
pub struct WriteResult {
    pub uri: String,
    pub cid: Option<Cid>,
    pub action: WriteAction,
    pub validated: bool,
}

#[derive(Debug, Clone)]
pub struct CommitOutcome {
    pub cid: Cid,
    pub rev: String,
    pub results: Vec<WriteResult>,
}

/// Why a commit was refused or failed. The first group is the caller's doing and says so in
/// words a client can act on; the rest are the server's.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("Could not find repo: {0}")]
    RepoNotFound(String),
    #[error("Commit was at {0}")]
    CommitSwap(Cid),
    #[error("Record was at {0}")]
    RecordSwap(Cid),
    #[error("Record was not present")]
    RecordSwapAbsent,
    #[error("More than one write to {0}")]
    DuplicatePath(String),
    #[error("Record already exists at {0}")]
    RecordExists(String),
    /// The tree already holds the key (a create the record index did not foresee).
    #[error("Record already exists: {0}")]
    KeyExists(String),
    #[error("Could not find record: {0}")]
    RecordNotFound(String),
    #[error("Invalid record path: {0}")]
    InvalidPath(String),
    #[error("{0}: a record is required except for deletes")]
    RecordRequired(String),
    #[error("Could not find blob: {0}")]
    BlobNotFound(Cid),
    #[error("Referenced Mimetype does not match stored blob. Expected: {stored}, Got: {declared}")]
    BlobMimeType { stored: String, declared: String },
    #[error("Referenced Size does not match stored blob. Expected: {stored}, Got: {declared}")]
    BlobSize { stored: i64, declared: u64 },
    #[error("Commit is too large for the firehose; write fewer or smaller records")]
    TooLarge,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("sequencing the commit: {0}")]
    Emit(#[from] EmitError),
    #[error("building the commit: {0}")]
    Tree(RepoError),
    #[error("encoding the commit's blocks: {0}")]
    Car(String),
}

impl From<RepoError> for CommitError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Mst(MstError::KeyExists(k)) => CommitError::KeyExists(k),
            RepoError::Mst(MstError::KeyNotFound(k)) => CommitError::RecordNotFound(k),
            RepoError::Mst(MstError::InvalidKey(k)) => CommitError::InvalidPath(k),
            other => CommitError::Tree(other),
        }
    }
}

/// What committing needs of the server: the accounts' signing keys, the firehose, a TID clock
/// for revs and a clock for the times written into events.
#[derive(Clone)]
pub struct Committer {
    pub keys: Arc<KeyCache>,
    pub sequencer: Sequencer,
    pub tids: Arc<TidClock>,
    pub clock: Clock,
}

fn car(commit: &Cid, blocks: &BTreeMap<Cid, Vec<u8>>) -> Result<Vec<u8>, CommitError> {
    write_car(commit, blocks.iter().map(|(c, b)| (c, b.as_slice())))
        .map_err(|e| CommitError::Car(e.to_string()))
}

impl Committer {
    /// A rev after `prev`: the clock's next TID, or just past `prev` if the clock is behind it
    /// (a clock that stepped back must never make a repository's revs go backwards).
    pub(super) fn next_rev(&self, prev: Option<&str>) -> String {
        let tid = self.clock.next_tid(&self.tids);
        match prev.and_then(|p| p.parse::<Tid>().ok()) {
            Some(p) if tid.as_str() <= p.as_str() => Tid::from_u64(p.as_u64() + 1).to_string(),
            _ => tid.to_string(),
        }
    }

    /// Creates an account's empty repository and sequences its first commit.
    pub fn create_repo(
        &self,
        txn: &mut WriteTxn<'_>,
        account: i64,
        did: &str,
    ) -> Result<CommitOutcome, CommitError> {
        self.init_repo(txn, account, did, true)
    }

    /// Creates the empty repository of an account migrating in, with no event: the DID's
    /// repository is still the one its old server announces, until an import replaces this.
    pub fn create_unannounced_repo(
        &self,
        txn: &mut WriteTxn<'_>,
        account: i64,
        did: &str,
    ) -> Result<CommitOutcome, CommitError> {
        self.init_repo(txn, account, did, false)
    }

    fn init_repo(
        &self,
        txn: &mut WriteTxn<'_>,
        account: i64,
        did: &str,
        announce: bool,
    ) -> Result<CommitOutcome, CommitError> {
        let key = self.keys.get(txn.conn, account)?;
        let rev = self.next_rev(None);
        let mut mst = Mst::create(SqlBlocks {
            conn: txn.conn,
            account,
        });
        let commit = apply_writes(&mut mst, did, &rev, &key, Vec::new())?;
        drop(mst);
        store::insert_blocks(txn.conn, account, &rev, &commit.new_blocks)?;
        store::insert_head(txn.conn, account, &commit.cid, &rev, &commit.data)?;
        let event = CommitEvent {
            seq: 0,
            rebase: false,
            too_big: false,
            repo: did.into(),
            commit: commit.cid,
            rev: rev.clone(),
            since: None,
            blocks: car(&commit.cid, &commit.relevant_blocks)?,
            ops: Vec::new(),
            blobs: Vec::new(),
            prev_data: None,
            time: self.clock.now_iso(),
        };
        if announce {
            sequencer::emit(txn, &self.sequencer, Event::Commit(Box::new(event)))?;
        }
        Ok(CommitOutcome {
            cid: commit.cid,
            rev,
            results: Vec::new(),
        })
    }

    /// Applies a batch of writes to an account's repository as one commit.
    pub fn commit_writes(
        &self,
        txn: &mut WriteTxn<'_>,
        account: i64,
        did: &str,
        writes: Vec<WriteRequest>,
        swap_commit: Option<Cid>,
    ) -> Result<CommitOutcome, CommitError> {
        let conn = txn.conn;
        let (head_cid, head_rev, head_data) =
            store::head(conn, account)?.ok_or_else(|| CommitError::RepoNotFound(did.to_owned()))?;
        if let Some(expected) = swap_commit
            && expected != head_cid
        {
            return Err(CommitError::CommitSwap(head_cid));
        }

        // Decide each write's action against the current records, and check swaps.
        let mut record_writes = Vec::with_capacity(writes.len());
        let mut results = Vec::with_capacity(writes.len());
        let mut seen = HashSet::new();
        for w in &writes {
            let path = format!("{}/{}", w.collection, w.rkey);
            if !seen.insert(path.clone()) {
                return Err(CommitError::DuplicatePath(path));
            }
            let current = store::record_cid(conn, account, &w.collection, &w.rkey)?;
            if let Some(expected) = &w.swap_record
                && *expected != current
            {
                return Err(match current {
                    Some(c) => CommitError::RecordSwap(c),
                    None => CommitError::RecordSwapAbsent,
                });
            }
            let action = match (w.intent, current) {
                (Intent::Create, Some(_)) => return Err(CommitError::RecordExists(path)),
                (Intent::Create, None) | (Intent::Put, None) => WriteAction::Create,
                (Intent::Put, Some(_)) | (Intent::Update, Some(_)) => WriteAction::Update,
                (Intent::Update, None) | (Intent::Delete, None) => {
                    return Err(CommitError::RecordNotFound(path));
                }
                (Intent::Delete, Some(_)) => WriteAction::Delete,
            };
            let record = w.record.as_ref().map(|r| (r.cid, r.bytes.clone()));
            if (action == WriteAction::Delete) != record.is_none() {
                return Err(CommitError::RecordRequired(path));
            }
            results.push(WriteResult {
                uri: format!("at://{did}/{path}"),
                cid: w.record.as_ref().map(|r| r.cid),
                action,
                validated: w.record.as_ref().is_some_and(|r| r.validated),
            });
            record_writes.push(RecordWrite {
                action,
                collection: w.collection.clone(),
                rkey: w.rkey.clone(),
                record,
            });
        }

        check_blobs(conn, account, &writes)?;

        let rev = self.next_rev(Some(&head_rev));
        let key = self.keys.get(conn, account)?;
        let mut mst = Mst::load(SqlBlocks { conn, account }, head_data);
        let commit = apply_writes(&mut mst, did, &rev, &key, record_writes)?;
        drop(mst);

        // Blocks: add the new ones; drop replaced tree nodes, the old commit, and record values
        // no other record of the account still uses.
        store::insert_blocks(conn, account, &rev, &commit.new_blocks)?;
        let fresh: HashSet<Cid> = commit.new_blocks.iter().map(|(c, _)| *c).collect();

        // Record index and blob references.
        let now = self.clock.now_iso();
        for (w, r) in writes.iter().zip(&results) {
            let path = format!("{}/{}", w.collection, w.rkey);
            if r.action != WriteAction::Create {
                store::unlink_blobs(conn, account, &path, self.clock.now_secs())?;
            }
            match (&w.record, r.action) {
                (Some(rec), WriteAction::Create | WriteAction::Update) => {
                    store::put_record(conn, account, &w.collection, &w.rkey, &rec.cid, &rev, &now)?;
                    store::link_blobs(conn, account, &path, &rec.blobs)?;
                }
                _ => store::delete_record(conn, account, &w.collection, &w.rkey)?,
            }
        }
        for cid in commit.removed.iter().chain(std::iter::once(&head_cid)) {
            if !fresh.contains(cid) {
                store::delete_block_unless_record(conn, account, cid)?;
            }
        }
        store::update_head(conn, account, &commit.cid, &rev, &commit.data)?;

        let blocks = car(&commit.cid, &commit.relevant_blocks)?;
        if blocks.len() > MAX_BLOCKS_BYTES {
            return Err(CommitError::TooLarge);
        }
        let event = CommitEvent {
            seq: 0,
            rebase: false,
            too_big: false,
            repo: did.into(),
            commit: commit.cid,
            rev: rev.clone(),
            since: Some(head_rev),
            blocks,
            ops: commit.ops.iter().map(RepoOpWire::from).collect(),
            blobs: Vec::new(),
            prev_data: Some(commit.prev_data),
            time: now,
        };
        sequencer::emit(txn, &self.sequencer, Event::Commit(Box::new(event)))?;
        Ok(CommitOutcome {
            cid: commit.cid,
            rev,
            results,
        })
    }
}

/// Every blob a new record references must have been uploaded by this account, with the MIME
/// type and size the record declares.
fn check_blobs(
    conn: &rusqlite::Connection,
    account: i64,
    writes: &[WriteRequest],
) -> Result<(), CommitError> {
    for rec in writes.iter().filter_map(|w| w.record.as_ref()) {
        for b in &rec.blobs {
            let Some((mime, size)) = store::uploaded_blob(conn, account, &b.cid)? else {
                return Err(CommitError::BlobNotFound(b.cid));
            };
            if b.mime_type != mime {
                return Err(CommitError::BlobMimeType {
                    stored: mime,
                    declared: b.mime_type.clone(),
                });
            }
            // Legacy blob refs carry no size; only check what the record states.
            if b.size != 0 && b.size as i64 != size {
                return Err(CommitError::BlobSize {
                    stored: size,
                    declared: b.size,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::store::{NewAccount, insert};
    use crate::db::{CONNECTIONS, Db, open};
    use crate::repo::prepare_record;
    use atproto::crypto::{Algorithm, Keypair};
    use atproto::firehose::{Frame, decode_frame};
    use atproto::lexicon::Catalog;
    use serde_json::json;

    const DID: &str = "did:plc:committest";
    /// 2023-11-14T22:13:20.123456Z.
    const NOW: i64 = 1_700_000_000_123_456;

    struct Fixture {
        _dir: tempfile::TempDir,
        db: Db,
        committer: Committer,
        account: i64,
    }

    /// A database with one account and its empty repository, committed at a fixed time.
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = open(&dir.path().join("pds.sqlite"), CONNECTIONS).expect("database");
        let committer = Committer {
            keys: Arc::default(),
            sequencer: Sequencer::new(0),
            tids: Arc::new(TidClock::with_clock_id(1)),
            clock: Clock::Fixed(NOW),
        };
        let key = Keypair::generate(Algorithm::K256).to_bytes();
        let c = committer.clone();
        let account = db
            .writer
            .run_blocking(move |txn: &mut WriteTxn<'_>| {
                let account = insert(
                    txn.conn,
                    &NewAccount {
                        did: DID,
                        handle: "commit.test",
                        email: None,
                        password_hash: "x",
                        signing_key: &key,
                        created_at: "2023-11-14T22:13:20.123Z",
                        invite_code: None,
                    },
                )?;
                c.create_repo(txn, account, DID)?;
                Ok::<_, CommitError>(account)
            })
            .expect("account and repository");
        Fixture {
            _dir: dir,
            db,
            committer,
            account,
        }
    }

    fn post(rkey: &str, text: &str) -> WriteRequest {
        let record = json!({
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": "2023-11-14T22:13:20.123Z",
        });
        WriteRequest {
            intent: Intent::Create,
            collection: "app.bsky.feed.post".into(),
            rkey: rkey.into(),
            record: Some(
                prepare_record(
                    Catalog::official(),
                    "app.bsky.feed.post",
                    rkey,
                    &record,
                    None,
                )
                .expect("valid post"),
            ),
            swap_record: None,
        }
    }

    impl Fixture {
        fn commit(
            &self,
            writes: Vec<WriteRequest>,
            swap_commit: Option<Cid>,
        ) -> Result<CommitOutcome, CommitError> {
            let (c, account) = (self.committer.clone(), self.account);
            self.db.writer.run_blocking(move |txn: &mut WriteTxn<'_>| {
                c.commit_writes(txn, account, DID, writes, swap_commit)
            })
        }

        fn head(&self) -> (Cid, String, Cid) {
            let account = self.account;
            self.db
                .readers
                .read_blocking(move |c| store::head(c, account))
                .expect("reader")
                .expect("head query")
                .expect("a head")
        }

        fn events(&self) -> Vec<(i64, Vec<u8>)> {
            self.db
                .readers
                .read_blocking(|c| {
                    c.prepare("SELECT seq, frame FROM repo_seq ORDER BY seq")?
                        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .expect("reader")
                .expect("events")
        }
    }

    #[test]
    fn commit_writes_stores_the_record_and_sequences_a_commit_at_the_clocks_time() {
        let f = fixture();
        let (_, created_rev, _) = f.head();
        let out = f
            .commit(vec![post("3jzfcijpj2z2a", "hello")], None)
            .expect("commit");

        assert!(out.rev > created_rev, "revs only go forward");
        assert_eq!(out.results.len(), 1);
        let r = &out.results[0];
        assert_eq!(
            r.uri,
            format!("at://{DID}/app.bsky.feed.post/3jzfcijpj2z2a")
        );
        assert_eq!(r.action, WriteAction::Create);
        assert!(r.validated);
        assert_eq!(f.head().0, out.cid);
        let account = f.account;
        let stored =
            f.db.readers
                .read_blocking(move |c| {
                    store::record(c, account, "app.bsky.feed.post", "3jzfcijpj2z2a")
                })
                .expect("reader")
                .expect("record query")
                .expect("the record");
        assert_eq!(Some(stored.0), r.cid);

        let events = f.events();
        let (seq, frame) = events.last().expect("an event");
        assert_eq!(f.committer.sequencer.head(), *seq, "published after commit");
        let Ok(Frame::Event(Event::Commit(e))) = decode_frame(frame) else {
            panic!("the last event is not a #commit");
        };
        assert_eq!(e.time, "2023-11-14T22:13:20.123Z");
        assert_eq!((e.commit, e.rev.as_str()), (out.cid, out.rev.as_str()));
        assert_eq!(e.since.as_deref(), Some(created_rev.as_str()));
        assert_eq!(e.ops.len(), 1);
    }

    #[test]
    fn a_stale_swap_or_an_existing_record_is_refused_and_changes_nothing() {
        let f = fixture();
        let (first, _, _) = f.head();
        let out = f
            .commit(vec![post("3jzfcijpj2z2a", "one")], None)
            .expect("commit");
        let events = f.events().len();

        let stale = f.commit(vec![post("3jzfcijpj2z2b", "two")], Some(first));
        assert!(matches!(stale, Err(CommitError::CommitSwap(at)) if at == out.cid));
        let again = f.commit(vec![post("3jzfcijpj2z2a", "one again")], None);
        assert!(
            matches!(again, Err(CommitError::RecordExists(p)) if p == "app.bsky.feed.post/3jzfcijpj2z2a")
        );
        let twice = f.commit(
            vec![post("3jzfcijpj2z2c", "a"), post("3jzfcijpj2z2c", "b")],
            None,
        );
        assert!(matches!(twice, Err(CommitError::DuplicatePath(_))));

        assert_eq!(f.head().0, out.cid);
        assert_eq!(f.events().len(), events);
    }

    #[test]
    fn a_commit_to_an_account_without_a_repository_is_repo_not_found() {
        let f = fixture();
        let c = f.committer.clone();
        let out = f.db.writer.run_blocking(move |txn: &mut WriteTxn<'_>| {
            c.commit_writes(txn, 999, "did:plc:nobody", Vec::new(), None)
        });
        assert!(matches!(out, Err(CommitError::RepoNotFound(d)) if d == "did:plc:nobody"));
    }

    /// Creating a repository for an account that has one fails and leaves its head alone: a
    /// reset would orphan every record and block.
    #[test]
    fn a_second_create_repo_is_refused_and_changes_nothing() {
        let f = fixture();
        f.commit(vec![post("3kaaaaaaaaaa2", "kept")], None)
            .expect("a post");
        let before = f.head();
        let (c, account) = (f.committer.clone(), f.account);
        let again =
            f.db.writer
                .run_blocking(move |txn: &mut WriteTxn<'_>| c.create_repo(txn, account, DID));
        assert!(again.is_err(), "a second repository for one account");
        assert_eq!(f.head(), before, "the head is where the post left it");
    }
}
