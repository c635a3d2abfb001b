//! `include:` permission sets the bundled lexicons do not know, resolved over the network the
//! way atproto publishes lexicons (atproto.com/specs/lexicon, "Lexicon Publication and
//! Resolution"): the NSID's authority (its segments but the last, reversed:
//! `com.example.app.basePermissions` is `app.example.com`) → the DID in the `did=` TXT record
//! at `_lexicon.<authority>` (no parent domains are tried) → that DID's PDS → the record
//! `com.atproto.lexicon.schema/<nsid>` in its repository, through `com.atproto.repo.getRecord`
//! and the guarded client. Only a `permission-set` main definition of a document whose `id` is
//! the NSID is kept.
//!
//! Resolution happens at PAR, before the request is answered. What was resolved is kept in
//! memory and in `oauth_permission_set`, loaded at start: the resource server expands a
//! token's includes on every request from memory ([`PermissionSets`]), never over the network.

use super::store::{self, PermissionSetRow};
use crate::db::{DbError, WriteTxn, Writer};
use atproto::identity::{DidResolver, DidTxt};
use atproto::lexicon::schema::{Def, PermissionSetDef};
use atproto::syntax::Did;
use hearth_net::{NetError, RemoteClient};
use hearth_oauth::scope::{PermissionSets, Scope, ScopeError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Largest lexicon record answer read: permission sets are a few permissions long.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Limit on resolving one set, DNS, DID document and record together: the client is waiting.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit on the record fetch itself.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How many `include:` scopes one request may name: each may cost a resolution.
pub const MAX_INCLUDES: usize = 10;
/// How long a resolved set is used at PAR before it is fetched again (as the reference
/// provider's lexicon refresh). The resource server keeps using the stored one meanwhile.
pub const REFRESH_AFTER: i64 = 5 * 60;
/// How long a failed resolution is answered from memory before it is tried again.
pub const RETRY_AFTER: i64 = 60;
/// Sets kept in all: anyone who controls a domain can publish sets, and each one resolved is
/// kept (in memory and on disk) for the tokens that include it.
pub const MAX_SETS: usize = 10_000;
/// Failures remembered before the list is emptied (NSIDs come from anyone).
const MAX_FAILURES: usize = 1000;

/// The repository collection lexicons are published in.
pub const SCHEMA_COLLECTION: &str = "com.atproto.lexicon.schema";

/// Why a request's permission sets were refused.
#[derive(Debug, thiserror::Error)]
pub enum PermissionSetError {
    #[error(transparent)]
    Scope(#[from] ScopeError),
    #[error("a request may include at most {MAX_INCLUDES} permission sets")]
    TooMany,
    #[error("permission set {nsid} could not be resolved: {why}")]
    Unresolved { nsid: String, why: Why },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Why one permission set could not be resolved. Cloned into the failure cache, so it holds
/// messages rather than sources; none names an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Why {
    #[error("_lexicon.{0} names no single DID")]
    NoAuthority(String),
    #[error("DNS: {0}")]
    Dns(String),
    #[error("the authority's DID: {0}")]
    Did(String),
    #[error("the authority's DID document names no PDS")]
    NoPds,
    #[error("the lexicon record could not be fetched: {0}")]
    Fetch(String),
    #[error("the authority's PDS answered {0}")]
    Status(u16),
    #[error("the lexicon record is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("the record is not a lexicon document for this NSID: {0}")]
    NotLexicon(String),
    #[error("the lexicon is not a permission set")]
    NotPermissionSet,
    #[error("timed out")]
    Timeout,
    #[error("this server keeps no more permission sets")]
    Full,
}

fn fetch_error(e: NetError) -> Why {
    match e {
        NetError::TooLarge => Why::TooLarge,
        NetError::Timeout => Why::Timeout,
        other => Why::Fetch(other.to_string()),
    }
}

/// A set resolved over the network.
#[derive(Debug, Clone)]
struct Known {
    def: Arc<PermissionSetDef>,
    resolved_at: i64,
}

/// Resolves, keeps and answers permission sets: the bundled lexicons first, then those
/// resolved over the network.
pub struct PermissionSetResolver {
    remote: RemoteClient,
    dids: Arc<DidResolver>,
    dns: DidTxt,
    /// Authorities answered without DNS (tests, local setups): authority domain → DID.
    pinned: RwLock<HashMap<String, Did>>,
    sets: RwLock<HashMap<String, Known>>,
    /// Recent failures: NSID → (when, why).
    failures: Mutex<HashMap<String, (i64, Why)>>,
}

/// The authority domain of `nsid`: every segment but the last, reversed, lowercased.
pub fn authority(nsid: &str) -> Option<String> {
    let (ns, _name) = nsid.rsplit_once('.')?;
    Some(
        ns.split('.')
            .rev()
            .collect::<Vec<_>>()
            .join(".")
            .to_ascii_lowercase(),
    )
}

/// The `permission-set` of a `com.atproto.repo.getRecord` answer for `nsid`.
pub fn parse_record(nsid: &str, body: &[u8]) -> Result<PermissionSetDef, Why> {
    let bad = |m: &str| Why::NotLexicon(m.to_owned());
    let answer: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| bad("the answer is not JSON"))?;
    let value = answer
        .get("value")
        .ok_or_else(|| bad("the answer has no record value"))?;
    if value.get("$type").and_then(|t| t.as_str()) != Some(SCHEMA_COLLECTION) {
        return Err(bad("the record is not a com.atproto.lexicon.schema"));
    }
    let doc =
        atproto::lexicon::parse_document(value).map_err(|e| Why::NotLexicon(e.to_string()))?;
    if doc.id.as_str() != nsid {
        return Err(bad("its id is another NSID"));
    }
    match doc.main() {
        Some(Def::PermissionSet(p)) => Ok(p.clone()),
        _ => Err(Why::NotPermissionSet),
    }
}

impl PermissionSetResolver {
    pub fn new(remote: RemoteClient, dids: Arc<DidResolver>) -> PermissionSetResolver {
        PermissionSetResolver {
            remote,
            dids,
            dns: DidTxt::default(),
            pinned: RwLock::default(),
            sets: RwLock::default(),
            failures: Mutex::default(),
        }
    }

    /// Answers `_lexicon.<authority>` with `did` instead of asking DNS (tests, local setups),
    /// as `HandleResolver::with_static_did` does for handles.
    pub fn pin_authority(&self, authority: &str, did: Did) {
        let mut pinned = self.pinned.write().unwrap_or_else(|e| e.into_inner());
        pinned.insert(authority.to_ascii_lowercase(), did);
    }

    /// Takes in the stored sets (at start). A row that no longer parses is skipped: it grants
    /// nothing, as an unknown set.
    pub fn load(&self, rows: Vec<PermissionSetRow>) {
        let mut sets = self.sets.write().unwrap_or_else(|e| e.into_inner());
        for row in rows {
            match serde_json::from_str::<PermissionSetDef>(&row.def) {
                Ok(def) => {
                    sets.insert(
                        row.nsid,
                        Known {
                            def: Arc::new(def),
                            resolved_at: row.resolved_at,
                        },
                    );
                }
                Err(e) => tracing::warn!(nsid = %row.nsid, "stored permission set unreadable: {e}"),
            }
        }
    }

    fn known(&self, nsid: &str) -> Option<Known> {
        let sets = self.sets.read().unwrap_or_else(|e| e.into_inner());
        sets.get(nsid).cloned()
    }

    /// Makes sure every `include:` of `scope` (a space-separated scope string) names a set
    /// this server knows: bundled, or resolved now (or lately) over the network. Other scopes
    /// are left to the caller.
    pub async fn resolve_scope(
        &self,
        scope: &str,
        writer: &Writer,
        now: i64,
    ) -> Result<(), PermissionSetError> {
        let mut nsids: Vec<String> = Vec::new();
        for part in scope.split(' ').filter(|p| p.starts_with("include:")) {
            if let Scope::Include { nsid, .. } = Scope::parse(part)?
                && !nsids.contains(&nsid)
            {
                nsids.push(nsid);
            }
        }
        if nsids.len() > MAX_INCLUDES {
            return Err(PermissionSetError::TooMany);
        }
        let unknown = nsids
            .iter()
            .filter(|n| hearth_lexicons::catalog().permission_set(n).is_none());
        let results =
            futures::future::join_all(unknown.map(|n| self.resolve_one(n, writer, now))).await;
        results.into_iter().collect()
    }

    /// Resolves one set the bundled lexicons do not know, unless it was lately.
    async fn resolve_one(
        &self,
        nsid: &str,
        writer: &Writer,
        now: i64,
    ) -> Result<(), PermissionSetError> {
        let known = self.known(nsid);
        if known
            .as_ref()
            .is_some_and(|k| now - k.resolved_at < REFRESH_AFTER)
        {
            return Ok(());
        }
        let unresolved = |why: Why| PermissionSetError::Unresolved {
            nsid: nsid.to_owned(),
            why,
        };
        if let Some(why) = self.recent_failure(nsid, now) {
            // A set that resolved before keeps serving while its authority is unreachable.
            return known.map(|_| ()).ok_or_else(|| unresolved(why));
        }
        if known.is_none() && self.sets.read().unwrap_or_else(|e| e.into_inner()).len() >= MAX_SETS
        {
            return Err(unresolved(Why::Full));
        }
        let fetched = tokio::time::timeout(RESOLVE_TIMEOUT, self.fetch(nsid))
            .await
            .unwrap_or(Err(Why::Timeout));
        let (did, def) = match fetched {
            Ok(found) => found,
            Err(why) => {
                self.remember_failure(nsid, now, why.clone());
                if known.is_some() {
                    tracing::warn!(%nsid, "permission set not refreshed, the stored one stays: {why}");
                    return Ok(());
                }
                return Err(unresolved(why));
            }
        };
        let row = PermissionSetRow {
            nsid: nsid.to_owned(),
            authority: did.to_string(),
            def: serde_json::to_string(&def)
                .map_err(|e| unresolved(Why::NotLexicon(e.to_string())))?,
            resolved_at: now,
        };
        writer
            .run(move |txn: &mut WriteTxn<'_>| store::put_permission_set(txn.conn, &row))
            .await?;
        let mut sets = self.sets.write().unwrap_or_else(|e| e.into_inner());
        sets.insert(
            nsid.to_owned(),
            Known {
                def: Arc::new(def),
                resolved_at: now,
            },
        );
        Ok(())
    }

    fn recent_failure(&self, nsid: &str, now: i64) -> Option<Why> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(nsid)
            .filter(|(at, _)| now - at < RETRY_AFTER)
            .map(|(_, why)| why.clone())
    }

    fn remember_failure(&self, nsid: &str, now: i64, why: Why) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_FAILURES {
            failures.retain(|_, (at, _)| now - *at < RETRY_AFTER);
            if failures.len() >= MAX_FAILURES {
                failures.clear();
            }
        }
        failures.insert(nsid.to_owned(), (now, why));
    }

    /// The authority's DID and the set, over the network.
    async fn fetch(&self, nsid: &str) -> Result<(Did, PermissionSetDef), Why> {
        let authority =
            authority(nsid).ok_or_else(|| Why::NotLexicon("not a permission set NSID".into()))?;
        let did = self.authority_did(&authority).await?;
        let doc = self
            .dids
            .resolve(&did)
            .await
            .map_err(|e| Why::Did(e.to_string()))?;
        let pds = doc.pds_endpoint().ok_or(Why::NoPds)?;
        let mut url = hearth_net::endpoint_url(pds, "/xrpc/com.atproto.repo.getRecord")
            .map_err(fetch_error)?;
        url.query_pairs_mut()
            .append_pair("repo", did.as_str())
            .append_pair("collection", SCHEMA_COLLECTION)
            .append_pair("rkey", nsid);
        let req = self
            .remote
            .request(reqwest::Method::GET, &url)
            .map_err(fetch_error)?
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(FETCH_TIMEOUT);
        let res = self.remote.send(req).await.map_err(fetch_error)?;
        if !res.status().is_success() {
            return Err(Why::Status(res.status().as_u16()));
        }
        let body = hearth_net::read_capped(res, MAX_DOCUMENT_BYTES)
            .await
            .map_err(fetch_error)?;
        Ok((did, parse_record(nsid, &body)?))
    }

    async fn authority_did(&self, authority: &str) -> Result<Did, Why> {
        let pinned = {
            let pinned = self.pinned.read().unwrap_or_else(|e| e.into_inner());
            pinned.get(authority).cloned()
        };
        if let Some(did) = pinned {
            return Ok(did);
        }
        let mut dids = self
            .dns
            .dids(&format!("_lexicon.{authority}"))
            .await
            .map_err(|e| Why::Dns(e.to_string()))?;
        match (dids.pop(), dids.is_empty()) {
            (Some(did), true) => Ok(did),
            _ => Err(Why::NoAuthority(authority.to_owned())),
        }
    }
}

