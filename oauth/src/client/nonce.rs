//! Telling a "retry with this DPoP nonce" answer from a real refusal. The new nonce itself is
//! in the `DPoP-Nonce` header of either answer; a client retries once with it.

/// The authorization server's form: 400 with `{"error": "use_dpop_nonce"}`.
pub fn as_wants_nonce(status: u16, body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct E<'a> {
        #[serde(borrow)]
        error: Option<&'a str>,
    }
    status == 400
        && serde_json::from_slice::<E>(body).is_ok_and(|e| e.error == Some("use_dpop_nonce"))
}

/// The resource server's form: 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`.
pub fn rs_wants_nonce(status: u16, www_authenticate: Option<&str>) -> bool {
    status == 401 && www_authenticate.is_some_and(|h| h.contains("error=\"use_dpop_nonce\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_answers_and_others() {
        assert!(as_wants_nonce(
            400,
            br#"{"error":"use_dpop_nonce","error_description":"x"}"#
        ));
        assert!(!as_wants_nonce(400, br#"{"error":"invalid_grant"}"#));
        assert!(!as_wants_nonce(401, br#"{"error":"use_dpop_nonce"}"#));
        assert!(!as_wants_nonce(400, b"not json"));
        assert!(rs_wants_nonce(
            401,
            Some(r#"DPoP error="use_dpop_nonce", error_description="x""#)
        ));
        assert!(!rs_wants_nonce(401, Some(r#"DPoP error="invalid_token""#)));
        assert!(!rs_wants_nonce(401, None));
        assert!(!rs_wants_nonce(400, Some(r#"DPoP error="use_dpop_nonce""#)));
    }
}
