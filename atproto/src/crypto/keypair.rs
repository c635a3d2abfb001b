//! Private keys: generate, import, export, sign.

use super::{Algorithm, CryptoError, PublicKey};
use k256::ecdsa::signature::Signer;
use rand::rngs::OsRng;

/// A signing key on one of the two curves.
#[derive(Clone)]
pub enum Keypair {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secret material.
        write!(f, "Keypair({})", self.public().did_key())
    }
}

impl Keypair {
    pub fn generate(alg: Algorithm) -> Keypair {
        match alg {
            Algorithm::K256 => Keypair::K256(k256::ecdsa::SigningKey::random(&mut OsRng)),
            Algorithm::P256 => Keypair::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
        }
    }

    /// Imports a 32-byte private scalar.
    pub fn from_bytes(alg: Algorithm, bytes: &[u8]) -> Result<Keypair, CryptoError> {
        // Both curves report the shared `signature::Error`.
        let bad = |e: k256::ecdsa::Error| CryptoError::InvalidKey(e.to_string());
        Ok(match alg {
            Algorithm::K256 => {
                Keypair::K256(k256::ecdsa::SigningKey::from_slice(bytes).map_err(bad)?)
            }
            Algorithm::P256 => {
                Keypair::P256(p256::ecdsa::SigningKey::from_slice(bytes).map_err(bad)?)
            }
        })
    }

    /// The 32-byte private scalar.
    pub fn to_bytes(&self) -> [u8; 32] {
        match self {
            Keypair::K256(k) => k.to_bytes().into(),
            Keypair::P256(k) => k.to_bytes().into(),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Keypair::K256(_) => Algorithm::K256,
            Keypair::P256(_) => Algorithm::P256,
        }
    }

    pub fn public(&self) -> PublicKey {
        match self {
            Keypair::K256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                PublicKey::K256(
                    secp256k1::PublicKey::from_slice(point.as_bytes())
                        .expect("a k256 verifying key is a point on the curve"),
                )
            }
            Keypair::P256(k) => PublicKey::P256(*k.verifying_key()),
        }
    }

    /// Signs SHA-256(`msg`); returns the 64-byte compact low-S signature.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        match self {
            Keypair::K256(k) => {
                // k256 always produces low-S signatures.
                let sig: k256::ecdsa::Signature = k.sign(msg);
                sig.to_bytes().into()
            }
            Keypair::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                sig.normalize_s().unwrap_or(sig).to_bytes().into()
            }
        }
    }
}
