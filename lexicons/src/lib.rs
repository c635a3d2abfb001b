//! The `social.hearth` contract, shared by the PDS (which proxies the methods and keeps public
//! records from pointing into a space) and the spaces service (which serves them):
//!
//! | module | holds |
//! | --- | --- |
//! | [`catalog`] | the lexicon documents under `lexicons/social/`, embedded and parsed once |
//! | [`nsid`] | the namespace, the record NSIDs, and the service id a Hearth AppView answers to |
//! | [`reference`] | the rule for "this string points into a space" |
//!
//! It also holds [`bsky`], the `app.bsky.*` view types: the AppView renders them from its index
//! and the PDS renders the same shapes for the user's writes the AppView has not seen yet, and
//! the PDS may not depend on the AppView.

pub mod bsky;
pub mod catalog;
pub mod nsid;
pub mod reference;

pub use catalog::{catalog, load_report};
pub use nsid::{CHANNEL, NAMESPACE, POST, SERVICE_ID, SERVICE_TYPE, SPACE, is_hearth_method};
pub use reference::{MARKER, is_space_reference, record_references_space, references_space};
