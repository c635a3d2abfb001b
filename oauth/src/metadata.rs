//! The metadata documents an atproto authorization server and resource server publish
//! (RFC 8414 and RFC 9728, with the fields the atproto profile requires). The PDS serves them;
//! a client (Hearth's web app) reads them, so both directions go through these types.

use serde::{Deserialize, Serialize};

/// The scopes every atproto authorization server lists. Granular permissions (`repo:`, `rpc:`,
/// ...) are granted too, but are not enumerable, as with the reference PDS.
pub const SCOPES_SUPPORTED: &[&str] = &["atproto", "transition:generic", "transition:chat.bsky"];

/// The DPoP algorithms the profile uses: ES256 is mandatory, ES256K is what the official
/// client picks when offered.
pub const DPOP_ALGS: &[&str] = &["ES256", "ES256K"];

/// `/.well-known/oauth-authorization-server`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub pushed_authorization_request_endpoint: String,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub response_modes_supported: Vec<String>,
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub subject_types_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    #[serde(default)]
    pub require_request_uri_registration: bool,
    #[serde(default)]
    pub request_parameter_supported: bool,
    #[serde(default)]
    pub request_uri_parameter_supported: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_resources: Vec<String>,
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_owned()).collect()
}

impl AuthorizationServerMetadata {
    /// The document of an authorization server at `issuer` (its public URL, no trailing slash)
    /// that is also the only resource server it protects, as a PDS is.
    pub fn for_pds(issuer: &str) -> AuthorizationServerMetadata {
        let at = |path: &str| format!("{issuer}{path}");
        AuthorizationServerMetadata {
            issuer: issuer.to_owned(),
            authorization_endpoint: at("/oauth/authorize"),
            token_endpoint: at("/oauth/token"),
            pushed_authorization_request_endpoint: at("/oauth/par"),
            require_pushed_authorization_requests: true,
            revocation_endpoint: Some(at("/oauth/revoke")),
            scopes_supported: strings(SCOPES_SUPPORTED),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query", "fragment"]),
            grant_types_supported: strings(&["authorization_code", "refresh_token"]),
            code_challenge_methods_supported: strings(&["S256"]),
            token_endpoint_auth_methods_supported: strings(&["none", "private_key_jwt"]),
            token_endpoint_auth_signing_alg_values_supported: strings(&["ES256", "ES256K"]),
            dpop_signing_alg_values_supported: strings(DPOP_ALGS),
            subject_types_supported: strings(&["public"]),
            authorization_response_iss_parameter_supported: true,
            client_id_metadata_document_supported: true,
            require_request_uri_registration: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: true,
            protected_resources: vec![issuer.to_owned()],
        }
    }

    /// What an atproto client must check of a server's document before using it: the issuer
    /// it was fetched for, PAR, PKCE S256, DPoP, client metadata documents and `atproto`.
    pub fn check_atproto(&self, expected_issuer: &str) -> Result<(), &'static str> {
        if self.issuer != expected_issuer {
            return Err("issuer differs from the URL the document was fetched for");
        }
        if !self.require_pushed_authorization_requests {
            return Err("pushed authorization requests are not required");
        }
        if !self
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
        {
            return Err("PKCE S256 is not supported");
        }
        if !self
            .dpop_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256")
        {
            return Err("DPoP with ES256 is not supported");
        }
        if !self.client_id_metadata_document_supported {
            return Err("client metadata documents are not supported");
        }
        if !self.scopes_supported.iter().any(|s| s == "atproto") {
            return Err("the atproto scope is not supported");
        }
        Ok(())
    }
}

/// `/.well-known/oauth-protected-resource` (RFC 9728).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    #[serde(default)]
    pub bearer_methods_supported: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
}

impl ProtectedResourceMetadata {
    /// A PDS at `resource` protected by the authorization server `issuer`.
    pub fn for_pds(resource: &str, issuer: &str) -> ProtectedResourceMetadata {
        ProtectedResourceMetadata {
            resource: resource.to_owned(),
            authorization_servers: vec![issuer.to_owned()],
            scopes_supported: Vec::new(),
            bearer_methods_supported: strings(&["header"]),
            resource_documentation: Some("https://atproto.com".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pds_document_passes_the_atproto_checks_and_round_trips() {
        let m = AuthorizationServerMetadata::for_pds("https://pds.example");
        assert_eq!(m.check_atproto("https://pds.example"), Ok(()));
        assert!(m.check_atproto("https://other.example").is_err());
        assert_eq!(m.token_endpoint, "https://pds.example/oauth/token");
        let json = serde_json::to_value(&m).unwrap_or_default();
        assert_eq!(json["require_pushed_authorization_requests"], true);
        assert_eq!(json["client_id_metadata_document_supported"], true);
        assert_eq!(json["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            json["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            json["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "ES256K"])
        );
        let back: AuthorizationServerMetadata = serde_json::from_value(json)
            .unwrap_or_else(|_| AuthorizationServerMetadata::for_pds("https://broken.example"));
        assert_eq!(back, m);
    }

    #[test]
    fn a_server_without_par_or_atproto_is_refused() {
        let mut m = AuthorizationServerMetadata::for_pds("https://pds.example");
        m.require_pushed_authorization_requests = false;
        assert!(m.check_atproto("https://pds.example").is_err());
        let mut m = AuthorizationServerMetadata::for_pds("https://pds.example");
        m.scopes_supported.retain(|s| s != "atproto");
        assert!(m.check_atproto("https://pds.example").is_err());
    }
}
