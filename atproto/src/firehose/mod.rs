//! `com.atproto.sync.subscribeRepos`: event types and the two-part frames they travel in.
//!
//! A frame is a DAG-CBOR header (`{op: 1, t: "#commit"}`, or `{op: -1}` for an error) followed
//! by a DAG-CBOR body. The same types serve the PDS (encode once, share with every subscriber)
//! and the AppView (decode and verify).

mod events;
mod frame;

pub use events::{Account, Commit, Event, Identity, Info, RepoOpWire, Sync};
pub use frame::{ErrorFrame, Frame, FrameError, decode_frame, encode_error, encode_event};

/// The Sync 1.1 limit on a commit's CAR slice.
pub const MAX_BLOCKS_BYTES: usize = 2_000_000;
/// The Sync 1.1 limit on operations per commit.
pub const MAX_OPS: usize = 200;
/// Frames larger than this are refused by the decoder (the spec's own ceiling is 5 MB).
pub const MAX_FRAME_BYTES: usize = 5_000_000;
