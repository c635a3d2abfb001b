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
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    ids: HashMap<String, i64>,
    /// The size that triggers the next sweep: twice what the last one left (at least
    /// [`SWEEP_ABOVE`]), so a sweep, which reads every id, is paid for by as many inserts as it
    /// read. Sweeping whenever the map was above a fixed size read every id on every request
    /// once that many proofs were live, which any busy client reaches.
    sweep_at: usize,
}

impl Replay {
    /// Records `id` (in `space`, e.g. a key thumbprint, so two clients' ids cannot collide)
    /// until `until` (unix seconds); false if it was seen before.
    pub fn first_use(&self, space: &str, id: &str, until: i64, now: i64) -> bool {
        // A poisoned lock means a panic mid-insert: the map itself is intact.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.ids.len() > seen.sweep_at.max(SWEEP_ABOVE) {
            seen.ids.retain(|_, exp| *exp >= now);
            seen.sweep_at = seen.ids.len() * 2;
        }
        if seen.ids.len() >= MAX_IDS {
            return false;
        }
        let key = format!("{space}:{id}");
        match seen.ids.get(&key) {
            Some(exp) if *exp >= now => false,
            _ => {
                seen.ids.insert(key, until);
                true
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map(|s| s.ids.len()).unwrap_or_default()
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

    #[test]
    fn expired_ids_are_swept_and_live_ones_kept() {
        let r = Replay::default();
        // Many ids that expire at 150, then more at a later time: the old ones go.
        for i in 0..SWEEP_ABOVE {
            assert!(r.first_use("k", &format!("old{i}"), 150, 100));
        }
        for i in 0..=SWEEP_ABOVE {
            assert!(r.first_use("k", &format!("new{i}"), 400, 200));
        }
        assert!(
            r.len() <= SWEEP_ABOVE + 2,
            "the expired ids were swept: {}",
            r.len()
        );
        // Every live id is still refused a second time, across the sweeps.
        for i in (0..=SWEEP_ABOVE).step_by(997) {
            assert!(!r.first_use("k", &format!("new{i}"), 400, 300), "new{i}");
        }
    }
}
