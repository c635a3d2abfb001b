//! The firehose: events are sequenced inside the write transaction that causes them (so an
//! event is durable before the write is acknowledged, and numbers survive restarts), encoded
//! once, stored, and after commit shared by reference with every live subscriber (the
//! WebSocket side is `xrpc::subscribe`).

mod emit;
pub mod store;

pub use emit::{EmitError, emit, emit_account, emit_identity, emit_sync};

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use tokio::sync::{broadcast, watch};

/// Frames buffered for live subscribers. A subscriber further behind than this is too slow
/// and is disconnected with `ConsumerTooSlow`; memory does not grow with slow consumers.
pub const LIVE_BUFFER: usize = 8192;

/// An encoded event.
#[derive(Debug, Clone)]
pub struct SeqFrame {
    pub seq: i64,
    pub frame: Bytes,
}

#[derive(Clone)]
pub struct Sequencer {
    inner: Arc<Inner>,
}

struct Inner {
    live: broadcast::Sender<SeqFrame>,
    /// The highest sequence number that is committed.
    head: AtomicI64,
    /// Set when the server shuts down: subscribers end their streams.
    closing: watch::Sender<bool>,
    subscribers: AtomicUsize,
    /// The last sequence number sent to each live subscriber (dead entries are pruned when
    /// read).
    positions: std::sync::Mutex<Vec<std::sync::Weak<AtomicI64>>>,
}

/// Counts a live subscriber, and where it is in the stream, for as long as it is held.
pub struct Subscriber {
    inner: Arc<Inner>,
    position: Arc<AtomicI64>,
}

impl Subscriber {
    /// Records that the subscriber has been sent everything up to `seq`.
    pub fn sent(&self, seq: i64) {
        self.position.store(seq, Ordering::Relaxed);
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.inner.subscribers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Sequencer {
    pub fn new(head: i64) -> Sequencer {
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        Sequencer {
            inner: Arc::new(Inner {
                live,
                head: AtomicI64::new(head),
                closing: watch::Sender::new(false),
                subscribers: AtomicUsize::new(0),
                positions: Default::default(),
            }),
        }
    }

    pub fn head(&self) -> i64 {
        self.inner.head.load(Ordering::Acquire)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SeqFrame> {
        self.inner.live.subscribe()
    }

    /// Registers a subscriber starting after `from`, counted until the returned guard is
    /// dropped.
    pub fn track(&self, from: i64) -> Subscriber {
        self.inner.subscribers.fetch_add(1, Ordering::AcqRel);
        let position = Arc::new(AtomicI64::new(from));
        if let Ok(mut positions) = self.inner.positions.lock() {
            positions.retain(|p| p.strong_count() > 0);
            positions.push(Arc::downgrade(&position));
        }
        Subscriber {
            inner: self.inner.clone(),
            position,
        }
    }

    /// How far the slowest live subscriber is behind the head, in events (0 with none).
    pub fn max_lag(&self) -> i64 {
        let head = self.head();
        let Ok(mut positions) = self.inner.positions.lock() else {
            return 0;
        };
        positions.retain(|p| p.strong_count() > 0);
        positions
            .iter()
            .filter_map(|p| p.upgrade())
            .map(|p| head - p.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// Subscribers connected now.
    pub fn subscribers(&self) -> usize {
        self.inner.subscribers.load(Ordering::Acquire)
    }

    /// Asks every subscriber to end its stream (the server is shutting down).
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Changes to `true` once [`Sequencer::close`] was called.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// Called after commit, in sequence order.
    fn publish(&self, frame: SeqFrame) {
        self.inner.head.fetch_max(frame.seq, Ordering::AcqRel);
        // No receivers is fine: nobody is listening live.
        let _ = self.inner.live.send(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(seq: &Sequencer, n: i64) {
        seq.publish(SeqFrame {
            seq: n,
            frame: Bytes::new(),
        });
    }

    #[test]
    fn subscribers_are_counted_and_the_slowest_sets_the_lag() {
        let seq = Sequencer::new(10);
        assert_eq!((seq.subscribers(), seq.max_lag()), (0, 0));
        let fast = seq.track(10);
        let slow = seq.track(4);
        assert_eq!(seq.subscribers(), 2);
        assert_eq!(seq.max_lag(), 6);
        for n in 11..=20 {
            publish(&seq, n);
        }
        fast.sent(20);
        slow.sent(12);
        assert_eq!(seq.max_lag(), 8);
        drop(slow);
        assert_eq!((seq.subscribers(), seq.max_lag()), (1, 0));
        drop(fast);
        assert_eq!((seq.subscribers(), seq.max_lag()), (0, 0));
    }

    #[tokio::test]
    async fn closing_reaches_subscribers_that_came_before_and_after() {
        let seq = Sequencer::new(0);
        let mut before = seq.closing();
        assert!(!*before.borrow());
        seq.close();
        before.wait_for(|c| *c).await.expect("closed");
        assert!(
            *seq.closing().borrow(),
            "a later subscriber sees it at once"
        );
    }
}
