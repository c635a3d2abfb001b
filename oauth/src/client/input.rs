//! What a person types on the sign-in form: a handle, a DID, or the address of their server
//! (a PDS or an authorization server) for when the handle does not resolve.

use super::ClientError;
use atproto::syntax::{Did, Handle};

/// The longest input worth parsing; handles and DIDs are far shorter.
const MAX_INPUT: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginInput {
    Handle(Handle),
    Did(Did),
    /// An `https` origin (`http` in development), no path, query or credentials.
    Server(String),
}

impl LoginInput {
    /// Parses the form field. `dev` allows plain-http server addresses.
    pub fn parse(s: &str, dev: bool) -> Result<LoginInput, ClientError> {
        let s = s.trim();
        if s.is_empty() || s.len() > MAX_INPUT {
            return Err(ClientError::BadInput);
        }
        if s.starts_with("https://") || (dev && s.starts_with("http://")) {
            return super::origin(s, dev)
                .map(LoginInput::Server)
                .map_err(|_| ClientError::BadInput);
        }
        if s.starts_with("did:") {
            return s
                .parse()
                .map(LoginInput::Did)
                .map_err(|_| ClientError::BadInput);
        }
        // People copy handles with the `@` they see in apps, and in any case.
        let h = s.strip_prefix('@').unwrap_or(s).to_ascii_lowercase();
        h.parse()
            .map(LoginInput::Handle)
            .map_err(|_| ClientError::BadInput)
    }

    /// The `login_hint` to pass on: the identifier the person typed, if it was one.
    pub fn login_hint(&self) -> Option<&str> {
        match self {
            LoginInput::Handle(h) => Some(h.as_str()),
            LoginInput::Did(d) => Some(d.as_str()),
            LoginInput::Server(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_dids_and_servers() {
        assert_eq!(
            LoginInput::parse(" @Alice.Test ", false),
            Ok(LoginInput::Handle("alice.test".parse().unwrap()))
        );
        assert_eq!(
            LoginInput::parse("did:plc:abcdefghijklmnopqrstuvwx", false),
            Ok(LoginInput::Did(
                "did:plc:abcdefghijklmnopqrstuvwx".parse().unwrap()
            ))
        );
        assert_eq!(
            LoginInput::parse("https://PDS.example.com/", false),
            Ok(LoginInput::Server("https://pds.example.com".into()))
        );
        assert_eq!(
            LoginInput::parse("http://localhost:2583", true),
            Ok(LoginInput::Server("http://localhost:2583".into()))
        );
        assert_eq!(
            LoginInput::parse("alice.test", false).unwrap().login_hint(),
            Some("alice.test")
        );
    }

    #[test]
    fn refuses_what_is_none_of_them() {
        for bad in [
            "",
            "   ",
            "alice",
            "did:nope",
            "http://localhost:2583",
            "https://pds.example.com/some/path",
            "https://user:pw@pds.example.com",
            "ftp://pds.example.com",
            &"a".repeat(600),
        ] {
            assert_eq!(
                LoginInput::parse(bad, false),
                Err(ClientError::BadInput),
                "{bad:?}"
            );
        }
    }
}
