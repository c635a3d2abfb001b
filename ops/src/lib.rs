//! Operating a Hearth data directory, for `hearth admin` and the server's backup schedule:
//! backups and restores ([`backup`], [`restore`]), checks ([`verify`]), figures ([`stats`]).
//! Everything here works on the files of a data directory, safely beside a running server:
//! databases are read through their own read transactions (WAL readers never block the writer).

pub mod accounts;
pub mod backup;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod remote;
pub mod restore;
pub mod rows;
pub mod stats;
pub mod verify;

pub use backup::{BackupConfig, BackupError};
pub use manifest::{Entry, Manifest};
pub use restore::RestoreError;
