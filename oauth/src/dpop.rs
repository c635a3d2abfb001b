//! DPoP proofs (RFC 9449): a JWT the client signs with its own key for each request, naming the
//! method and URL, so a stolen token is useless without the key. [`verify`] checks one proof
//! against the request it came with and returns the key's thumbprint (compared with the
//! token's `cnf.jkt`, or bound to the tokens being issued) and the proof's `jti` (the caller
//! refuses a `jti` it has seen, for [`Proof::replay_until`]). [`sign`] makes one (tests, and a
//! client).

use crate::jwk::{Jwk, JwkError};
use crate::jws::{self, Compact, JwsError};
use crate::nonce::Nonces;
use atproto::crypto::{Algorithm, Keypair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How old a proof may be, in seconds: a proof is made for one request and sent at once.
pub const MAX_AGE_SECS: i64 = 60;
/// How far ahead of the server's clock a client's may run, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 10;
/// The longest `jti` accepted: proof ids go into a replay cache, so their size is bounded.
pub const MAX_JTI_LEN: usize = atproto::auth::MAX_JTI_LEN;

const TYP: &str = "dpop+jwt";

/// Why a proof was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DpopError {
    #[error("malformed DPoP proof: {0}")]
    Malformed(JwsError),
    #[error("DPoP proof typ must be dpop+jwt")]
    WrongType,
    #[error("DPoP proof alg {0:?} is not ES256 or ES256K")]
    UnsupportedAlg(String),
    #[error("DPoP proof key: {0}")]
    BadKey(JwkError),
    #[error("DPoP proof alg does not match its key's curve")]
    AlgKeyMismatch,
    #[error("DPoP proof signature is invalid")]
    BadSignature,
    #[error("DPoP proof is for another HTTP method")]
    WrongMethod,
    #[error("DPoP proof is for another URL")]
    WrongUrl,
    #[error("DPoP proof is too old or from the future")]
    BadIat,
    #[error("DPoP proof has no usable jti")]
    BadJti,
    #[error("DPoP proof has no nonce")]
    MissingNonce,
    #[error("DPoP nonce is stale or unknown")]
    BadNonce,
    #[error("DPoP proof has no ath for the access token")]
    MissingAth,
    #[error("DPoP proof ath does not match the access token")]
    WrongAth,
}

impl DpopError {
    /// The OAuth error code (RFC 9449): `use_dpop_nonce` asks the client to retry with the
    /// nonce sent alongside, anything else is `invalid_dpop_proof`.
    pub fn oauth_error(&self) -> &'static str {
        match self {
            DpopError::MissingNonce | DpopError::BadNonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    typ: String,
    alg: String,
    jwk: serde_json::Value,
}

/// The claims of a proof.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofClaims {
    pub jti: String,
    pub htm: String,
    pub htu: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
}

/// What the request a proof came with was.
#[derive(Debug, Clone, Copy)]
pub struct Expectation<'a> {
    /// The request's method (`GET`, `POST`).
    pub htm: &'a str,
    /// The request's URL as the client addressed it (query and fragment are ignored).
    pub htu: &'a str,
    /// Unix seconds.
    pub now: i64,
    /// When set, the proof must carry one of these nonces.
    pub nonces: Option<&'a Nonces>,
    /// The access token sent with the proof, whose hash the proof must carry (`ath`).
    pub access_token: Option<&'a str>,
}

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    /// The proof's id, for the replay cache.
    pub jti: String,
    /// Until when (unix seconds) this proof would be accepted, so how long its `jti` must be
    /// remembered.
    pub replay_until: i64,
    /// The key itself (the token endpoint binds it).
    pub jwk: Jwk,
}

