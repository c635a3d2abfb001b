//! A host's cursor: the highest sequence number such that every event up to it has been fully
//! handled (applied or dropped). Events finish out of order across workers; the cursor only
//! moves past an event once everything before it is done too.

use std::collections::BTreeSet;
use std::sync::Mutex;

#[derive(Default)]
pub struct Watermark {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pending: BTreeSet<i64>,
    max_seen: i64,
}

impl Watermark {
    pub fn new(start: i64) -> Self {
        Watermark {
            inner: Mutex::new(Inner {
                pending: BTreeSet::new(),
                max_seen: start,
            }),
        }
    }

    pub fn begin(&self, seq: i64) {
        if let Ok(mut w) = self.inner.lock() {
            w.pending.insert(seq);
            w.max_seen = w.max_seen.max(seq);
        }
    }

    pub fn finish(&self, seq: i64) {
        if let Ok(mut w) = self.inner.lock() {
            w.pending.remove(&seq);
        }
    }

    /// The cursor to store.
    pub fn cursor(&self) -> i64 {
        self.inner
            .lock()
            .map(|w| w.pending.first().map(|p| p - 1).unwrap_or(w.max_seen))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_past_contiguous_work() {
        let w = Watermark::new(0);
        for s in 1..=3 {
            w.begin(s);
        }
        w.finish(2);
        assert_eq!(w.cursor(), 0);
        w.finish(1);
        assert_eq!(w.cursor(), 2);
        w.finish(3);
        assert_eq!(w.cursor(), 3);
    }
}
