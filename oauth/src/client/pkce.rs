//! PKCE (S256 only) and the other random values a client mints: `state`, JWT ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes, base64url: unguessable, and safe in a URL or a form.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// A verifier, kept by the client until the code exchange, and its S256 challenge, sent with
/// the authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        // 43 characters, the shortest verifier RFC 7636 allows, from 256 random bits.
        let verifier = random_token();
        Pkce {
            challenge: Pkce::challenge_of(&verifier),
            verifier,
        }
    }

    /// `BASE64URL(SHA256(verifier))`.
    pub fn challenge_of(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_openssl() {
        // `printf %s <verifier> | openssl dgst -sha256 -binary | base64url`.
        assert_eq!(
            Pkce::challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWjOEjXk"),
            "VYFANLqdx_HDV6BqEhluZJ63rtrIPROSSFdB3P6G83I"
        );
    }

    #[test]
    fn fresh_values_differ_and_are_url_safe() {
        let (a, b) = (Pkce::new(), Pkce::new());
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.verifier.len(), 43);
        assert_eq!(a.challenge, Pkce::challenge_of(&a.verifier));
        assert_ne!(random_token(), random_token());
        assert!(
            random_token()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
