//! Pushed authorization requests (RFC 9126, required by the atproto profile): the client
//! posts its parameters first, bound to its DPoP key, and gets a short-lived `request_uri`
//! to send the person's browser to the authorization page with.

use super::error::OAuthError;
use super::store;
use crate::clock::Clock;
use crate::db::{WriteTxn, Writer};
use hearth_oauth::client_metadata::ClientMetadata;
use hearth_oauth::pkce;
use serde::{Deserialize, Serialize};

/// How long a pushed request waits for the person (RFC 9126 suggests minutes).
pub const REQUEST_TTL: i64 = 5 * 60;

/// The prefix of every `request_uri` (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Limits on the free-text parameters a client sends.
const MAX_STATE: usize = 1024;
const MAX_LOGIN_HINT: usize = 256;
const MAX_SCOPE: usize = 2048;

/// The parameters of a pushed request, as posted (form-encoded).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ParInput {
    pub client_id: String,
    #[serde(default)]
    pub response_type: Option<String>,
    #[serde(default)]
    pub redirect_uri: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub code_challenge: Option<String>,
    #[serde(default)]
    pub code_challenge_method: Option<String>,
    #[serde(default)]
    pub login_hint: Option<String>,
    #[serde(default)]
    pub response_mode: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    /// A request object (JAR): not supported; its presence is refused rather than ignored.
    #[serde(default)]
    pub request: Option<String>,
    #[serde(default)]
    pub client_assertion_type: Option<String>,
    #[serde(default)]
    pub client_assertion: Option<String>,
}

/// What the authorization and token steps need of a pushed request (stored as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthParams {
    pub redirect_uri: String,
    pub scope: String,
    #[serde(default)]
    pub state: Option<String>,
    pub code_challenge: String,
    #[serde(default)]
    pub login_hint: Option<String>,
    /// `query` or `fragment`.
    pub response_mode: String,
    #[serde(default)]
    pub prompt: Option<String>,
}

/// Checks a pushed request against its client's metadata; returns what will be stored.
pub fn validate(client: &ClientMetadata, input: &ParInput) -> Result<AuthParams, OAuthError> {
    let bad = |m: &str| OAuthError::InvalidRequest(m.to_owned());
    if input.request.is_some() {
        return Err(bad("Request objects are not supported"));
    }
    if input.response_type.as_deref() != Some("code") {
        return Err(bad("response_type must be code"));
    }
    match input.code_challenge_method.as_deref() {
        Some("S256") => {}
        Some(_) => return Err(bad("code_challenge_method must be S256")),
        None => return Err(bad("code_challenge_method is required (S256)")),
    }
    let code_challenge = input
        .code_challenge
        .clone()
        .ok_or_else(|| bad("code_challenge is required"))?;
    if !pkce::is_s256_challenge(&code_challenge) {
        return Err(bad("code_challenge is not an S256 challenge"));
    }
    let redirect_uri = match &input.redirect_uri {
        Some(uri) if client.allows_redirect(uri) => uri.clone(),
        Some(_) => return Err(bad("redirect_uri is not one of the client's")),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(bad("redirect_uri is required")),
    };
    let scope = input
        .scope
        .clone()
        .or_else(|| client.scope.clone())
        .unwrap_or_default();
    if scope.len() > MAX_SCOPE {
        return Err(OAuthError::InvalidScope("scope is too long".into()));
    }
    let scope = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !scope.split(' ').any(|s| s == "atproto") {
        return Err(OAuthError::InvalidScope(
            "scope must include atproto".into(),
        ));
    }
    if !client.allows_scope(&scope) {
        return Err(OAuthError::InvalidScope(
            "scope asks for more than the client declared".into(),
        ));
    }
    if input.state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(bad("state is too long"));
    }
    if input
        .login_hint
        .as_ref()
        .is_some_and(|s| s.len() > MAX_LOGIN_HINT)
    {
        return Err(bad("login_hint is too long"));
    }
    let response_mode = match input.response_mode.as_deref() {
        None | Some("query") => "query",
        Some("fragment") => "fragment",
        Some(_) => return Err(bad("response_mode must be query or fragment")),
    };
    match input.prompt.as_deref() {
        None | Some("login" | "consent" | "select_account" | "none") => {}
        Some(_) => return Err(bad("prompt is not supported")),
    }
    Ok(AuthParams {
        redirect_uri,
        scope,
        state: input.state.clone(),
        code_challenge,
        login_hint: input.login_hint.clone().filter(|h| !h.is_empty()),
        response_mode: response_mode.into(),
        prompt: input.prompt.clone(),
    })
}

