//! Session tokens: HS256 JWTs signed with the server's secret, the reference's format
//! (`typ` `at+jwt` for access, `refresh+jwt` for refresh; `scope` tells full access from an
//! app password). HMAC-SHA256 over two base64url parts is small enough to write directly, and
//! doing so keeps a general JWT library (and its algorithm negotiation) off the login path.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => "at+jwt",
            TokenKind::Refresh => "refresh+jwt",
        }
    }
}

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Signed in with the account password.
    Full,
    /// Signed in with an app password.
    AppPass,
    /// Signed in with an app password allowed to use direct messages.
    AppPassPrivileged,
    /// A refresh token.
    Refresh,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Full => "com.atproto.access",
            Scope::AppPass => "com.atproto.appPass",
            Scope::AppPassPrivileged => "com.atproto.appPassPrivileged",
            Scope::Refresh => "com.atproto.refresh",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Some(match s {
            "com.atproto.access" => Scope::Full,
            "com.atproto.appPass" => Scope::AppPass,
            "com.atproto.appPassPrivileged" => Scope::AppPassPrivileged,
            "com.atproto.refresh" => Scope::Refresh,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    pub scope: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

pub fn mint_session(key: &[u8; 32], kind: TokenKind, claims: &SessionClaims) -> String {
    let header = Header {
        alg: "HS256".into(),
        typ: kind.typ().into(),
    };
    // Serializing these plain structs cannot fail.
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let input = format!("{h}.{c}");
    let sig = URL_SAFE_NO_PAD.encode(mac(key, input.as_bytes()));
    format!("{input}.{sig}")
}

fn mac(key: &[u8; 32], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    Malformed,
    WrongKind,
    BadSignature,
    Expired,
}

/// Checks signature, kind and expiry; returns the claims.
pub fn decode_session(
    key: &[u8; 32],
    kind: TokenKind,
    token: &str,
    now: i64,
) -> Result<SessionClaims, SessionError> {
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(SessionError::Malformed);
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(SessionError::Malformed)?;
    if header.alg != "HS256" {
        return Err(SessionError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| SessionError::Malformed)?;
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| SessionError::Malformed)?;
    m.update(&token.as_bytes()[..h.len() + 1 + c.len()]);
    m.verify_slice(&sig)
        .map_err(|_| SessionError::BadSignature)?;
    if header.typ != kind.typ() {
        return Err(SessionError::WrongKind);
    }
    let claims: SessionClaims = URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(SessionError::Malformed)?;
    if claims.exp <= now {
        return Err(SessionError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let key = [7u8; 32];
        let claims = SessionClaims {
            scope: "com.atproto.access".into(),
            sub: "did:plc:x".into(),
            aud: "did:web:p".into(),
            iat: 100,
            exp: 200,
            jti: None,
        };
        let t = mint_session(&key, TokenKind::Access, &claims);
        assert_eq!(
            decode_session(&key, TokenKind::Access, &t, 150),
            Ok(claims.clone())
        );
        assert_eq!(
            decode_session(&key, TokenKind::Access, &t, 200),
            Err(SessionError::Expired)
        );
        assert_eq!(
            decode_session(&key, TokenKind::Refresh, &t, 150),
            Err(SessionError::WrongKind)
        );
        assert_eq!(
            decode_session(&[8u8; 32], TokenKind::Access, &t, 150),
            Err(SessionError::BadSignature)
        );
        let mut forged = t.clone();
        forged.push('x');
        assert!(decode_session(&key, TokenKind::Access, &forged, 150).is_err());
        for bad in ["", "a.b", "a.b.c.d", "e30.e30.e30"] {
            assert!(decode_session(&key, TokenKind::Access, bad, 150).is_err());
        }
    }

    // Session tokens arrive in the Authorization header of every request.
    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_are_refused(
            parts in proptest::collection::vec("[A-Za-z0-9_-]{0,60}|\\PC{0,8}", 0..5),
        ) {
            let token = parts.join(".");
            for kind in [TokenKind::Access, TokenKind::Refresh] {
                proptest::prop_assert!(decode_session(&[7u8; 32], kind, &token, 150).is_err());
            }
        }

        #[test]
        fn minted_tokens_decode_to_their_claims(
            scope in "\\PC{0,30}",
            sub in "\\PC{0,30}",
            iat in proptest::prelude::any::<i64>(),
            exp in 151i64..i64::MAX,
            jti in proptest::option::of("\\PC{0,20}"),
            edit in proptest::prelude::any::<usize>(),
        ) {
            let key = [7u8; 32];
            let claims = SessionClaims { scope, sub, aud: "did:web:p".into(), iat, exp, jti };
            let t = mint_session(&key, TokenKind::Refresh, &claims);
            proptest::prop_assert_eq!(decode_session(&key, TokenKind::Refresh, &t, 150), Ok(claims));
            // Dropping any one character breaks it.
            let mut cut = t.clone();
            cut.remove(edit % t.len());
            proptest::prop_assert!(decode_session(&key, TokenKind::Refresh, &cut, 150).is_err());
        }
    }
}
