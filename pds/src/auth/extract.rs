//! Axum extractors that authenticate a request before the handler runs.

use super::tokens::{Scope, SessionError, TokenKind, decode_session};
use crate::accounts::{self, AccountStatus};
use crate::clock::now_secs;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hearth_xrpc::XrpcError;

/// A signed-in user, by access token.
#[derive(Debug, Clone)]
pub struct AccessAuth {
    pub did: String,
    pub account: i64,
    pub scope: Scope,
    pub status: AccountStatus,
}

impl AccessAuth {
    /// Whether the session may manage the account (not an app-password session).
    pub fn is_full(&self) -> bool {
        self.scope == Scope::Full
    }

    /// Refuses app-password sessions: they cannot manage the account.
    pub fn require_full(&self) -> Result<(), XrpcError> {
        if self.is_full() {
            Ok(())
        } else {
            Err(XrpcError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "InvalidToken",
                "This method is not available to app-password sessions",
            ))
        }
    }

    /// Refuses sessions of accounts that are not active (deactivated accounts may sign in but
    /// not write).
    pub fn require_active(&self) -> Result<(), XrpcError> {
        match self.status {
            AccountStatus::Active => Ok(()),
            AccountStatus::Deactivated => Err(XrpcError::named(
                "AccountDeactivated",
                "Account is deactivated",
            )),
            AccountStatus::Takendown => Err(XrpcError::named(
                "AccountTakedown",
                "Account has been taken down",
            )),
        }
    }
}

/// A refresh token, for refreshSession and deleteSession.
#[derive(Debug, Clone)]
pub struct RefreshAuth {
    pub did: String,
    pub account: i64,
    pub jti: String,
}

/// The admin, by HTTP Basic auth with the configured password.
#[derive(Debug, Clone)]
pub struct AdminAuth;

/// An access token if one is present (for methods that behave differently when signed in).
#[derive(Debug, Clone)]
pub struct OptionalAccess(pub Option<AccessAuth>);

fn bearer(parts: &Parts) -> Result<Option<&str>, XrpcError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| XrpcError::invalid_token("Malformed authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(XrpcError::auth_required("Unexpected authorization type")),
    }
}

fn session_error(e: SessionError) -> XrpcError {
    match e {
        SessionError::Expired => XrpcError::expired_token(),
        SessionError::WrongKind => XrpcError::invalid_token("Invalid token type"),
        SessionError::Malformed | SessionError::BadSignature => {
            XrpcError::invalid_token("Token could not be verified")
        }
    }
}

async fn access(parts: &Parts, state: &AppState, token: &str) -> Result<AccessAuth, XrpcError> {
    let claims = decode_session(&state.secrets.jwt_key, TokenKind::Access, token, now_secs())
        .map_err(session_error)?;
    if claims.aud != state.service_did {
        return Err(XrpcError::invalid_token("Token is not for this service"));
    }
    let scope = Scope::parse(&claims.scope)
        .filter(|s| *s != Scope::Refresh)
        .ok_or_else(|| XrpcError::invalid_token("Bad token scope"))?;
    let _ = parts;
    let acct = accounts::status_by_did(&state.db.readers, &claims.sub)
        .await?
        .ok_or_else(|| XrpcError::invalid_token("Account not found"))?;
    if acct.1 == AccountStatus::Takendown {
        return Err(XrpcError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "AccountTakedown",
            "Account has been taken down",
        ));
    }
    Ok(AccessAuth {
        did: claims.sub,
        account: acct.0,
        scope,
        status: acct.1,
    })
}

impl FromRequestParts<AppState> for AccessAuth {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token =
            bearer(parts)?.ok_or_else(|| XrpcError::auth_required("Authentication Required"))?;
        access(parts, state, token).await
    }
}

impl FromRequestParts<AppState> for OptionalAccess {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match bearer(parts)? {
            None => Ok(OptionalAccess(None)),
            Some(token) => Ok(OptionalAccess(Some(access(parts, state, token).await?))),
        }
    }
}

/// The account's own session, if the request carries one; any other token (or none) is no
/// one, never an error: for public reads that serve the owner more (a deactivated account's
/// repository and blobs, which it takes away when it migrates).
#[derive(Debug, Clone)]
pub struct OwnerOrAnyone(pub Option<AccessAuth>);

impl FromRequestParts<AppState> for OwnerOrAnyone {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Some(token)) = bearer(parts) else {
            return Ok(OwnerOrAnyone(None));
        };
        Ok(OwnerOrAnyone(access(parts, state, token).await.ok()))
    }
}

impl FromRequestParts<AppState> for RefreshAuth {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token =
            bearer(parts)?.ok_or_else(|| XrpcError::auth_required("Authentication Required"))?;
        let claims = decode_session(
            &state.secrets.jwt_key,
            TokenKind::Refresh,
            token,
            now_secs(),
        )
        .map_err(session_error)?;
        if claims.aud != state.service_did || claims.scope != Scope::Refresh.as_str() {
            return Err(XrpcError::invalid_token(
                "Token is not a refresh token for this service",
            ));
        }
        let jti = claims
            .jti
            .ok_or_else(|| XrpcError::invalid_token("Refresh token has no id"))?;
        let acct = accounts::status_by_did(&state.db.readers, &claims.sub)
            .await?
            .ok_or_else(|| XrpcError::invalid_token("Account not found"))?;
        Ok(RefreshAuth {
            did: claims.sub,
            account: acct.0,
            jti,
        })
    }
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(password) = state.cfg.admin_password.as_deref() else {
            return Err(XrpcError::auth_required(
                "The admin API is not enabled on this server",
            ));
        };
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| XrpcError::auth_required("Authentication Required"))?;
        let creds = header
            .strip_prefix("Basic ")
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| XrpcError::auth_required("Admin credentials required"))?;
        // Compare in constant time so the password cannot be guessed byte by byte.
        let expected = format!("admin:{password}");
        let same = creds.len() == expected.len()
            && creds
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(AdminAuth)
        } else {
            Err(XrpcError::auth_required("Invalid admin credentials"))
        }
    }
}
