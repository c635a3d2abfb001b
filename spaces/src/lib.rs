//! Members-only spaces (`social.hearth.*`): private groups whose content lives only here, on
//! the Hearth AppView, gated on every request. See `docs/SPACES.md`.
//!
//! | module | holds |
//! | --- | --- |
//! | [`uri`] | space addressing (`at://{authority}/space/social.hearth.space/{skey}/...`) |
//! | [`model`] | roles, policies, channel kinds, levels, errors |
//! | [`store`] | the separate `spaces.sqlite` database: its schema and every statement on it, by table group |
//! | [`profiles`] | the profile look-up the AppView provides (handle, display name, avatar) |
//! | [`permissions`] | the gate: membership and roles, checked inside every read and write |
//! | [`service`] | the service handle: database, images, email settings, limits, clock |
//! | [`ops`] | the operations (spaces and channels, members, posts, moderation, notifications), which call the store and never each other |
//! | [`fanout`] | notifications (and announcement emails) the operations queue after a write |
//! | [`email`] | the SMTP outbox sender and digests |
//! | [`images`] | private images on the AppView's disk |
//! | [`ratelimit`] | token buckets per DID and per space |
//! | [`http`] | the XRPC routes: extractors, handlers, and the one mapping of errors |
//!
//! The lexicons, their NSIDs and the rule for what points into a space are the
//! `hearth-lexicons` crate's. Nothing here writes to the public index, a repository or the
//! firehose, and nothing logs private text, names or membership at info level: log lines
//! carry opaque row ids, at debug.

pub mod email;
pub mod fanout;
pub mod http;
pub mod images;
pub mod live;
pub mod model;
pub mod ops;
pub mod permissions;
pub mod profiles;
pub mod ratelimit;
pub mod service;
pub mod store;
pub mod uri;
pub mod views;

pub use http::router;
pub use service::{SetupError, Spaces, SpacesConfig};

/// Starts the spaces background tasks (email outbox and digests, the collection of unattached
/// uploads).
pub fn start(spaces: &Spaces) -> Result<(), SetupError> {
    images::start_collector(spaces);
    email::start(spaces)
}
