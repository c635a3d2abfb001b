//! CAR v1 files: the container for repositories, firehose diffs and proofs.
//!
//! Written here rather than taken from `iroh-car`: that crate is async-only, while CAR slices
//! in this project are mostly small in-memory buffers parsed on blocking threads; the format is
//! a varint-framed sequence and fits in a page. Reading verifies each block against its CID.

mod reader;
mod varint;
mod writer;

pub use reader::{CarReader, read_car};
pub use writer::{CarWriter, write_car};

use crate::data::Cid;
use serde::{Deserialize, Serialize};

/// Largest block the reader accepts. Records are capped far lower (1 MiB in the reference);
/// the cap stops a hostile length prefix from reserving arbitrary memory.
pub const MAX_BLOCK_SIZE: usize = 4 * 1024 * 1024;
/// Largest header the reader accepts.
const MAX_HEADER_SIZE: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CarError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed CAR: {0}")]
    Malformed(String),
    #[error("block {0} does not match its CID")]
    CidMismatch(Cid),
    #[error("CAR block larger than allowed")]
    TooLarge,
}

#[derive(Serialize, Deserialize)]
struct Header {
    version: u64,
    roots: Vec<Cid>,
}
