//! Who the client is to an authorization server. In development: the loopback form, whose
//! `client_id` is `http://localhost` with the redirect URI and scope in its query, a public
//! client with no keys. In production: a confidential client whose `client_id` is the URL of
//! its metadata document, authenticating with `private_key_jwt` and a key its JWKS publishes.

use super::{CLIENT_ASSERTION_TYPE, client_assertion, jws};
use atproto::crypto::Keypair;
use serde_json::{Value, json};

/// Path of the callback, of the metadata document and of the JWKS under the app's origin.
pub const CALLBACK_PATH: &str = "/oauth/callback";
pub const METADATA_PATH: &str = "/oauth/client-metadata.json";
pub const JWKS_PATH: &str = "/oauth/jwks.json";

/// The loopback `client_id`: `http://localhost` with `redirect_uri` and `scope` as query
/// parameters (the server derives the client's metadata from them).
pub fn loopback_client_id(redirect_uri: &str, scope: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .finish();
    format!("http://localhost?{q}")
}

#[derive(Debug, Clone)]
pub enum Registration {
    Loopback {
        /// `http://127.0.0.1:<port>`: loopback redirect URIs must use the IP, not `localhost`.
        origin: String,
        /// Every scope the client may ever ask for; a sign-in asks for a subset.
        scope: String,
    },
    Confidential {
        /// `https://<app host>`.
        origin: String,
        scope: String,
        client_name: String,
        key: Keypair,
    },
}

impl Registration {
    fn origin(&self) -> &str {
        match self {
            Registration::Loopback { origin, .. } | Registration::Confidential { origin, .. } => {
                origin
            }
        }
    }

    pub fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.origin())
    }

    pub fn client_id(&self) -> String {
        match self {
            Registration::Loopback { scope, .. } => loopback_client_id(&self.redirect_uri(), scope),
            Registration::Confidential { origin, .. } => format!("{origin}{METADATA_PATH}"),
        }
    }

    /// The key id the JWKS and the assertions share: derived from the public key, so a new key
    /// gets a new id.
    fn kid(key: &Keypair) -> String {
        crate::jwk::Jwk::from_public(&key.public()).thumbprint()
    }

    /// The published keys: empty for a public client.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = match self {
            Registration::Loopback { .. } => vec![],
            Registration::Confidential { key, .. } => jws::public_jwk(key)
                .map(|mut jwk| {
                    jwk.kid = Some(Registration::kid(key));
                    jwk.use_ = Some("sig".into());
                    json!(jwk)
                })
                .into_iter()
                .collect(),
        };
        json!({ "keys": keys })
    }

    /// The client metadata document a confidential client serves at its `client_id`.
    pub fn metadata_document(&self) -> Option<Value> {
        let Registration::Confidential {
            origin,
            scope,
            client_name,
            ..
        } = self
        else {
            return None;
        };
        Some(json!({
            "client_id": self.client_id(),
            "client_name": client_name,
            "client_uri": origin,
            "application_type": "web",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [self.redirect_uri()],
            "scope": scope,
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks_uri": format!("{origin}{JWKS_PATH}"),
            "dpop_bound_access_tokens": true,
        }))
    }

    /// The form fields that authenticate this client to `issuer` on PAR, token and revocation
    /// requests: `client_id`, and an assertion for a confidential client.
    pub fn auth_fields(&self, issuer: &str, now: i64) -> Vec<(&'static str, String)> {
        let client_id = self.client_id();
        let mut out = Vec::with_capacity(3);
        if let Registration::Confidential { key, .. } = self
            && let Some(a) = client_assertion(&client_id, issuer, key, &Registration::kid(key), now)
        {
            out.push(("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()));
            out.push(("client_assertion", a));
        }
        out.push(("client_id", client_id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atproto::crypto::Algorithm;

    #[test]
    fn loopback_client() {
        let r = Registration::Loopback {
            origin: "http://127.0.0.1:2584".into(),
            scope: "atproto repo:app.bsky.feed.post?action=create".into(),
        };
        assert_eq!(r.redirect_uri(), "http://127.0.0.1:2584/oauth/callback");
        let id = r.client_id();
        let u = url::Url::parse(&id).unwrap();
        assert_eq!(
            (u.scheme(), u.host_str(), u.path()),
            ("http", Some("localhost"), "/")
        );
        let q: Vec<(String, String)> = u.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                (
                    "redirect_uri".into(),
                    "http://127.0.0.1:2584/oauth/callback".into()
                ),
                (
                    "scope".into(),
                    "atproto repo:app.bsky.feed.post?action=create".into()
                ),
            ]
        );
        assert!(r.metadata_document().is_none());
        assert_eq!(r.jwks()["keys"], json!([]));
        assert_eq!(
            r.auth_fields("http://localhost:2583", 0),
            [("client_id", id)]
        );
    }

    #[test]
    fn confidential_client() {
        let key = Keypair::generate(Algorithm::P256);
        let r = Registration::Confidential {
            origin: "https://app.example".into(),
            scope: "atproto".into(),
            client_name: "Hearth".into(),
            key: key.clone(),
        };
        let doc = r.metadata_document().unwrap();
        assert_eq!(
            doc["client_id"],
            "https://app.example/oauth/client-metadata.json"
        );
        assert_eq!(
            doc["redirect_uris"],
            json!(["https://app.example/oauth/callback"])
        );
        assert_eq!(doc["jwks_uri"], "https://app.example/oauth/jwks.json");
        assert_eq!(doc["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(doc["dpop_bound_access_tokens"], true);
        let jwks = r.jwks();
        let jwk = &jwks["keys"][0];
        assert!(jwk.get("d").is_none(), "never the private part");
        let fields = r.auth_fields("https://auth.example", 100);
        let get = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("client_assertion_type"), CLIENT_ASSERTION_TYPE);
        assert_eq!(get("client_id"), doc["client_id"]);
        let (h, c) = jws::tests::open(&get("client_assertion"), &key);
        assert_eq!(
            h["kid"], jwk["kid"],
            "the assertion names the published key"
        );
        assert_eq!(c["aud"], "https://auth.example");
    }
}
