//! Rate limits: token buckets keyed by what is limited (an IP, an account). Memory is bounded:
//! idle buckets are dropped once full again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Burst size (points).
    pub capacity: f64,
    /// The window over which `capacity` points refill.
    pub per_secs: f64,
}

/// Account creation per IP: the reference's 100 per 5 minutes.
pub const CREATE_ACCOUNT: Limit = Limit {
    capacity: 100.0,
    per_secs: 300.0,
};
/// Logins per IP: 30 per 5 minutes, as the reference.
pub const LOGIN: Limit = Limit {
    capacity: 30.0,
    per_secs: 300.0,
};
/// Repository write points per account per hour (create 3, update 2, delete 1), as the
/// reference.
pub const WRITES: Limit = Limit {
    capacity: 5000.0,
    per_secs: 3600.0,
};
/// Blob uploads per account per hour.
pub const UPLOADS: Limit = Limit {
    capacity: 1000.0,
    per_secs: 3600.0,
};

struct Bucket {
    points: f64,
    at: Instant,
}

pub struct RateLimits {
    enabled: bool,
    buckets: Mutex<HashMap<(&'static str, String), Bucket>>,
}

impl RateLimits {
    pub fn new(enabled: bool) -> Self {
        RateLimits {
            enabled,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `cost` points from the bucket; false when there are not enough.
    pub fn check(&self, name: &'static str, key: &str, limit: Limit, cost: f64) -> bool {
        if !self.enabled {
            return true;
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        let now = Instant::now();
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| {
                b.points
                    + now.duration_since(b.at).as_secs_f64() * (limit.capacity / limit.per_secs)
                    < limit.capacity
            });
        }
        let b = buckets.entry((name, key.to_owned())).or_insert(Bucket {
            points: limit.capacity,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * (limit.capacity / limit.per_secs);
        b.points = (b.points + refill).min(limit.capacity);
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
        assert!(l.check("t", "b", lim, 3.0));
        assert!(RateLimits::new(false).check("t", "a", lim, 100.0));
    }
}
