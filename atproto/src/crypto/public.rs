//! Public keys: verify signatures, encode as did:key and Multikey.

use super::{Algorithm, CryptoError};
use p256::ecdsa::signature::Verifier;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// A verifying key on one of the two curves.
///
/// K-256 keys verify with libsecp256k1 (through the `secp256k1` crate): a firehose consumer
/// checks one K-256 signature per commit, and libsecp256k1 does it several times faster than
/// the pure-Rust `k256` (which still signs, in [`super::Keypair`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PublicKey {
    K256(secp256k1::PublicKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// libsecp256k1's verification tables, built once (building them costs more than a verify).
fn secp() -> &'static secp256k1::Secp256k1<secp256k1::VerifyOnly> {
    static CTX: OnceLock<secp256k1::Secp256k1<secp256k1::VerifyOnly>> = OnceLock::new();
    CTX.get_or_init(secp256k1::Secp256k1::verification_only)
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.did_key())
    }
}

impl PublicKey {
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::K256(_) => Algorithm::K256,
            PublicKey::P256(_) => Algorithm::P256,
        }
    }

    /// Reads a SEC1 point (compressed or not).
    pub fn from_sec1(alg: Algorithm, bytes: &[u8]) -> Result<PublicKey, CryptoError> {
        Ok(match alg {
            Algorithm::K256 => {
                // libsecp256k1 also takes the "hybrid" encodings (0x06, 0x07); SEC1 as atproto
                // uses it has only compressed (0x02, 0x03) and uncompressed (0x04) points.
                let sec1 = matches!(
                    (bytes.len(), bytes.first()),
                    (33, Some(2 | 3)) | (65, Some(4))
                );
                if !sec1 {
                    return Err(CryptoError::InvalidKey("not a SEC1 point".into()));
                }
                PublicKey::K256(
                    secp256k1::PublicKey::from_slice(bytes)
                        .map_err(|e| CryptoError::InvalidKey(e.to_string()))?,
                )
            }
            Algorithm::P256 => PublicKey::P256(
                p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                    .map_err(|e| CryptoError::InvalidKey(e.to_string()))?,
            ),
        })
    }

    /// The 33-byte compressed SEC1 point.
    pub fn to_compressed(&self) -> Vec<u8> {
        match self {
            PublicKey::K256(k) => k.serialize().to_vec(),
            PublicKey::P256(k) => k.to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    /// Verifies a 64-byte compact signature over SHA-256(`msg`). High-S and DER-encoded
    /// signatures are refused.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        if sig.len() != 64 {
            return Err(CryptoError::SignatureEncoding);
        }
        match self {
            PublicKey::K256(k) => {
                // r and s must be in 1..n: out of range fails to parse, zero is refused here
                // (as `k256` does), so a malformed signature is an encoding error, not a
                // failed verification.
                let (r, s_bytes) = sig.split_at(32);
                if r.iter().all(|b| *b == 0) || s_bytes.iter().all(|b| *b == 0) {
                    return Err(CryptoError::SignatureEncoding);
                }
                let s = secp256k1::ecdsa::Signature::from_compact(sig)
                    .map_err(|_| CryptoError::SignatureEncoding)?;
                let mut low = s;
                low.normalize_s();
                if low != s {
                    return Err(CryptoError::HighS);
                }
                let digest: [u8; 32] = Sha256::digest(msg).into();
                secp()
                    .verify_ecdsa(&secp256k1::Message::from_digest(digest), &s, k)
                    .map_err(|_| CryptoError::BadSignature)
            }
            PublicKey::P256(k) => {
                let s = p256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| CryptoError::SignatureEncoding)?;
                if s.normalize_s().is_some() {
                    return Err(CryptoError::HighS);
                }
                k.verify(msg, &s).map_err(|_| CryptoError::BadSignature)
            }
        }
    }

    /// The Multikey form: `z` + base58btc(multicodec prefix + compressed point).
    pub fn multikey(&self) -> String {
        let mut bytes = self.algorithm().multicodec_prefix().to_vec();
        bytes.extend(self.to_compressed());
        multibase::encode(multibase::Base::Base58Btc, bytes)
    }

    /// The did:key form.
    pub fn did_key(&self) -> String {
        format!("did:key:{}", self.multikey())
    }
}
