//! What Hearth's test suites share, so each is written once: a case counter whose totals
//! `scripts/test` collects, a PLC directory ([`TestPlc`]), servers on threads of their own,
//! did:plc identities and PDS accounts, an XRPC client that checks every error is
//! `{"error","message"}` JSON, a firehose reader that verifies what it reads the way a relay
//! does, a real SMTP server ([`smtp`]) for the email tests and an S3 API server ([`s3`]) for
//! blobs in a bucket.
//!
//! A dev-dependency only, and it depends on no service crate: the harness that needs a
//! service's internals (a PDS's state, an AppView's index) stays beside that service's tests.

mod cases;
pub mod firehose;
pub mod http;
pub mod identity;
pub mod s3;
mod server;
pub mod smtp;

pub use cases::Cases;
pub use hearth_plc::TestPlc;
pub use http::{Account, Call, Refusal, Res, Xrpc, assert_xrpc_error, client, raw_http};
pub use identity::{PlcIdentity, plc_key};
pub use server::ServerThread;

/// The password of every account a suite creates through a PDS.
pub const PASSWORD: &str = "correct horse battery";
/// The admin password the suites configure a PDS with.
pub const ADMIN_PASSWORD: &str = "admin-secret";

/// A post record that passes the lexicon.
pub fn post(text: &str) -> serde_json::Value {
    serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2024-01-01T00:00:00.000Z",
    })
}

/// A 1x1 PNG (an image upload that passes sniffing).
pub fn png() -> Vec<u8> {
    let h = "89504e470d0a1a0a0000000d4948445200000001000000010806000000\
             1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082";
    (0..h.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
        .collect()
}
