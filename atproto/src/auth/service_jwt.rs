//! Service-auth JWTs: ES256K or ES256 signatures over `header.payload`, base64url without
//! padding, claims `iss`, `aud`, `exp`, `iat`, `lxm`, `jti`.
//!
//! Written directly rather than with a JWT crate: the two algorithms are atproto's own
//! low-S-only ECDSA variants (general JWT libraries accept high-S and do not do ES256K), and the
//! checks atproto asks for (`lxm`, `aud` with a service fragment) are specific to it.

use super::AuthError;
use crate::crypto::{Algorithm, Keypair, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Tolerated clock difference between services, in seconds, for when a token starts being
/// valid (`iat`, `nbf`). Expiry is strict, as in `@atproto/xrpc-server`: a token is refused the
/// second after its `exp`, so a stolen or replayed one buys no extra time.
const CLOCK_SKEW: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lxm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    /// The issuer's DID, without any `#service` fragment.
    pub fn iss_did(&self) -> &str {
        self.iss.split('#').next().unwrap_or(&self.iss)
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Signs a token for `aud`, valid for `ttl_secs` from `now` (unix seconds).
pub fn mint(
    key: &Keypair,
    iss: &str,
    aud: &str,
    lxm: Option<&str>,
    now: i64,
    ttl_secs: i64,
) -> String {
    let header = Header {
        alg: key.algorithm().jwt_name().into(),
        typ: Some("JWT".into()),
    };
    let jti: [u8; 16] = rand::random();
    let claims = Claims {
        iss: iss.into(),
        aud: aud.into(),
        exp: now + ttl_secs,
        iat: Some(now),
        nbf: None,
        lxm: lxm.map(Into::into),
        jti: Some(hex::encode(jti)),
    };
    // Serializing these plain structs to JSON cannot fail.
    let h = serde_json::to_vec(&header).unwrap_or_default();
    let c = serde_json::to_vec(&claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h),
        URL_SAFE_NO_PAD.encode(c)
    );
    let sig = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

struct Parts<'a> {
    header: Header,
    claims: Claims,
    signing_input: &'a str,
    sig: Vec<u8>,
}

fn split(token: &str) -> Result<Parts<'_>, AuthError> {
    let bad = |m: &str| AuthError::BadJwt(m.to_owned());
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(bad("expected three parts"));
    };
    let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| bad("bad base64url"));
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| bad("bad header"))?;
    let claims: Claims = serde_json::from_slice(&decode(c)?).map_err(|_| bad("bad claims"))?;
    let signing_input = &token[..h.len() + 1 + c.len()];
    Ok(Parts {
        header,
        claims,
        signing_input,
        sig: decode(s)?,
    })
}

/// Reads the claims without checking anything, to learn whose key to fetch.
pub fn peek_claims(token: &str) -> Result<Claims, AuthError> {
    Ok(split(token)?.claims)
}

/// What the receiving service requires of a token.
#[derive(Debug, Clone)]
pub struct Expectation<'a> {
    /// This service's DID.
    pub aud_did: &'a str,
    /// Service ids accepted as an `aud` fragment (`did#id`), besides the bare DID.
    pub aud_services: &'a [&'a str],
    /// The method being called; when set, `lxm` must equal it.
    pub lxm: Option<&'a str>,
    /// Current unix time in seconds.
    pub now: i64,
}

/// Checks a token's signature with the issuer's key, then its claims.
pub fn verify(token: &str, key: &PublicKey, expect: &Expectation<'_>) -> Result<Claims, AuthError> {
    let parts = split(token)?;
    let alg = Algorithm::from_jwt_name(&parts.header.alg)
        .ok_or_else(|| AuthError::BadJwt(format!("unsupported alg {}", parts.header.alg)))?;
    // Session tokens of a PDS are not service tokens, whatever they are signed with.
    if let Some(t) = &parts.header.typ
        && matches!(t.as_str(), "at+jwt" | "refresh+jwt" | "dpop+jwt")
    {
        return Err(AuthError::BadJwt(format!("typ {t} is not a service token")));
    }
    if alg != key.algorithm() {
        return Err(AuthError::BadJwtSignature);
    }
    key.verify(parts.signing_input.as_bytes(), &parts.sig)
        .map_err(|_| AuthError::BadJwtSignature)?;
    let c = parts.claims;
    check_claims(&c, expect)?;
    Ok(c)
}

/// The longest `jti` accepted. Token ids are remembered to refuse replays, so their size is
/// bounded like any other input a caller chooses; 16 random bytes in hex is 32 characters.
pub const MAX_JTI_LEN: usize = 128;

