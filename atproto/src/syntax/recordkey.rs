//! Record keys, per <https://atproto.com/specs/record-key>.
//!
//! Rules: 1-512 characters of `A-Z a-z 0-9 . - _ : ~`, and not exactly `.`
//! or `..`. Case-sensitive.

use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Maximum length of a record key.
pub const MAX_RECORD_KEY_LEN: usize = 512;

/// A syntactically valid record key, such as `self` or a TID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey(String);

string_newtype!(RecordKey, validate, "a record key string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::RecordKey, reason)
}

/// Checks `s` against the record key syntax without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.is_empty() {
        return Err(e("empty"));
    }
    if s.len() > MAX_RECORD_KEY_LEN {
        return Err(e("longer than 512 characters"));
    }
    if !s.bytes().all(is_rkey_char) {
        return Err(e("character outside A-Z a-z 0-9 . - _ : ~"));
    }
    if s == "." || s == ".." {
        return Err(e("must not be \".\" or \"..\""));
    }
    Ok(())
}

#[inline]
fn is_rkey_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'~')
}

impl From<super::Tid> for RecordKey {
    /// Every TID is a valid record key.
    fn from(tid: super::Tid) -> RecordKey {
        RecordKey(tid.into_string())
    }
}

impl RecordKey {
    /// Record key of a TID, without re-validating it.
    pub fn from_tid(tid: &super::Tid) -> RecordKey {
        RecordKey(tid.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        assert!(validate("self").is_ok());
        assert!(validate("...").is_ok());
        assert!(validate(&"o".repeat(512)).is_ok());
        assert!(validate(&"o".repeat(513)).is_err());
        assert!(validate("").is_err());
        assert!(validate(".").is_err());
        assert!(validate("..").is_err());
        assert!(validate("a/b").is_err());
        assert!(validate("é").is_err());
    }

    #[test]
    fn from_tid() {
        let tid: super::super::Tid = "3jzfcijpj2z2a".parse().unwrap();
        let rk = RecordKey::from_tid(&tid);
        assert_eq!(rk.as_str(), "3jzfcijpj2z2a");
        assert_eq!(RecordKey::from(tid), rk);
    }
}
