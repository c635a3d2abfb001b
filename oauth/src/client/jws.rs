//! The two JWTs the client signs, over the crate's JWS encoding and JWKs: DPoP proofs
//! ([`crate::dpop::sign`]) and client assertions. The client's keys are P-256 (ES256), the one
//! algorithm every atproto authorization server accepts.

use crate::dpop::{self, ProofRequest};
use crate::jwk::Jwk;
use atproto::crypto::{Algorithm, Keypair};

/// Signs `header.claims` with `key`.
pub(crate) fn sign<H: serde::Serialize, C: serde::Serialize>(
    header: &H,
    claims: &C,
    key: &Keypair,
) -> String {
    crate::jws::encode(header, claims, |m| key.sign(m).to_vec())
}

/// The public half of a P-256 key as a JWK; `None` for another curve.
pub fn public_jwk(key: &Keypair) -> Option<Jwk> {
    (key.algorithm() == Algorithm::P256).then(|| Jwk::from_public(&key.public()))
}

/// A DPoP proof for one request, made with a P-256 key; `None` for another curve.
pub fn dpop_proof(
    key: &Keypair,
    htm: &str,
    htu: &str,
    nonce: Option<&str>,
    access_token: Option<&str>,
    now: i64,
) -> Option<String> {
    public_jwk(key)?;
    Some(dpop::sign(
        key,
        &ProofRequest {
            htm,
            htu,
            now,
            nonce,
            access_token,
        },
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::jws::Compact;
    use serde_json::Value;

    /// The header and claims of a compact JWS, checked against `key`.
    pub(crate) fn open(jwt: &str, key: &Keypair) -> (Value, Value) {
        let c = Compact::parse(jwt).expect("a compact JWS");
        c.verify_ecdsa(&key.public()).expect("signature verifies");
        (c.header().unwrap(), c.payload().unwrap())
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
        assert_eq!(h["jwk"]["x"], public_jwk(&key).unwrap().x);
        assert!(h["jwk"].get("d").is_none(), "no private part");
        assert_eq!(c["htu"], "https://pds.example/xrpc/x");
        assert_eq!(c["nonce"], "n1");
        assert_eq!(c["ath"], dpop::access_token_hash("tok"));
    }

    #[test]
    fn only_p256_keys_make_proofs() {
        let k = Keypair::generate(Algorithm::K256);
        assert!(dpop_proof(&k, "GET", "https://x.example/", None, None, 0).is_none());
        assert!(public_jwk(&k).is_none());
    }
}
