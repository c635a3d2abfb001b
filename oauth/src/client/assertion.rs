//! `private_key_jwt` client authentication (RFC 7523): a confidential client proves who it is
//! to the authorization server with a short JWT signed by a key its JWKS publishes.

use super::jws;
use atproto::crypto::Keypair;
use serde_json::json;

pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is good for: it is made for one request.
const LIFETIME_SECS: i64 = 60;

/// A client assertion for a request to the authorization server `issuer`.
pub fn client_assertion(
    client_id: &str,
    issuer: &str,
    key: &Keypair,
    kid: &str,
    now: i64,
) -> Option<String> {
    jws::public_jwk(key)?;
    let header = json!({ "alg": "ES256", "kid": kid });
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": issuer,
        "jti": super::random_token(),
        "iat": now,
        "exp": now + LIFETIME_SECS,
    });
    Some(jws::sign(&header, &claims, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atproto::crypto::Algorithm;

    #[test]
    fn assertion_names_client_and_audience() {
        let key = Keypair::generate(Algorithm::P256);
        let a = client_assertion(
            "https://app.example/oauth/client-metadata.json",
            "https://auth.example",
            &key,
            "k1",
            50,
        )
        .unwrap();
        let (h, c) = jws::tests::open(&a, &key);
        assert_eq!(h["kid"], "k1");
        assert_eq!(h["alg"], "ES256");
        assert_eq!(c["iss"], "https://app.example/oauth/client-metadata.json");
        assert_eq!(c["sub"], c["iss"]);
        assert_eq!(c["aud"], "https://auth.example");
        assert_eq!(c["exp"], 110);
        assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 32));
    }
}
