//! Handles: DNS hostnames, per <https://atproto.com/specs/handle>.
//!
//! Rules: ASCII letters, digits and hyphens in dot-separated labels; at least
//! two labels; each label 1-63 characters, not starting or ending with a
//! hyphen; the last label (TLD) starts with a letter; at most 253 characters
//! in total. Parsing is case-insensitive and keeps the original case; use
//! [`Handle::normalize`] before comparing or storing.
//!
//! The spec also lists TLDs that must not be used for handles (`.local`,
//! `.onion`, ...). They are syntactically valid, so parsing accepts them (the
//! interop vectors require it); check [`Handle::allowed_tld`] where it matters
//! (handle resolution, account creation).

use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Maximum total length of a handle.
pub const MAX_HANDLE_LEN: usize = 253;
/// Maximum length of one label (dot-separated segment).
pub const MAX_LABEL_LEN: usize = 63;

/// The special handle that stands for "this account has no valid handle".
pub const INVALID_HANDLE: &str = "handle.invalid";

/// TLDs that the spec disallows for handles, lowercase, without the dot.
pub const DISALLOWED_TLDS: &[&str] = &[
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
];

/// A syntactically valid handle, such as `alice.bsky.social`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(String);

string_newtype!(Handle, validate, "a handle string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Handle, reason)
}

/// Checks `s` against the handle syntax without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_HANDLE_LEN {
        return Err(e("longer than 253 characters"));
    }
    validate_hostname(s.as_bytes(), 2).map_err(e)
}

/// Shared by handles and NSID authorities: dot-separated DNS labels of
/// `A-Z a-z 0-9 -`, 1-63 characters each, no leading or trailing hyphen,
/// at least `min_labels` labels, and the last label starts with a letter.
/// (Total length is checked by the callers, which have different limits.)
fn validate_hostname(b: &[u8], min_labels: usize) -> Result<(), &'static str> {
    let mut labels = 0usize;
    let mut last_first = 0u8;
    for label in b.split(|&c| c == b'.') {
        last_first = validate_label(label)?;
        labels += 1;
    }
    if labels < min_labels {
        return Err("needs at least two dot-separated labels");
    }
    if !last_first.is_ascii_alphabetic() {
        return Err("top-level domain must start with a letter");
    }
    Ok(())
}

/// One DNS label: 1-63 of `A-Z a-z 0-9 -`, not starting or ending with `-`.
/// Returns the label's first byte.
#[inline]
pub(crate) fn validate_label(label: &[u8]) -> Result<u8, &'static str> {
    let (Some(&first), Some(&last)) = (label.first(), label.last()) else {
        return Err("empty label (leading, trailing or doubled '.')");
    };
    if label.len() > MAX_LABEL_LEN {
        return Err("label longer than 63 characters");
    }
    if !label
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
    {
        return Err("character outside A-Z a-z 0-9 - in a label");
    }
    if first == b'-' || last == b'-' {
        return Err("label starts or ends with '-'");
    }
    Ok(first)
}

impl Handle {
    /// The special `handle.invalid` handle.
    pub fn invalid() -> Handle {
        Handle(INVALID_HANDLE.to_owned())
    }

    /// Lowercased copy: the canonical form for storage and comparison.
    pub fn normalize(&self) -> Handle {
        Handle(self.0.to_ascii_lowercase())
    }

    /// Whether this is the special `handle.invalid` (in any case).
    pub fn is_invalid_handle(&self) -> bool {
        self.0.eq_ignore_ascii_case(INVALID_HANDLE)
    }

    /// The last label, as written.
    pub fn tld(&self) -> &str {
        match self.0.rfind('.') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// False if the TLD is one the spec disallows for handles (`.local`,
    /// `.arpa`, `.invalid`, `.localhost`, `.internal`, `.example`, `.alt`,
    /// `.onion`). Note that [`Handle::invalid`] is itself not an allowed TLD.
    pub fn allowed_tld(&self) -> bool {
        let tld = self.tld();
        !DISALLOWED_TLDS.iter().any(|d| tld.eq_ignore_ascii_case(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_and_special() {
        let h: Handle = "John.Bsky.Social".parse().unwrap();
        assert_eq!(h.as_str(), "John.Bsky.Social");
        assert_eq!(h.normalize().as_str(), "john.bsky.social");
        assert_ne!(h, h.normalize());
        assert!(!h.is_invalid_handle());
        assert!(h.allowed_tld());
        let inv: Handle = "Handle.INVALID".parse().unwrap();
        assert!(inv.is_invalid_handle());
        assert!(!inv.allowed_tld());
        assert!(Handle::invalid().is_invalid_handle());
    }

    #[test]
    fn tlds() {
        for (h, ok) in [
            ("laptop.local", false),
            ("laptop.LOCAL", false),
            ("x.arpa", false),
            ("x.onion", false),
            ("a.example", false),
            ("a.alt", false),
            ("a.internal", false),
            ("a.localhost", false),
            ("a.test", true),
            ("a.localhostx", true),
            ("local.com", true),
        ] {
            let h: Handle = h.parse().unwrap();
            assert_eq!(h.allowed_tld(), ok, "{h}");
        }
        assert_eq!(Handle::try_from("a.b.co").unwrap().tld(), "co");
    }

    #[test]
    fn limits() {
        let label63 = "a".repeat(63);
        assert!(validate(&format!("{label63}.test")).is_ok());
        assert!(validate(&format!("a{label63}.test")).is_err());
        // 253 exactly: 4 labels of 63 + 3 dots = 255, so trim.
        let h = format!("{0}.{0}.{0}.{1}", label63, "a".repeat(61));
        assert_eq!(h.len(), 253);
        assert!(validate(&h).is_ok());
        assert!(validate(&format!("{h}a")).is_err());
        assert!(validate("").is_err());
        assert!(validate(".").is_err());
    }

    #[test]
    fn serde_round_trip() {
        let h: Handle = "alice.test".parse().unwrap();
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Handle>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Handle>("\"alice\"").is_err());
    }
}
