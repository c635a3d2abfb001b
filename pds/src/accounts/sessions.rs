//! Issuing and rotating session tokens.

use crate::auth::{Scope, SessionClaims, TokenKind, mint_session};
use crate::clock::now_secs;
use crate::db::{DbError, WriteTxn};
use crate::state::AppState;
use hearth_xrpc::XrpcError;
use rusqlite::{OptionalExtension, params};

/// Access tokens live two hours, refresh tokens ninety days, as the reference's.
pub const ACCESS_TTL: i64 = 2 * 3600;
pub const REFRESH_TTL: i64 = 90 * 24 * 3600;
/// A used refresh token still answers (with its successor) for this long, so a client that
/// retries a refresh after a dropped response is not signed out.
pub const REFRESH_GRACE: i64 = 2 * 3600;

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
) -> Result<Tokens, XrpcError> {
    let id = new_id();
    let exp = now_secs() + REFRESH_TTL;
    let name = app_password.as_ref().map(|(n, _)| n.clone());
    let row_id = id.clone();
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            txn.conn
                .prepare_cached("INSERT INTO refresh_token (id, account, app_password, expires_at) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![row_id, account, name, exp])?;
            Ok::<_, DbError>(())
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
) -> Result<Tokens, XrpcError> {
    let jti = jti.to_owned();
    let (id, exp, app_password) = state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            let now = now_secs();
            let row: Option<(i64, Option<String>, i64, Option<String>)> = txn
                .conn
                .prepare_cached("SELECT account, app_password, expires_at, next_id FROM refresh_token WHERE id = ?1")
                .map_err(DbError::from)?
                .query_row([&jti], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()
                .map_err(DbError::from)?;
            let Some((owner, app_password, expires_at, next_id)) = row else {
                return Err(XrpcError::invalid_token("Token has been revoked"));
            };
            if owner != account || expires_at <= now {
                return Err(XrpcError::expired_token());
            }
            let privileged = match &app_password {
                Some(name) => txn
                    .conn
                    .prepare_cached("SELECT privileged FROM app_password WHERE account = ?1 AND name = ?2")
                    .map_err(DbError::from)?
                    .query_row(params![account, name], |r| r.get::<_, bool>(0))
                    .optional()
                    .map_err(DbError::from)?
                    .ok_or_else(|| XrpcError::invalid_token("App password has been revoked"))?,
                None => false,
            };
            let ap = app_password.map(|n| (n, privileged));
            let exp = now + REFRESH_TTL;
            if let Some(next) = next_id {
                // A retry of a refresh already done: hand out the same successor.
                txn.conn
                    .prepare_cached("UPDATE refresh_token SET expires_at = ?2 WHERE id = ?1")
                    .map_err(DbError::from)?
                    .execute(params![next, exp])
                    .map_err(DbError::from)?;
                return Ok((next, exp, ap));
            }
            let next = new_id();
            txn.conn
                .prepare_cached("INSERT INTO refresh_token (id, account, app_password, expires_at) VALUES (?1, ?2, ?3, ?4)")
                .map_err(DbError::from)?
                .execute(params![next, account, ap.as_ref().map(|(n, _)| n.clone()), exp])
                .map_err(DbError::from)?;
            txn.conn
                .prepare_cached("UPDATE refresh_token SET next_id = ?2, expires_at = MIN(expires_at, ?3) WHERE id = ?1")
                .map_err(DbError::from)?
                .execute(params![jti, next, now + REFRESH_GRACE])
                .map_err(DbError::from)?;
            Ok((next, exp, ap))
        })
        .await?;
    Ok(mint(state, did, scope_for(app_password.as_ref()), &id, exp))
}

/// Ends a session by revoking its refresh token (and any successor it was rotated to).
pub async fn revoke(state: &AppState, jti: &str) -> Result<(), XrpcError> {
    let jti = jti.to_owned();
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            txn.conn
                .prepare_cached(
                    "DELETE FROM refresh_token WHERE id = ?1
                     OR id = (SELECT next_id FROM refresh_token WHERE id = ?1)",
                )?
                .execute([jti])?;
            Ok::<_, DbError>(())
        })
        .await?;
    Ok(())
}
