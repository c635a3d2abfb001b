//! Decentralized identifiers, as restricted by <https://atproto.com/specs/did>.
//!
//! Rules: ASCII only; starts with lowercase `did:`; the method is one or more
//! lowercase letters followed by `:`; the method-specific identifier is one or
//! more of `A-Z a-z 0-9 . _ : % -` and must not end in `:` or `%`; at most
//! 2048 characters in total. Query (`?`), fragment (`#`) and path (`/`) parts
//! are not part of a DID. Percent-encoding is not decoded or checked beyond
//! the "no trailing `%`" rule (the spec says implementations need not).

use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Hard upper bound on a DID's length in atproto.
pub const MAX_DID_LEN: usize = 2048;

const PREFIX: &str = "did:";

/// A syntactically valid DID, such as `did:plc:ewvi7nxzyoun6zhxrhs64oiz`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did(String);

string_newtype!(Did, validate, "a DID string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Did, reason)
}

/// Checks `s` against the atproto DID syntax without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_DID_LEN {
        return Err(e("longer than 2048 characters"));
    }
    let Some(rest) = s.strip_prefix(PREFIX) else {
        return Err(e("must start with lowercase \"did:\""));
    };
    let rest = rest.as_bytes();
    let method_len = rest.iter().take_while(|b| b.is_ascii_lowercase()).count();
    if method_len == 0 {
        return Err(e("method must be one or more lowercase letters"));
    }
    match rest.get(method_len) {
        Some(b':') => {}
        Some(_) => return Err(e("method must be lowercase letters only, followed by ':'")),
        None => return Err(e("missing method-specific identifier")),
    }
    let id = &rest[method_len + 1..];
    let Some(&last) = id.last() else {
        return Err(e("empty method-specific identifier"));
    };
    if !id.iter().all(|&b| is_id_char(b)) {
        return Err(e(
            "identifier has a character outside A-Z a-z 0-9 . _ : % -",
        ));
    }
    if last == b':' || last == b'%' {
        return Err(e("must not end in ':' or '%'"));
    }
    Ok(())
}

#[inline]
fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-')
}

impl Did {
    /// The method name, e.g. `plc` for `did:plc:...`.
    pub fn method(&self) -> &str {
        let rest = &self.0[PREFIX.len()..];
        match rest.find(':') {
            Some(i) => &rest[..i],
            None => rest,
        }
    }

    /// Everything after `did:<method>:`.
    pub fn identifier(&self) -> &str {
        let rest = &self.0[PREFIX.len()..];
        match rest.find(':') {
            Some(i) => &rest[i + 1..],
            None => "",
        }
    }

    /// Whether this is a `did:plc:` DID.
    pub fn is_plc(&self) -> bool {
        self.0.starts_with("did:plc:")
    }

    /// Whether this is a `did:web:` DID.
    pub fn is_web(&self) -> bool {
        self.0.starts_with("did:web:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let d: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse().unwrap();
        assert_eq!(d.method(), "plc");
        assert_eq!(d.identifier(), "ewvi7nxzyoun6zhxrhs64oiz");
        assert!(d.is_plc());
        assert!(!d.is_web());
        let w = Did::try_from("did:web:example.com").unwrap();
        assert!(w.is_web());
        assert_eq!(w.method(), "web");
        let m = Did::try_from("did:method::::val".to_string()).unwrap();
        assert_eq!(m.identifier(), ":::val");
    }

    #[test]
    fn length_limit() {
        let ok = format!("did:plc:{}", "a".repeat(MAX_DID_LEN - 8));
        assert!(validate(&ok).is_ok());
        let long = format!("{ok}a");
        assert!(validate(&long).is_err());
    }

    #[test]
    fn round_trips() {
        let s = "did:web:localhost%3A1234";
        let d: Did = s.parse().unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d.as_str(), s);
        assert_eq!(String::from(d.clone()), s);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        let back: Did = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<Did>("\"did:METHOD:x\"").is_err());
    }
}
