//! A worker thread: verifies and applies the events of the repositories routed to it, one
//! repository's events strictly in order.

use super::apply::{self, Head, PreparedOp, ScopeRule};
use super::backfill::ResyncRequest;
use super::repo_state::RepoState;
use super::{HostInfo, Incoming, Work};
use crate::config::Scope;
use crate::index::RunCache;
use crate::state::AppState;
use atproto::crypto::PublicKey;
use atproto::data::Cid;
use atproto::firehose::{Commit, Event};
use atproto::identity::{DidDocument, IdentityError};
use atproto::repo::{RepoError, RepoOp, verify_commit_car};
use atproto::syntax::{Did, Tid};
use foldhash::{HashMap, HashMapExt};
use hearth_db::{DbError, WriteTxn};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{Receiver, UnboundedSender};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Cached repository states per worker; the database is the truth, so the cache is simply
/// emptied when it grows past this.
const CACHE_LIMIT: usize = 200_000;
/// Events held per repository while it resynchronises; beyond this they are dropped (the
/// resync already brings their content).
const HOLD_LIMIT: usize = 1000;
/// Commits whose rev claims a time this far ahead are refused.
const MAX_FUTURE_MICROS: u64 = 5 * 60 * 1_000_000;
/// Verified commits handed to the database writer as one job. Every job is a savepoint, and a
/// savepoint makes SQLite flush the full-text index's pending terms (a new segment, merged
/// later) and copy each page it first touches into the statement journal: the fewer jobs, the
/// less of the single writer's time goes to that. A quiet stream still flushes as soon as its
/// queue is empty, so this bounds only how much a backlog gathers (and how much one failing
/// job retries commit by commit).
const BATCH: usize = 512;
/// Verified commits handed to the writer and not yet committed, across all workers. When the
/// writer falls behind, workers wait for room, their queues fill and the stream reader stops
/// reading: a burst backs up into the socket (TCP backpressure), not into memory. A commit
/// waiting here holds about 4 KiB (its decoded records among them; measured with the ingest
/// benchmark's peak RSS at different limits), so this is ~64 MiB at most. Smaller limits cost
/// speed: the writer's cost per commit is lowest when it can take many at once (on 2 cores,
/// 2 × 4,096 ingested 9,000–10,600 events/s where 2 × 16,384 ingested 11,000–12,100).
pub const IN_FLIGHT: usize = 16_384;
/// How long a worker holds verified commits, when its queue runs dry, for more to join their
/// batch. Each batch the writer takes alone is a transaction of its own (a WAL append and an
/// fsync), and the writer's cost per commit falls steeply as batches grow; a tenth of a second
/// is little next to how far behind the network any firehose consumer runs.
const LINGER: Duration = Duration::from_millis(100);
/// How long a worker trusts what it derived from a DID document before asking the resolver
/// (a shared, locked cache) again. A rotated key still verifies at once: a signature that
/// fails is retried with a freshly fetched document.
const RECHECK: Duration = Duration::from_secs(1);

struct Worker {
    state: AppState,
    rt: Handle,
    repos: HashMap<String, RepoState>,
    held: HashMap<String, Vec<Incoming>>,
    resync: UnboundedSender<ResyncRequest>,
    /// Verified commits not yet handed to the writer, in the order they were verified.
    pending: Vec<Verified>,
    /// What each repository's DID document says, derived once per document.
    known: HashMap<String, Known>,
    /// Permits for [`IN_FLIGHT`] commits, shared by all workers.
    in_flight: Arc<Semaphore>,
}

/// What a worker derived from one account's DID document. Kept only while the resolver hands
/// out that same document, so a refreshed or expired document is derived again. Per event,
/// parsing the key (a point decompression) and the PDS endpoint (URL parsing) would otherwise
/// be a good part of the work.
struct Known {
    doc: Arc<DidDocument>,
    key: Option<PublicKey>,
    /// The last host checked against the document's PDS endpoint, and the answer.
    host: Option<(Arc<HostInfo>, bool)>,
    /// When the resolver last handed out `doc`.
    checked: Instant,
}

