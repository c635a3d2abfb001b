//! Timestamp identifiers, per <https://atproto.com/specs/tid>.
//!
//! A TID is a 64-bit integer written as 13 characters of "base32-sortable"
//! (`234567abcdefghijklmnopqrstuvwxyz`, most significant first), so that
//! string order equals numeric order. Layout, from the top: 1 bit always 0,
//! 53 bits of microseconds since the UNIX epoch, 10 bits of clock identifier.
//!
//! Syntax follows the spec's pattern
//! `^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`: the first
//! character carries only the top four bits, so anything that would not fit
//! in 64 bits is rejected. (The pattern itself lets the top bit be 1 — first
//! character `c`..`j`; like the reference implementations we accept those on
//! input. [`Tid::from_parts`] and [`TidClock`] never produce them.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Length of a TID string.
pub const TID_LEN: usize = 13;

const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
const INVALID: u8 = 0xff;
/// base32-sortable character -> 5-bit value, `INVALID` elsewhere.
const DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 32 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

const TIMESTAMP_BITS: u32 = 53;
const CLOCK_ID_BITS: u32 = 10;
const TIMESTAMP_MASK: u64 = (1 << TIMESTAMP_BITS) - 1;
const CLOCK_ID_MASK: u64 = (1 << CLOCK_ID_BITS) - 1;

/// A syntactically valid TID, such as `3jzfcijpj2z2a`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tid(String);

string_newtype!(Tid, validate, "a TID string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Tid, reason)
}

/// Checks `s` against the TID syntax without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    let b = s.as_bytes();
    if b.len() != TID_LEN {
        return Err(e("must be exactly 13 characters"));
    }
    if !b.iter().all(|&c| DECODE[c as usize] != INVALID) {
        return Err(e("character outside base32-sortable 234567a-z"));
    }
    if DECODE[b[0] as usize] >= 16 {
        return Err(e(
            "value does not fit in 64 bits (first character must be 2-7 or a-j)",
        ));
    }
    Ok(())
}

impl Tid {
    /// Encodes an integer. Every `u64` has a TID spelling; those produced by
    /// [`Tid::from_parts`] and [`TidClock`] always have the top bit clear.
    pub fn from_u64(v: u64) -> Tid {
        let mut buf = [0u8; TID_LEN];
        for (i, slot) in buf.iter_mut().enumerate() {
            let shift = 5 * (TID_LEN - 1 - i);
            *slot = ALPHABET[((v >> shift) & 0x1f) as usize];
        }
        // Every byte comes from ALPHABET, so this is ASCII.
        Tid(buf.iter().map(|&c| c as char).collect())
    }

    /// The integer value.
    pub fn as_u64(&self) -> u64 {
        self.0.bytes().fold(0u64, |acc, c| {
            (acc << 5) | u64::from(DECODE[c as usize] & 0x1f)
        })
    }

    /// Builds a TID from a timestamp (microseconds since the UNIX epoch) and
    /// a clock id. Only the low 53 and 10 bits are used respectively.
    pub fn from_parts(timestamp_micros: u64, clock_id: u16) -> Tid {
        Tid::from_u64(
            ((timestamp_micros & TIMESTAMP_MASK) << CLOCK_ID_BITS)
                | (u64::from(clock_id) & CLOCK_ID_MASK),
        )
    }

    /// Microseconds since the UNIX epoch.
    pub fn timestamp_micros(&self) -> u64 {
        (self.as_u64() >> CLOCK_ID_BITS) & TIMESTAMP_MASK
    }

    /// The 10-bit clock identifier.
    pub fn clock_id(&self) -> u16 {
        (self.as_u64() & CLOCK_ID_MASK) as u16
    }
}

/// Microseconds since the UNIX epoch from the wall clock (0 if it reads
/// before 1970).
fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Thread-safe generator of strictly increasing TIDs.
///
/// Each TID carries this clock's id; its timestamp is the wall clock in
/// microseconds, bumped past the last one issued whenever the wall clock has
/// not moved forward (same microsecond, or the clock went backwards). So
/// every [`TidClock::next`] result is greater than all earlier ones from the
/// same clock, across threads.
#[derive(Debug)]
pub struct TidClock {
    clock_id: u16,
    /// Timestamp (micros) of the last TID issued.
    last: AtomicU64,
}

impl TidClock {
    /// A clock with a random 10-bit clock id.
    pub fn new() -> TidClock {
        TidClock::with_clock_id(rand::random::<u16>())
    }

    /// A clock with the given id (only the low 10 bits are used). `const`, so
    /// it can initialize a `static`.
    pub const fn with_clock_id(clock_id: u16) -> TidClock {
        TidClock {
            clock_id: clock_id & (CLOCK_ID_MASK as u16),
            last: AtomicU64::new(0),
        }
    }

    /// This clock's 10-bit id.
    pub fn clock_id(&self) -> u16 {
        self.clock_id
    }

    /// The next TID: greater than every TID this clock returned before.
    pub fn next(&self) -> Tid {
        self.next_at(now_micros())
    }

