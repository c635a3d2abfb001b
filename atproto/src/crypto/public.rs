//! Public keys: verify signatures, encode as did:key and Multikey.

use super::{Algorithm, CryptoError};
use k256::ecdsa::signature::Verifier;

/// A verifying key on one of the two curves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PublicKey {
    K256(k256::ecdsa::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
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
        let bad = |e: k256::ecdsa::Error| CryptoError::InvalidKey(e.to_string());
        Ok(match alg {
            Algorithm::K256 => {
                PublicKey::K256(k256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).map_err(bad)?)
            }
            Algorithm::P256 => {
                PublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes).map_err(bad)?)
            }
        })
    }

    /// The 33-byte compressed SEC1 point.
    pub fn to_compressed(&self) -> Vec<u8> {
        match self {
            PublicKey::K256(k) => k.to_encoded_point(true).as_bytes().to_vec(),
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
                let s = k256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| CryptoError::SignatureEncoding)?;
                if s.normalize_s().is_some() {
                    return Err(CryptoError::HighS);
                }
                k.verify(msg, &s).map_err(|_| CryptoError::BadSignature)
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