/// A verified commit, ready to index.
struct Verified {
    did: String,
    rev: String,
    data: Cid,
    commit: Cid,
    ops: Vec<PreparedOp>,
    scope: ScopeRule,
    host: Arc<HostInfo>,
    seq: i64,
    /// The event's `time` (for the lag statistic; parsed only for a batch's last commit).
    time: String,
}

pub fn run(
    state: AppState,
    rt: Handle,
    in_flight: Arc<Semaphore>,
    mut rx: Receiver<Work>,
    resync: UnboundedSender<ResyncRequest>,
) {
    let mut w = Worker {
        state,
        rt,
        repos: HashMap::new(),
        held: HashMap::new(),
        resync,
        pending: Vec::new(),
        known: HashMap::new(),
        in_flight,
    };
    while let Some(work) = rx.blocking_recv() {
        w.handle(work);
        // What follows within LINGER joins the batch; a full batch goes at once.
        let deadline = Instant::now() + LINGER;
        loop {
            if w.pending.len() >= BATCH {
                w.flush();
            }
            let next = match rx.try_recv() {
                Ok(work) => Some(work),
                Err(TryRecvError::Disconnected) => None,
                Err(TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if w.pending.is_empty() || left.is_zero() {
                        break;
                    }
                    // The timer is made inside `block_on`: only there is the runtime current.
                    match w
                        .rt
                        .block_on(async { tokio::time::timeout(left, rx.recv()).await })
                    {
                        Ok(work) => work,
                        Err(_) => break,
                    }
                }
            };
            match next {
                Some(work) => w.handle(work),
                None => break,
            }
        }
        w.flush();
    }
}

impl From<Arc<DidDocument>> for Known {
    fn from(doc: Arc<DidDocument>) -> Known {
        Known {
            key: doc.signing_key().ok(),
            doc,
            host: None,
            checked: Instant::now(),
        }
    }
}

