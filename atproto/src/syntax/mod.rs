//! Strict parsing and display of atproto identifiers and Lexicon string formats.
//!
//! Each concept lives in its own small module, mirroring the specs at
//! <https://atproto.com/specs>:
//!
//! | type | spec | module |
//! | --- | --- | --- |
//! | [`Did`] | `did` | [`did`] |
//! | [`Handle`] | `handle` | [`handle`] |
//! | [`AtIdentifier`] | Lexicon `at-identifier` | [`atidentifier`] |
//! | [`Nsid`] | `nsid` | [`nsid`] |
//! | [`AtUri`] | `at-uri-scheme` (restricted Lexicon form) | [`aturi`] |
//! | [`RecordKey`] | `record-key` | [`recordkey`] |
//! | [`Tid`], [`TidClock`] | `tid` | [`tid`] |
//! | [`Datetime`] | Lexicon `datetime` | [`datetime`] |
//! | [`Language`] | Lexicon `language` (BCP 47) | [`language`] |
//! | [`Uri`] | Lexicon `uri` | [`uri`] |
//! | CID strings | Lexicon `cid` | [`cid`] |
//!
//! Every newtype wraps an already validated `String`: build one with
//! [`FromStr`](std::str::FromStr) / `parse()`, `TryFrom<String>` (reuses the
//! allocation) or `TryFrom<&str>`, and get the text back with `as_str()`,
//! [`Display`](std::fmt::Display), `AsRef<str>` or `String::from`. Serde
//! serializes them as plain strings and validates again on deserialize.
//!
//! Equality, ordering and hashing are those of the underlying string: no case
//! folding happens behind your back (see [`Handle::normalize`] and
//! [`Nsid::normalize`]).

use std::fmt;

pub mod atidentifier;
pub mod aturi;
pub mod cid;
pub mod datetime;
pub mod did;
pub mod handle;
pub mod language;
pub mod nsid;
pub mod recordkey;
pub mod tid;
pub mod uri;

pub use atidentifier::AtIdentifier;
pub use aturi::AtUri;
pub use cid::validate_cid_string;
pub use datetime::Datetime;
pub use did::Did;
pub use handle::Handle;
pub use language::Language;
pub use nsid::Nsid;
pub use recordkey::RecordKey;
pub use tid::{Tid, TidClock};
pub use uri::Uri;

/// Which syntax a [`SyntaxError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyntaxKind {
    Did,
    Handle,
    AtIdentifier,
    Nsid,
    AtUri,
    RecordKey,
    Tid,
    Datetime,
    Language,
    Uri,
    Cid,
}

impl SyntaxKind {
    /// Human-readable name, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            SyntaxKind::Did => "DID",
            SyntaxKind::Handle => "handle",
            SyntaxKind::AtIdentifier => "at-identifier",
            SyntaxKind::Nsid => "NSID",
            SyntaxKind::AtUri => "AT-URI",
            SyntaxKind::RecordKey => "record key",
            SyntaxKind::Tid => "TID",
            SyntaxKind::Datetime => "datetime",
            SyntaxKind::Language => "language tag",
            SyntaxKind::Uri => "URI",
            SyntaxKind::Cid => "CID string",
        }
    }
}

impl fmt::Display for SyntaxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string did not match the syntax it was parsed as.
///
/// Cheap to build (no allocation) and deliberately does not echo the input,
/// which may be long or hostile; log the input yourself if you need it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct SyntaxError {
    kind: SyntaxKind,
    reason: &'static str,
}

impl SyntaxError {
    pub(crate) const fn new(kind: SyntaxKind, reason: &'static str) -> Self {
        SyntaxError { kind, reason }
    }

    /// The syntax that was being parsed.
    pub fn kind(&self) -> SyntaxKind {
        self.kind
    }

    /// Why the input was rejected.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Implements the shared trait set for a `pub struct X(String)` newtype whose
/// contents have been checked by `$validate: fn(&str) -> Result<(), SyntaxError>`.
macro_rules! string_newtype {
    ($name:ident, $validate:path, $expecting:literal) => {
        impl $name {
            /// The validated string.
            #[inline]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Unwraps into the validated string.
            #[inline]
            pub fn into_string(self) -> String {
                self.0
            }

            /// Wraps a string that the caller has already validated
            /// (or built from validated parts).
            #[allow(dead_code)]
            #[inline]
            pub(crate) fn new_unchecked(s: String) -> Self {
                debug_assert!($validate(&s).is_ok(), "new_unchecked: {s:?}");
                $name(s)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::syntax::SyntaxError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $validate(s)?;
                Ok($name(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::syntax::SyntaxError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                $validate(&s)?;
                Ok($name(s))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $crate::syntax::SyntaxError;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            #[inline]
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // Hash/Eq/Ord are derived from the single String field, so they agree
        // with `str`'s: lookups by `&str` in maps keyed by this type work.
        impl ::std::borrow::Borrow<str> for $name {
            #[inline]
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            #[inline]
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }

                    fn visit_string<E: ::serde::de::Error>(self, v: String) -> Result<$name, E> {
                        $name::try_from(v).map_err(E::custom)
                    }
                }
                deserializer.deserialize_string(V)
            }
        }
    };
}
pub(crate) use string_newtype;

/// Shorthand used by the parsers: `err(kind, "why")`.
#[inline]
pub(crate) const fn err(kind: SyntaxKind, reason: &'static str) -> SyntaxError {
    SyntaxError::new(kind, reason)
}
