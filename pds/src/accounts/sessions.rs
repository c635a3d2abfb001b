//! Issuing and rotating session tokens.

use super::store;
use crate::auth::{Scope, SessionClaims, TokenKind, mint_session};
use crate::clock::now_secs;
use crate::db::{DbError, WriteTxn};
use crate::state::AppState;

/// Access tokens live two hours, refresh tokens ninety days, as the reference's.
pub const ACCESS_TTL: i64 = 2 * 3600;
pub const REFRESH_TTL: i64 = 90 * 24 * 3600;
/// A used refresh token still answers (with its successor) for this long, so a client that
/// retries a refresh after a dropped response is not signed out.
pub const REFRESH_GRACE: i64 = 2 * 3600;

/// Why a refresh token was not honoured.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("Token has been revoked")]
    Revoked,
    #[error("Token has expired")]
    Expired,
    #[error("App password has been revoked")]
    AppPasswordRevoked,
    #[error(transparent)]
    Db(#[from] DbError),
}

pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn mint(state: &AppState, did: &str, scope: Scope, refresh_id: &str, refresh_exp: i64) -> Tokens {
    let now = now_secs();
    let access = SessionClaims {
        scope: scope.as_str().into(),
        sub: did.into(),
        aud: state.service_did.clone(),
        iat: now,
        exp: now + ACCESS_TTL,
        jti: None,
    };
    let refresh = SessionClaims {
        scope: Scope::Refresh.as_str().into(),
        sub: did.into(),
        aud: state.service_did.clone(),
        iat: now,
        exp: refresh_exp,
        jti: Some(refresh_id.into()),
    };
    Tokens {
        access: mint_session(&state.secrets.jwt_key, TokenKind::Access, &access),
        refresh: mint_session(&state.secrets.jwt_key, TokenKind::Refresh, &refresh),
    }
}

fn scope_for(app_password: Option<&(String, bool)>) -> Scope {
    match app_password {
        None => Scope::Full,
        Some((_, true)) => Scope::AppPassPrivileged,
        Some((_, false)) => Scope::AppPass,
    }
}

/// Starts a session: stores a refresh token and mints both tokens.
pub async fn create(
    state: &AppState,
    account: i64,
    did: &str,
    app_password: Option<(String, bool)>,
) -> Result<Tokens, SessionError> {
    let id = new_id();
    let exp = now_secs() + REFRESH_TTL;
    let name = app_password.as_ref().map(|(n, _)| n.clone());
    let row_id = id.clone();
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            store::insert_refresh_token(txn.conn, &row_id, account, name.as_deref(), exp)
        })
        .await?;
    Ok(mint(state, did, scope_for(app_password.as_ref()), &id, exp))
}

/// Rotates a refresh token: the old one points at its successor and expires soon.
pub async fn refresh(
    state: &AppState,
    account: i64,
    did: &str,
    jti: &str,
) -> Result<Tokens, SessionError> {
    let jti = jti.to_owned();
    let (id, exp, app_password) = state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            let now = now_secs();
            let Some(token) = store::refresh_token(txn.conn, &jti)? else {
                return Err(SessionError::Revoked);
            };
            if token.account != account || token.expires_at <= now {
                return Err(SessionError::Expired);
            }
            let privileged = match &token.app_password {
                Some(name) => store::app_password_privileged(txn.conn, account, name)?
                    .ok_or(SessionError::AppPasswordRevoked)?,
                None => false,
            };
            let ap = token.app_password.map(|n| (n, privileged));
            let exp = now + REFRESH_TTL;
            if let Some(next) = token.next_id {
                // A retry of a refresh already done: hand out the same successor.
                store::set_refresh_expiry(txn.conn, &next, exp)?;
                return Ok((next, exp, ap));
            }
            let next = new_id();
            let name = ap.as_ref().map(|(n, _)| n.as_str());
            store::insert_refresh_token(txn.conn, &next, account, name, exp)?;
            store::rotate_refresh_token(txn.conn, &jti, &next, now + REFRESH_GRACE)?;
            Ok((next, exp, ap))
        })
        .await?;
    Ok(mint(state, did, scope_for(app_password.as_ref()), &id, exp))
}

/// Ends a session by revoking its refresh token (and any successor it was rotated to).
pub async fn revoke(state: &AppState, jti: &str) -> Result<(), SessionError> {
    let jti = jti.to_owned();
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| store::delete_refresh_token(txn.conn, &jti))
        .await?;
    Ok(())
}
