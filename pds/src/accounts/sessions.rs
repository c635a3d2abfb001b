//! Issuing and rotating session tokens.

use super::store;
use crate::auth::{Scope, SessionClaims, TokenKind, mint_session};
use crate::clock::Clock;
use crate::db::{DbError, WriteTxn, Writer};

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

/// What sessions need of the server: the writer that stores refresh tokens, the key and
/// audience (this service's DID) tokens are minted with, and the clock that dates them.
pub struct Sessions<'a> {
    pub writer: &'a Writer,
    pub jwt_key: &'a [u8; 32],
    pub service_did: &'a str,
    pub clock: Clock,
}

fn scope_for(app_password: Option<&(String, bool)>) -> Scope {
    match app_password {
        None => Scope::Full,
        Some((_, true)) => Scope::AppPassPrivileged,
        Some((_, false)) => Scope::AppPass,
    }
}

impl Sessions<'_> {
    fn mint(&self, did: &str, scope: Scope, refresh_id: &str, refresh_exp: i64) -> Tokens {
        let now = self.clock.now_secs();
        let access = SessionClaims {
            scope: scope.as_str().into(),
            sub: did.into(),
            aud: self.service_did.to_owned(),
            iat: now,
            exp: now + ACCESS_TTL,
            jti: None,
        };
        let refresh = SessionClaims {
            scope: Scope::Refresh.as_str().into(),
            sub: did.into(),
            aud: self.service_did.to_owned(),
            iat: now,
            exp: refresh_exp,
            jti: Some(refresh_id.into()),
        };
        Tokens {
            access: mint_session(self.jwt_key, TokenKind::Access, &access),
            refresh: mint_session(self.jwt_key, TokenKind::Refresh, &refresh),
        }
    }

    /// Starts a session: stores a refresh token and mints both tokens.
    pub async fn create(
        &self,
        account: i64,
        did: &str,
        app_password: Option<(String, bool)>,
    ) -> Result<Tokens, SessionError> {
        let id = new_id();
        let exp = self.clock.now_secs() + REFRESH_TTL;
        let name = app_password.as_ref().map(|(n, _)| n.clone());
        let row_id = id.clone();
        self.writer
            .run(move |txn: &mut WriteTxn<'_>| {
                store::insert_refresh_token(txn.conn, &row_id, account, name.as_deref(), exp)
            })
            .await?;
        Ok(self.mint(did, scope_for(app_password.as_ref()), &id, exp))
    }

    /// Rotates a refresh token: the old one points at its successor and expires soon.
    pub async fn refresh(
        &self,
        account: i64,
        did: &str,
        jti: &str,
    ) -> Result<Tokens, SessionError> {
        let jti = jti.to_owned();
        let clock = self.clock;
        let (id, exp, app_password) = self
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let now = clock.now_secs();
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
        Ok(self.mint(did, scope_for(app_password.as_ref()), &id, exp))
    }

    /// Ends a session by revoking its refresh token (and any successor it was rotated to).
    pub async fn revoke(&self, jti: &str) -> Result<(), SessionError> {
        let jti = jti.to_owned();
        self.writer
            .run(move |txn: &mut WriteTxn<'_>| store::delete_refresh_token(txn.conn, &jti))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::store::{NewAccount, insert};
    use crate::auth::decode_session;
    use crate::db::{CONNECTIONS, Db, open};

    const DID: &str = "did:plc:sessiontest";
    const SERVICE: &str = "did:web:pds.test";
    const KEY: [u8; 32] = [9; 32];
    /// 2023-11-14T22:13:20Z, in microseconds.
    const NOW: i64 = 1_700_000_000_000_000;
    const NOW_SECS: i64 = NOW / 1_000_000;

    fn account(db: &Db) -> i64 {
        db.writer
            .run_blocking(|txn: &mut WriteTxn<'_>| {
                insert(
                    txn.conn,
                    &NewAccount {
                        did: DID,
                        handle: "session.test",
                        email: None,
                        password_hash: "x",
                        signing_key: &[1; 32],
                        created_at: "2023-11-14T22:13:20.000Z",
                        invite_code: None,
                    },
                )
            })
            .expect("account")
    }

    #[tokio::test]
    async fn tokens_are_dated_by_the_clock_and_a_retried_refresh_gets_the_same_successor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = open(&dir.path().join("pds.sqlite"), CONNECTIONS).expect("database");
        let id = account(&db);
        let sessions = Sessions {
            writer: &db.writer,
            jwt_key: &KEY,
            service_did: SERVICE,
            clock: Clock::Fixed(NOW),
        };
        let tokens = sessions.create(id, DID, None).await.expect("session");
        let access = decode_session(&KEY, TokenKind::Access, &tokens.access, NOW_SECS)
            .expect("access token");
        assert_eq!(
            (
                access.sub.as_str(),
                access.aud.as_str(),
                access.iat,
                access.exp
            ),
            (DID, SERVICE, NOW_SECS, NOW_SECS + ACCESS_TTL)
        );
        assert_eq!(access.scope, Scope::Full.as_str());
        let refresh = decode_session(&KEY, TokenKind::Refresh, &tokens.refresh, NOW_SECS)
            .expect("refresh token");
        assert_eq!(refresh.exp, NOW_SECS + REFRESH_TTL);
        let jti = refresh.jti.expect("refresh token id");

        let next = |t: Tokens| {
            decode_session(&KEY, TokenKind::Refresh, &t.refresh, NOW_SECS)
                .expect("rotated refresh token")
                .jti
                .expect("its id")
        };
        let first = next(sessions.refresh(id, DID, &jti).await.expect("refresh"));
        assert_ne!(first, jti, "a refresh rotates the token");
        let retried = next(
            sessions
                .refresh(id, DID, &jti)
                .await
                .expect("retried refresh"),
        );
        assert_eq!(
            retried, first,
            "a retried refresh hands out the same successor"
        );

        sessions.revoke(&jti).await.expect("revoke");
        assert!(matches!(
            sessions.refresh(id, DID, &first).await,
            Err(SessionError::Revoked)
        ));
    }
}
