//! The PDS as an OAuth resource server: a request with `Authorization: DPoP <token>` is checked
//! here, once, before any handler (the access token, the DPoP proof for this method and URL
//! with a current server nonce and a fresh `jti`, the key binding, the granted scopes), and the
//! grant is handed to the extractors as a request extension; they check that the grant still
//! exists in the read that looks up the account (`auth::extract`). Failures are answered the
//! way OAuth clients expect (RFC 9449, RFC 6750): 401 with `WWW-Authenticate: DPoP
//! error="..."`, which is what makes a client retry with a new nonce or refresh its token.
//! Every answer to a request carrying a proof names the current nonce in `DPoP-Nonce`. The nonces and the cache
//! of spent proof ids are the authorization server's (`crate::oauth`), so one nonce serves a
//! client at both.

use crate::clock::now_secs;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hearth_oauth::access_token::{self, Claims};
use hearth_oauth::scope::{ScopeMissing, ScopeSet};
use hearth_xrpc::XrpcError;

/// The `DPoP` request header and the `DPoP-Nonce` response header.
pub const DPOP: &str = "dpop";
pub const DPOP_NONCE: &str = "dpop-nonce";

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
    let p = state
        .oauth
        .check_proof(
            req.headers(),
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
    // parses (or lacks `atproto`) is not a grant. Includes expand from memory (bundled sets,
    // then those resolved at PAR): nothing is fetched here.
    let scopes = ScopeSet::parse_with(&claims.scope, &state.oauth.permission_sets)
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
    let dpop_bound = dpop_token(&req).is_some();
    let mut res = match verify(&state, &req) {
        Ok(grant) => {
            if let Some(g) = grant {
                req.extensions_mut().insert(g);
            }
            next.run(req).await
        }
        Err(refusal) => refusal.into_response(),
    };
    // A token refused later (its grant ended, seen with the account) gets the same challenge.
    if dpop_bound
        && res.status() == StatusCode::UNAUTHORIZED
        && !res.headers().contains_key(WWW_AUTHENTICATE)
    {
        res.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("DPoP error=\"invalid_token\""),
        );
    }
    if with_proof && let Ok(v) = HeaderValue::from_str(&state.oauth.nonces.current(now_secs())) {
        res.headers_mut().insert(DPOP_NONCE, v);
    }
    res
}

/// A missing permission, as the reference PDS answers it.
pub fn scope_missing(e: ScopeMissing) -> XrpcError {
    XrpcError::new(StatusCode::FORBIDDEN, "ScopeMissingError", e.to_string())
}
