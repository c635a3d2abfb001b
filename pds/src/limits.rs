//! The PDS's rate limits, as the reference sets them; the token buckets are
//! `hearth_xrpc::ratelimit`'s.

pub use hearth_xrpc::ratelimit::{Limit, RateLimits};

/// Account creation per IP: the reference's 100 per 5 minutes.
pub const CREATE_ACCOUNT: Limit = Limit {
    capacity: 100.0,
    per_secs: 300.0,
};
/// Logins per IP: 30 per 5 minutes, as the reference.
pub const LOGIN: Limit = Limit {
    capacity: 30.0,
    per_secs: 300.0,
};
/// Pushed authorization requests per IP. Each may make the PDS fetch a client's metadata and
/// JWKS and resolve permission sets on the network: this bounds how much fetching one address
/// can ask for, well above what people signing in from it need.
pub const OAUTH_PAR: Limit = Limit {
    capacity: 300.0,
    per_secs: 300.0,
};
/// Repository write points per account per hour (create 3, update 2, delete 1), as the
/// reference.
pub const WRITES: Limit = Limit {
    capacity: 5000.0,
    per_secs: 3600.0,
};
/// Blob uploads per account per hour.
pub const UPLOADS: Limit = Limit {
    capacity: 1000.0,
    per_secs: 3600.0,
};
/// Requests that email a code, per account (or, for requestPasswordReset, per address): what
/// keeps the PDS from flooding an inbox.
pub const EMAIL_PER_ACCOUNT: Limit = Limit {
    capacity: 10.0,
    per_secs: 3600.0,
};
/// Requests that email a code, per IP (several accounts may share one address).
pub const EMAIL_PER_IP: Limit = Limit {
    capacity: 50.0,
    per_secs: 3600.0,
};
/// Attempts at a code (confirmEmail, updateEmail, resetPassword, deleteAccount), per IP and per
/// account: as many as logins.
pub const CODE_ATTEMPTS: Limit = LOGIN;
