//! Lexicon `cid` strings: a CIDv1 in string (multibase) form, per
//! <https://atproto.com/specs/data-model#link-and-cid-formats>.
//!
//! This is a syntax gate, not a decoder (parse with the `cid` crate when you
//! need the value): 8-256 characters of `A-Z a-z 0-9 + =`, starting with a
//! multibase prefix whose alphabet fits those characters. Legacy CIDv0
//! (`Qm...`, bare base58 with no multibase prefix) is not allowed, since
//! `Q` is not a multibase prefix.

use super::{SyntaxError, SyntaxKind, err};

/// Shortest and longest accepted CID strings.
pub const MIN_CID_LEN: usize = 8;
pub const MAX_CID_LEN: usize = 256;

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Cid, reason)
}

/// Multibase prefixes of encodings usable within the allowed characters:
/// base2 `0`, base8 `7`, base10 `9`, base16 `f F`, base32 `b B c C`,
/// base32hex `v V t T`, base32z `h`, base36 `k K`, base58 `z Z`,
/// base64 `m M`, base64url `u U`.
fn is_multibase_prefix(c: u8) -> bool {
    matches!(
        c,
        b'0' | b'7'
            | b'9'
            | b'f'
            | b'F'
            | b'b'
            | b'B'
            | b'c'
            | b'C'
            | b'v'
            | b'V'
            | b't'
            | b'T'
            | b'h'
            | b'k'
            | b'K'
            | b'z'
            | b'Z'
            | b'm'
            | b'M'
            | b'u'
            | b'U'
    )
}

/// Checks that `s` looks like a CIDv1 string, without allocating.
pub fn validate_cid_string(s: &str) -> Result<(), SyntaxError> {
    if s.len() < MIN_CID_LEN {
        return Err(e("shorter than 8 characters"));
    }
    if s.len() > MAX_CID_LEN {
        return Err(e("longer than 256 characters"));
    }
    let b = s.as_bytes();
    if !b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'=')
    {
        return Err(e("character outside A-Z a-z 0-9 + ="));
    }
    if s.starts_with("Qm") {
        return Err(e("CIDv0 is not allowed"));
    }
    if !b.first().copied().is_some_and(is_multibase_prefix) {
        return Err(e("does not start with a multibase prefix"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_cids_pass() {
        // A CID printed by the cid crate must pass.
        let c = cid::Cid::try_from("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm")
            .unwrap();
        assert!(validate_cid_string(&c.to_string()).is_ok());
        assert!(validate_cid_string("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR").is_err());
        assert!(validate_cid_string("abcdefghij").is_err());
        assert!(validate_cid_string(&"b".repeat(257)).is_err());
    }
}
