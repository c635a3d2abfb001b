//! Accounts: rows, status, sessions, app passwords, invite codes. SQL lives in `store`; the
//! flows that combine it with PLC, the repository and the firehose live in `service`, those
//! that email the account a code in `email`.

mod email;
mod error;
pub mod invites;
pub mod service;
pub mod sessions;
pub mod store;

pub use error::AccountError;
pub use store::{Account, AccountStatus, status_by_did};
