//! Token buckets per DID and per space, and the image storage quotas (`hearth_xrpc::ratelimit`'s): a burst is allowed, then
//! a steady rate. They protect the one writer and the fan-out from a single account or a single
//! busy space; an attacker with many accounts is the PDS's and the network's problem to meter.

use hearth_xrpc::ratelimit::{Limit, RateLimits};

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
    /// Image bytes one account may keep stored, across all spaces.
    pub account_image_bytes: i64,
    /// Image bytes one space may keep stored, from all its members.
    pub space_image_bytes: i64,
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
            account_image_bytes: 500_000_000,
            space_image_bytes: 2_000_000_000,
        }
    }
}

pub struct RateLimiter {
    limits: Limits,
    buckets: RateLimits,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        RateLimiter {
            limits,
            buckets: RateLimits::new(true),
        }
    }

    /// Takes one token for a call by `did` (and a write token for a write).
    pub fn did(&self, did: &str, write: bool) -> bool {
        let l = self.limits;
        if !self
            .buckets
            .check("did", did, Limit::per_second(l.did_burst, l.did_rate), 1.0)
        {
            return false;
        }
        !write
            || self.buckets.check(
                "write",
                did,
                Limit::per_second(l.write_burst, l.write_rate),
                1.0,
            )
    }

    /// The storage quotas.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes a token from `did`'s own join bucket (sized like its write bucket): what an
    /// outsider's `join.request` costs, so that asking to join spends the asker's budget and
    /// never the space's.
    pub fn join(&self, did: &str) -> bool {
        let l = self.limits;
        let limit = Limit::per_second(l.write_burst, l.write_rate);
        self.buckets.check("join", did, limit, 1.0)
    }

    /// Takes `cost` tokens for a write into the space `skey`.
    pub fn space(&self, skey: &str, cost: f64) -> bool {
        let l = self.limits;
        let limit = Limit::per_second(l.space_burst, l.space_rate);
        self.buckets.check("space", skey, limit, cost)
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