/// A new random id, base64url: unguessable, and safe in URLs and headers.
pub fn random_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Stores a validated request bound to `dpop_jkt`; returns its `request_uri`.
pub async fn push(
    writer: &Writer,
    clock: Clock,
    client_id: &str,
    params: &AuthParams,
    dpop_jkt: &str,
) -> Result<String, OAuthError> {
    let now = clock.now_secs();
    let row = store::Request {
        id: format!("req-{}", random_id()),
        client_id: client_id.to_owned(),
        params: serde_json::to_string(params)
            .map_err(|e| OAuthError::InvalidRequest(e.to_string()))?,
        dpop_jkt: dpop_jkt.to_owned(),
        expires_at: now + REQUEST_TTL,
        account: None,
        has_code: false,
        grant_id: None,
    };
    let uri = format!("{REQUEST_URI_PREFIX}{}", row.id);
    writer
        .run(move |txn: &mut WriteTxn<'_>| store::insert_request(txn.conn, &row, now))
        .await?;
    Ok(uri)
}

/// The stored id a `request_uri` names.
pub fn request_id(request_uri: &str) -> Result<&str, OAuthError> {
    request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .filter(|id| id.starts_with("req-") && id.len() < 100)
        .ok_or_else(|| OAuthError::InvalidRequestUri("Unknown request_uri".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_oauth::client_metadata::ClientId;

    fn client() -> ClientMetadata {
        let id = "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=atproto%20transition%3Ageneric";
        match ClientId::parse(id, true) {
            Ok(ClientId::Loopback(md)) => *md,
            other => panic!("{other:?}"),
        }
    }

    fn input() -> ParInput {
        ParInput {
            client_id: client().client_id,
            response_type: Some("code".into()),
            redirect_uri: Some("http://127.0.0.1:5555/cb".into()),
            scope: Some("atproto transition:generic".into()),
            state: Some("xyz".into()),
            code_challenge: Some(pkce::s256_challenge(&"v".repeat(50))),
            code_challenge_method: Some("S256".into()),
            ..ParInput::default()
        }
    }

    #[test]
    fn a_good_request_is_kept_as_asked() {
        let p = validate(&client(), &input()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.redirect_uri, "http://127.0.0.1:5555/cb");
        assert_eq!(p.scope, "atproto transition:generic");
        assert_eq!(p.response_mode, "query");
        assert_eq!(p.state.as_deref(), Some("xyz"));
    }

    #[test]
    fn bad_requests_are_refused_with_their_error() {
        type Edit = fn(&mut ParInput);
        let cases: &[(&str, Edit, &str)] = &[
            (
                "plain PKCE",
                |i| i.code_challenge_method = Some("plain".into()),
                "invalid_request",
            ),
            ("no PKCE", |i| i.code_challenge = None, "invalid_request"),
            (
                "no method",
                |i| i.code_challenge_method = None,
                "invalid_request",
            ),
            (
                "bad challenge",
                |i| i.code_challenge = Some("short".into()),
                "invalid_request",
            ),
            (
                "token response",
                |i| i.response_type = Some("token".into()),
                "invalid_request",
            ),
            (
                "foreign redirect",
                |i| i.redirect_uri = Some("https://evil.example/cb".into()),
                "invalid_request",
            ),
            (
                "no atproto",
                |i| i.scope = Some("transition:generic".into()),
                "invalid_scope",
            ),
            (
                "undeclared scope",
                |i| i.scope = Some("atproto transition:chat.bsky".into()),
                "invalid_scope",
            ),
            (
                "JAR",
                |i| i.request = Some("eyJ...".into()),
                "invalid_request",
            ),
            (
                "huge state",
                |i| i.state = Some("s".repeat(5000)),
                "invalid_request",
            ),
            (
                "form_post",
                |i| i.response_mode = Some("form_post".into()),
                "invalid_request",
            ),
        ];
        for (what, edit, code) in cases {
            let mut i = input();
            edit(&mut i);
            match validate(&client(), &i) {
                Err(e) => assert_eq!(e.code(), *code, "{what}"),
                Ok(p) => panic!("{what}: accepted as {p:?}"),
            }
        }
    }

    #[test]
    fn request_uris_name_stored_requests_only() {
        assert_eq!(
            request_id("urn:ietf:params:oauth:request_uri:req-abc").ok(),
            Some("req-abc")
        );
        for bad in ["req-abc", "urn:ietf:params:oauth:request_uri:abc", ""] {
            assert!(request_id(bad).is_err(), "{bad}");
        }
    }
}
