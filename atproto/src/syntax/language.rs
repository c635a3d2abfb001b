//! Lexicon `language` strings: BCP 47 language tags (RFC 5646), per
//! <https://atproto.com/specs/lexicon#language>.
//!
//! [`validate_syntax`] checks that a tag is well-formed by the RFC 5646
//! grammar (`language[-extlang][-script][-region]*(-variant)*(-extension)
//! [-privateuse]`, a private-use tag `x-...`, or one of the irregular
//! grandfathered tags), with two atproto-specific restrictions taken from the
//! interop vectors: the primary language subtag must be written in lowercase
//! (`JA` is rejected, while later subtags and the private-use `x`/`X`
//! singleton may use any case), and the reserved four-letter primary subtags
//! are rejected. Tags are limited to 128 characters.
//!
//! [`validate`] (and so parsing a [`Language`]) also applies RFC 5646 §2.2.9
//! validity rules that need no registry: no variant subtag and no extension
//! singleton may appear twice (compared case-insensitively).

use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Maximum length of a language tag accepted here.
pub const MAX_LANGUAGE_LEN: usize = 128;

/// Irregular grandfathered tags: those that do not fit the `langtag`
/// production (the regular ones, like `zh-hakka`, already do).
const IRREGULAR: &[&str] = &[
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
];

/// Most variants a tag within [`MAX_LANGUAGE_LEN`] can hold (each takes at
/// least 5 characters including its hyphen).
const MAX_VARIANTS: usize = MAX_LANGUAGE_LEN / 5 + 1;

/// A valid BCP 47 language tag, such as `pt-BR`. Kept exactly as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(String);

string_newtype!(Language, validate, "a BCP 47 language tag");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Language, reason)
}

/// Checks that `s` is a well-formed tag (see the module docs), without the
/// duplicate-subtag checks.
pub fn validate_syntax(s: &str) -> Result<(), SyntaxError> {
    check(s, false)
}

/// Checks that `s` is a well-formed tag without repeated variants or
/// extension singletons. Does not allocate.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    check(s, true)
}

#[inline]
fn is_alpha(t: &str) -> bool {
    t.bytes().all(|b| b.is_ascii_alphabetic())
}

#[inline]
fn is_digit(t: &str) -> bool {
    t.bytes().all(|b| b.is_ascii_digit())
}

#[inline]
fn is_alnum(t: &str) -> bool {
    t.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_extlang(t: &str) -> bool {
    t.len() == 3 && is_alpha(t)
}

fn is_script(t: &str) -> bool {
    t.len() == 4 && is_alpha(t)
}

fn is_region(t: &str) -> bool {
    (t.len() == 2 && is_alpha(t)) || (t.len() == 3 && is_digit(t))
}

fn is_variant(t: &str) -> bool {
    match t.len() {
        5..=8 => is_alnum(t),
        4 => t.starts_with(|c: char| c.is_ascii_digit()) && is_alnum(t),
        _ => false,
    }
}

fn is_private_singleton(t: &str) -> bool {
    t.eq_ignore_ascii_case("x")
}

/// An extension singleton: one letter or digit other than `x`.
fn is_singleton(t: &str) -> bool {
    t.len() == 1 && is_alnum(t) && !is_private_singleton(t)
}

/// Bit index of an alphanumeric singleton, case-folded (0-9, then a-z).
fn singleton_bit(t: &str) -> u64 {
    match t.bytes().next().map(|c| c.to_ascii_lowercase()) {
        Some(c @ b'0'..=b'9') => 1 << (c - b'0'),
        Some(c @ b'a'..=b'z') => 1 << (c - b'a' + 10),
        _ => 0,
    }
}

fn check(s: &str, validity: bool) -> Result<(), SyntaxError> {
    if s.is_empty() {
        return Err(e("empty"));
    }
    if s.len() > MAX_LANGUAGE_LEN {
        return Err(e("longer than 128 characters"));
    }
    if !s
        .split('-')
        .all(|t| (1..=8).contains(&t.len()) && is_alnum(t))
    {
        return Err(e(
            "subtags must be 1-8 ASCII letters or digits, separated by '-'",
        ));
    }
    let mut it = s.split('-').peekable();
    let primary = it.next().unwrap_or("");

    if is_private_singleton(primary) {
        return private_use_rest(&mut it);
    }
    if primary.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(e("primary language subtag must be lowercase"));
    }
    if IRREGULAR.iter().any(|g| g.eq_ignore_ascii_case(s)) {
        return Ok(());
    }
    if !is_alpha(primary) || !matches!(primary.len(), 2 | 3 | 5..=8) {
        return Err(e("primary language subtag must be 2-3 or 5-8 letters"));
    }

    // extlang: up to three, only after a 2-3 letter language.
    if primary.len() <= 3 {
        for _ in 0..3 {
            if it.next_if(|t| is_extlang(t)).is_none() {
                break;
            }
        }
    }
    it.next_if(|t| is_script(t));
    it.next_if(|t| is_region(t));

    let mut variants: [&str; MAX_VARIANTS] = [""; MAX_VARIANTS];
    let mut n_variants = 0;
    while let Some(v) = it.next_if(|t| is_variant(t)) {
        if validity {
            let seen = variants.get(..n_variants).unwrap_or(&[]);
            if seen.iter().any(|p| p.eq_ignore_ascii_case(v)) {
                return Err(e("variant subtag repeated"));
            }
        }
        if let Some(slot) = variants.get_mut(n_variants) {
            *slot = v;
            n_variants += 1;
        }
    }

    let mut singletons = 0u64;
    while let Some(single) = it.next_if(|t| is_singleton(t)) {
        let bit = singleton_bit(single);
        if validity && singletons & bit != 0 {
            return Err(e("extension singleton repeated"));
        }
        singletons |= bit;
        let mut n = 0;
        while it.next_if(|t| t.len() >= 2).is_some() {
            n += 1;
        }
        if n == 0 {
            return Err(e("extension singleton without subtags"));
        }
    }

    if it.next_if(|t| is_private_singleton(t)).is_some() {
        return private_use_rest(&mut it);
    }
    if it.next().is_some() {
        return Err(e("subtag out of place"));
    }
    Ok(())
}

