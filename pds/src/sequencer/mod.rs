//! The firehose: events are sequenced inside the write transaction that causes them (so an
//! event is durable before the write is acknowledged, and numbers survive restarts), encoded
//! once, stored, and after commit shared by reference with every live subscriber (the
//! WebSocket side is `xrpc::subscribe`).

mod emit;
pub mod store;

pub use emit::{EmitError, emit, emit_account, emit_identity, emit_sync};

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::broadcast;

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
}

impl Sequencer {
    pub fn new(head: i64) -> Sequencer {
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        Sequencer {
            inner: Arc::new(Inner {
                live,
                head: AtomicI64::new(head),
            }),
        }
    }

    pub fn head(&self) -> i64 {
        self.inner.head.load(Ordering::Acquire)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SeqFrame> {
        self.inner.live.subscribe()
    }

    /// Called after commit, in sequence order.
    fn publish(&self, frame: SeqFrame) {
        self.inner.head.fetch_max(frame.seq, Ordering::AcqRel);
        // No receivers is fine: nobody is listening live.
        let _ = self.inner.live.send(frame);
    }
}
