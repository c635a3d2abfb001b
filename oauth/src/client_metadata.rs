//! Client metadata documents (the atproto profile's client identity): the `client_id` is an
//! HTTPS URL serving a JSON document that must name that same URL, or, in development only, the
//! loopback form `http://localhost?redirect_uri=...&scope=...`, which has no document. This
//! module validates; fetching is the server's business.

use serde::{Deserialize, Serialize};
use url::Url;

/// The largest document a server should fetch.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The loopback client form's origin.
pub const LOOPBACK_ORIGIN: &str = "http://localhost";

/// `client_assertion_type` of `private_key_jwt` (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientMetadataError {
    #[error("client_id must be an https URL (or the loopback form in development)")]
    BadClientId,
    #[error("the loopback client form is only accepted in development")]
    LoopbackNotAllowed,
    #[error("the document does not parse: {0}")]
    Malformed(String),
    #[error("the document's client_id differs from the URL it was fetched from")]
    ClientIdMismatch,
    #[error("{0}")]
    Invalid(&'static str),
}

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client (a browser app, a native app, the loopback client).
    None,
    /// A confidential client, signing assertions with a key from its `jwks` or `jwks_uri`.
    PrivateKeyJwt,
}

/// A client metadata document, as far as an authorization server uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    pub client_id: String,
    #[serde(default = "web")]
    pub application_type: String,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub client_uri: Option<String>,
    #[serde(default)]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub tos_uri: Option<String>,
    #[serde(default)]
    pub policy_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default = "code")]
    pub response_types: Vec<String>,
    #[serde(default = "authorization_code")]
    pub grant_types: Vec<String>,
    #[serde(default = "none")]
    pub token_endpoint_auth_method: AuthMethod,
    #[serde(default)]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// A JWK Set by value (`{"keys": [...]}`), for `private_key_jwt`.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

fn web() -> String {
    "web".into()
}
fn code() -> Vec<String> {
    vec!["code".into()]
}
fn authorization_code() -> Vec<String> {
    vec!["authorization_code".into()]
}
fn none() -> AuthMethod {
    AuthMethod::None
}

/// What kind of `client_id` a string is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientId {
    /// An https URL whose document must be fetched.
    Discoverable(Url),
    /// The loopback form: its metadata derives from the id itself.
    Loopback(Box<ClientMetadata>),
}

impl ClientId {
    /// Classifies `client_id`; `dev` says whether plain-http document URLs and the loopback form
    /// are acceptable.
    pub fn parse(client_id: &str, dev: bool) -> Result<ClientId, ClientMetadataError> {
        if client_id == LOOPBACK_ORIGIN || client_id.starts_with("http://localhost?") {
            if !dev {
                return Err(ClientMetadataError::LoopbackNotAllowed);
            }
            return loopback(client_id).map(|m| ClientId::Loopback(Box::new(m)));
        }
        let url = Url::parse(client_id).map_err(|_| ClientMetadataError::BadClientId)?;
        let scheme_ok = url.scheme() == "https" || (dev && url.scheme() == "http");
        if !scheme_ok
            || url.host_str().is_none()
            || !url.username().is_empty()
            || url.password().is_some()
            || url.fragment().is_some()
            || url.as_str() != client_id
        {
            return Err(ClientMetadataError::BadClientId);
        }
        // A client_id naming the bare origin is allowed by the draft, but the atproto profile
        // asks for a path (the document's file).
        if url.path() == "/" {
            return Err(ClientMetadataError::BadClientId);
        }
        Ok(ClientId::Discoverable(url))
    }
}

