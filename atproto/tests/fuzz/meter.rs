//! What a parser allocated, and how long it took, on the calling thread.
//!
//! The test binary's global allocator counts each thread's live bytes, their peak and the
//! largest single request. The harness runs tests on several threads at once, so the counts
//! are per thread: the parsers under test are synchronous and free on the thread that
//! allocated.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

pub struct Meter;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    // `try_with`: the allocator also runs while a thread's locals are being torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(size);
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches
// only const-initialised thread locals, which never allocate.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note_free(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_free(layout.size());
        note_alloc(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Memory a call used beyond what was live when it started.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// Highest live total during the call.
    pub peak: usize,
    /// Largest single allocation.
    pub largest: usize,
    pub elapsed: Duration,
}

/// Runs `f`, measuring its allocations on this thread and its time.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    LARGEST.with(|l| l.set(0));
    let started = Instant::now();
    let out = f();
    let elapsed = started.elapsed();
    let usage = Usage {
        peak: PEAK.with(Cell::get).saturating_sub(base),
        largest: LARGEST.with(Cell::get),
        elapsed,
    };
    (out, usage)
}

/// Fixed allowance for any parse: buffers, error messages, small maps.
const SLACK: usize = 256 * 1024;
/// Largest single allocation per input byte: a decoded list holds one value of a few dozen
/// bytes per element, and every element takes at least one byte of input.
const LARGEST_PER_BYTE: usize = 256;
/// Peak live bytes per input byte. Decoded trees are bigger than their encoding (a one-entry
/// map of three bytes becomes a B-tree node of over a kilobyte); an allocation sized by a
/// claimed length is bigger still.
const PEAK_PER_BYTE: usize = 4096;
/// Wall-clock allowance per parse, generous for debug builds on a loaded machine.
const TIME: Duration = Duration::from_secs(5);

/// Runs a parser over an input of `input_len` bytes and fails (panics, which proptest reports
/// with a shrunk input) if it used memory out of proportion to the input or took too long.
pub fn bounded<T>(input_len: usize, f: impl FnOnce() -> T) -> T {
    let (out, usage) = measure(f);
    assert!(
        usage.largest <= SLACK + LARGEST_PER_BYTE * input_len,
        "a single allocation of {} bytes for {input_len} bytes of input",
        usage.largest
    );
    assert!(
        usage.peak <= SLACK + PEAK_PER_BYTE * input_len,
        "{} bytes live at once for {input_len} bytes of input",
        usage.peak
    );
    assert!(
        usage.elapsed <= TIME,
        "took {:?} for {input_len} bytes of input",
        usage.elapsed
    );
    out
}
