//! Compact ES256 JWS, the one signature the client makes: DPoP proofs and client assertions.

use atproto::crypto::{Keypair, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// `header.claims.signature`, signed with `key` (a P-256 key: ES256).
pub(crate) fn sign(header: &Value, claims: &Value, key: &Keypair) -> String {
    let mut out = URL_SAFE_NO_PAD.encode(header.to_string());
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig));
    out
}

/// The public half of a P-256 key as a JWK (`kty`, `crv`, `x`, `y`); `None` for another curve.
pub fn public_jwk(key: &Keypair) -> Option<Value> {
    let PublicKey::P256(pk) = key.public() else {
        return None;
    };
    let point = pk.to_encoded_point(false);
    Some(json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(point.x()?),
        "y": URL_SAFE_NO_PAD.encode(point.y()?),
    }))
}

/// A DPoP proof (RFC 9449) for one request: `htu` is the URL without query or fragment, `ath`
/// binds it to an access token when one is sent, `nonce` is the server's latest.
pub fn dpop_proof(
    key: &Keypair,
    htm: &str,
    htu: &str,
    nonce: Option<&str>,
    access_token: Option<&str>,
    now: i64,
) -> Option<String> {
    let htu = htu.split(['?', '#']).next().unwrap_or(htu);
    let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)? });
    let mut claims = json!({ "jti": super::random_token(), "htm": htm, "htu": htu, "iat": now });
    if let Some(n) = nonce {
        claims["nonce"] = n.into();
    }
    if let Some(t) = access_token {
        claims["ath"] = URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes())).into();
    }
    Some(sign(&header, &claims, key))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use atproto::crypto::Algorithm;

    /// The parts of a compact JWS, checked against `key`.
    pub(crate) fn open(jwt: &str, key: &Keypair) -> (Value, Value) {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        key.public()
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("signature verifies");
        let dec = |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
        (dec(parts[0]), dec(parts[1]))
    }

    #[test]
    fn dpop_proof_carries_key_request_nonce_and_token_hash() {
        let key = Keypair::generate(Algorithm::P256);
        let proof = dpop_proof(
            &key,
            "POST",
            "https://pds.example/xrpc/x?y=1#f",
            Some("n1"),
            Some("tok"),
            1000,
        )
        .unwrap();
        let (h, c) = open(&proof, &key);
        assert_eq!(h["typ"], "dpop+jwt");
        assert_eq!(h["alg"], "ES256");
        assert_eq!(h["jwk"], public_jwk(&key).unwrap());
        assert!(h["jwk"].get("d").is_none(), "no private part");
        assert_eq!(c["htm"], "POST");
        assert_eq!(c["htu"], "https://pds.example/xrpc/x");
        assert_eq!(c["nonce"], "n1");
        assert_eq!(c["iat"], 1000);
        assert_eq!(c["ath"], URL_SAFE_NO_PAD.encode(Sha256::digest(b"tok")));
        let again =
            dpop_proof(&key, "POST", "https://pds.example/xrpc/x", None, None, 1000).unwrap();
        let (_, c2) = open(&again, &key);
        assert_ne!(c["jti"], c2["jti"], "a fresh jti per proof");
        assert!(c2.get("nonce").is_none() && c2.get("ath").is_none());
    }

    #[test]
    fn only_p256_keys_make_proofs() {
        let k = Keypair::generate(Algorithm::K256);
        assert!(dpop_proof(&k, "GET", "https://x.example/", None, None, 0).is_none());
    }
}
