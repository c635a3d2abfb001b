//! What the admin commands show and take, whether they work on the data directory
//! ([`crate::accounts`]) or on a running server ([`crate::remote`]).

use serde::Serialize;

/// An account as the admin commands show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRow {
    pub did: String,
    pub handle: Option<String>,
    pub email: Option<String>,
    /// `active`, `deactivated` or `takendown`.
    pub status: String,
}

/// An invite code as the admin commands show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteRow {
    pub code: String,
    pub available: i64,
    pub used: usize,
    pub disabled: bool,
    pub for_account: String,
}

/// What a new account needs.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub handle: String,
    pub email: String,
    pub password: String,
}
