//! JWS compact serialization (`header.payload.signature`, base64url without padding): the one
//! parser DPoP proofs, access tokens and client assertions share, and the ECDSA check for the
//! asymmetric ones.

use atproto::crypto::{Algorithm, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use sha2::Sha256;

/// The longest compact JWS accepted. Tokens and proofs arrive in headers a caller controls; a
/// DPoP proof with its key is well under 1 KiB, an access token with a long scope list a few.
pub const MAX_JWS_LEN: usize = 16 * 1024;

/// Why a compact JWS could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwsError {
    #[error("token is longer than {MAX_JWS_LEN} bytes")]
    TooLong,
    #[error("token does not have three parts")]
    Parts,
    #[error("token part is not base64url")]
    Base64,
    #[error("token {0} is not the expected JSON")]
    Json(&'static str),
    #[error("signature does not verify")]
    Signature,
}

/// A compact JWS split into its parts; nothing is checked yet.
#[derive(Debug)]
pub struct Compact<'a> {
    header: &'a str,
    payload: &'a str,
    /// `header.payload`, what the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
}

impl<'a> Compact<'a> {
    pub fn parse(token: &'a str) -> Result<Compact<'a>, JwsError> {
        if token.len() > MAX_JWS_LEN {
            return Err(JwsError::TooLong);
        }
        let mut it = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(JwsError::Parts);
        };
        Ok(Compact {
            header,
            payload,
            signing_input: &token[..header.len() + 1 + payload.len()],
            signature: URL_SAFE_NO_PAD.decode(sig).map_err(|_| JwsError::Base64)?,
        })
    }

    pub fn header<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        decode_json(self.header, "header")
    }

    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JwsError> {
        decode_json(self.payload, "payload")
    }

    /// Checks an ECDSA signature (ES256 or ES256K, `r || s`) with `key`. High-S signatures are
    /// accepted here, unlike atproto's own signatures: JOSE does not require low-S, and the
    /// WebCrypto and Node signers clients use do not normalize, so the signature is normalized
    /// before atproto's strict check.
    pub fn verify_ecdsa(&self, key: &PublicKey) -> Result<(), JwsError> {
        // P-256 through ring: a resource server checks one per DPoP request, and ring's
        // verification is several times faster than `p256`'s (which atproto's check uses).
        if let PublicKey::P256(k) = key {
            let point = k.to_encoded_point(false);
            return ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                point.as_bytes(),
            )
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::Signature);
        }
        let sig = low_s(key.algorithm(), &self.signature).ok_or(JwsError::Signature)?;
        key.verify(self.signing_input.as_bytes(), &sig)
            .map_err(|_| JwsError::Signature)
    }
}

fn decode_json<T: DeserializeOwned>(part: &str, what: &'static str) -> Result<T, JwsError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JwsError::Base64)?;
    serde_json::from_slice(&bytes).map_err(|_| JwsError::Json(what))
}

/// The low-S form of a 64-byte `r || s` signature; `None` when it is not one.
fn low_s(alg: Algorithm, sig: &[u8]) -> Option<[u8; 64]> {
    match alg {
        Algorithm::P256 => {
            let s = p256::ecdsa::Signature::from_slice(sig).ok()?;
            Some(s.normalize_s().unwrap_or(s).to_bytes().into())
        }
        Algorithm::K256 => {
            let mut s = secp256k1::ecdsa::Signature::from_compact(sig).ok()?;
            s.normalize_s();
            Some(s.serialize_compact())
        }
    }
}

/// Encodes a header and payload and signs them with `sign`, which returns the raw signature.
pub fn encode<H: serde::Serialize, P: serde::Serialize>(
    header: &H,
    payload: &P,
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> String {
    // Serializing plain structs and JSON values to JSON cannot fail.
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap_or_default());
    let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload).unwrap_or_default());
    let input = format!("{h}.{p}");
    let sig = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
    format!("{input}.{sig}")
}

/// HMAC-SHA256 (the HS256 JWS algorithm, and key derivation).
pub(crate) fn hs256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use atproto::crypto::Keypair;

    #[test]
    fn high_s_signatures_are_accepted_after_normalizing() {
        for alg in [Algorithm::P256, Algorithm::K256] {
            let key = Keypair::generate(alg);
            let token = encode(
                &serde_json::json!({"alg": "x"}),
                &serde_json::json!({}),
                |m| key.sign(m).to_vec(),
            );
            let c = Compact::parse(&token).expect("parses");
            assert_eq!(c.verify_ecdsa(&key.public()), Ok(()));
            // s' = n - s signs the same message; a JOSE verifier must take it.
            let mut high = c.signature.clone();
            let flipped: [u8; 64] = match alg {
                Algorithm::P256 => {
                    let s = p256::ecdsa::Signature::from_slice(&high).expect("sig");
                    let (r, s) = s.split_scalars();
                    p256::ecdsa::Signature::from_scalars(r, -*s)
                        .expect("sig")
                        .to_bytes()
                        .into()
                }
                Algorithm::K256 => k256_negate(&high),
            };
            assert_ne!(flipped.to_vec(), high);
            high = flipped.to_vec();
            let c2 = Compact {
                signature: high,
                ..Compact::parse(&token).expect("parses")
            };
            assert_eq!(c2.verify_ecdsa(&key.public()), Ok(()));
            let other = Keypair::generate(alg).public();
            assert_eq!(c.verify_ecdsa(&other), Err(JwsError::Signature));
        }
    }

    /// n - s for secp256k1, by schoolbook subtraction on big-endian bytes.
    fn k256_negate(sig: &[u8]) -> [u8; 64] {
        const N: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c,
            0xd0, 0x36, 0x41, 0x41,
        ];
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&sig[..32]);
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = N[i] as i16 - sig[32 + i] as i16 - borrow;
            borrow = i16::from(d < 0);
            out[32 + i] = (d + 256 * borrow) as u8;
        }
        out
    }

    #[test]
    fn malformed() {
        for (t, e) in [
            ("", JwsError::Parts),
            ("a.b", JwsError::Parts),
            ("a.b.c.d", JwsError::Parts),
            ("a.b.!!", JwsError::Base64),
        ] {
            assert_eq!(Compact::parse(t).err(), Some(e), "{t}");
        }
        assert_eq!(
            Compact::parse(&"a".repeat(MAX_JWS_LEN + 1)).err(),
            Some(JwsError::TooLong)
        );
        let c = Compact::parse("e30.bm90IGpzb24.").expect("parts");
        assert!(c.header::<serde_json::Value>().is_ok());
        assert_eq!(
            c.payload::<serde_json::Value>().err(),
            Some(JwsError::Json("payload"))
        );
    }
}
