//! The PDS's notion of now. Code that stamps times into commits and events takes a [`Clock`],
//! so a test can fix the instant and check exactly what was written.

use atproto::syntax::{Datetime, Tid, TidClock};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system's wall clock.
    #[default]
    System,
    /// A fixed instant, in Unix microseconds.
    Fixed(i64),
}

impl Clock {
    /// Unix time in microseconds.
    pub fn now_micros(self) -> i64 {
        match self {
            Clock::System => Datetime::unix_now_micros(),
            Clock::Fixed(micros) => micros,
        }
    }

    /// Unix time in seconds.
    pub fn now_secs(self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }

    /// The time as an atproto datetime string (millisecond precision, UTC).
    pub fn now_iso(self) -> String {
        Datetime::from_unix_millis(self.now_micros().div_euclid(1000)).to_string()
    }

    /// The next TID of `tids` at this clock's time.
    pub fn next_tid(self, tids: &TidClock) -> Tid {
        tids.next_at(u64::try_from(self.now_micros()).unwrap_or(0))
    }
}

/// Unix time in seconds, by the system clock.
pub fn now_secs() -> i64 {
    Clock::System.now_secs()
}

/// The current time as an atproto datetime string, by the system clock.
pub fn now_iso() -> String {
    Clock::System.now_iso()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_gives_its_instant_in_every_unit() {
        let clock = Clock::Fixed(1_700_000_000_123_456);
        assert_eq!(clock.now_secs(), 1_700_000_000);
        assert_eq!(clock.now_iso(), "2023-11-14T22:13:20.123Z");
        let tids = TidClock::with_clock_id(7);
        let first = clock.next_tid(&tids);
        assert_eq!(first.timestamp_micros(), 1_700_000_000_123_456);
        // A clock standing still still hands out increasing TIDs.
        assert!(clock.next_tid(&tids).as_str() > first.as_str());
    }
}
