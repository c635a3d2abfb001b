//! Repositories: the block store over SQLite, preparing writes, committing them; the
//! repository tables' SQL in `store`.

pub mod blocks;
pub mod check;
pub mod commit;
pub mod import;
pub mod prepare;
pub mod store;

pub use blocks::SqlBlocks;
pub use commit::{CommitError, CommitOutcome, Committer, Intent, WriteRequest, WriteResult};
pub use prepare::{PrepareError, PreparedWrite, prepare_record};
