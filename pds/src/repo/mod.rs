//! Repositories: the block store over SQLite, preparing writes, committing them, reading.

pub mod blocks;
pub mod commit;
pub mod prepare;
pub mod read;

pub use blocks::SqlBlocks;
pub use commit::{CommitOutcome, Intent, WriteRequest, WriteResult, commit_writes, create_repo};
pub use prepare::{PreparedWrite, prepare_record};
