//! Namespaced identifiers, per <https://atproto.com/specs/nsid>.
//!
//! An NSID is a reversed domain name (the "authority") followed by a name:
//! `com.example.fooBar`. Rules: ASCII only; at least three dot-separated
//! segments; at most 317 characters in total. Authority: each segment 1-63
//! of `A-Z a-z 0-9 -` without a leading or trailing hyphen, the first segment
//! (the TLD) not starting with a digit; case-insensitive. Name: 1-63 ASCII
//! letters and digits, not starting with a digit; case-sensitive.
//!
//! The spec text also caps the authority at 253 characters (a DNS name), but
//! the interop vectors accept a 283-character authority within the
//! 317-character total, so only the total is enforced here.

use super::handle::validate_label;
use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Maximum total length of an NSID.
pub const MAX_NSID_LEN: usize = 317;
/// Maximum length of the name segment.
pub const MAX_NAME_LEN: usize = 63;

/// A syntactically valid NSID, such as `app.bsky.feed.post`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nsid(String);

string_newtype!(Nsid, validate, "an NSID string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Nsid, reason)
}

/// Checks `s` against the NSID syntax without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_NSID_LEN {
        return Err(e("longer than 317 characters"));
    }
    let Some((domain, name)) = s.rsplit_once('.') else {
        return Err(e("needs at least three dot-separated segments"));
    };
    validate_name(name.as_bytes())?;
    let mut segments = 0usize;
    for label in domain.as_bytes().split(|&c| c == b'.') {
        let first = validate_label(label).map_err(e)?;
        if segments == 0 && first.is_ascii_digit() {
            return Err(e(
                "first segment (top-level domain) must not start with a digit",
            ));
        }
        segments += 1;
    }
    if segments < 2 {
        return Err(e("needs at least three dot-separated segments"));
    }
    Ok(())
}

fn validate_name(name: &[u8]) -> Result<(), SyntaxError> {
    let Some(&first) = name.first() else {
        return Err(e("empty name segment"));
    };
    if name.len() > MAX_NAME_LEN {
        return Err(e("name segment longer than 63 characters"));
    }
    if !first.is_ascii_alphabetic() {
        return Err(e("name segment must start with a letter"));
    }
    if !name.iter().all(|c| c.is_ascii_alphanumeric()) {
        return Err(e("name segment may only contain ASCII letters and digits"));
    }
    Ok(())
}

impl Nsid {
    /// Index of the dot that separates authority and name.
    fn split_at(&self) -> usize {
        self.0.rfind('.').unwrap_or(0)
    }

    /// The domain authority, un-reversed and lowercased: `example.com` for
    /// `com.example.fooBar`. This is the name to look up for Lexicon
    /// resolution (`_lexicon.<authority>`).
    pub fn authority(&self) -> String {
        let domain = &self.0[..self.split_at()];
        let mut out = String::with_capacity(domain.len());
        for (i, seg) in domain.rsplit('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(seg);
        }
        out.make_ascii_lowercase();
        out
    }

    /// The reversed-domain part as written, e.g. `com.example`.
    pub fn domain_part(&self) -> &str {
        &self.0[..self.split_at()]
    }

    /// The final (name) segment, e.g. `fooBar`.
    pub fn name(&self) -> &str {
        &self.0[self.split_at() + 1..]
    }

    /// All dot-separated segments, in order.
    pub fn segments(&self) -> std::str::Split<'_, char> {
        self.0.split('.')
    }

    /// Canonical form: authority segments lowercased, name left as is.
    pub fn normalize(&self) -> Nsid {
        let at = self.split_at();
        let mut s = self.0.clone();
        s[..at].make_ascii_lowercase();
        Nsid(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let n: Nsid = "com.Example.fooBar".parse().unwrap();
        assert_eq!(n.authority(), "example.com");
        assert_eq!(n.domain_part(), "com.Example");
        assert_eq!(n.name(), "fooBar");
        assert_eq!(
            n.segments().collect::<Vec<_>>(),
            ["com", "Example", "fooBar"]
        );
        assert_eq!(n.normalize().as_str(), "com.example.fooBar");
        let n: Nsid = "app.bsky.feed.post".parse().unwrap();
        assert_eq!(n.authority(), "feed.bsky.app");
        assert_eq!(n.name(), "post");
    }

    #[test]
    fn edges() {
        assert!(validate("a.b.c").is_ok());
        assert!(validate("a.b").is_err());
        assert!(validate("a.b.").is_err());
        assert!(validate(".a.b").is_err());
        assert!(validate("a.b.c-d").is_err());
        assert!(validate("a.b.1c").is_err());
        assert!(validate("").is_err());
    }
}
