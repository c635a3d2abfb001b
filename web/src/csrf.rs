//! Cross-site request forgery. Every state-changing request is a POST that must (1) come from
//! this site's origin (the `Origin` header, or `Referer` when a browser sends no Origin), and
//! (2) carry the token of the session it acts for, in a hidden form field. Signed-out forms
//! (the sign-in form) carry the token of a short-lived pre-session cookie instead, the
//! double-submit pattern, so no one can sign a browser into someone else's account.

use crate::http::error::WebError;
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// The cookie that carries signed-out forms' token.
pub const PRE_COOKIE: &str = "hearth_csrf";
/// How long that cookie lasts.
pub const PRE_LIFETIME_SECS: i64 = 2 * 3600;

/// The hidden field every state-changing form carries.
pub const FIELD: &str = "csrf";

/// Whether the request says it comes from `origin` (`scheme://host[:port]`).
pub fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    let value = |h| headers.get(h).and_then(|v| v.to_str().ok());
    match value(header::ORIGIN) {
        Some(o) => o == origin,
        None => value(header::REFERER).is_some_and(|r| {
            r.strip_prefix(origin)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }),
    }
}

/// Whether `given` is `expected` (in constant time; an empty token never matches).
pub fn token_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Refuses a request that is not same-origin or whose form token is not `expected`.
pub fn check(
    headers: &HeaderMap,
    origin: &str,
    expected: &str,
    given: &str,
) -> Result<(), WebError> {
    if same_origin(headers, origin) && token_matches(expected, given) {
        Ok(())
    } else {
        Err(WebError::Csrf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origin_or_referer_must_be_ours() {
        let o = "https://hearth.example";
        let with = |name, v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(v));
            h
        };
        assert!(same_origin(
            &with(header::ORIGIN, "https://hearth.example"),
            o
        ));
        assert!(!same_origin(
            &with(header::ORIGIN, "https://evil.example"),
            o
        ));
        assert!(!same_origin(&with(header::ORIGIN, "null"), o));
        assert!(same_origin(
            &with(header::REFERER, "https://hearth.example/s/x"),
            o
        ));
        assert!(!same_origin(
            &with(header::REFERER, "https://hearth.example.evil/"),
            o
        ));
        assert!(
            !same_origin(&HeaderMap::new(), o),
            "neither header: refused"
        );
    }

    #[test]
    fn tokens_match_exactly() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("abc", "ab"));
        assert!(!token_matches("", ""));
    }
}
