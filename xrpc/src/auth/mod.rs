//! Service-auth: the caller is whoever signed the token, checked against the key in their DID
//! document, for this service, this method, and now. Write methods also refuse a token id
//! seen before (replays, [`ReplayCache`]).
//!
//! A service holds one [`ServiceAuth`] and makes it reachable from its router state
//! (`FromRef`); handlers then take a [`Viewer`] or an [`OptionalViewer`].

mod replay;

pub use replay::{NotFresh, REPLAY_SCHEMA, ReplayCache};

use crate::error::XrpcError;
use atproto::auth::{AuthError, Expectation, check_claims, peek_claims, verify};
use atproto::identity::DidResolver;
use atproto::syntax::{Datetime, Did};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::sync::Arc;
use std::time::Duration;

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

/// Whom a method's tokens must be addressed to.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    /// This service: `aud` is its DID, bare or with one of these service ids, and `lxm` is the
    /// method called.
    Service(&'static [&'static str]),
    /// A token minted for another service that this one passes on (getFeed's, for the feed
    /// generator): any DID in `aud` (bare or with one of `services`), and `lxm` one of
    /// `methods`.
    PassedOn {
        services: &'static [&'static str],
        methods: &'static [&'static str],
    },
}

/// Which [`Audience`] a method's tokens need; each service knows its own methods.
pub type AudiencePolicy = fn(nsid: &str) -> Audience;

/// How long past its `exp` a token id is kept (`verify` refuses it from `exp` on; the margin
/// covers a clock a little behind).
const KEEP_AFTER_EXP: i64 = 60;
/// The longest a write token may be valid for: what getServiceAuth grants at most. A token
/// valid for longer would be a standing credential if it leaked, and its id would have to be
/// kept as long.
pub const MAX_WRITE_TOKEN_SECS: i64 = 60 * 60;

/// Whether a token expiring at `exp` is valid for longer than [`MAX_WRITE_TOKEN_SECS`] (with
/// the clock skew allowed) at `now`: such a token is refused for writes.
pub fn outlives_write_limit(exp: i64, now: i64) -> bool {
    exp > now.saturating_add(MAX_WRITE_TOKEN_SECS + KEEP_AFTER_EXP)
}

/// How old a cached DID document must be before a bad signature sends us to fetch it again
/// (the issuer may have rotated its key).
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// The service-auth verifier of one service (cheap to clone).
#[derive(Clone)]
pub struct ServiceAuth(Arc<Inner>);

struct Inner {
    service_did: String,
    dids: Arc<DidResolver>,
    audience: AudiencePolicy,
    replay: ReplayCache,
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

fn method_of(parts: &Parts) -> &str {
    parts.uri.path().strip_prefix("/xrpc/").unwrap_or_default()
}

impl ServiceAuth {
    /// The verifier for the service `service_did`: issuers are looked up with `dids`, and
    /// write-token ids are remembered in `replay`.
    pub fn new(
        service_did: String,
        dids: Arc<DidResolver>,
        audience: AudiencePolicy,
        replay: ReplayCache,
    ) -> ServiceAuth {
        ServiceAuth(Arc::new(Inner {
            service_did,
            dids,
            audience,
            replay,
        }))
    }

    /// Records a write token's id, or says why it may not be used for a write (see
    /// [`ReplayCache::first_use`]). Call it after the caller's rate limit, so that refused
    /// requests record nothing.
    pub fn first_use(&self, viewer: &Viewer) -> Result<(), XrpcError> {
        self.0.replay.first_use(viewer).map_err(|e| {
            let unauthorized =
                |name, message| XrpcError::new(StatusCode::UNAUTHORIZED, name, message);
            match e {
                NotFresh::NoId => unauthorized(
                    "BadJwt",
                    "Write methods need a service token with a jti (a unique token id)",
                ),
                NotFresh::TooLong => unauthorized(
                    "BadJwtExpiration",
                    "Service tokens for write methods may be valid for at most an hour",
                ),
                NotFresh::Replayed => unauthorized(
                    "TokenReplayed",
                    "This service token was already used; every write needs a fresh one",
                ),
            }
        })
    }

    /// Forgets the cached DID document of `did`, for when it is known to have changed (the
    /// AppView saw an `#identity` event): a member who has just moved signs with a new key,
    /// and without this their tokens would be refused until our copy is [`REFETCH_AFTER`] old.
    pub fn issuer_changed(&self, did: &Did) {
        self.0.dids.forget(did);
    }

    /// Verifies a service token for the method `nsid`.
    pub async fn authenticate(&self, token: &str, nsid: &str) -> Result<Viewer, XrpcError> {
        let claims = peek_claims(token).map_err(auth_error)?;
        let iss: Did = claims
            .iss_did()
            .parse()
            .map_err(|_| XrpcError::new(StatusCode::UNAUTHORIZED, "BadJwt", "iss must be a DID"))?;
        let (aud_did, services, lxm) = match (self.0.audience)(nsid) {
            Audience::Service(services) => (self.0.service_did.as_str(), services, Some(nsid)),
            Audience::PassedOn { services, methods } => {
                // Only the signature, issuer and method are checked: the audience is the
                // service the token was minted for.
                if !claims.lxm.as_deref().is_some_and(|m| methods.contains(&m)) {
                    return Err(auth_error(AuthError::BadJwtLexiconMethod));
                }
                (
                    claims.aud.split('#').next().unwrap_or_default(),
                    services,
                    None,
                )
            }
        };
        let expect = Expectation {
            aud_did,
            aud_services: services,
            lxm,
            now: Datetime::unix_now_secs(),
        };
        // The claims are checked before the issuer is looked up: a token for another service
        // or method, expired, or with an oversized id costs no resolution.
        check_claims(&claims, &expect).map_err(auth_error)?;
        for refresh in [false, true] {
            let doc = if refresh {
                // Anyone can send a badly signed token naming any issuer: the directory is
                // asked again only if our copy of the document is not fresh.
                self.0.dids.refresh_stale(&iss, REFETCH_AFTER).await
            } else {
                self.0.dids.resolve(&iss).await
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
}

impl<S> FromRequestParts<S> for Viewer
where
    S: Send + Sync,
    ServiceAuth: FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, XrpcError> {
        let token = bearer(parts)?.ok_or_else(|| {
            XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "AuthMissing",
                "Authentication Required",
            )
        })?;
        ServiceAuth::from_ref(state)
            .authenticate(token, method_of(parts))
            .await
    }
}

impl<S> FromRequestParts<S> for OptionalViewer
where
    S: Send + Sync,
    ServiceAuth: FromRef<S>,
{
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, XrpcError> {
        match bearer(parts)? {
            None => Ok(OptionalViewer(None)),
            Some(t) => Ok(OptionalViewer(Some(
                ServiceAuth::from_ref(state)
                    .authenticate(t, method_of(parts))
                    .await?,
            ))),
        }
    }
}

#[cfg(test)]
mod cheap_first;

#[cfg(test)]
mod tests {
    use super::{MAX_WRITE_TOKEN_SECS, outlives_write_limit};

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
}
