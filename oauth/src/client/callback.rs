//! The redirect back to the client (RFC 9207): the `iss` it carries must be the server the
//! sign-in was sent to, or a mix-up attack could hand us another server's code.

use super::ClientError;

/// Checks the redirect's `iss` against the issuer kept with the pending sign-in. Servers of
/// the atproto profile always send it, so its absence is refused too.
pub fn check_iss(expected: &str, got: Option<&str>) -> Result<(), ClientError> {
    match got {
        Some(iss) if iss == expected => Ok(()),
        _ => Err(ClientError::IssuerMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iss_must_match() {
        assert_eq!(
            check_iss("https://a.example", Some("https://a.example")),
            Ok(())
        );
        assert_eq!(
            check_iss("https://a.example", Some("https://b.example")),
            Err(ClientError::IssuerMismatch)
        );
        assert_eq!(
            check_iss("https://a.example", Some("https://a.example/")),
            Err(ClientError::IssuerMismatch)
        );
        assert_eq!(
            check_iss("https://a.example", None),
            Err(ClientError::IssuerMismatch)
        );
    }
}
