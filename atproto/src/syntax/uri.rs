//! Lexicon `uri` strings, per <https://atproto.com/specs/lexicon#uri>: any
//! URI with a scheme, following the generic syntax of RFC 3986.
//!
//! Checked here: an RFC 3986 scheme (a letter, then letters, digits, `+`,
//! `-` or `.`), a `:`, then at least one more character, all of them
//! printable, non-whitespace ASCII; at most 8 KiB in total. This is a fast
//! syntax gate for pass-through, not a scheme-specific parser: it does not
//! validate the inside of `at://` or `did:` URIs (use [`super::AtUri`] and
//! [`super::Did`] for that).

use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Maximum length of a URI.
pub const MAX_URI_LEN: usize = 8 * 1024;

/// A syntactically valid URI, such as `https://example.com/path?q=1#frag`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uri(String);

string_newtype!(Uri, validate, "a URI string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Uri, reason)
}

/// Checks `s` against the Lexicon URI syntax without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_URI_LEN {
        return Err(e("longer than 8192 characters"));
    }
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(e(
            "must start with a scheme (a letter, then letters, digits, + - .)",
        ));
    }
    let Some(colon) = b.iter().position(|&c| c == b':') else {
        return Err(e("missing ':' after the scheme"));
    };
    let (scheme, rest) = (&b[..colon], &b[colon + 1..]);
    if !scheme
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(e("scheme may only contain letters, digits, + - ."));
    }
    if rest.is_empty() {
        return Err(e("nothing after the scheme"));
    }
    if !rest.iter().all(u8::is_ascii_graphic) {
        return Err(e("whitespace, control or non-ASCII character"));
    }
    Ok(())
}

impl Uri {
    /// The scheme, as written (e.g. `https`).
    pub fn scheme(&self) -> &str {
        self.0.split_once(':').map_or("", |(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        for ok in [
            "https://example.com",
            "s3://bucket/key",
            "coap+tcp://host",
            "HTTPS://EXAMPLE.COM",
            "urn:isbn:0451450523",
            "mailto:a@b.c",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ":",
            "a:",
            "1a:b",
            "a_b:c",
            "https://exa mple.com",
            "https://example.com/\u{e9}",
            "https://example.com/\t",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
        let max = format!("https://{}", "x".repeat(MAX_URI_LEN - 8));
        assert!(validate(&max).is_ok());
        assert!(validate(&format!("{max}x")).is_err());
        assert_eq!("dns:example.com".parse::<Uri>().unwrap().scheme(), "dns");
    }
}
