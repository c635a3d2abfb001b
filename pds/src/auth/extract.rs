//! Axum extractors that authenticate a request before the handler runs.

use super::oauth::{OAuthGrant, scope_missing};
use super::tokens::{Scope, SessionError, TokenKind, decode_session};
use crate::accounts::{self, AccountStatus};
use crate::clock::now_secs;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hearth_oauth::scope::{AccountAction, AccountAttr, IdentityAttr, RepoAction, ScopeSet};
use hearth_xrpc::XrpcError;

/// A signed-in user, by access token.
#[derive(Debug, Clone)]
pub struct AccessAuth {
    pub did: String,
    pub account: i64,
    /// The legacy session kind; OAuth sessions count as app-password sessions here (never
    /// full), their permissions are in `scopes`.
    pub scope: Scope,
    pub status: AccountStatus,
    /// The granted OAuth scopes; `None` for password and app-password sessions, which the
    /// scope checks below let through unchanged.
    pub scopes: Option<ScopeSet>,
}

/// What managing the account asks of an OAuth session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Account(AccountAttr, AccountAction),
    Identity(IdentityAttr),
    /// Never through OAuth (app passwords, account deletion): the password is needed.
    PasswordSession,
}

impl AccessAuth {
    /// Whether the session may manage the account (a password session: neither an app
    /// password nor OAuth).
    pub fn is_full(&self) -> bool {
        self.scope == Scope::Full
    }

    /// Account management: a legacy session must be a password session (app passwords are
    /// refused, as before OAuth); an OAuth session needs the permission `need`.
    pub fn require_manage(&self, need: Need) -> Result<(), XrpcError> {
        match &self.scopes {
            None if self.is_full() => Ok(()),
            None => Err(XrpcError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "InvalidToken",
                "This method is not available to app-password sessions",
            )),
            Some(s) => match need {
                Need::Account(attr, action) => s.require_account(attr, action),
                Need::Identity(attr) => s.require_identity(attr),
                Need::PasswordSession => {
                    return Err(XrpcError::forbidden(
                        "OAuth sessions can not use this method; sign in with the password",
                    ));
                }
            }
            .map_err(scope_missing),
        }
    }

    /// A permission an OAuth session needs for a method any legacy session may call.
    pub fn require_permission(&self, need: Need) -> Result<(), XrpcError> {
        match self.scopes {
            None => Ok(()),
            Some(_) => self.require_manage(need),
        }
    }

    /// Writing records of `collection`.
    pub fn require_repo(&self, collection: &str, action: RepoAction) -> Result<(), XrpcError> {
        self.scopes.as_ref().map_or(Ok(()), |s| {
            s.require_repo(collection, action).map_err(scope_missing)
        })
    }

    /// Uploading a blob of type `mime`.
    pub fn require_blob(&self, mime: &str) -> Result<(), XrpcError> {
        self.scopes
            .as_ref()
            .map_or(Ok(()), |s| s.require_blob(mime).map_err(scope_missing))
    }

    /// A call to method `lxm` at service `aud` (`did#service`) made as the user.
    pub fn require_rpc(&self, lxm: &str, aud: &str) -> Result<(), XrpcError> {
        self.scopes
            .as_ref()
            .map_or(Ok(()), |s| s.require_rpc(lxm, aud).map_err(scope_missing))
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

/// The credentials a request carries: a legacy session token, or an OAuth grant the resource
/// server layer ([`super::oauth`]) verified.
enum Credentials<'a> {
    Bearer(&'a str),
    OAuth(&'a OAuthGrant),
}

fn credentials(parts: &Parts) -> Result<Option<Credentials<'_>>, XrpcError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| XrpcError::invalid_token("Malformed authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Some(Credentials::Bearer(token.trim())))
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("dpop") => parts
            .extensions
            .get::<OAuthGrant>()
            .map(|g| Some(Credentials::OAuth(g)))
            .ok_or_else(|| XrpcError::auth_required("DPoP token was not verified")),
        _ => Err(XrpcError::auth_required("Unexpected authorization type")),
    }
}

/// A legacy session token, for the methods only those reach (refresh, sign-out).
fn bearer(parts: &Parts) -> Result<Option<&str>, XrpcError> {
    match credentials(parts)? {
        None => Ok(None),
        Some(Credentials::Bearer(t)) => Ok(Some(t)),
        Some(Credentials::OAuth(_)) => Err(XrpcError::invalid_token(
            "OAuth tokens are not session tokens",
        )),
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

async fn access(state: &AppState, creds: Credentials<'_>) -> Result<AccessAuth, XrpcError> {
    let (sub, scope, scopes, grant) = match creds {
        Credentials::Bearer(token) => {
            let claims =
                decode_session(&state.secrets.jwt_key, TokenKind::Access, token, now_secs())
                    .map_err(session_error)?;
            if claims.aud != state.service_did {
                return Err(XrpcError::invalid_token("Token is not for this service"));
            }
            let scope = Scope::parse(&claims.scope)
                .filter(|s| *s != Scope::Refresh)
                .ok_or_else(|| XrpcError::invalid_token("Bad token scope"))?;
            (claims.sub, scope, None, None)
        }
        Credentials::OAuth(g) => (
            g.claims.sub.clone(),
            Scope::AppPass,
            Some(g.scopes.clone()),
            Some(crate::oauth::token::grant_of_jti(&g.claims.jti).to_owned()),
        ),
    };
    let acct = match grant {
        None => accounts::status_by_did(&state.db.readers, &sub).await?,
        // The grant must still exist: checked in the same read as the account.
        Some(grant) => {
            let (did, now) = (sub.clone(), now_secs());
            match state
                .db
                .readers
                .read(move |c| crate::oauth::store::account_with_grant(c, &did, &grant, now))
                .await?
            {
                Some((_, _, false)) => {
                    return Err(XrpcError::new(
                        axum::http::StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "The grant was revoked or has ended",
                    ));
                }
                Some((id, status, true)) => {
                    Some((id, AccountStatus::from_column(status.as_deref())))
                }
                None => None,
            }
        }
    }
    .ok_or_else(|| XrpcError::invalid_token("Account not found"))?;
    if acct.1 == AccountStatus::Takendown {
        return Err(XrpcError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "AccountTakedown",
            "Account has been taken down",
        ));
    }
    Ok(AccessAuth {
        did: sub,
        account: acct.0,
        scope,
        status: acct.1,
        scopes,
    })
}

impl FromRequestParts<AppState> for AccessAuth {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let creds = credentials(parts)?
            .ok_or_else(|| XrpcError::auth_required("Authentication Required"))?;
        access(state, creds).await
    }
}

impl FromRequestParts<AppState> for OptionalAccess {
    type Rejection = XrpcError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match credentials(parts)? {
            None => Ok(OptionalAccess(None)),
            Some(creds) => Ok(OptionalAccess(Some(access(state, creds).await?))),
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
        let Ok(Some(creds)) = credentials(parts) else {
            return Ok(OwnerOrAnyone(None));
        };
        Ok(OwnerOrAnyone(access(state, creds).await.ok()))
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
