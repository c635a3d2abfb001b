//! A local PLC directory for `hearth up`: the HTTP API of plc.directory, backed by SQLite, so
//! accounts get real `did:plc` identities with no internet access. Tests and benchmarks start
//! one with [`TestPlc::spawn`].
//!
//! It applies the same rules as the reference server (`@did-plc/server`): the checks live in
//! [`atproto::plc`]; this crate stores what they accept and serves it.
//!
//! | route | answer |
//! | --- | --- |
//! | `POST /{did}` | submit a signed operation: 200 `OK`, or 400 `{"message"}` |
//! | `GET /{did}` | the DID document (404 if unknown or tombstoned) |
//! | `GET /{did}/data` | the PLC state: keys, aliases, services |
//! | `GET /{did}/log` | active operations, oldest first |
//! | `GET /{did}/log/audit` | every operation with CID, nullified flag and time |
//! | `GET /{did}/log/last` | the latest active operation |
//! | `GET /_health` | `{"version"}` |

mod routes;
mod store;
mod testing;

pub use routes::router;
pub use store::{PlcStore, PlcStoreError};
pub use testing::{SpawnError, TestPlc};

#[cfg(test)]
mod tests;
