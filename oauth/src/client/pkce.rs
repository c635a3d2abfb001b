//! The client's PKCE verifier (S256 only, challenge from [`crate::pkce`]) and the other random
//! values it mints: `state`, JWT ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

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
            challenge: crate::pkce::s256_challenge(&verifier),
            verifier,
        }
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
    fn fresh_values_differ_and_the_server_side_accepts_them() {
        let (a, b) = (Pkce::new(), Pkce::new());
        assert_ne!(a.verifier, b.verifier);
        assert!(crate::pkce::is_verifier(&a.verifier));
        assert!(crate::pkce::verify_s256(&a.challenge, &a.verifier));
        assert!(!crate::pkce::verify_s256(&a.challenge, &b.verifier));
        assert_ne!(random_token(), random_token());
    }
}
