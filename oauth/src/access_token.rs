//! OAuth access tokens: JWTs the PDS issues and verifies itself, HS256 with its JWT secret,
//! header `typ: at+jwt`, bound to the client's DPoP key by `cnf.jkt`. Verification runs on every
//! resource request, so it is one HMAC and one small JSON parse; whether the grant behind the
//! token (`jti`) is still live is the caller's lookup.
//!
//! Legacy session tokens share the secret, the algorithm and the `typ`, so the two are told
//! apart by their claims: an OAuth token always has `client_id` and `cnf`, a legacy one never.

use crate::jws::{self, Compact, JwsError};
use serde::{Deserialize, Serialize};

/// The key confirmation: the RFC 7638 thumbprint of the DPoP key the token is bound to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Cnf {
    pub jkt: String,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The authorization server (the PDS's public URL).
    pub iss: String,
    /// The account's DID.
    pub sub: String,
    /// The resource server: the PDS's DID.
    pub aud: String,
    pub client_id: String,
    /// Space-separated granted scopes.
    pub scope: String,
    pub cnf: Cnf,
    pub iat: i64,
    pub exp: i64,
    /// The token id; the grant store says whether it is still live.
    pub jti: String,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

const ALG: &str = "HS256";
const TYP: &str = "at+jwt";

/// Why an access token was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(JwsError),
    #[error("token is not an HS256 at+jwt")]
    WrongType,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token is not an OAuth access token")]
    NotOAuth,
    #[error("token has expired")]
    Expired,
    #[error("token is not for this server")]
    WrongAudience,
}

/// Signs `claims` with the server's JWT secret.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let header = Header {
        alg: ALG.into(),
        typ: TYP.into(),
    };
    jws::encode(&header, claims, |m| jws::hs256(secret, m).to_vec())
}

/// What the resource server requires of a token besides its signature.
#[derive(Debug, Clone, Copy)]
pub struct Expectation<'a> {
    /// The PDS's issuer URL.
    pub iss: &'a str,
    /// The PDS's DID.
    pub aud: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// Checks the signature, type, audience, issuer and expiry; returns the claims.
pub fn verify(secret: &[u8], token: &str, expect: &Expectation<'_>) -> Result<Claims, TokenError> {
    let c = Compact::parse(token).map_err(TokenError::Malformed)?;
    let mac = jws::hs256(secret, c.signing_input.as_bytes());
    if c.signature.len() != mac.len()
        || c.signature
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
    {
        return Err(TokenError::BadSignature);
    }
    let header: Header = c.header().map_err(TokenError::Malformed)?;
    if header.alg != ALG || header.typ != TYP {
        return Err(TokenError::WrongType);
    }
    // Signed by us, so a payload that is not these claims is a legacy session token.
    let claims: Claims = c.payload().map_err(|_| TokenError::NotOAuth)?;
    if claims.exp <= expect.now {
        return Err(TokenError::Expired);
    }
    if claims.aud != expect.aud || claims.iss != expect.iss {
        return Err(TokenError::WrongAudience);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            iss: "https://pds.example".into(),
            sub: "did:plc:alice".into(),
            aud: "did:web:pds.example".into(),
            client_id: "https://app.example/client-metadata.json".into(),
            scope: "atproto transition:generic".into(),
            cnf: Cnf { jkt: "abc".into() },
            iat: 100,
            exp: 200,
            jti: "tok1".into(),
        }
    }

    const EXPECT: Expectation<'static> = Expectation {
        iss: "https://pds.example",
        aud: "did:web:pds.example",
        now: 150,
    };

    #[test]
    fn round_trip_and_refusals() {
        let key = [7u8; 32];
        let t = sign(&key, &claims());
        assert_eq!(verify(&key, &t, &EXPECT), Ok(claims()));
        assert!(
            t.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9."),
            "header is {{alg: HS256, typ: at+jwt}}"
        );
        assert_eq!(
            verify(&[8u8; 32], &t, &EXPECT),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify(&key, &t, &Expectation { now: 200, ..EXPECT }),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(
                &key,
                &t,
                &Expectation {
                    aud: "did:web:other.example",
                    ..EXPECT
                }
            ),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(
            verify(
                &key,
                &t,
                &Expectation {
                    iss: "https://other.example",
                    ..EXPECT
                }
            ),
            Err(TokenError::WrongAudience)
        );
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = parts[1].replace('a', "b");
        assert_eq!(
            verify(&key, &parts.join("."), &EXPECT),
            Err(TokenError::BadSignature)
        );
    }

    /// A legacy session token, same secret and header, is not an OAuth token.
    #[test]
    fn legacy_session_token_refused() {
        let key = [7u8; 32];
        let legacy = jws::encode(
            &Header {
                alg: ALG.into(),
                typ: TYP.into(),
            },
            &serde_json::json!({"scope": "com.atproto.access", "sub": "did:plc:alice",
                "aud": "did:web:pds.example", "iat": 100, "exp": 200}),
            |m| jws::hs256(&key, m).to_vec(),
        );
        assert_eq!(verify(&key, &legacy, &EXPECT), Err(TokenError::NotOAuth));
        let refresh = jws::encode(
            &Header {
                alg: ALG.into(),
                typ: "refresh+jwt".into(),
            },
            &claims(),
            |m| jws::hs256(&key, m).to_vec(),
        );
        assert_eq!(verify(&key, &refresh, &EXPECT), Err(TokenError::WrongType));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_are_refused(
            parts in proptest::collection::vec("[A-Za-z0-9_-]{0,60}|\\PC{0,8}", 0..5),
        ) {
            proptest::prop_assert!(verify(&[7u8; 32], &parts.join("."), &EXPECT).is_err());
        }
    }
}
