//! Service-auth: the caller is whoever signed the token, checked against the key in their DID
//! document, for this service, this method, and now. Write methods also refuse a token id
//! seen before (replays).

use crate::state::{AppState, now_secs};
use atproto::auth::{AuthError, Expectation, peek_claims, verify};
use atproto::syntax::Did;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hearth_db::{Db, DbError, WriteTxn, Writer};
use hearth_xrpc::XrpcError;
use std::collections::HashMap;
use std::sync::Mutex;

/// The signed-in caller of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub did: String,
    pub jti: Option<String>,
    pub exp: i64,
}

/// A caller if the request is authenticated; anonymous reads are allowed on most views.
#[derive(Debug, Clone)]
pub struct OptionalViewer(pub Option<Viewer>);

impl OptionalViewer {
    pub fn did(&self) -> Option<&str> {
        self.0.as_ref().map(|v| v.did.as_str())
    }
}

fn auth_error(e: AuthError) -> XrpcError {
    XrpcError::new(StatusCode::UNAUTHORIZED, e.error_name(), e.to_string())
}

fn bearer(parts: &Parts) -> Result<Option<&str>, XrpcError> {
    let Some(v) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| {
        XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "BadJwt",
            "Malformed authorization header",
        )
    })?;
    match v.split_once(' ') {
        Some((s, t)) if s.eq_ignore_ascii_case("bearer") => Ok(Some(t.trim())),
        _ => Err(XrpcError::new(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Bearer token required",
        )),
    }
}

/// The service ids a method's tokens may name in `aud` (besides the bare DID).
fn services_for(nsid: &str) -> &'static [&'static str] {
    if nsid.starts_with("social.hearth.") {
        &["hearth_appview"]
    } else {
        &["bsky_appview"]
    }
}

fn method_of(parts: &Parts) -> String {
    parts
        .uri
        .path()
        .strip_prefix("/xrpc/")
        .unwrap_or_default()
        .to_owned()
}

/// Verifies a service token for the method of this request.
pub async fn authenticate(state: &AppState, token: &str, nsid: &str) -> Result<Viewer, XrpcError> {
    let claims = peek_claims(token).map_err(auth_error)?;
    let iss: Did = claims
        .iss_did()
        .parse()
        .map_err(|_| XrpcError::new(StatusCode::UNAUTHORIZED, "BadJwt", "iss must be a DID"))?;
    // getFeed carries a token minted for the feed generator (the reference PDS's behaviour):
    // the AppView passes it on, so only the signature, issuer and method are checked here.
    let feed = nsid == "app.bsky.feed.getFeed";
    let (aud_did, lxm) = if feed {
        (
            claims.aud.split('#').next().unwrap_or_default().to_owned(),
            None,
        )
    } else {
        (state.service_did.clone(), Some(nsid))
    };
    if feed
        && !matches!(
            claims.lxm.as_deref(),
            Some("app.bsky.feed.getFeed" | "app.bsky.feed.getFeedSkeleton")
        )
    {
        return Err(auth_error(AuthError::BadJwtLexiconMethod));
    }
    let expect = Expectation {
        aud_did: &aud_did,
        aud_services: services_for(nsid),
        lxm,
        now: now_secs(),
    };
    for refresh in [false, true] {
        let doc = if refresh {
            state.dids.refresh(&iss).await
        } else {
            state.dids.resolve(&iss).await
        };
        let doc = doc.map_err(|_| {
            XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "BadJwtSignature",
                "Could not resolve the token issuer",
            )
        })?;
        let key = doc.signing_key().map_err(|_| {
            XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "BadJwtSignature",
                "Issuer has no signing key",
            )
        })?;
        match verify(token, &key, &expect) {
            Ok(c) => {
                return Ok(Viewer {
                    did: iss.to_string(),
                    jti: c.jti,
                    exp: c.exp,
                });
            }
            // The key may have rotated since we cached the document: look again, once.
            Err(AuthError::BadJwtSignature) if !refresh => continue,
            Err(e) => return Err(auth_error(e)),
        }
    }
    Err(auth_error(AuthError::BadJwtSignature))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, XrpcError> {
        let token = bearer(parts)?.ok_or_else(|| {
            XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "AuthMissing",
                "Authentication Required",
            )
        })?;
        authenticate(state, token, &method_of(parts)).await
    }
}

impl FromRequestParts<AppState> for OptionalViewer {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, XrpcError> {
        match bearer(parts)? {
            None => Ok(OptionalViewer(None)),
            Some(t) => Ok(OptionalViewer(Some(
                authenticate(state, t, &method_of(parts)).await?,
            ))),
        }
    }
}

/// Token ids already used on write methods, kept until the token expires: in memory for the
/// check, and in the index database so that a restart forgets none of them.
pub struct ReplayCache {
    seen: Mutex<Seen>,
    store: Writer<()>,
}

struct Seen {
    /// Token key (`iss:jti`) → the token's `exp`.
    tokens: HashMap<String, i64>,
    /// When expired ids were last swept (unix seconds).
    swept_at: i64,
}

/// How long past its `exp` a token id is kept (`verify` refuses it from `exp` on; the margin
/// covers a clock a little behind).
const KEEP_AFTER_EXP: i64 = 60;
/// Token ids held in memory before the expired ones are swept (at most once a minute).
const SWEEP_ABOVE: usize = 10_000;
/// The longest a write token may be valid for: what getServiceAuth grants at most. A token
/// valid for longer would be a standing credential if it leaked, and its id would have to be
/// kept as long.
pub const MAX_WRITE_TOKEN_SECS: i64 = 60 * 60;