/// Checks a proof (the `DPoP` header's value) against its request.
pub fn verify(proof: &str, expect: &Expectation<'_>) -> Result<Proof, DpopError> {
    let c = Compact::parse(proof).map_err(DpopError::Malformed)?;
    let header: Header = c.header().map_err(DpopError::Malformed)?;
    if header.typ != TYP {
        return Err(DpopError::WrongType);
    }
    let alg = Algorithm::from_jwt_name(&header.alg)
        .ok_or_else(|| DpopError::UnsupportedAlg(header.alg.clone()))?;
    let jwk = Jwk::from_json(&header.jwk).map_err(DpopError::BadKey)?;
    let key = jwk.public_key().map_err(DpopError::BadKey)?;
    if key.algorithm() != alg {
        return Err(DpopError::AlgKeyMismatch);
    }
    // Every check on the claims costs less than the signature's: a proof for another request,
    // stale, or without the current nonce is refused before the ECDSA verification (the
    // answer is the same, as nothing in it depends on who signed).
    let claims: ProofClaims = c.payload().map_err(DpopError::Malformed)?;
    if claims.htm != expect.htm {
        return Err(DpopError::WrongMethod);
    }
    if !same_url(&claims.htu, expect.htu) {
        return Err(DpopError::WrongUrl);
    }
    if claims.iat < expect.now - MAX_AGE_SECS || claims.iat > expect.now + CLOCK_SKEW_SECS {
        return Err(DpopError::BadIat);
    }
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_LEN {
        return Err(DpopError::BadJti);
    }
    if let Some(nonces) = expect.nonces {
        let n = claims.nonce.as_deref().ok_or(DpopError::MissingNonce)?;
        if !nonces.is_valid(n, expect.now) {
            return Err(DpopError::BadNonce);
        }
    }
    if let Some(token) = expect.access_token {
        let ath = claims.ath.as_deref().ok_or(DpopError::MissingAth)?;
        if ath != access_token_hash(token) {
            return Err(DpopError::WrongAth);
        }
    }
    c.verify_ecdsa(&key).map_err(|_| DpopError::BadSignature)?;
    Ok(Proof {
        jkt: jwk.thumbprint(),
        jti: claims.jti,
        replay_until: claims.iat + MAX_AGE_SECS + CLOCK_SKEW_SECS,
        jwk,
    })
}

/// `ath`: base64url(SHA-256(access token)).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A URL as RFC 9449 compares `htu`: without query and fragment, scheme and host lowercased,
/// default port dropped, empty path as `/` (what WHATWG URL parsing yields). `None` when it is
/// not an absolute http(s) URL.
pub fn normalize_htu(u: &str) -> Option<String> {
    let mut url = url::Url::parse(u).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    Some(url.into())
}

