//! PKCE (RFC 7636), S256 only as the atproto profile requires.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Whether `s` has the shape RFC 7636 gives verifiers: 43 to 128 unreserved characters.
pub fn is_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `s` is an S256 challenge: the base64url (unpadded) SHA-256 of a verifier, 43
/// characters.
pub fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43
        && URL_SAFE_NO_PAD
            .decode(s)
            .is_ok_and(|digest| digest.len() == 32)
}

/// The S256 challenge of a verifier.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well formed and hashes to `challenge`.
pub fn verify_s256(challenge: &str, verifier: &str) -> bool {
    is_verifier(verifier) && s256_challenge(verifier) == challenge
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(s256_challenge(verifier), challenge);
        assert!(is_s256_challenge(challenge));
        assert!(verify_s256(challenge, verifier));
    }

    #[test]
    fn wrong_or_malformed_verifiers_are_refused() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(!verify_s256(
            challenge,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"
        ));
        assert!(!verify_s256(challenge, ""));
        assert!(!verify_s256(challenge, "short"));
        assert!(!verify_s256(challenge, &"a".repeat(129)));
        assert!(!is_verifier(&format!("{}!", "a".repeat(50))));
        assert!(!is_s256_challenge("plain-challenge"));
        assert!(!is_s256_challenge(&"*".repeat(43)));
    }
}
