//! The token endpoint's answer and what must hold before a client believes it: a DPoP-bound
//! token, the `atproto` scope, and a `sub` that is a DID (the one asked for, when the person
//! typed a handle or a DID). Whether that DID's PDS is protected by this issuer is the second
//! half of the `sub` check; the caller resolves it and compares with [`check_authority`].

use super::ClientError;
use atproto::syntax::Did;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub sub: Option<String>,
}

impl TokenResponse {
    pub fn has_scope(&self, want: &str) -> bool {
        self.scope.split(' ').any(|s| s == want)
    }
}

/// Checks a token answer; returns its subject. `expected` is the account the sign-in began
/// with, if it began with one (a refresh always has one).
pub fn check_token_response(t: &TokenResponse, expected: Option<&Did>) -> Result<Did, ClientError> {
    if !t.token_type.eq_ignore_ascii_case("DPoP") {
        return Err(ClientError::BadTokenResponse("the token is not DPoP-bound"));
    }
    if !t.has_scope("atproto") {
        return Err(ClientError::BadTokenResponse(
            "the atproto scope was not granted",
        ));
    }
    let sub: Did = t
        .sub
        .as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or(ClientError::BadTokenResponse("no account DID"))?;
    if expected.is_some_and(|e| *e != sub) {
        return Err(ClientError::SubjectMismatch);
    }
    Ok(sub)
}

/// The second half of the `sub` check: the issuer that the subject's own PDS names must be
/// the one that answered.
pub fn check_authority(answered: &str, subjects_issuer: &str) -> Result<(), ClientError> {
    if answered == subjects_issuer {
        Ok(())
    } else {
        Err(ClientError::IssuerNotAuthoritative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(sub: &str) -> TokenResponse {
        TokenResponse {
            access_token: "a".into(),
            token_type: "DPoP".into(),
            expires_in: Some(60),
            refresh_token: Some("r".into()),
            scope: "atproto repo:app.bsky.feed.post?action=create".into(),
            sub: Some(sub.into()),
        }
    }

    #[test]
    fn good_answer_gives_its_subject() {
        let did: Did = "did:plc:abcdefghijklmnopqrstuvwx".parse().unwrap();
        assert_eq!(
            check_token_response(&answer(did.as_str()), Some(&did)),
            Ok(did.clone())
        );
        assert_eq!(check_token_response(&answer(did.as_str()), None), Ok(did));
        assert!(answer("did:x:y").has_scope("repo:app.bsky.feed.post?action=create"));
        assert!(!answer("did:x:y").has_scope("repo:app.bsky"));
    }

    #[test]
    fn refuses_mismatches() {
        let asked: Did = "did:plc:abcdefghijklmnopqrstuvwx".parse().unwrap();
        assert_eq!(
            check_token_response(&answer("did:plc:zzzzzzzzzzzzzzzzzzzzzzzz"), Some(&asked)),
            Err(ClientError::SubjectMismatch)
        );
        let bearer = TokenResponse {
            token_type: "Bearer".into(),
            ..answer(asked.as_str())
        };
        assert!(check_token_response(&bearer, None).is_err());
        let no_atproto = TokenResponse {
            scope: "transition:generic".into(),
            ..answer(asked.as_str())
        };
        assert!(check_token_response(&no_atproto, None).is_err());
        let no_sub = TokenResponse {
            sub: None,
            ..answer(asked.as_str())
        };
        assert!(check_token_response(&no_sub, None).is_err());
        assert!(check_token_response(&answer("alice.test"), None).is_err());
        assert_eq!(
            check_authority("https://a.example", "https://a.example"),
            Ok(())
        );
        assert_eq!(
            check_authority("https://a.example", "https://evil.example"),
            Err(ClientError::IssuerNotAuthoritative)
        );
    }
}