fn same_url(proof: &str, request: &str) -> bool {
    match (normalize_htu(proof), normalize_htu(request)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// What a new proof is for.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    pub htm: &'a str,
    pub htu: &'a str,
    pub now: i64,
    /// The server's latest `DPoP-Nonce`, if it sent one.
    pub nonce: Option<&'a str>,
    /// The access token the request carries (resource requests).
    pub access_token: Option<&'a str>,
}

/// Signs a proof with `key` (a fresh random `jti`; query and fragment dropped from `htu`).
pub fn sign(key: &Keypair, req: &ProofRequest<'_>) -> String {
    let header = Header {
        typ: TYP.into(),
        alg: key.algorithm().jwt_name().into(),
        jwk: serde_json::to_value(Jwk::from_public(&key.public())).unwrap_or_default(),
    };
    let jti: [u8; 16] = rand::random();
    let claims = ProofClaims {
        jti: URL_SAFE_NO_PAD.encode(jti),
        htm: req.htm.into(),
        htu: normalize_htu(req.htu).unwrap_or_else(|| req.htu.into()),
        iat: req.now,
        nonce: req.nonce.map(Into::into),
        ath: req.access_token.map(access_token_hash),
    };
    jws::encode(&header, &claims, |m| key.sign(m).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://pds.example/xrpc/com.atproto.repo.createRecord";

    fn expect(now: i64) -> Expectation<'static> {
        Expectation {
            htm: "POST",
            htu: URL,
            now,
            nonces: None,
            access_token: None,
        }
    }

    fn request(now: i64) -> ProofRequest<'static> {
        ProofRequest {
            htm: "POST",
            htu: URL,
            now,
            nonce: None,
            access_token: None,
        }
    }

    /// RFC 9449 section 4.2's example proof: a P-256 key, a signature made by another
    /// implementation (not necessarily low-S), verified against the RFC's own request.
    #[test]
    fn rfc9449_example_proof() {
        let proof = concat!(
            "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6Ik",
            "VDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCR",
            "nMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JE",
            "QSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIj",
            "oiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwia",
            "WF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg",
            "4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
        );
        let e = Expectation {
            htm: "POST",
            htu: "https://server.example.com/token",
            now: 1_562_262_616,
            nonces: None,
            access_token: None,
        };
        let p = verify(proof, &e).expect("the RFC's proof verifies");
        assert_eq!(p.jkt, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
        assert_eq!(p.jti, "-BwC3ESc6acc2lTc");
        assert_eq!(
            verify(proof, &Expectation { htm: "GET", ..e }),
            Err(DpopError::WrongMethod)
        );
    }

    #[test]
    fn signed_proofs_verify_with_both_curves() {
        for alg in [Algorithm::P256, Algorithm::K256] {
            let key = Keypair::generate(alg);
            let now = 1_700_000_000;
            let p = verify(&sign(&key, &request(now)), &expect(now)).expect("valid");
            assert_eq!(p.jkt, Jwk::from_public(&key.public()).thumbprint());
            assert_eq!(p.replay_until, now + MAX_AGE_SECS + CLOCK_SKEW_SECS);
            // Two proofs, two ids.
            let q = verify(&sign(&key, &request(now)), &expect(now)).expect("valid");
            assert_ne!(p.jti, q.jti);
        }
    }

    #[test]
    fn htu_compared_normalized_without_query() {
        let key = Keypair::generate(Algorithm::P256);
        let now = 1_700_000_000;
        let proof = sign(&key, &request(now));
        for same in [
            "https://pds.example/xrpc/com.atproto.repo.createRecord?x=1",
            "HTTPS://PDS.example:443/xrpc/com.atproto.repo.createRecord#f",
        ] {
            assert!(
                verify(
                    &proof,
                    &Expectation {
                        htu: same,
                        ..expect(now)
                    }
                )
                .is_ok(),
                "{same}"
            );
        }
        for other in [
            "http://pds.example/xrpc/com.atproto.repo.createRecord",
            "https://pds.example:8443/xrpc/com.atproto.repo.createRecord",
            "https://evil.example/xrpc/com.atproto.repo.createRecord",
            "https://pds.example/xrpc/com.atproto.repo.deleteRecord",
            "not a url",
        ] {
            assert_eq!(
                verify(
                    &proof,
                    &Expectation {
                        htu: other,
                        ..expect(now)
                    }
                ),
                Err(DpopError::WrongUrl),
                "{other}"
            );
        }
    }

    #[test]
    fn iat_window() {
        let key = Keypair::generate(Algorithm::K256);
        let now = 1_700_000_000;
        for (iat, ok) in [
            (now - MAX_AGE_SECS, true),
            (now - MAX_AGE_SECS - 1, false),
            (now + CLOCK_SKEW_SECS, true),
            (now + CLOCK_SKEW_SECS + 1, false),
        ] {
            let r = verify(&sign(&key, &request(iat)), &expect(now));
            assert_eq!(r.is_ok(), ok, "iat {}", iat - now);
            if !ok {
                assert_eq!(r, Err(DpopError::BadIat));
            }
        }
    }

    #[test]
    fn nonce_required_when_asked() {
        let key = Keypair::generate(Algorithm::P256);
        let nonces = Nonces::new(b"secret");
        let now = 1_700_000_000;
        let e = Expectation {
            nonces: Some(&nonces),
            ..expect(now)
        };
        let none = verify(&sign(&key, &request(now)), &e);
        assert_eq!(none, Err(DpopError::MissingNonce));
        assert_eq!(DpopError::MissingNonce.oauth_error(), "use_dpop_nonce");
        let current = nonces.current(now);
        let good = ProofRequest {
            nonce: Some(&current),
            ..request(now)
        };
        assert!(verify(&sign(&key, &good), &e).is_ok());
        let stale = nonces.current(now - 3 * crate::nonce::SLOT_SECS);
        let old = ProofRequest {
            nonce: Some(&stale),
            ..request(now)
        };
        assert_eq!(verify(&sign(&key, &old), &e), Err(DpopError::BadNonce));
        assert_eq!(DpopError::BadNonce.oauth_error(), "use_dpop_nonce");
    }

    #[test]
    fn ath_binds_the_access_token() {
        let key = Keypair::generate(Algorithm::P256);
        let now = 1_700_000_000;
        let e = Expectation {
            access_token: Some("token-a"),
            ..expect(now)
        };
        assert_eq!(
            verify(&sign(&key, &request(now)), &e),
            Err(DpopError::MissingAth)
        );
        let for_a = ProofRequest {
            access_token: Some("token-a"),
            ..request(now)
        };
        assert!(verify(&sign(&key, &for_a), &e).is_ok());
        let for_b = ProofRequest {
            access_token: Some("token-b"),
            ..request(now)
        };
        assert_eq!(verify(&sign(&key, &for_b), &e), Err(DpopError::WrongAth));
        assert_eq!(DpopError::WrongAth.oauth_error(), "invalid_dpop_proof");
    }

    /// Rebuilds a signed proof with a changed header or payload, re-signed by `key`.
    fn forge(
        key: &Keypair,
        header: impl FnOnce(&mut serde_json::Value),
        payload: impl FnOnce(&mut serde_json::Value),
    ) -> String {
        let proof = sign(key, &request(1_700_000_000));
        let c = Compact::parse(&proof).expect("parses");
        let mut h: serde_json::Value = c.header().expect("header");
        let mut p: serde_json::Value = c.payload().expect("payload");
        header(&mut h);
        payload(&mut p);
        jws::encode(&h, &p, |m| key.sign(m).to_vec())
    }

    #[test]
    fn hostile_proofs_refused() {
        let key = Keypair::generate(Algorithm::P256);
        let other = Keypair::generate(Algorithm::P256);
        let now = 1_700_000_000;
        let e = expect(now);
        // Signed by another key than the one in the header.
        let proof = sign(&key, &request(now));
        let c = Compact::parse(&proof).expect("parses");
        let sig = URL_SAFE_NO_PAD.encode(other.sign(c.signing_input.as_bytes()));
        let swapped = format!("{}.{sig}", c.signing_input);
        assert_eq!(verify(&swapped, &e), Err(DpopError::BadSignature));
        let cases: Vec<(String, DpopError)> = vec![
            (
                forge(&key, |h| h["typ"] = "JWT".into(), |_| {}),
                DpopError::WrongType,
            ),
            (
                forge(&key, |h| h["alg"] = "HS256".into(), |_| {}),
                DpopError::UnsupportedAlg("HS256".into()),
            ),
            (
                forge(&key, |h| h["alg"] = "none".into(), |_| {}),
                DpopError::UnsupportedAlg("none".into()),
            ),
            (
                forge(&key, |h| h["alg"] = "ES256K".into(), |_| {}),
                DpopError::AlgKeyMismatch,
            ),
            (
                forge(&key, |h| h["jwk"]["d"] = "AAAA".into(), |_| {}),
                DpopError::BadKey(JwkError::Private),
            ),
            (
                forge(&key, |_| {}, |p| p["htm"] = "GET".into()),
                DpopError::WrongMethod,
            ),
            (
                forge(&key, |_| {}, |p| p["htm"] = "post".into()),
                DpopError::WrongMethod,
            ),
            (
                forge(&key, |_| {}, |p| p["jti"] = "".into()),
                DpopError::BadJti,
            ),
            (
                forge(
                    &key,
                    |_| {},
                    |p| p["jti"] = "x".repeat(MAX_JTI_LEN + 1).into(),
                ),
                DpopError::BadJti,
            ),
        ];
        for (proof, err) in cases {
            assert_eq!(verify(&proof, &e), Err(err.clone()), "{err}");
        }
        for missing in ["jti", "htm", "htu", "iat"] {
            let p = forge(
                &key,
                |_| {},
                |p| {
                    p.as_object_mut().map(|o| o.remove(missing));
                },
            );
            assert!(
                matches!(verify(&p, &e), Err(DpopError::Malformed(_))),
                "{missing}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_proofs_are_refused(
            parts in proptest::collection::vec("[A-Za-z0-9_-]{0,80}|\\PC{0,8}", 0..5),
        ) {
            proptest::prop_assert!(verify(&parts.join("."), &expect(1_700_000_000)).is_err());
        }
    }
}
