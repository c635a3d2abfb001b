//! The token endpoint's grants: an authorization code (PKCE, redirect URI and DPoP key as at
//! PAR; a code presented twice revokes what it gave) and a refresh token (rotated on every
//! use; a spent one presented again, or one with another key, revokes the whole grant).

use super::authorize::secret_hash;
use super::error::OAuthError;
use super::par::{self, AuthParams};
use super::store::{self, Grant};
use crate::clock::Clock;
use crate::db::{DbError, WriteTxn, Writer};
use hearth_oauth::access_token::{self, Claims, Cnf};
use hearth_oauth::client_metadata::ClientMetadata;
use hearth_oauth::pkce;
use serde::Serialize;

/// Access tokens are short: revocation takes effect at the grant lookup anyway, but a stolen
/// token is worth little for long.
pub const ACCESS_TTL: i64 = 30 * 60;
/// Public clients: a refresh token lives two weeks and so does the whole session, as the
/// atproto profile allows them at most.
pub const PUBLIC_SESSION: i64 = 14 * 24 * 3600;
pub const PUBLIC_REFRESH: i64 = 14 * 24 * 3600;
/// Confidential clients: three months per refresh token, two years per session.
pub const CONFIDENTIAL_SESSION: i64 = 2 * 365 * 24 * 3600;
pub const CONFIDENTIAL_REFRESH: i64 = 90 * 24 * 3600;

/// The token response (RFC 6749 §5.1 with the atproto profile's `sub`).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
    pub sub: String,
}

/// What minting tokens needs of the server.
pub struct Minter<'a> {
    pub writer: &'a Writer,
    pub jwt_key: &'a [u8; 32],
    pub issuer: &'a str,
    pub service_did: &'a str,
    pub clock: Clock,
}

fn invalid_grant(m: &str) -> OAuthError {
    OAuthError::InvalidGrant(m.to_owned())
}

/// Why a grant step failed inside the write job, with what to revoke on the way out.
enum Refused {
    Plain(OAuthError),
    /// Revoke this grant (in the same transaction), then refuse.
    Revoke(String, OAuthError),
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Self {
        Refused::Plain(OAuthError::Db(e))
    }
}

/// The code exchange's input.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub dpop_jkt: &'a str,
}

