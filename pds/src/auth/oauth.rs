//! The PDS as an OAuth resource server: a request with `Authorization: DPoP <token>` is checked
//! here, once, before any handler (the access token, the DPoP proof for this method and URL
//! with a current server nonce and a fresh `jti`, the key binding, the granted scopes), and the
//! grant is handed to the extractors as a request extension. Failures are answered the way
//! OAuth clients expect (RFC 9449, RFC 6750): 401 with `WWW-Authenticate: DPoP error="..."`,
//! which is what makes a client retry with a new nonce or refresh its token. Every answer to a
//! request carrying a proof names the current nonce in `DPoP-Nonce`.

use crate::clock::now_secs;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_oauth::access_token::{self, Claims};
use hearth_oauth::dpop::{self, DpopError, Proof};
use hearth_oauth::nonce::Nonces;
use hearth_oauth::scope::{ScopeMissing, ScopeSet};
use hearth_xrpc::XrpcError;

/// The `DPoP` request header and the `DPoP-Nonce` response header.
pub const DPOP: &str = "dpop";
pub const DPOP_NONCE: &str = "dpop-nonce";

/// Server DPoP state shared by the token endpoint and the resource server: the nonces, and the
/// proof ids seen while their proofs could still be accepted (a proof is single use).
pub struct DpopGuard {
    pub nonces: Nonces,
    seen: crate::oauth::replay::Replay,
}

/// Why a proof was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProofRefused {
    #[error(transparent)]
    Invalid(#[from] DpopError),
    #[error("DPoP proof was already used")]
    Replayed,
}

impl ProofRefused {
    /// The OAuth error code.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            ProofRefused::Invalid(e) => e.oauth_error(),
            ProofRefused::Replayed => "invalid_dpop_proof",
        }
    }
}

impl DpopGuard {
    pub fn new(secret: &[u8]) -> DpopGuard {
        DpopGuard {
            nonces: Nonces::new(secret),
            seen: Default::default(),
        }
    }

