//! The two discovery documents a client reads: the PDS's protected-resource metadata, which
//! names its authorization server, and that server's metadata, which must be its own (issuer
//! equal to where it was fetched) and offer what the atproto profile requires.

use super::ClientError;
use serde::{Deserialize, Serialize};

/// `/.well-known/oauth-protected-resource` (RFC 9728), the fields a client reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    #[serde(default)]
    pub authorization_servers: Vec<String>,
}

/// `/.well-known/oauth-authorization-server` (RFC 8414), the fields a client reads. Kept with a
/// pending sign-in, so it serializes too.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct AuthServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(default)]
    pub client_id_metadata_document_supported: Option<bool>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// The origin (`scheme://host[:port]`) that `url` names: `https` (or `http` when `dev`), no
/// credentials, and nothing after the host but an empty path.
pub fn origin(url: &str, dev: bool) -> Result<String, ClientError> {
    let bad = ClientError::BadMetadata("not a server origin");
    let u = url::Url::parse(url).map_err(|_| bad.clone())?;
    let scheme_ok = u.scheme() == "https" || (dev && u.scheme() == "http");
    if !scheme_ok
        || !u.username().is_empty()
        || u.password().is_some()
        || u.host().is_none()
        || !matches!(u.path(), "" | "/")
        || u.query().is_some()
        || u.fragment().is_some()
    {
        return Err(bad);
    }
    Ok(u.origin().ascii_serialization())
}

/// An endpoint the metadata names: an absolute `https` URL (`http` when `dev`).
fn endpoint(url: &str, dev: bool) -> Result<(), ClientError> {
    let u =
        url::Url::parse(url).map_err(|_| ClientError::BadMetadata("an endpoint is not a URL"))?;
    if u.scheme() == "https" || (dev && u.scheme() == "http") {
        Ok(())
    } else {
        Err(ClientError::BadMetadata("an endpoint is not https"))
    }
}

/// Checks the protected-resource document fetched from `resource_origin` and returns the
/// issuer of the authorization server it names.
pub fn check_protected_resource(
    resource_origin: &str,
    doc: &ProtectedResourceMetadata,
    dev: bool,
) -> Result<String, ClientError> {
    if origin(&doc.resource, dev)? != resource_origin {
        return Err(ClientError::BadMetadata(
            "the resource names another server",
        ));
    }
    // atproto PDSes name exactly one; the first is the one to use.
    let issuer = doc
        .authorization_servers
        .first()
        .ok_or(ClientError::BadMetadata("no authorization server"))?;
    origin(issuer, dev)
}

/// Checks the authorization-server document fetched for `issuer`.
pub fn check_auth_server(
    issuer: &str,
    doc: &AuthServerMetadata,
    dev: bool,
) -> Result<(), ClientError> {
    if doc.issuer != issuer {
        return Err(ClientError::BadMetadata(
            "the issuer is not the server asked",
        ));
    }
    let par =
        doc.pushed_authorization_request_endpoint
            .as_deref()
            .ok_or(ClientError::BadMetadata(
                "no pushed authorization request endpoint",
            ))?;
    for url in [
        doc.authorization_endpoint.as_str(),
        doc.token_endpoint.as_str(),
        par,
    ]
    .into_iter()
    .chain(doc.revocation_endpoint.as_deref())
    {
        endpoint(url, dev)?;
    }
    let has = |list: &[String], want: &str| list.iter().any(|v| v == want);
    if !has(&doc.dpop_signing_alg_values_supported, "ES256") {
        return Err(ClientError::BadMetadata("DPoP with ES256 is not offered"));
    }
    if !has(&doc.code_challenge_methods_supported, "S256") {
        return Err(ClientError::BadMetadata("PKCE S256 is not offered"));
    }
    if !has(&doc.scopes_supported, "atproto") {
        return Err(ClientError::BadMetadata("the atproto scope is not offered"));
    }
    if doc.authorization_response_iss_parameter_supported != Some(true) {
        return Err(ClientError::BadMetadata("the redirect does not carry iss"));
    }
    if doc.client_id_metadata_document_supported != Some(true) {
        return Err(ClientError::BadMetadata(
            "client metadata documents are not supported",
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn metadata(issuer: &str) -> AuthServerMetadata {
        AuthServerMetadata {
            issuer: issuer.into(),
            authorization_endpoint: format!("{issuer}/oauth/authorize"),
            token_endpoint: format!("{issuer}/oauth/token"),
            pushed_authorization_request_endpoint: Some(format!("{issuer}/oauth/par")),
            revocation_endpoint: Some(format!("{issuer}/oauth/revoke")),
            dpop_signing_alg_values_supported: vec!["ES256K".into(), "ES256".into()],
            code_challenge_methods_supported: vec!["S256".into()],
            scopes_supported: vec!["atproto".into(), "transition:generic".into()],
            authorization_response_iss_parameter_supported: Some(true),
            client_id_metadata_document_supported: Some(true),
            token_endpoint_auth_methods_supported: vec!["none".into(), "private_key_jwt".into()],
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://Example.COM/", false).unwrap(),
            "https://example.com"
        );
        assert_eq!(
            origin("https://example.com:443", false).unwrap(),
            "https://example.com"
        );
        assert_eq!(
            origin("http://localhost:2583", true).unwrap(),
            "http://localhost:2583"
        );
        for bad in [
            "http://localhost:2583",
            "https://e.com/x",
            "https://e.com?q",
            "https://a:b@e.com",
            "nope",
        ] {
            assert!(origin(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn protected_resource_names_its_issuer() {
        let doc = ProtectedResourceMetadata {
            resource: "https://pds.example.com".into(),
            authorization_servers: vec!["https://auth.example.com".into()],
        };
        assert_eq!(
            check_protected_resource("https://pds.example.com", &doc, false).unwrap(),
            "https://auth.example.com"
        );
        // A document that speaks for another server is not believed.
        assert!(check_protected_resource("https://evil.example.com", &doc, false).is_err());
        let none = ProtectedResourceMetadata {
            authorization_servers: vec![],
            ..doc
        };
        assert!(check_protected_resource("https://pds.example.com", &none, false).is_err());
    }

    #[test]
    fn auth_server_must_be_itself_and_offer_the_profile() {
        let iss = "https://auth.example.com";
        assert_eq!(check_auth_server(iss, &metadata(iss), false), Ok(()));
        assert_eq!(
            check_auth_server("https://other.example.com", &metadata(iss), false),
            Err(ClientError::BadMetadata(
                "the issuer is not the server asked"
            ))
        );
        let breakers: [fn(&mut AuthServerMetadata); 7] = [
            |m| m.pushed_authorization_request_endpoint = None,
            |m| m.dpop_signing_alg_values_supported = vec!["ES256K".into()],
            |m| m.code_challenge_methods_supported = vec!["plain".into()],
            |m| m.scopes_supported.clear(),
            |m| m.authorization_response_iss_parameter_supported = None,
            |m| m.client_id_metadata_document_supported = Some(false),
            |m| m.token_endpoint = "http://auth.example.com/oauth/token".into(),
        ];
        for (i, breaks) in breakers.iter().enumerate() {
            let mut m = metadata(iss);
            breaks(&mut m);
            assert!(check_auth_server(iss, &m, false).is_err(), "case {i}");
        }
    }
}