impl Minter<'_> {
    fn mint(&self, grant: &Grant, did: &str, now: i64) -> String {
        let claims = Claims {
            iss: self.issuer.to_owned(),
            sub: did.to_owned(),
            aud: self.service_did.to_owned(),
            client_id: grant.client_id.clone(),
            scope: grant.scope.clone(),
            cnf: Cnf {
                jkt: grant.dpop_jkt.clone(),
            },
            iat: now,
            exp: now + ACCESS_TTL,
            jti: format!("{}.{}", grant.id, &par::random_id()[..12]),
        };
        access_token::sign(self.jwt_key, &claims)
    }

    /// Runs a grant step in one write transaction; a refusal that revokes commits the
    /// revocation and still refuses.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> Result<T, Refused> + Send + 'static,
    ) -> Result<T, OAuthError> {
        self.writer
            .run(move |txn: &mut WriteTxn<'_>| {
                Ok::<_, DbError>(match f(txn.conn) {
                    Ok(v) => Ok(v),
                    Err(Refused::Plain(e)) => Err(e),
                    Err(Refused::Revoke(grant, e)) => {
                        store::delete_grant(txn.conn, &grant)?;
                        tracing::warn!(grant = %grant, "OAuth grant revoked: {e}");
                        Err(e)
                    }
                })
            })
            .await?
    }

    /// `grant_type=authorization_code`.
    pub async fn exchange_code(
        &self,
        client: &ClientMetadata,
        input: CodeExchange<'_>,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.clock.now_secs();
        let code_hash = secret_hash(input.code);
        let client_id = client.client_id.clone();
        let client_name = client.client_name.clone();
        let confidential = client.is_confidential();
        let (redirect_uri, verifier, jkt) = (
            input.redirect_uri.map(str::to_owned),
            input.code_verifier.map(str::to_owned),
            input.dpop_jkt.to_owned(),
        );
        let refresh = format!("ref-{}", par::random_id());
        let refresh_hash = secret_hash(&refresh);
        let grant_id = format!("grt-{}", &par::random_id()[..22]);
        let (grant, did) = self
            .run(move |c| {
                let Some(req) = store::request_by_code(c, &code_hash)? else {
                    return Err(Refused::Plain(invalid_grant("Unknown authorization code")));
                };
                if let Some(spent) = req.grant_id {
                    store::delete_request(c, &req.id)?;
                    return Err(Refused::Revoke(
                        spent,
                        invalid_grant("Authorization code was already used"),
                    ));
                }
                if req.expires_at <= now {
                    return Err(Refused::Plain(invalid_grant(
                        "Authorization code has expired",
                    )));
                }
                if req.client_id != client_id {
                    return Err(Refused::Plain(invalid_grant(
                        "Authorization code was issued to another client",
                    )));
                }
                let params: AuthParams = serde_json::from_str(&req.params)
                    .map_err(|_| Refused::Plain(invalid_grant("Corrupt request")))?;
                if redirect_uri.as_deref() != Some(params.redirect_uri.as_str()) {
                    return Err(Refused::Plain(invalid_grant(
                        "redirect_uri differs from the authorization request's",
                    )));
                }
                let Some(verifier) = verifier else {
                    return Err(Refused::Plain(invalid_grant("code_verifier is required")));
                };
                if !pkce::verify_s256(&params.code_challenge, &verifier) {
                    return Err(Refused::Plain(invalid_grant(
                        "code_verifier does not match",
                    )));
                }
                if req.dpop_jkt != jkt {
                    return Err(Refused::Plain(OAuthError::InvalidDpopProof(
                        "DPoP key differs from the one the request was pushed with".into(),
                    )));
                }
                let account = req
                    .account
                    .ok_or_else(|| Refused::Plain(invalid_grant("Request was not approved")))?;
                let did = crate::accounts::store::by_id(c, account)?
                    .filter(|a| a.status == crate::accounts::AccountStatus::Active)
                    .map(|a| a.did)
                    .ok_or_else(|| Refused::Plain(invalid_grant("Account is not active")))?;
                let (session, refresh_ttl) = if confidential {
                    (CONFIDENTIAL_SESSION, CONFIDENTIAL_REFRESH)
                } else {
                    (PUBLIC_SESSION, PUBLIC_REFRESH)
                };
                let grant = Grant {
                    id: grant_id,
                    account,
                    client_id,
                    client_name,
                    scope: params.scope,
                    dpop_jkt: jkt,
                    confidential,
                    created_at: now,
                    refreshed_at: now,
                    expires_at: now + session,
                    refresh_expires_at: (now + refresh_ttl).min(now + session),
                };
                store::insert_grant(c, &grant, &refresh_hash)?;
                store::set_request_grant(c, &req.id, &grant.id)?;
                Ok((grant, did))
            })
            .await?;
        Ok(self.respond(&grant, &did, refresh, now))
    }

    /// `grant_type=refresh_token`.
    pub async fn refresh(
        &self,
        client: &ClientMetadata,
        refresh_token: &str,
        dpop_jkt: &str,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.clock.now_secs();
        let old = secret_hash(refresh_token);
        let client_id = client.client_id.clone();
        let jkt = dpop_jkt.to_owned();
        let next = format!("ref-{}", par::random_id());
        let next_hash = secret_hash(&next);
        let (grant, did) = self
            .run(move |c| {
                let Some(mut grant) = store::grant_by_refresh(c, &old)? else {
                    if let Some(spent) = store::spent_refresh_grant(c, &old)? {
                        return Err(Refused::Revoke(
                            spent,
                            invalid_grant("Refresh token was already used"),
                        ));
                    }
                    return Err(Refused::Plain(invalid_grant("Unknown refresh token")));
                };
                if grant.client_id != client_id {
                    return Err(Refused::Plain(invalid_grant(
                        "Refresh token was issued to another client",
                    )));
                }
                if grant.dpop_jkt != jkt {
                    return Err(Refused::Revoke(
                        grant.id,
                        invalid_grant("Refresh token used with another DPoP key"),
                    ));
                }
                if grant.expires_at <= now || grant.refresh_expires_at <= now {
                    return Err(Refused::Plain(invalid_grant("Refresh token has expired")));
                }
                let did = crate::accounts::store::by_id(c, grant.account)?
                    .filter(|a| a.status == crate::accounts::AccountStatus::Active)
                    .map(|a| a.did)
                    .ok_or_else(|| Refused::Plain(invalid_grant("Account is not active")))?;
                let ttl = if grant.confidential {
                    CONFIDENTIAL_REFRESH
                } else {
                    PUBLIC_REFRESH
                };
                let refresh_exp = (now + ttl).min(grant.expires_at);
                store::rotate_refresh(c, &grant.id, &old, &next_hash, now, refresh_exp)?;
                grant.refreshed_at = now;
                grant.refresh_expires_at = refresh_exp;
                Ok((grant, did))
            })
            .await?;
        Ok(self.respond(&grant, &did, next, now))
    }

    fn respond(&self, grant: &Grant, did: &str, refresh: String, now: i64) -> TokenResponse {
        TokenResponse {
            access_token: self.mint(grant, did, now),
            token_type: "DPoP",
            expires_in: ACCESS_TTL,
            refresh_token: refresh,
            scope: grant.scope.clone(),
            sub: did.to_owned(),
        }
    }

    /// Revokes the grant a refresh or access token belongs to (RFC 7009: unknown tokens are
    /// not an error).
    pub async fn revoke(&self, token: &str) -> Result<(), OAuthError> {
        let hash = secret_hash(token);
        let by_access = access_token::verify(
            self.jwt_key,
            token,
            &access_token::Expectation {
                iss: self.issuer,
                aud: self.service_did,
                now: self.clock.now_secs(),
            },
        )
        .ok()
        .map(|c| grant_of_jti(&c.jti).to_owned());
        self.writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let c = txn.conn;
                let grant = match by_access {
                    Some(g) => Some(g),
                    None => match store::grant_by_refresh(c, &hash)? {
                        Some(g) => Some(g.id),
                        None => store::spent_refresh_grant(c, &hash)?,
                    },
                };
                if let Some(g) = grant {
                    store::delete_grant(c, &g)?;
                }
                Ok::<_, DbError>(())
            })
            .await?;
        Ok(())
    }
}

/// The grant an access token's `jti` belongs to (`<grant id>.<token id>`).
pub fn grant_of_jti(jti: &str) -> &str {
    jti.split_once('.').map_or(jti, |(g, _)| g)
}
