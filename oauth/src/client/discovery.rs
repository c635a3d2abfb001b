//! The two discovery documents a client reads: the PDS's protected-resource metadata, which
//! names its authorization server, and that server's metadata, which must be its own (issuer
//! equal to where it was fetched) and offer what the atproto profile requires.

use super::ClientError;
pub use crate::metadata::{
    AuthorizationServerMetadata as AuthServerMetadata, ProtectedResourceMetadata,
};

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
    doc.check_atproto(issuer)
        .map_err(ClientError::BadMetadata)?;
    for url in [
        doc.authorization_endpoint.as_str(),
        doc.token_endpoint.as_str(),
        doc.pushed_authorization_request_endpoint.as_str(),
    ]
    .into_iter()
    .chain(doc.revocation_endpoint.as_deref())
    {
        endpoint(url, dev)?;
    }
    if !doc.authorization_response_iss_parameter_supported {
        return Err(ClientError::BadMetadata("the redirect does not carry iss"));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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
        let doc = ProtectedResourceMetadata::for_pds(
            "https://pds.example.com",
            "https://auth.example.com",
        );
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
        assert_eq!(
            check_auth_server(iss, &AuthServerMetadata::for_pds(iss), false),
            Ok(())
        );
        assert_eq!(
            check_auth_server(
                "https://other.example.com",
                &AuthServerMetadata::for_pds(iss),
                false
            ),
            Err(ClientError::BadMetadata(
                "issuer differs from the URL the document was fetched for"
            ))
        );
        let breakers: [fn(&mut AuthServerMetadata); 7] = [
            |m| m.require_pushed_authorization_requests = false,
            |m| m.dpop_signing_alg_values_supported = vec!["ES256K".into()],
            |m| m.code_challenge_methods_supported = vec!["plain".into()],
            |m| m.scopes_supported.clear(),
            |m| m.authorization_response_iss_parameter_supported = false,
            |m| m.client_id_metadata_document_supported = false,
            |m| m.token_endpoint = "http://auth.example.com/oauth/token".into(),
        ];
        for (i, breaks) in breakers.iter().enumerate() {
            let mut m = AuthServerMetadata::for_pds(iss);
            breaks(&mut m);
            assert!(check_auth_server(iss, &m, false).is_err(), "case {i}");
        }
    }
}
