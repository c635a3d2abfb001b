//! Service-auth JWTs: whatever a caller puts in `Authorization: Bearer`.

use crate::meter::bounded;
use crate::strategy;
use atproto::auth::{Expectation, mint, peek_claims, verify};
use atproto::crypto::{Algorithm, Keypair, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use std::sync::OnceLock;

const NOW: i64 = 1_700_000_000;
const AUD: &str = "did:web:api.example";

fn keys() -> &'static [(Keypair, PublicKey); 2] {
    static KEYS: OnceLock<[(Keypair, PublicKey); 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [Algorithm::K256, Algorithm::P256].map(|alg| {
            let k = Keypair::generate(alg);
            let p = k.public();
            (k, p)
        })
    })
}

fn expect(lxm: Option<&str>) -> Expectation<'_> {
    Expectation {
        aud_did: AUD,
        aud_services: &["svc"],
        lxm,
        now: NOW,
    }
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,40}",
        strategy::json().prop_map(|v| URL_SAFE_NO_PAD.encode(v.to_string())),
        proptest::collection::vec(any::<u8>(), 0..72).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        "\\PC{0,12}",
    ]
}

/// Tokens of one to four dot-separated parts: base64url JSON, raw bytes, or junk.
fn token() -> impl Strategy<Value = String> {
    proptest::collection::vec(segment(), 1..5).prop_map(|parts| parts.join("."))
}

proptest! {
    #[test]
    fn verify_survives_arbitrary_tokens(token in token()) {
        for (_, public) in keys() {
            let _ = bounded(token.len(), || verify(&token, public, &expect(Some("a.b.c"))));
        }
        let _ = bounded(token.len(), || peek_claims(&token));
    }

    #[test]
    fn minted_tokens_verify_with_their_claims(
        iss in "\\PC{0,40}",
        lxm in proptest::option::of("[a-z]{1,8}(\\.[a-z]{1,8}){2}"),
        ttl in 1i64..3600,
        svc in any::<bool>(),
        which in 0usize..2,
    ) {
        let (key, public) = &keys()[which];
        let aud = if svc { format!("{AUD}#svc") } else { AUD.to_owned() };
        let token = mint(key, &iss, &aud, lxm.as_deref(), NOW, ttl);
        let claims = verify(&token, public, &expect(lxm.as_deref())).expect("verify");
        prop_assert_eq!(&claims.iss, &iss);
        prop_assert_eq!(&claims.aud, &aud);
        prop_assert_eq!(claims.exp, NOW + ttl);
        prop_assert_eq!(&claims.lxm, &lxm);
        prop_assert_eq!(peek_claims(&token).expect("peek"), claims);
        // The other curve's key never accepts it.
        prop_assert!(verify(&token, &keys()[1 - which].1, &expect(lxm.as_deref())).is_err());
    }

    #[test]
    fn any_edit_to_a_token_is_refused(pos in any::<usize>(), shift in 1u8..94) {
        let (key, public) = &keys()[0];
        let token = mint(key, "did:plc:abc", AUD, Some("a.b.c"), NOW, 60);
        let mut bytes = token.clone().into_bytes();
        let i = pos % bytes.len();
        // Another printable character: tokens are ASCII from `!` to `~`, 94 characters.
        bytes[i] = 0x21 + (bytes[i] - 0x21 + shift) % 94;
        let edited = String::from_utf8(bytes).expect("ascii");
        // Base64url has spare bits in its last character, so some edits decode to the same
        // bytes; only a change in what the token says must be refused.
        let same = |a: &str, b: &str| {
            let d = |t: &str| t.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>();
            d(a) == d(b)
        };
        if !same(&token, &edited) {
            prop_assert!(verify(&edited, public, &expect(Some("a.b.c"))).is_err(), "{}", edited);
        }
    }
}
