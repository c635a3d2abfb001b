//! Client authentication at PAR and the token endpoint: public clients name themselves;
//! confidential clients (`private_key_jwt`) sign an assertion (RFC 7523) with a key of their
//! JWK Set, and each assertion is used once.

use super::client_resolver::ClientResolver;
use super::error::OAuthError;
use super::replay::Replay;
use hearth_oauth::client_metadata::{ClientMetadata, JWT_BEARER};
use hearth_oauth::jwk::Jwk;
use hearth_oauth::jws::Compact;
use serde::Deserialize;

/// How old an assertion may be.
const MAX_AGE: i64 = 60;
/// Clock skew allowed for `iat` in the future.
const SKEW: i64 = 10;

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    jti: String,
    iat: i64,
    #[serde(default)]
    exp: Option<i64>,
}

/// The assertion a request carries, if any.
pub struct Assertion<'a> {
    pub assertion_type: Option<&'a str>,
    pub assertion: Option<&'a str>,
}

/// Authenticates the client: public clients may not send an assertion, confidential ones
/// must, signed for `issuer`.
pub async fn authenticate(
    clients: &ClientResolver,
    replay: &Replay,
    client: &ClientMetadata,
    given: Assertion<'_>,
    issuer: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let invalid = |m: &str| OAuthError::InvalidClient(m.to_owned());
    if !client.is_confidential() {
        if given.assertion.is_some() {
            return Err(invalid("This client is public: it sends no assertion"));
        }
        return Ok(());
    }
    if given.assertion_type != Some(JWT_BEARER) {
        return Err(invalid("client_assertion_type must be jwt-bearer"));
    }
    let token = given
        .assertion
        .ok_or_else(|| invalid("A client assertion is required"))?;
    let c = Compact::parse(token).map_err(|_| invalid("Malformed client assertion"))?;
    let header: Header = c
        .header()
        .map_err(|_| invalid("Malformed client assertion"))?;
    if Some(header.alg.as_str()) != client.token_endpoint_auth_signing_alg.as_deref() {
        return Err(invalid("Client assertion algorithm is not the client's"));
    }
    let set = clients.jwks(client).await?;
    let keys = set
        .get("keys")
        .and_then(|k| k.as_array())
        .cloned()
        .unwrap_or_default();
    let verified = keys
        .iter()
        .filter_map(|k| Jwk::from_json(k).ok())
        .filter(|k| header.kid.is_none() || k.kid == header.kid)
        .filter_map(|k| k.public_key().ok())
        .any(|key| key.algorithm().jwt_name() == header.alg && c.verify_ecdsa(&key).is_ok());
    if !verified {
        if let Some(uri) = &client.jwks_uri {
            clients.forget_jwks(uri);
        }
        return Err(invalid(
            "Client assertion signature is not by the client's keys",
        ));
    }
    let claims: Claims = c
        .payload()
        .map_err(|_| invalid("Malformed client assertion"))?;
    if claims.iss != client.client_id || claims.sub != client.client_id {
        return Err(invalid("Client assertion is for another client"));
    }
    let aud_ok = match &claims.aud {
        serde_json::Value::String(a) => a == issuer || a.starts_with(&format!("{issuer}/oauth/")),
        serde_json::Value::Array(a) => a.iter().any(|v| v.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid("Client assertion is for another server"));
    }
    if claims.iat > now + SKEW || claims.iat < now - MAX_AGE || claims.exp.is_some_and(|e| e <= now)
    {
        return Err(invalid("Client assertion is too old or from the future"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(invalid("Client assertion has no usable jti"));
    }
    if !replay.first_use(&client.client_id, &claims.jti, now + MAX_AGE + SKEW, now) {
        return Err(invalid("Client assertion was already used"));
    }
    Ok(())
}