/// After an `x` singleton: one or more 1-8 character subtags (already
/// checked to be alphanumeric) and nothing else.
fn private_use_rest<'a>(it: &mut impl Iterator<Item = &'a str>) -> Result<(), SyntaxError> {
    if it.next().is_none() {
        return Err(e("private-use 'x' needs at least one subtag"));
    }
    Ok(())
}

impl Language {
    /// The primary language subtag, e.g. `pt` for `pt-BR` (`x` or `i` for
    /// private-use and grandfathered `i-` tags).
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in [
            "en",
            "zh-yue",
            "zh-yue-abc-def",
            "zh-Hant-TW",
            "en-US-u-ca-gregory",
            "en-GB-oed",
            "x-whatever",
            "de-1996",
            "abcde",
            "en-a-bb-x-a",
            "sr-Latn-RS-x-12345678",
        ] {
            assert!(validate(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "en--US",
            "en-",
            "-en",
            "x",
            "en-x",
            "en-a",
            "en-a-x-foo",
            "en-a-b-foo",
            "zh-yue-abc-def-ghi",
            "abcde-yue",
            "en-US-US",
            "en-toolongsubtag",
            "i-foo",
            "en_US",
            "ja-JP-日本",
        ] {
            assert!(validate_syntax(bad).is_err(), "{bad}");
        }
        let long = format!("en-{}", ["a1234567"; 15].join("-"));
        assert!(long.len() > MAX_LANGUAGE_LEN);
        assert!(validate_syntax(&long).is_err());
        assert!(validate_syntax(&long[..MAX_LANGUAGE_LEN - 1]).is_ok());
    }

    #[test]
    fn validity() {
        assert!(validate_syntax("de-DE-1901-1901").is_ok());
        assert!(validate("de-DE-1901-1901").is_err());
        assert!(validate("de-DE-1901-1996").is_ok());
        assert!(validate("en-a-foo-A-bar").is_err());
        assert!(validate("en-a-foo-x-a-b").is_ok());
        assert!(validate("en-1-foo-2-bar").is_ok());
        assert!(validate("en-1-foo-2-bar-1-baz").is_err());
    }

    #[test]
    fn primary() {
        assert_eq!("pt-BR".parse::<Language>().unwrap().primary(), "pt");
        assert_eq!("X-fr-CH".parse::<Language>().unwrap().primary(), "X");
    }
}
