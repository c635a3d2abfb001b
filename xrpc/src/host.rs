//! How a Hearth service names itself: its public base URL and its `did:web`, both derived from
//! the configured hostname (and, for local work, the port).

/// A service's configured public hostname and listening port.
#[derive(Debug, Clone, Copy)]
pub struct PublicHost<'a> {
    pub hostname: &'a str,
    pub port: u16,
}

impl PublicHost<'_> {
    /// Local hosts are reached over plain HTTP on their port; anything else over HTTPS on 443
    /// (behind a TLS-terminating proxy).
    pub fn is_local(&self) -> bool {
        self.hostname == "localhost"
            || self.hostname.starts_with("127.")
            || self.hostname.ends_with(".localhost")
    }

    /// The base URL clients and other services reach the service at.
    pub fn url(&self) -> String {
        if self.is_local() {
            format!("http://{}:{}", self.hostname, self.port)
        } else {
            format!("https://{}", self.hostname)
        }
    }

    /// The service's `did:web` (the port percent-encoded, as the did:web method requires).
    pub fn did_web(&self) -> String {
        if self.is_local() {
            format!("did:web:{}%3A{}", self.hostname, self.port)
        } else {
            format!("did:web:{}", self.hostname)
        }
    }
}

/// A service's `did:web` document: its `#atproto` signing key and the services it offers, as
/// `(fragment, type)` pairs all served at `endpoint`.
pub fn did_web_document(
    did: &str,
    key_multibase: &str,
    endpoint: &str,
    services: &[(&str, &str)],
) -> serde_json::Value {
    let services: Vec<serde_json::Value> = services
        .iter()
        .map(|(id, kind)| {
            serde_json::json!({ "id": format!("#{id}"), "type": kind, "serviceEndpoint": endpoint })
        })
        .collect();
    serde_json::json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key_multibase,
        }],
        "service": services,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_public_names() {
        let local = PublicHost {
            hostname: "localhost",
            port: 2583,
        };
        assert_eq!(local.url(), "http://localhost:2583");
        assert_eq!(local.did_web(), "did:web:localhost%3A2583");
        let public = PublicHost {
            hostname: "pds.example.org",
            port: 2583,
        };
        assert_eq!(public.url(), "https://pds.example.org");
        assert_eq!(public.did_web(), "did:web:pds.example.org");
    }
}