    /// [`TidClock::next`] with an explicit "now" in Unix microseconds, for callers that
    /// carry their own clock (a fixed one in tests).
    pub fn next_at(&self, now: u64) -> Tid {
        let now = now & TIMESTAMP_MASK;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let ts = if now > last {
                now
            } else {
                last.saturating_add(1)
            };
            // The read-modify-write always sees the latest value of `last`
            // (per-atomic modification order), so issued timestamps strictly
            // increase; no other memory is published, so Relaxed suffices.
            match self
                .last
                .compare_exchange_weak(last, ts, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Tid::from_parts(ts, self.clock_id),
                Err(actual) => last = actual,
            }
        }
    }
}

impl Default for TidClock {
    fn default() -> Self {
        TidClock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn known_values() {
        assert_eq!(Tid::from_u64(0).as_str(), "2222222222222");
        assert_eq!(Tid::from_u64(u64::MAX).as_str(), "jzzzzzzzzzzzz");
        assert_eq!(Tid::from_u64(i64::MAX as u64).as_str(), "bzzzzzzzzzzzz");
        let t: Tid = "3jzfcijpj2z2a".parse().unwrap();
        assert_eq!(Tid::from_u64(t.as_u64()), t);
        assert_eq!(Tid::from_parts(t.timestamp_micros(), t.clock_id()), t);
    }

    #[test]
    fn round_trips() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = Tid::from_u64(x);
            assert!(validate(t.as_str()).is_ok(), "{t}");
            assert_eq!(t.as_u64(), x);
            assert_eq!(t.as_str().parse::<Tid>().unwrap(), t);

            let ts = x >> 11;
            let clock = (x & 0x3ff) as u16;
            let p = Tid::from_parts(ts, clock);
            assert_eq!(p.timestamp_micros(), ts);
            assert_eq!(p.clock_id(), clock);
            assert!(p.as_str().as_bytes()[0] <= b'b', "top bit clear: {p}");
        }
    }

    #[test]
    fn order_matches_numeric_order() {
        let mut prev = Tid::from_u64(0);
        for v in (1..64).map(|s| 1u64 << s).chain([u64::MAX]) {
            let t = Tid::from_u64(v);
            assert!(t > prev, "{t} > {prev}");
            prev = t;
        }
    }

    #[test]
    fn from_parts_masks() {
        let t = Tid::from_parts(u64::MAX, u16::MAX);
        assert_eq!(t.timestamp_micros(), TIMESTAMP_MASK);
        assert_eq!(t.clock_id(), 0x3ff);
        assert_eq!(t.as_u64() >> 63, 0);
    }

    #[test]
    fn clock_is_monotonic_even_if_time_goes_back() {
        let c = TidClock::with_clock_id(7);
        let a = c.next_at(1_000);
        let b = c.next_at(1_000); // same microsecond
        let d = c.next_at(500); // clock went backwards
        let f = c.next_at(2_000);
        assert!(a < b && b < d && d < f, "{a} {b} {d} {f}");
        assert_eq!(a.timestamp_micros(), 1_000);
        assert_eq!(b.timestamp_micros(), 1_001);
        assert_eq!(d.timestamp_micros(), 1_002);
        assert_eq!(f.timestamp_micros(), 2_000);
        for t in [a, b, d, f] {
            assert_eq!(t.clock_id(), 7);
        }
    }

    #[test]
    fn clock_real_time() {
        let c = TidClock::new();
        assert!(c.clock_id() < 1024);
        let before = now_micros();
        let mut prev = c.next();
        assert!(prev.timestamp_micros() >= before);
        for _ in 0..10_000 {
            let t = c.next();
            assert!(t > prev);
            assert_eq!(t.clock_id(), c.clock_id());
            prev = t;
        }
        // TIDs are valid record keys and parse back.
        assert_eq!(prev.as_str().parse::<Tid>().unwrap(), prev);
        assert!(super::super::recordkey::validate(prev.as_str()).is_ok());
    }

    #[test]
    fn clock_in_a_static() {
        static CLOCK: TidClock = TidClock::with_clock_id(42);
        let a = CLOCK.next();
        let b = CLOCK.next();
        assert!(a < b);
        assert_eq!(b.clock_id(), 42);
        assert_eq!(TidClock::with_clock_id(0xffff).clock_id(), 0x3ff);
    }

    #[test]
    fn clock_many_threads() {
        const THREADS: usize = 8;
        const PER_THREAD: usize = 5_000;
        let clock = Arc::new(TidClock::with_clock_id(1023));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let clock = Arc::clone(&clock);
                std::thread::spawn(move || {
                    let mut out = Vec::with_capacity(PER_THREAD);
                    for _ in 0..PER_THREAD {
                        out.push(clock.next());
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::with_capacity(THREADS * PER_THREAD);
        for h in handles {
            let v = h.join().unwrap();
            // Each thread sees a strictly increasing sequence.
            assert!(v.windows(2).all(|w| w[0] < w[1]));
            all.extend(v);
        }
        // And no two threads ever got the same TID.
        all.sort();
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n, "duplicate TIDs across threads");
        // One more call is later than everything issued.
        let last = clock.next();
        assert!(all.iter().all(|t| *t < last));
    }
}