/// The metadata of a loopback `client_id`: its `redirect_uri` parameters (default
/// `http://127.0.0.1/` and `http://[::1]/`) and `scope` (default `atproto`).
pub fn loopback(client_id: &str) -> Result<ClientMetadata, ClientMetadataError> {
    let url = Url::parse(client_id).map_err(|_| ClientMetadataError::BadClientId)?;
    if url.scheme() != "http"
        || url.host_str() != Some("localhost")
        || url.port().is_some()
        || url.path() != "/"
        || url.fragment().is_some()
    {
        return Err(ClientMetadataError::BadClientId);
    }
    let mut redirect_uris = Vec::new();
    let mut scope = None;
    for (k, v) in url.query_pairs() {
        match &*k {
            "redirect_uri" => redirect_uris.push(v.into_owned()),
            "scope" if scope.is_none() => scope = Some(v.into_owned()),
            _ => return Err(ClientMetadataError::BadClientId),
        }
    }
    if redirect_uris.is_empty() {
        redirect_uris = vec!["http://127.0.0.1/".into(), "http://[::1]/".into()];
    }
    for uri in &redirect_uris {
        let u = Url::parse(uri).map_err(|_| ClientMetadataError::BadClientId)?;
        if u.scheme() != "http" || !is_loopback_ip(&u) {
            return Err(ClientMetadataError::Invalid(
                "loopback clients redirect to http://127.0.0.1 or http://[::1]",
            ));
        }
    }
    let md = ClientMetadata {
        client_id: client_id.to_owned(),
        application_type: "native".into(),
        client_name: None,
        client_uri: None,
        logo_uri: None,
        tos_uri: None,
        policy_uri: None,
        redirect_uris,
        scope: Some(scope.unwrap_or_else(|| "atproto".into())),
        response_types: code(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        token_endpoint_auth_method: AuthMethod::None,
        token_endpoint_auth_signing_alg: None,
        dpop_bound_access_tokens: true,
        jwks: None,
        jwks_uri: None,
    };
    validate_fields(&md, true)?;
    Ok(md)
}

fn is_loopback_ip(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// Parses and validates a fetched document for `client_id` (the URL it came from).
pub fn from_document(
    client_id: &Url,
    body: &[u8],
    dev: bool,
) -> Result<ClientMetadata, ClientMetadataError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(ClientMetadataError::Invalid("the document is too large"));
    }
    let md: ClientMetadata =
        serde_json::from_slice(body).map_err(|e| ClientMetadataError::Malformed(e.to_string()))?;
    if md.client_id != client_id.as_str() {
        return Err(ClientMetadataError::ClientIdMismatch);
    }
    validate_fields(&md, dev)?;
    Ok(md)
}