impl Worker {
    fn handle(&mut self, work: Work) {
        let w = self;
        let current = match &work {
            Work::Event(inc) => Some((inc.host.clone(), inc.seq)),
            Work::Resynced { .. } => None,
        };
        // No input may stop a worker: its repositories would never be indexed again. A panic
        // (a bug met by hostile input) costs the event, and the caches, which may be half
        // updated; the database is the truth.
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match work {
            Work::Event(inc) => w.event(inc, false),
            Work::Resynced { did, head } => w.resynced(did, head),
        }));
        if handled.is_err() {
            tracing::error!("ingest worker recovered from a panic; event dropped");
            w.state.stats.drop_event("panic");
            if let Some((host, seq)) = current {
                host.watermark.finish(seq);
            }
            w.repos.clear();
            w.known.clear();
        }
        if w.repos.len() > CACHE_LIMIT {
            w.repos.retain(|_, s| s.resyncing);
        }
        if w.known.len() > CACHE_LIMIT {
            w.known.clear();
        }
    }

    /// Hands the pending verified commits to the writer as one job.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = Arc::new(std::mem::take(&mut self.pending));
        // Never more permits than exist, so the wait always ends (a resync's held events can
        // make a batch larger than BATCH). The semaphore is never closed, so no permit only
        // means none is needed.
        let permits = u32::try_from(batch.len().min(IN_FLIGHT)).unwrap_or(u32::MAX);
        let permit = self
            .rt
            .block_on(self.in_flight.clone().acquire_many_owned(permits))
            .ok();
        submit_batch(&self.state, batch, true, permit);
    }

    fn repo(&mut self, did: &str) -> Option<&mut RepoState> {
        if !self.repos.contains_key(did) {
            match RepoState::load(&self.state.db.readers, did) {
                Ok(s) => {
                    self.repos.insert(did.to_owned(), s);
                }
                Err(e) => {
                    tracing::error!(error = %e, "loading repository state failed");
                    return None;
                }
            }
        }
        self.repos.get_mut(did)
    }

    fn finish(inc: &Incoming) {
        inc.host.watermark.finish(inc.seq);
    }

    fn dropped(&self, inc: &Incoming, reason: &'static str) {
        self.state.stats.drop_event(reason);
        tracing::debug!(seq = inc.seq, reason, "event dropped");
        Self::finish(inc);
    }

    fn in_scope(&self, inc: &Incoming, st: &RepoState) -> bool {
        inc.host.is_pds || self.state.cfg.scope == Scope::All || st.in_scope
    }

    fn scope_rule(&self, inc: &Incoming) -> ScopeRule {
        let mark = inc.host.is_pds || self.state.cfg.scope == Scope::All;
        ScopeRule {
            mark_in_scope: mark,
            expand: self.state.cfg.scope == Scope::Network,
        }
    }

    fn event(&mut self, inc: Incoming, replayed: bool) {
        let did = inc.event.did().unwrap_or_default().to_owned();
        let Ok(parsed) = did.parse::<Did>() else {
            return self.dropped(&inc, "bad_did");
        };
        // A PDS speaks only for the accounts it hosts: an event about an account whose DID
        // document names another PDS is refused (otherwise any host we follow could
        // deactivate or delete everyone else's accounts from the index, force resyncs with
        // forged `since` fields, or flood us with identity look-ups). A relay has made that
        // check itself.
        if inc.host.is_pds && !matches!(inc.event, Event::Info(_)) {
            match self.hosted_by(&parsed, &inc.host) {
                Ok(true) => {}
                Ok(false) => return self.dropped(&inc, "wrong_host"),
                Err(reason) => return self.dropped(&inc, reason),
            }
        }
        let Some(st) = self.repo(&did).cloned() else {
            return self.dropped(&inc, "state_unavailable");
        };
        if st.resyncing {
            return self.hold(did, inc);
        }
        match &inc.event {
            Event::Commit(_) => {
                let Incoming { event, host, seq } = inc;
                let Event::Commit(c) = event else { return };
                self.commit(&parsed, st, c, host, seq, replayed)
            }
            Event::Account(a) => {
                let status = if a.active {
                    None
                } else {
                    Some(a.status.clone().unwrap_or_else(|| "deactivated".into()))
                };
                if let Some(s) = self.repos.get_mut(&did) {
                    s.status = status.clone();
                    if status.as_deref() == Some("deleted") {
                        s.rev = None;
                        s.data = None;
                    }
                }
                let host = inc.host.clone();
                let seq = inc.seq;
                // The account's earlier commits are indexed before its status changes (a
                // deletion purges what they wrote).
                self.flush();
                self.state.db.writer.submit(
                    move |txn: &mut WriteTxn<'_, ()>| {
                        apply::set_status(txn.conn, &did, status.as_deref()).map_err(DbError::from)
                    },
                    move |r: Result<(), DbError>| {
                        if let Err(e) = r {
                            tracing::error!(error = %e, "recording account status failed");
                        }
                        host.watermark.finish(seq);
                    },
                );
            }
            Event::Identity(_) => {
                self.known.remove(&did);
                // The account may have a new signing key (it moved): service tokens it signs
                // for the AppView or spaces must not be checked against the old one.
                self.state.auth.issuer_changed(&parsed);
                super::backfill::refresh_identity(&self.state, &self.rt, &did, true);
                Self::finish(&inc);
            }
            Event::Sync(s) => {
                if !self.in_scope(&inc, &st) {
                    return Self::finish(&inc);
                }
                // A #sync names the repository's current commit: if it is newer than what we
                // hold, the index must be rebuilt from the repository itself.
                let newer = st.rev.as_deref().is_none_or(|r| s.rev.as_str() > r);
                if newer {
                    self.start_resync(&did, &inc);
                }
                Self::finish(&inc);
            }
            Event::Info(_) => Self::finish(&inc),
        }
    }

    /// The account's DID document and what was derived from it: from the resolver's cache
    /// when fresh (without entering the async runtime), fetched otherwise, or fetched anew
    /// when `refresh`.
    fn identity(&mut self, did: &Did, refresh: bool) -> Result<&mut Known, IdentityError> {
        let recent = self
            .known
            .get(did.as_str())
            .filter(|k| !refresh && k.checked.elapsed() < RECHECK)
            .map(|k| k.doc.clone());
        let (doc, checked) = match recent {
            Some(doc) => (doc, false),
            None => {
                let doc = match self.state.dids.cached(did) {
                    Some(doc) if !refresh => Ok(doc),
                    _ if refresh => self.rt.block_on(self.state.dids.refresh(did)),
                    _ => self.rt.block_on(self.state.dids.resolve(did)),
                };
                match doc {
                    Ok(doc) => (doc, true),
                    Err(e) => {
                        // What was derived from the old document must not outlive it.
                        self.known.remove(did.as_str());
                        return Err(e);
                    }
                }
            }
        };
        let known = self
            .known
            .entry(did.as_str().to_owned())
            .or_insert_with(|| Known::from(doc.clone()));
        if !Arc::ptr_eq(&known.doc, &doc) {
            *known = Known::from(doc);
        } else if checked {
            known.checked = Instant::now();
        }
        Ok(known)
    }

    /// Whether the account's DID document names `host` as its PDS (looking again, once, in
    /// case the account moved). A DID that no longer resolves is claimed by no one else.
    fn hosted_by(&mut self, did: &Did, host: &Arc<HostInfo>) -> Result<bool, &'static str> {
        for refresh in [false, true] {
            match self.identity(did, refresh) {
                Ok(known) => {
                    let hosted = match &known.host {
                        Some((h, answer)) if Arc::ptr_eq(h, host) => *answer,
                        _ => {
                            let answer = known.doc.pds_endpoint().is_some_and(|e| host.is(e));
                            known.host = Some((host.clone(), answer));
                            answer
                        }
                    };
                    if hosted {
                        return Ok(true);
                    }
                }
                Err(IdentityError::DidNotFound(_) | IdentityError::DidDeactivated(_)) => {
                    return Ok(true);
                }
                Err(_) => return Err("unresolvable_did"),
            }
        }
        Ok(false)
    }

    fn hold(&mut self, did: String, inc: Incoming) {
        let held = self.held.entry(did).or_default();
        if held.len() >= HOLD_LIMIT {
            self.state.stats.drop_event("held_overflow");
            Self::finish(&inc);
        } else {
            held.push(inc);
        }
    }

    fn start_resync(&mut self, did: &str, inc: &Incoming) {
        // What was verified before the resync is written before the resync's result can be.
        self.flush();
        if let Some(s) = self.repos.get_mut(did) {
            s.resyncing = true;
        }
        self.state
            .stats
            .resyncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self.resync.send(ResyncRequest {
            did: did.to_owned(),
            scope: self.scope_rule(inc),
        });
    }

    fn commit(
        &mut self,
        parsed: &Did,
        st: RepoState,
        c: Box<Commit>,
        host: std::sync::Arc<super::HostInfo>,
        seq: i64,
        replayed: bool,
    ) {
        let did = parsed.as_str();
        // Kept whole so the event can be held for replay after a resync.
        let inc = &Incoming {
            event: Event::Commit(c),
            host,
            seq,
        };
        let Event::Commit(c) = &inc.event else { return };
        if !self.in_scope(inc, &st) {
            return self.dropped(inc, "out_of_scope");
        }
        if !st.active() {
            return self.dropped(inc, "inactive_account");
        }
        let Ok(rev) = c.rev.parse::<Tid>() else {
            return self.dropped(inc, "bad_rev");
        };
        let now = atproto::syntax::Datetime::unix_now_micros().max(0) as u64;
        if rev.timestamp_micros() > now + MAX_FUTURE_MICROS {
            return self.dropped(inc, "future_rev");
        }
        if st.rev.as_deref().is_some_and(|r| c.rev.as_str() <= r) {
            // An event held during a resync that the downloaded repository already contains
            // is done with, not refused.
            if replayed {
                return Self::finish(inc);
            }
            return self.dropped(inc, "stale_rev");
        }
        let Some(ops) = c
            .ops
            .iter()
            .map(|o| o.to_op())
            .collect::<Option<Vec<RepoOp>>>()
        else {
            return self.dropped(inc, "bad_op");
        };
        if ops.len() > atproto::firehose::MAX_OPS
            || c.blocks.len() > atproto::firehose::MAX_BLOCKS_BYTES
        {
            return self.dropped(inc, "too_large");
        }
        // The chain: a commit must follow the one we hold, or the repository is resynced.
        let follows = match (&st.rev, &c.since) {
            (None, None) => true,
            (Some(r), Some(s)) => {
                r == s && (c.prev_data.is_none() || st.data.is_none() || c.prev_data == st.data)
            }
            _ => false,
        };
        if !follows {
            if replayed {
                return self.dropped(inc, "broken_chain_after_resync");
            }
            // `since` and `prevData` are not signed: only a genuine commit of this account may
            // cost a resync, not a forged or relabelled one.
            match self.verify(parsed, c, &[], None) {
                Ok(v) if v.did == did && v.rev == c.rev && v.commit_cid == c.commit => {}
                Ok(_) => return self.dropped(inc, "commit_mismatch"),
                Err(reason) => return self.dropped(inc, reason),
            }
            self.state.stats.drop_event("broken_chain");
            self.start_resync(did, inc);
            let held = Incoming {
                event: inc.event.clone(),
                host: inc.host.clone(),
                seq: inc.seq,
            };
            return self.hold(did.to_owned(), held);
        }
        let verified = match self.verify(parsed, c, &ops, c.prev_data) {
            Ok(v) => v,
            Err(reason) => return self.dropped(inc, reason),
        };
        if verified.did != did || verified.rev != c.rev || verified.commit_cid != c.commit {
            return self.dropped(inc, "commit_mismatch");
        }
        if let Some(s) = self.repos.get_mut(did) {
            s.rev = Some(c.rev.clone());
            s.data = Some(verified.data);
            s.known = true;
            if self.state.cfg.scope == Scope::All || inc.host.is_pds {
                s.in_scope = true;
            }
        }
        if !st.known {
            super::backfill::refresh_identity(&self.state, &self.rt, did, false);
        }
        self.pending.push(Verified {
            did: did.to_owned(),
            rev: c.rev.clone(),
            data: verified.data,
            commit: verified.commit_cid,
            ops: apply::prepare(ops, &verified.blocks),
            scope: self.scope_rule(inc),
            host: inc.host.clone(),
            seq: inc.seq,
            time: c.time.clone(),
        });
    }

    /// Signature (refreshing the key once on failure, in case it rotated), block CIDs, and
    /// the inversion of the operations against `prevData`.
    fn verify(
        &mut self,
        did: &Did,
        c: &Commit,
        ops: &[RepoOp],
        prev_data: Option<Cid>,
    ) -> Result<atproto::repo::VerifiedCommit, &'static str> {
        for refresh in [false, true] {
            let Ok(known) = self.identity(did, refresh) else {
                return Err("unresolvable_did");
            };
            let Some(key) = known.key else {
                return Err("no_signing_key");
            };
            match verify_commit_car(&c.blocks, ops, prev_data, Some(&key)) {
                Ok(v) => return Ok(v),
                Err(RepoError::Signature(_)) if !refresh => continue,
                Err(RepoError::Signature(_)) => return Err("bad_signature"),
                Err(RepoError::InversionMismatch { .. }) => return Err("inversion_mismatch"),
                Err(RepoError::Car(_)) => return Err("bad_car"),
                Err(RepoError::MissingBlock(_)) => return Err("missing_block"),
                Err(_) => return Err("invalid_commit"),
            }
        }
        Err("bad_signature")
    }

    fn resynced(&mut self, did: String, head: Option<(String, Cid)>) {
        let held = self.held.remove(&did).unwrap_or_default();
        match head {
            Some((rev, data)) => {
                if let Some(s) = self.repos.get_mut(&did) {
                    s.resyncing = false;
                    s.rev = Some(rev);
                    s.data = Some(data);
                    s.known = true;
                }
                for inc in held {
                    self.event(inc, true);
                }
            }
            None => {
                if let Some(s) = self.repos.get_mut(&did) {
                    s.resyncing = false;
                }
                for inc in held {
                    self.dropped(&inc, "resync_failed");
                }
            }
        }
    }
}