    /// Verifies `proof` for this request (a current nonce required) and refuses a proof id
    /// seen before.
    pub fn check(
        &self,
        proof: &str,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<Proof, ProofRefused> {
        let p = dpop::verify(
            proof,
            &dpop::Expectation {
                htm,
                htu,
                now,
                nonces: Some(&self.nonces),
                access_token,
            },
        )?;
        // Per key: two clients may pick the same id.
        if !self.seen.first_use(&p.jkt, &p.jti, p.replay_until, now) {
            return Err(ProofRefused::Replayed);
        }
        Ok(p)
    }
}

/// A verified OAuth grant, for the extractors.
#[derive(Debug, Clone)]
pub struct OAuthGrant {
    pub claims: Claims,
    pub scopes: ScopeSet,
}

/// Why a DPoP-bound request was refused: the OAuth error code and a description.
struct Refusal {
    code: &'static str,
    message: String,
}

fn refuse(code: &'static str, message: &str) -> Refusal {
    Refusal {
        code,
        message: message.to_owned(),
    }
}

impl IntoResponse for Refusal {
    /// The shape OAuth clients act on: an XRPC error body plus
    /// `WWW-Authenticate: DPoP error="<code>"`.
    fn into_response(self) -> Response {
        let mut res =
            XrpcError::new(StatusCode::UNAUTHORIZED, self.code, &self.message).into_response();
        let challenge = format!(
            "DPoP error=\"{}\", error_description=\"{}\"",
            self.code,
            self.message.replace(['"', '\\'], "'")
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(WWW_AUTHENTICATE, v);
        }
        res
    }
}

/// The URL a client addressed, as the proof's `htu` must name it.
fn request_url(state: &AppState, req: &Request) -> String {
    format!(
        "{}{}",
        state.public_url.trim_end_matches('/'),
        req.uri().path()
    )
}

/// The DPoP token of `Authorization: DPoP <token>`, if that is the scheme.
fn dpop_token(req: &Request) -> Option<&str> {
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("dpop").then(|| token.trim())
}

fn verify(state: &AppState, req: &Request) -> Result<Option<OAuthGrant>, Refusal> {
    let Some(token) = dpop_token(req) else {
        return Ok(None);
    };
    let now = now_secs();
    let claims = access_token::verify(
        &state.secrets.jwt_key,
        token,
        &access_token::Expectation {
            iss: &state.public_url,
            aud: &state.service_did,
            now,
        },
    )
    .map_err(|e| refuse("invalid_token", &e.to_string()))?;
    let mut proofs = req.headers().get_all(DPOP).iter();
    let (Some(proof), None) = (proofs.next(), proofs.next()) else {
        return Err(refuse(
            "invalid_dpop_proof",
            "A DPoP-bound token needs exactly one DPoP proof",
        ));
    };
    let proof = proof
        .to_str()
        .map_err(|_| refuse("invalid_dpop_proof", "Malformed DPoP header"))?;
    let p = state
        .dpop
        .check(
            proof,
            req.method().as_str(),
            &request_url(state, req),
            Some(token),
            now,
        )
        .map_err(|e| refuse(e.oauth_error(), &e.to_string()))?;
    if p.jkt != claims.cnf.jkt {
        return Err(refuse(
            "invalid_dpop_proof",
            "DPoP proof is signed by another key than the token is bound to",
        ));
    }
    // The scope was written by this server when it issued the token; one that no longer
    // parses (or lacks `atproto`) is not a grant.
    let scopes = ScopeSet::parse_with(&claims.scope, hearth_lexicons::catalog())
        .ok()
        .filter(ScopeSet::has_atproto)
        .ok_or_else(|| refuse("invalid_token", "Token scope is not valid"))?;
    Ok(Some(OAuthGrant { claims, scopes }))
}

/// The middleware: verifies DPoP-bound requests and adds the current nonce to the answer of
/// every request that carried a proof.
pub async fn resource_server(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let with_proof = req.headers().contains_key(DPOP);
    let mut res = match verify(&state, &req) {
        Ok(grant) => {
            if let Some(g) = grant {
                req.extensions_mut().insert(g);
            }
            next.run(req).await
        }
        Err(refusal) => refusal.into_response(),
    };
    if with_proof && let Ok(v) = HeaderValue::from_str(&state.dpop.nonces.current(now_secs())) {
        res.headers_mut().insert(DPOP_NONCE, v);
    }
    res
}

/// A missing permission, as the reference PDS answers it.
pub fn scope_missing(e: ScopeMissing) -> XrpcError {
    XrpcError::new(StatusCode::FORBIDDEN, "ScopeMissingError", e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use atproto::crypto::{Algorithm, Keypair};

    #[test]
    fn a_proof_is_used_once() {
        let guard = DpopGuard::new(b"secret");
        let key = Keypair::generate(Algorithm::P256);
        let now = 1_700_000_000;
        let url = "https://pds.example/xrpc/com.atproto.repo.getRecord";
        let nonce = guard.nonces.current(now);
        let proof = dpop::sign(
            &key,
            &dpop::ProofRequest {
                htm: "GET",
                htu: url,
                now,
                nonce: Some(&nonce),
                access_token: Some("tok"),
            },
        );
        assert!(guard.check(&proof, "GET", url, Some("tok"), now).is_ok());
        assert_eq!(
            guard.check(&proof, "GET", url, Some("tok"), now + 1),
            Err(ProofRefused::Replayed)
        );
        // Without the server's nonce: the client is told to fetch one.
        let bare = dpop::sign(
            &key,
            &dpop::ProofRequest {
                htm: "GET",
                htu: url,
                now,
                nonce: None,
                access_token: Some("tok"),
            },
        );
        let e = guard.check(&bare, "GET", url, Some("tok"), now);
        assert_eq!(
            e.as_ref().map_err(ProofRefused::oauth_error),
            Err("use_dpop_nonce")
        );
    }
}