/// Checks a token's claims (expiry, audience, method, id length) without its signature. Cheap:
/// a service runs it before fetching the issuer's key, and [`verify`] runs it after the
/// signature.
pub fn check_claims(c: &Claims, expect: &Expectation<'_>) -> Result<(), AuthError> {
    if expect.now > c.exp {
        return Err(AuthError::JwtExpired);
    }
    if c.iat.is_some_and(|iat| iat > expect.now + CLOCK_SKEW) {
        return Err(AuthError::BadJwt("issued in the future".into()));
    }
    if c.nbf.is_some_and(|nbf| nbf > expect.now + CLOCK_SKEW) {
        return Err(AuthError::BadJwt("not valid yet".into()));
    }
    let aud_ok = match c.aud.split_once('#') {
        None => c.aud == expect.aud_did,
        Some((did, svc)) => did == expect.aud_did && expect.aud_services.contains(&svc),
    };
    if !aud_ok {
        return Err(AuthError::BadJwtAudience);
    }
    if let Some(lxm) = expect.lxm
        && c.lxm.as_deref() != Some(lxm)
    {
        return Err(AuthError::BadJwtLexiconMethod);
    }
    if c.jti.as_ref().is_some_and(|j| j.len() > MAX_JTI_LEN) {
        return Err(AuthError::BadJwt(format!(
            "jti is longer than {MAX_JTI_LEN} characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect<'a>(lxm: Option<&'a str>, now: i64) -> Expectation<'a> {
        Expectation {
            aud_did: "did:web:api.example",
            aud_services: &["bsky_appview"],
            lxm,
            now,
        }
    }

    #[test]
    fn round_trip_both_curves_and_refusals() {
        for alg in [Algorithm::K256, Algorithm::P256] {
            let key = Keypair::generate(alg);
            let pk = key.public();
            let now = 1_700_000_000;
            let m = "app.bsky.feed.getTimeline";
            for aud in ["did:web:api.example", "did:web:api.example#bsky_appview"] {
                let t = mint(&key, "did:plc:abc", aud, Some(m), now, 60);
                let c = verify(&t, &pk, &expect(Some(m), now)).expect("valid");
                assert_eq!(c.iss_did(), "did:plc:abc");
                assert_eq!(c.jti.as_ref().map(String::len), Some(32));
            }
            let t = mint(&key, "did:plc:abc", "did:web:api.example", Some(m), now, 60);
            assert_eq!(
                verify(&t, &pk, &expect(Some("other.method"), now)),
                Err(AuthError::BadJwtLexiconMethod)
            );
            assert_eq!(
                verify(&t, &pk, &expect(Some(m), now + 200)),
                Err(AuthError::JwtExpired)
            );
            let other = Keypair::generate(alg).public();
            assert_eq!(
                verify(&t, &other, &expect(Some(m), now)),
                Err(AuthError::BadJwtSignature)
            );
            for aud in [
                "did:web:evil.example",
                "did:web:api.example#other",
                "did:web:api.example#",
            ] {
                let t = mint(&key, "did:plc:abc", aud, Some(m), now, 60);
                assert_eq!(
                    verify(&t, &pk, &expect(Some(m), now)),
                    Err(AuthError::BadJwtAudience)
                );
            }
            let no_lxm = mint(&key, "did:plc:abc", "did:web:api.example", None, now, 60);
            assert_eq!(
                verify(&no_lxm, &pk, &expect(Some(m), now)),
                Err(AuthError::BadJwtLexiconMethod)
            );
            // Tampered claims break the signature.
            let mut parts: Vec<&str> = t.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"iss":"did:plc:evil","aud":"did:web:api.example","exp":9999999999,"lxm":"app.bsky.feed.getTimeline"}"#);
            parts[1] = &forged;
            assert_eq!(
                verify(&parts.join("."), &pk, &expect(Some(m), now)),
                Err(AuthError::BadJwtSignature)
            );
        }
    }

    /// A token is good through its `exp` second and refused from the next one: no clock-skew
    /// grace on expiry. Skew still covers a token issued a little "in the future".
    #[test]
    fn expired_service_token_refused() {
        let key = Keypair::generate(Algorithm::K256);
        let pk = key.public();
        let m = "app.bsky.feed.getTimeline";
        let now = 1_700_000_000;
        let t = mint(&key, "did:plc:abc", "did:web:api.example", Some(m), now, 60);
        let exp = now + 60;
        assert!(verify(&t, &pk, &expect(Some(m), exp)).is_ok());
        for late in [1, 2, 29, 30, 31] {
            assert_eq!(
                verify(&t, &pk, &expect(Some(m), exp + late)),
                Err(AuthError::JwtExpired),
                "{late} s after exp"
            );
        }
        // Issued by a clock up to 30 s ahead: accepted; further ahead: refused.
        let ahead = mint(
            &key,
            "did:plc:abc",
            "did:web:api.example",
            Some(m),
            now + 30,
            60,
        );
        assert!(verify(&ahead, &pk, &expect(Some(m), now)).is_ok());
        let far = mint(
            &key,
            "did:plc:abc",
            "did:web:api.example",
            Some(m),
            now + 31,
            60,
        );
        assert!(matches!(
            verify(&far, &pk, &expect(Some(m), now)),
            Err(AuthError::BadJwt(_))
        ));
    }

    #[test]
    fn malformed_tokens() {
        let pk = Keypair::generate(Algorithm::K256).public();
        for t in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.!!.!!",
            "eyJhbGciOiJub25lIn0.e30.",
            "e30.e30.e30",
        ] {
            assert!(
                matches!(verify(t, &pk, &expect(None, 0)), Err(AuthError::BadJwt(_))),
                "{t}"
            );
        }
    }
}