/// Indexes verified commits in one writer job; each advances its host's cursor once the job
/// commits. If the job fails (a commit the index cannot take), the commits are retried one job
/// each, so that only the culprit is lost, as if they had been submitted singly.
fn submit_batch(
    state: &AppState,
    batch: Arc<Vec<Verified>>,
    retry_singly: bool,
    permit: Option<OwnedSemaphorePermit>,
) {
    let (st, job_batch) = (state.clone(), batch.clone());
    // Retryable: indexing touches only the database, so the writer may run the batch without
    // a savepoint and run it again if it fails.
    state.db.writer.submit_retryable(
        move |txn: &mut WriteTxn<'_, ()>| {
            let mut indexed = 0;
            let cache = RunCache::new();
            for v in job_batch.iter() {
                let head = Head {
                    rev: &v.rev,
                    data: v.data,
                    commit: v.commit,
                };
                indexed += apply::commit(txn.conn, &cache, &v.did, &head, &v.ops, v.scope)?;
            }
            Ok::<_, DbError>(indexed)
        },
        move |r: Result<usize, DbError>| {
            // The commits are written (or lost): the worker may hand over more.
            drop(permit);
            finished(&st, batch, r, retry_singly)
        },
    );
}

/// What follows a batch's writer job: statistics and cursors, or a retry commit by commit.
fn finished(
    st: &AppState,
    batch: Arc<Vec<Verified>>,
    r: Result<usize, DbError>,
    retry_singly: bool,
) {
    match r {
        Ok(n) => {
            use std::sync::atomic::Ordering::Relaxed;
            st.stats
                .commits_applied
                .fetch_add(batch.len() as u64, Relaxed);
            st.stats.records_indexed.fetch_add(n as u64, Relaxed);
            if let Some(d) = batch
                .last()
                .and_then(|v| v.time.parse::<atproto::syntax::Datetime>().ok())
            {
                st.stats
                    .last_event_time_ms
                    .store(d.timestamp_micros() / 1000, Relaxed);
                st.stats.last_processed_ms.store(now_ms(), Relaxed);
            }
            for v in batch.iter() {
                v.host.watermark.finish(v.seq);
            }
        }
        Err(e) if retry_singly && batch.len() > 1 => {
            tracing::warn!(error = %e, commits = batch.len(), "indexing a batch failed; retrying its commits one by one");
            // The job has run and dropped its reference, so the batch is ours alone.
            match Arc::try_unwrap(batch) {
                Ok(items) => {
                    for v in items {
                        submit_batch(st, Arc::new(vec![v]), false, None);
                    }
                }
                Err(shared) => {
                    for v in shared.iter() {
                        v.host.watermark.finish(v.seq);
                    }
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "indexing a commit failed");
            for v in batch.iter() {
                v.host.watermark.finish(v.seq);
            }
        }
    }
}

/// Whether two URLs (`http(s)://` or `ws(s)://`) name the same host and port; the loopback
/// names count as one.
pub fn same_host(a: &str, b: &str) -> bool {
    fn key(u: &str) -> Option<(String, u16)> {
        let url = reqwest::Url::parse(u).ok()?;
        let host = url
            .host_str()?
            .trim_matches(['[', ']'])
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let host = match host.as_str() {
            "localhost" | "127.0.0.1" | "::1" => "localhost".to_owned(),
            _ => host,
        };
        Some((host, url.port_or_known_default()?))
    }
    matches!((key(a), key(b)), (Some(x), Some(y)) if x == y)
}

fn now_ms() -> i64 {
    atproto::syntax::Datetime::unix_now_millis()
}

#[cfg(test)]
mod tests {
    use super::same_host;

    #[test]
    fn hosts_compare_by_name_and_port() {
        assert!(same_host(
            "https://pds.example.com",
            "wss://pds.example.com"
        ));
        assert!(same_host(
            "https://PDS.example.com:443/",
            "wss://pds.example.com"
        ));
        assert!(same_host("http://localhost:2583", "ws://127.0.0.1:2583"));
        assert!(!same_host("http://localhost:2583", "ws://localhost:2584"));
        assert!(!same_host(
            "https://pds.example.com",
            "wss://evil.example.com"
        ));
        assert!(!same_host(
            "https://pds.example.com",
            "ws://pds.example.com"
        ));
        assert!(!same_host("not a url", "not a url"));
    }
}