fn validate_fields(md: &ClientMetadata, dev: bool) -> Result<(), ClientMetadataError> {
    use ClientMetadataError::Invalid;
    if !md.dpop_bound_access_tokens {
        return Err(Invalid("dpop_bound_access_tokens must be true"));
    }
    if !md.response_types.iter().any(|r| r == "code") {
        return Err(Invalid("response_types must include code"));
    }
    if !md.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(Invalid("grant_types must include authorization_code"));
    }
    if md
        .grant_types
        .iter()
        .any(|g| g != "authorization_code" && g != "refresh_token")
    {
        return Err(Invalid(
            "grant_types may only name authorization_code and refresh_token",
        ));
    }
    let scope = md.scope.as_deref().unwrap_or("");
    if !scope.split(' ').any(|s| s == "atproto") {
        return Err(Invalid("scope must include atproto"));
    }
    if md.redirect_uris.is_empty() {
        return Err(Invalid("redirect_uris must not be empty"));
    }
    let native = match md.application_type.as_str() {
        "web" => false,
        "native" => true,
        _ => return Err(Invalid("application_type must be web or native")),
    };
    for uri in &md.redirect_uris {
        let u = Url::parse(uri).map_err(|_| Invalid("a redirect_uri is not a URL"))?;
        if u.fragment().is_some() {
            return Err(Invalid("redirect_uris may not have a fragment"));
        }
        let ok = match u.scheme() {
            "https" => u.host_str().is_some(),
            // Loopback redirects (RFC 8252) are for native apps; web apps may use them in
            // development.
            "http" => is_loopback_ip(&u) && (native || dev),
            // A private-use scheme: native apps only, named after their domain (reverse
            // order), e.g. `org.example.app:/callback`.
            scheme => native && scheme.contains('.') && u.host_str().is_none(),
        };
        if !ok {
            return Err(Invalid("a redirect_uri is not allowed for this client"));
        }
    }
    match md.token_endpoint_auth_method {
        AuthMethod::None => {
            if md.jwks.is_some() || md.jwks_uri.is_some() {
                return Err(Invalid("a public client may not list keys"));
            }
        }
        AuthMethod::PrivateKeyJwt => {
            if native {
                return Err(Invalid("native clients are public"));
            }
            match md.token_endpoint_auth_signing_alg.as_deref() {
                Some("ES256" | "ES256K") => {}
                _ => {
                    return Err(Invalid(
                        "token_endpoint_auth_signing_alg must be ES256 or ES256K",
                    ));
                }
            }
            match (&md.jwks, &md.jwks_uri) {
                (Some(jwks), None) => {
                    if !jwks.get("keys").is_some_and(|k| k.is_array()) {
                        return Err(Invalid("jwks must be a JWK Set"));
                    }
                }
                (None, Some(uri)) => {
                    let u = Url::parse(uri).map_err(|_| Invalid("jwks_uri is not a URL"))?;
                    if u.scheme() != "https" && !(dev && u.scheme() == "http") {
                        return Err(Invalid("jwks_uri must be https"));
                    }
                }
                _ => {
                    return Err(Invalid(
                        "a confidential client lists exactly one of jwks and jwks_uri",
                    ));
                }
            }
        }
    }
    for uri in [&md.client_uri, &md.logo_uri, &md.tos_uri, &md.policy_uri]
        .into_iter()
        .flatten()
    {
        let u = Url::parse(uri).map_err(|_| Invalid("a metadata URI is not a URL"))?;
        if u.scheme() != "https" && !(dev && u.scheme() == "http") {
            return Err(Invalid("metadata URIs must be https"));
        }
    }
    Ok(())
}

impl ClientMetadata {
    /// Whether `requested` may be used as this client's redirect: exactly one of its
    /// `redirect_uris`, except that a loopback one registered without a port matches any port
    /// (RFC 8252 §7.3).
    pub fn allows_redirect(&self, requested: &str) -> bool {
        self.redirect_uris.iter().any(|allowed| {
            if allowed == requested {
                return true;
            }
            let (Ok(a), Ok(r)) = (Url::parse(allowed), Url::parse(requested)) else {
                return false;
            };
            is_loopback_ip(&a)
                && a.port().is_none()
                && a.scheme() == r.scheme()
                && a.host() == r.host()
                && a.path() == r.path()
                && a.query() == r.query()
                && r.fragment().is_none()
                && r.username().is_empty()
                && r.password().is_none()
        })
    }

