//! Rate limits: token buckets in memory, keyed by what is limited (an IP, an account, a
//! space) under a name per kind of limit. A bucket holds at most `capacity` points and refills
//! `capacity` points over `per_secs` seconds. Memory is bounded: past [`MAX_BUCKETS`], idle
//! buckets (full again) are dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A bucket's size and refill.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Burst size (points).
    pub capacity: f64,
    /// The window over which `capacity` points refill.
    pub per_secs: f64,
}

impl Limit {
    /// A burst of `capacity` points, refilled at `per_sec` points a second.
    pub fn per_second(capacity: f64, per_sec: f64) -> Limit {
        Limit {
            capacity,
            per_secs: capacity / per_sec,
        }
    }

    fn rate(self) -> f64 {
        self.capacity / self.per_secs
    }
}

/// Buckets kept before idle (full) ones are dropped.
pub const MAX_BUCKETS: usize = 100_000;

struct Bucket {
    points: f64,
    at: Instant,
}

/// The buckets of one service.
pub struct RateLimits {
    enabled: bool,
    buckets: Mutex<HashMap<(&'static str, String), Bucket>>,
}

impl RateLimits {
    /// Limits that apply (`enabled`), or that let everything through.
    pub fn new(enabled: bool) -> Self {
        RateLimits {
            enabled,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `cost` points from the bucket `(name, key)`; false when there are not enough.
    pub fn check(&self, name: &'static str, key: &str, limit: Limit, cost: f64) -> bool {
        if !self.enabled {
            return true;
        }
        // A poisoned lock means a panic elsewhere; failing open keeps the service usable.
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| {
                b.points + now.duration_since(b.at).as_secs_f64() * limit.rate() < limit.capacity
            });
        }
        let b = buckets.entry((name, key.to_owned())).or_insert(Bucket {
            points: limit.capacity,
            at: now,
        });
        b.points =
            (b.points + now.duration_since(b.at).as_secs_f64() * limit.rate()).min(limit.capacity);
        b.at = now;
        if b.points >= cost {
            b.points -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_empty_and_are_separate() {
        let l = RateLimits::new(true);
        let lim = Limit {
            capacity: 3.0,
            per_secs: 3600.0,
        };
        assert!(l.check("t", "a", lim, 1.0));
        assert!(l.check("t", "a", lim, 2.0));
        assert!(!l.check("t", "a", lim, 1.0));
        assert!(l.check("t", "b", lim, 3.0), "another key");
        assert!(l.check("u", "a", lim, 3.0), "another name");
        assert!(RateLimits::new(false).check("t", "a", lim, 100.0));
    }

    #[test]
    fn a_rate_per_second_refills_the_burst_over_its_window() {
        let lim = Limit::per_second(120.0, 2.0);
        assert_eq!(lim.capacity, 120.0);
        assert_eq!(lim.per_secs, 60.0);
    }
}
