//! The Content-Security-Policy headers: one for every page, one for the pages whose forms end
//! at another site.

/// The Content-Security-Policy of every page: nothing inline, nothing from elsewhere, no
/// framing; forms post only here (the OAuth sign-in leaves by redirect, which form-action
/// allows).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// The sign-in page's policy: [`CSP`], except that its forms may end at another site. Browsers
/// apply `form-action` to the redirects that follow a submission too, and the OAuth form's
/// answer redirects to the account's own authorization server, wherever that is.
pub const SIGNIN_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self' https: http:; base-uri 'none'; object-src 'none'";