impl PermissionSets for PermissionSetResolver {
    /// Bundled first, so a published document can never replace a bundled set.
    fn permission_set(&self, nsid: &str) -> Option<PermissionSetDef> {
        hearth_lexicons::catalog()
            .permission_set(nsid)
            .or_else(|| self.known(nsid).map(|k| (*k.def).clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_authority_is_the_reversed_namespace() {
        assert_eq!(
            authority("com.example.app.basePermissions").as_deref(),
            Some("app.example.com")
        );
        assert_eq!(authority("Com.Example.x").as_deref(), Some("example.com"));
    }

    fn record(nsid: &str, main: serde_json::Value) -> Vec<u8> {
        json!({
            "uri": format!("at://did:plc:x/{SCHEMA_COLLECTION}/{nsid}"),
            "value": {
                "$type": SCHEMA_COLLECTION,
                "lexicon": 1,
                "id": nsid,
                "defs": { "main": main },
            },
        })
        .to_string()
        .into_bytes()
    }

    fn set() -> serde_json::Value {
        json!({
            "type": "permission-set",
            "title": "Calendar",
            "permissions": [{
                "type": "permission",
                "resource": "repo",
                "collection": ["com.example.cal.event"],
            }],
        })
    }

    #[test]
    fn only_a_permission_set_named_by_its_nsid_is_kept() {
        const NSID: &str = "com.example.cal.basePermissions";
        let def = parse_record(NSID, &record(NSID, set())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(def.title.as_deref(), Some("Calendar"));
        assert!(matches!(
            parse_record(NSID, &record("com.example.cal.other", set())),
            Err(Why::NotLexicon(_))
        ));
        assert_eq!(
            parse_record(NSID, &record(NSID, json!({"type": "token"}))),
            Err(Why::NotPermissionSet)
        );
        let mut untyped: serde_json::Value =
            serde_json::from_slice(&record(NSID, set())).unwrap_or_default();
        untyped["value"]["$type"] = json!("app.bsky.feed.post");
        assert!(matches!(
            parse_record(NSID, untyped.to_string().as_bytes()),
            Err(Why::NotLexicon(_))
        ));
        assert!(matches!(
            parse_record(NSID, b"<html>"),
            Err(Why::NotLexicon(_))
        ));
    }
}