    /// Whether every space-separated scope in `requested` is one this client declared.
    pub fn allows_scope(&self, requested: &str) -> bool {
        let declared: Vec<&str> = self.scope.as_deref().unwrap_or("").split(' ').collect();
        requested
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| declared.contains(&s))
    }

    /// Whether the client is confidential (authenticates with signed assertions).
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(extra: serde_json::Value) -> Vec<u8> {
        let mut base = serde_json::json!({
            "client_id": "https://app.example/client-metadata.json",
            "client_name": "Example",
            "redirect_uris": ["https://app.example/callback"],
            "scope": "atproto transition:generic",
            "grant_types": ["authorization_code", "refresh_token"],
            "dpop_bound_access_tokens": true,
        });
        if let (Some(b), serde_json::Value::Object(e)) = (base.as_object_mut(), extra) {
            b.extend(e);
        }
        serde_json::to_vec(&base).unwrap_or_default()
    }

    fn id() -> Url {
        Url::parse("https://app.example/client-metadata.json").unwrap_or_else(|_| {
            Url::parse("https://unreachable.example/x").unwrap_or_else(|_| unreachable!())
        })
    }

    #[test]
    fn a_web_client_document_is_accepted() {
        let md = from_document(&id(), &doc(serde_json::json!({})), false);
        let md = md.unwrap_or_else(|e| panic!("{e}"));
        assert!(md.allows_redirect("https://app.example/callback"));
        assert!(!md.allows_redirect("https://app.example/callback2"));
        assert!(md.allows_scope("atproto"));
        assert!(md.allows_scope("atproto transition:generic"));
        assert!(!md.allows_scope("atproto transition:chat.bsky"));
        assert!(!md.is_confidential());
    }

    #[test]
    fn bad_documents_are_refused() {
        let cases = [
            serde_json::json!({"client_id": "https://evil.example/client-metadata.json"}),
            serde_json::json!({"dpop_bound_access_tokens": false}),
            serde_json::json!({"scope": "transition:generic"}),
            serde_json::json!({"redirect_uris": []}),
            serde_json::json!({"redirect_uris": ["http://app.example/callback"]}),
            serde_json::json!({"redirect_uris": ["http://127.0.0.1/callback"]}),
            serde_json::json!({"grant_types": ["implicit"]}),
            serde_json::json!({"token_endpoint_auth_method": "private_key_jwt"}),
            serde_json::json!({"token_endpoint_auth_method": "client_secret_basic"}),
            serde_json::json!({"jwks": {"keys": []}}),
        ];
        for extra in cases {
            assert!(
                from_document(&id(), &doc(extra.clone()), false).is_err(),
                "{extra} was accepted"
            );
        }
        assert!(from_document(&id(), b"not json", false).is_err());
        assert!(from_document(&id(), &vec![b' '; MAX_DOCUMENT_BYTES + 1], false).is_err());
    }

    #[test]
    fn a_confidential_client_needs_keys_and_an_algorithm() {
        let ok = doc(serde_json::json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks_uri": "https://app.example/jwks.json",
        }));
        let md = from_document(&id(), &ok, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(md.is_confidential());
        let both = doc(serde_json::json!({
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks_uri": "https://app.example/jwks.json",
            "jwks": {"keys": []},
        }));
        assert!(from_document(&id(), &both, false).is_err());
    }

    #[test]
    fn loopback_clients_only_in_development() {
        let cid = "http://localhost?redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=atproto%20transition%3Ageneric";
        assert_eq!(
            ClientId::parse(cid, false),
            Err(ClientMetadataError::LoopbackNotAllowed)
        );
        let Ok(ClientId::Loopback(md)) = ClientId::parse(cid, true) else {
            panic!("loopback form refused in development");
        };
        assert_eq!(md.scope.as_deref(), Some("atproto transition:generic"));
        // Any port for a loopback redirect registered without one.
        assert!(md.allows_redirect("http://127.0.0.1:61234/callback"));
        assert!(!md.allows_redirect("http://127.0.0.1:61234/other"));
        assert!(!md.allows_redirect("http://localhost:61234/callback"));
        let Ok(ClientId::Loopback(md)) = ClientId::parse("http://localhost", true) else {
            panic!("bare loopback id refused");
        };
        assert_eq!(md.scope.as_deref(), Some("atproto"));
        for bad in [
            "http://localhost?redirect_uri=https%3A%2F%2Fevil.example%2F",
            "http://localhost?scope=transition%3Ageneric",
            "http://localhost?unknown=1",
        ] {
            assert!(ClientId::parse(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn discoverable_ids_must_be_https_urls_with_a_path() {
        assert!(matches!(
            ClientId::parse("https://app.example/client-metadata.json", false),
            Ok(ClientId::Discoverable(_))
        ));
        for bad in [
            "http://app.example/client-metadata.json",
            "https://app.example/",
            "https://user@app.example/m.json",
            "https://app.example/m.json#x",
            "app.example",
            "",
        ] {
            assert!(ClientId::parse(bad, false).is_err(), "{bad}");
        }
        assert!(ClientId::parse("http://app.example/m.json", true).is_ok());
    }
}
