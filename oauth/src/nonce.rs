//! Server-issued DPoP nonces (RFC 9449 section 8): they limit how long a proof a client signed
//! in advance stays usable. Stateless: a nonce is an HMAC of a time slot, so every worker (and a
//! restarted server with the same secret) issues and accepts the same ones with no store. The
//! nonce of the current slot and of the one before are accepted, so a client that fetched a
//! nonce just before a slot changed is not refused; servers send the current one on every
//! response and clients adopt it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long one nonce is the current one, in seconds. A nonce is accepted for one to two slots.
pub const SLOT_SECS: i64 = 60;

/// Issues and checks nonces from a server secret.
#[derive(Clone)]
pub struct Nonces {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces")
    }
}

impl Nonces {
    /// Nonces keyed by `secret` (e.g. the server's JWT secret: the key is derived from it under
    /// its own label, so the secret's other uses and the nonces cannot be confused).
    pub fn new(secret: &[u8]) -> Nonces {
        Nonces {
            key: hmac_of(secret, b"hearth dpop nonce v1"),
        }
    }

    fn of_slot(&self, slot: i64) -> String {
        let mut m = self.key.clone();
        m.update(&slot.to_be_bytes());
        // 128 bits: unguessable, and short in every response header.
        URL_SAFE_NO_PAD.encode(&m.finalize().into_bytes()[..16])
    }

    /// The nonce to send now (`DPoP-Nonce` header).
    pub fn current(&self, now: i64) -> String {
        self.of_slot(now.div_euclid(SLOT_SECS))
    }

    /// Whether `nonce` is the current one or the one before.
    pub fn is_valid(&self, nonce: &str, now: i64) -> bool {
        let slot = now.div_euclid(SLOT_SECS);
        // Each comparison is constant-time through the HMAC verifier, so a client learns
        // nothing from timing about how close a guess was.
        [slot, slot - 1].into_iter().any(|s| {
            let mut m = self.key.clone();
            m.update(&s.to_be_bytes());
            let tag = m.finalize().into_bytes();
            URL_SAFE_NO_PAD
                .decode(nonce)
                .is_ok_and(|n| n.len() == 16 && constant_eq(&n, &tag[..16]))
        })
    }
}

fn hmac_of(secret: &[u8], label: &[u8]) -> Hmac<Sha256> {
    let derived = crate::jws::hs256(secret, label);
    <Hmac<Sha256> as Mac>::new_from_slice(&derived).expect("HMAC takes keys of any length")
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_previous_slot_accepted_older_refused() {
        let n = Nonces::new(b"secret");
        let t0 = 1_700_000_000 - 1_700_000_000 % SLOT_SECS;
        let a = n.current(t0);
        assert_eq!(n.current(t0 + SLOT_SECS - 1), a, "same slot, same nonce");
        assert!(n.is_valid(&a, t0));
        assert!(n.is_valid(&a, t0 + SLOT_SECS), "previous slot still good");
        assert!(n.is_valid(&a, t0 + 2 * SLOT_SECS - 1));
        assert!(!n.is_valid(&a, t0 + 2 * SLOT_SECS), "two slots old");
        assert!(!n.is_valid(&a, t0 - 1), "from a later slot than now");
        let b = n.current(t0 + SLOT_SECS);
        assert_ne!(a, b, "rotates");
        assert!(n.is_valid(&b, t0 + SLOT_SECS));
    }

    #[test]
    fn other_secret_and_garbage_refused() {
        let n = Nonces::new(b"secret");
        let other = Nonces::new(b"other");
        let now = 1_700_000_000;
        assert!(!n.is_valid(&other.current(now), now));
        for bad in ["", "!!", "AAAAAAAAAAAAAAAAAAAAAA", &n.current(now)[1..]] {
            assert!(!n.is_valid(bad, now), "{bad}");
        }
    }
}
