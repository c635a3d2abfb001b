//! The `app.bsky.*` views Hearth renders: the AppView builds them from its index, and the PDS
//! builds the same shapes for the user's own writes the AppView has not seen yet
//! (read-after-write). One type per lexicon def, named after it, so that the compiler checks
//! field names and which fields are optional.
//!
//! Optional lexicon fields are `Option`s left out when `None` (absent, never null); unions are
//! enums tagged with `$type`. Records, and the parts of them passed through as the author wrote
//! them (`record`, `value`, `aspectRatio`, facets, policies), stay JSON values.
//!
//! Why these types and not `atrium-api`'s: see the `hearth-appview` crate's `views` module and
//! `docs/benchmarks.md` ("Typed views").

pub mod actor;
pub mod embed;
pub mod feed;
pub mod graph;
pub mod labeler;
pub mod notification;
pub mod unspecced;

pub use actor::*;
pub use embed::*;
pub use feed::*;
pub use graph::*;
pub use labeler::*;
pub use notification::*;
pub use unspecced::*;

use serde::Serialize;

/// `com.atproto.label.defs#label`. Hearth keeps no labels yet, so the views carry empty lists
/// of these.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    pub src: String,
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    pub val: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neg: Option<bool>,
    pub cts: String,
}

/// The empty label list a view without labels carries (the AppView always says so; the
/// lexicon makes the field optional).
pub fn no_labels() -> Option<Vec<Label>> {
    Some(Vec::new())
}

#[cfg(test)]
mod tests;
