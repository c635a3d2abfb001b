//! Ids of DPoP proofs and client assertions already used, kept until the proof could no
//! longer be accepted anyway: a proof or assertion presented twice is a replay. In memory: a
//! restart forgets them, but the proofs it would have caught carry a nonce of the slot before
//! the restart, or an `iat` a minute old at most.

use std::collections::HashMap;
use std::sync::Mutex;

/// Ids held before the expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;
/// Ids held at most: past this, new ids are refused rather than memory growing without bound.
const MAX_IDS: usize = 1_000_000;

#[derive(Default)]
pub struct Replay {
    seen: Mutex<HashMap<String, i64>>,
}

impl Replay {
    /// Records `id` (in `space`, e.g. a key thumbprint, so two clients' ids cannot collide)
    /// until `until` (unix seconds); false if it was seen before.
    pub fn first_use(&self, space: &str, id: &str, until: i64, now: i64) -> bool {
        // A poisoned lock means a panic mid-insert: the map itself is intact.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > SWEEP_ABOVE {
            seen.retain(|_, exp| *exp >= now);
        }
        if seen.len() >= MAX_IDS {
            return false;
        }
        let key = format!("{space}:{id}");
        match seen.get(&key) {
            Some(exp) if *exp >= now => false,
            _ => {
                seen.insert(key, until);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_accepted_once_until_it_expires() {
        let r = Replay::default();
        assert!(r.first_use("k1", "a", 160, 100));
        assert!(!r.first_use("k1", "a", 160, 120));
        assert!(r.first_use("k2", "a", 160, 120), "another key's id");
        assert!(
            r.first_use("k1", "a", 260, 200),
            "remembered only until it expired"
        );
    }
}
