//! The operations the social.hearth methods offer, each one gated (the [`crate::permissions`]
//! checks) inside the transaction or read that serves it. Each module adds methods to
//! [`crate::Spaces`]; they call the store and [`crate::fanout`], never each other.

pub mod members;
pub mod moderation;
pub mod notifications;
pub mod posts;
pub mod spaces;
