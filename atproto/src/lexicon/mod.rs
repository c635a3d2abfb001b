//! Lexicon: loading schema documents and validating data against them, per
//! <https://atproto.com/specs/lexicon>.
//!
//! | module | holds |
//! | --- | --- |
//! | [`schema`] | serde types for lexicon documents and every definition type |
//! | [`document`] | parsing a document and the structural rules serde alone can't express |
//! | [`catalog`] | [`Catalog`]: documents keyed by NSID, ref resolution, the validation entry points |
//! | [`validate`] | checking an [`Ipld`](crate::data::Ipld) value against a definition |
//! | [`official`] | the vendored `com.atproto.*`, `app.bsky.*`, `chat.bsky.*` documents, embedded |
//!
//! Validation follows the reference implementation (`@atproto/lexicon`) where the spec is
//! silent, and reports errors the same way: a path from the root (`Record`, `Input`,
//! `Output`, `Params`, `Message`) and what is wrong, e.g.
//! `Record/embed/images/0/alt must be a string`.

pub mod catalog;
pub mod document;
pub mod entry_points;
pub mod official;
pub mod schema;
pub mod validate;

pub use self::catalog::{Catalog, MethodKind};
pub use self::document::parse_document;
pub use self::schema::{Def, LexiconDoc, RecordKeyType, StringFormat};
pub use self::validate::{PathSegment, Reason, Root, ValidationError, Violation};

/// Why a lexicon document was refused, or a catalog operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexiconError {
    /// The JSON does not have the shape of a lexicon document (wrong or missing field,
    /// unknown definition type or field, wrong value type).
    #[error("malformed lexicon document{}: {message}", fmt_id(.id))]
    Malformed { id: Option<String>, message: String },
    /// The document parsed but breaks a rule of the lexicon language.
    #[error("invalid lexicon {id}: {at}: {message}")]
    Invalid {
        id: String,
        /// Where in the document, e.g. `defs/main/record/properties/text`.
        at: String,
        message: String,
    },
    /// A document with this NSID is already in the catalog.
    #[error("lexicon {0} is already in the catalog")]
    Duplicate(String),
    /// A `ref` or union member points at nothing, or at a definition it may not point at.
    #[error("lexicon {id}: reference {reference:?}: {message}")]
    BadReference {
        id: String,
        reference: String,
        message: String,
    },
    /// Reading a lexicon file or directory failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

fn fmt_id(id: &Option<String>) -> String {
    id.as_ref().map(|i| format!(" {i}")).unwrap_or_default()
}