/// Whether a token expiring at `exp` is valid for longer than [`MAX_WRITE_TOKEN_SECS`] (with
/// the clock skew allowed) at `now`: such a token is refused for writes.
pub fn outlives_write_limit(exp: i64, now: i64) -> bool {
    exp > now.saturating_add(MAX_WRITE_TOKEN_SECS + KEEP_AFTER_EXP)
}

impl ReplayCache {
    /// The cache, holding the unexpired token ids recorded before this start.
    pub fn load(db: &Db<()>) -> Result<ReplayCache, DbError> {
        let now = now_secs();
        let seen = db.writer.run_blocking(move |txn: &mut WriteTxn<'_, ()>| {
            txn.conn.execute(
                "DELETE FROM used_token WHERE exp < ?1",
                [now - KEEP_AFTER_EXP],
            )?;
            let mut stmt = txn.conn.prepare("SELECT key, exp FROM used_token")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<HashMap<_, _>, _>>()?;
            Ok::<_, DbError>(rows)
        })?;
        Ok(ReplayCache {
            seen: Mutex::new(Seen {
                tokens: seen,
                swept_at: now,
            }),
            store: db.writer.clone(),
        })
    }

    /// Records a token id; false if it was seen before (a replay), is missing, or belongs to a
    /// token valid for longer than [`MAX_WRITE_TOKEN_SECS`]. The record reaches the database
    /// with the writer's next commit (milliseconds), without holding up the request.
    pub fn first_use(&self, viewer: &Viewer) -> bool {
        let Some(jti) = &viewer.jti else { return false };
        let now = now_secs();
        if outlives_write_limit(viewer.exp, now) {
            return false;
        }
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        let sweep = seen.tokens.len() > SWEEP_ABOVE && now - seen.swept_at >= 60;
        if sweep {
            seen.tokens
                .retain(|_, exp| exp.saturating_add(KEEP_AFTER_EXP) > now);
            seen.swept_at = now;
        }
        let key = format!("{}:{jti}", viewer.did);
        if seen.tokens.contains_key(&key) {
            return false;
        }
        seen.tokens.insert(key.clone(), viewer.exp);
        let exp = viewer.exp;
        self.store.submit(
            move |txn: &mut WriteTxn<'_, ()>| {
                txn.conn
                    .prepare_cached("INSERT OR IGNORE INTO used_token (key, exp) VALUES (?1, ?2)")?
                    .execute(rusqlite::params![key, exp])?;
                if sweep {
                    txn.conn.execute(
                        "DELETE FROM used_token WHERE exp < ?1",
                        [now - KEEP_AFTER_EXP],
                    )?;
                }
                Ok::<_, DbError>(())
            },
            |r: Result<(), DbError>| {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "recording a used service token failed");
                }
            },
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_WRITE_TOKEN_SECS, ReplayCache, Viewer, outlives_write_limit};
    use hearth_db::{Db, DbError, WriteTxn};

    /// One rule for how long a write token may be valid, for the replay cache and the spaces
    /// methods alike: an hour, with a minute of skew, and never an overflow.
    #[test]
    fn write_tokens_live_an_hour_at_most() {
        let now = 1_800_000_000;
        assert!(!outlives_write_limit(now + 60, now));
        assert!(!outlives_write_limit(now + MAX_WRITE_TOKEN_SECS, now));
        assert!(!outlives_write_limit(now + MAX_WRITE_TOKEN_SECS + 60, now));
        assert!(outlives_write_limit(now + MAX_WRITE_TOKEN_SECS + 61, now));
        assert!(outlives_write_limit(i64::MAX, now));
    }

    fn viewer(jti: &str, exp: i64) -> Viewer {
        Viewer {
            did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz".into(),
            jti: Some(jti.into()),
            exp,
        }
    }

    /// A token used before a restart is still refused after it; expired ones are forgotten.
    #[test]
    fn used_tokens_survive_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index.sqlite");
        let now = crate::state::now_secs();
        let db: Db<()> = Db::open(&path, crate::MIGRATIONS, 1, |_| Ok(())).expect("db");
        let cache = ReplayCache::load(&db).expect("load");
        assert!(cache.first_use(&viewer("a", now + 60)));
        assert!(!cache.first_use(&viewer("a", now + 60)), "a replay");
        assert!(cache.first_use(&viewer("old", now - 600)));
        assert!(
            !cache.first_use(&viewer("long", now + 24 * 60 * 60)),
            "a write token valid for a day"
        );
        assert!(!cache.first_use(&viewer("max", i64::MAX)), "no overflow");
        assert!(
            !cache.first_use(&Viewer {
                jti: None,
                ..viewer("x", now + 60)
            }),
            "a write token needs an id"
        );
        // The writer runs jobs in order: once this one is done, the records are committed.
        db.writer
            .run_blocking(|_: &mut WriteTxn<'_, ()>| Ok::<_, DbError>(()))
            .expect("barrier");
        drop(cache);

        let reopened: Db<()> = Db::open(&path, crate::MIGRATIONS, 1, |_| Ok(())).expect("db");
        let cache = ReplayCache::load(&reopened).expect("load");
        assert!(
            !cache.first_use(&viewer("a", now + 60)),
            "replayed after a restart"
        );
        assert!(cache.first_use(&viewer("b", now + 60)), "a fresh token");
        let kept: i64 = reopened
            .writer
            .run_blocking(|txn: &mut WriteTxn<'_, ()>| {
                txn.conn
                    .query_row(
                        "SELECT COUNT(*) FROM used_token WHERE key LIKE '%:old'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(DbError::from)
            })
            .expect("count");
        assert_eq!(kept, 0, "an expired token id is swept at start");
    }
}
