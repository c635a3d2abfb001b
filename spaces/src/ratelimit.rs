//! Token buckets per DID and per space, in memory: a burst is allowed, then a steady rate.
//! They protect the one writer and the fan-out from a single account or a single busy space;
//! an attacker with many accounts is the PDS's and the network's problem to meter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Capacity and refill rate (tokens per second) of each kind of bucket.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Every call by one DID.
    pub did_burst: f64,
    pub did_rate: f64,
    /// Writes by one DID.
    pub write_burst: f64,
    pub write_rate: f64,
    /// Writes into one space, by anyone.
    pub space_burst: f64,
    pub space_rate: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            did_burst: 600.0,
            did_rate: 20.0,
            write_burst: 120.0,
            write_rate: 2.0,
            space_burst: 1200.0,
            space_rate: 20.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct RateLimiter {
    limits: Limits,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for a call by `did` (and a write token for a write).
    pub fn did(&self, did: &str, write: bool) -> bool {
        let l = self.limits;
        if !self.take(&format!("d:{did}"), l.did_burst, l.did_rate, 1.0) {
            return false;
        }
        !write || self.take(&format!("w:{did}"), l.write_burst, l.write_rate, 1.0)
    }

    /// Takes `cost` tokens for a write into the space `skey`.
    pub fn space(&self, skey: &str, cost: f64) -> bool {
        let l = self.limits;
        self.take(&format!("s:{skey}"), l.space_burst, l.space_rate, cost)
    }

    fn take(&self, key: &str, burst: f64, rate: f64, cost: f64) -> bool {
        let now = Instant::now();
        // A poisoned lock means a panic elsewhere; failing open keeps the service usable.
        let Ok(mut map) = self.buckets.lock() else {
            return true;
        };
        if map.len() >= MAX_BUCKETS {
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = map.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= cost {
            b.tokens -= cost;
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
    fn bursts_then_refuses() {
        let r = RateLimiter::new(Limits {
            write_burst: 3.0,
            write_rate: 0.001,
            ..Limits::default()
        });
        assert!((0..3).all(|_| r.did("did:plc:a", true)));
        assert!(
            !r.did("did:plc:a", true),
            "fourth write in a burst of three"
        );
        assert!(r.did("did:plc:a", false), "reads have their own bucket");
        assert!(r.did("did:plc:b", true), "buckets are per DID");
    }
}
