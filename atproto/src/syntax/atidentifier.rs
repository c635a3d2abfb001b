//! Lexicon `at-identifier`: either a [`Did`] or a [`Handle`].

use std::fmt;
use std::str::FromStr;

use super::{Did, Handle, SyntaxError, SyntaxKind, did, err, handle};

/// A DID or a handle, as found in the authority of an AT-URI.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AtIdentifier {
    Did(Did),
    Handle(Handle),
}

/// Checks `s` as a DID (when it starts with `did:`) or else as a handle,
/// without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.starts_with("did:") {
        did::validate(s)
    } else if handle::validate(s).is_ok() {
        Ok(())
    } else {
        Err(err(SyntaxKind::AtIdentifier, "neither a DID nor a handle"))
    }
}

impl AtIdentifier {
    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        match self {
            AtIdentifier::Did(d) => d.as_str(),
            AtIdentifier::Handle(h) => h.as_str(),
        }
    }

    pub fn is_did(&self) -> bool {
        matches!(self, AtIdentifier::Did(_))
    }

    pub fn is_handle(&self) -> bool {
        matches!(self, AtIdentifier::Handle(_))
    }

    pub fn as_did(&self) -> Option<&Did> {
        match self {
            AtIdentifier::Did(d) => Some(d),
            AtIdentifier::Handle(_) => None,
        }
    }

    pub fn as_handle(&self) -> Option<&Handle> {
        match self {
            AtIdentifier::Did(_) => None,
            AtIdentifier::Handle(h) => Some(h),
        }
    }

    /// Handles are lowercased; DIDs are case-sensitive and kept as they are.
    pub fn normalize(&self) -> AtIdentifier {
        match self {
            AtIdentifier::Did(d) => AtIdentifier::Did(d.clone()),
            AtIdentifier::Handle(h) => AtIdentifier::Handle(h.normalize()),
        }
    }

    /// Wraps an already validated identifier string.
    pub(crate) fn new_unchecked(s: &str) -> AtIdentifier {
        if s.starts_with("did:") {
            AtIdentifier::Did(Did::new_unchecked(s.to_owned()))
        } else {
            AtIdentifier::Handle(Handle::new_unchecked(s.to_owned()))
        }
    }

    fn from_string(s: String) -> Result<AtIdentifier, SyntaxError> {
        // A DID is tried first: anything starting with "did:" can never be a
        // handle (':' is not allowed in handles).
        if s.starts_with("did:") {
            Did::try_from(s).map(AtIdentifier::Did)
        } else {
            Handle::try_from(s)
                .map(AtIdentifier::Handle)
                .map_err(|_| err(SyntaxKind::AtIdentifier, "neither a DID nor a handle"))
        }
    }
}

impl FromStr for AtIdentifier {
    type Err = SyntaxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        validate(s)?;
        Ok(AtIdentifier::new_unchecked(s))
    }
}

impl TryFrom<String> for AtIdentifier {
    type Error = SyntaxError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        AtIdentifier::from_string(s)
    }
}

impl TryFrom<&str> for AtIdentifier {
    type Error = SyntaxError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Did> for AtIdentifier {
    fn from(d: Did) -> Self {
        AtIdentifier::Did(d)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(h: Handle) -> Self {
        AtIdentifier::Handle(h)
    }
}

impl From<AtIdentifier> for String {
    fn from(a: AtIdentifier) -> String {
        match a {
            AtIdentifier::Did(d) => d.into(),
            AtIdentifier::Handle(h) => h.into(),
        }
    }
}

impl fmt::Display for AtIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for AtIdentifier {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl serde::Serialize for AtIdentifier {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for AtIdentifier {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = AtIdentifier;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DID or handle string")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AtIdentifier, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<AtIdentifier, E> {
                AtIdentifier::try_from(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_string(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants() {
        let a: AtIdentifier = "did:plc:abc".parse().unwrap();
        assert!(a.is_did());
        assert_eq!(a.as_did().unwrap().method(), "plc");
        let h: AtIdentifier = "Alice.Test".parse().unwrap();
        assert!(h.is_handle());
        assert_eq!(h.normalize().as_str(), "alice.test");
        assert_eq!(h.to_string(), "Alice.Test");
        assert!("did:plc:".parse::<AtIdentifier>().is_err());
        assert!(AtIdentifier::try_from("did:X:y".to_string()).is_err());
        assert!(AtIdentifier::try_from("nodots".to_string()).is_err());
    }

    #[test]
    fn serde_round_trip() {
        for s in ["did:web:example.com", "alice.test"] {
            let a: AtIdentifier = s.parse().unwrap();
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<AtIdentifier>(&json).unwrap(), a);
        }
        assert!(serde_json::from_str::<AtIdentifier>("\"@alice\"").is_err());
    }
}
