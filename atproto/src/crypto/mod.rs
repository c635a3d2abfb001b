//! Keys and signatures: K-256 (secp256k1) and P-256, as atproto uses them.
//!
//! Signatures are ECDSA over SHA-256 in the 64-byte compact form, and must be low-S: a high-S
//! signature or a DER-encoded one is refused, so each message has exactly one valid signature
//! per key. Built on RustCrypto's `k256` and `p256` (constant-time, audited, pure Rust), with
//! K-256 verification in libsecp256k1 (the `secp256k1` crate), several times faster.

pub mod keyfile;
mod keypair;
mod multikey;
mod public;

pub use keypair::Keypair;
pub use multikey::{parse_did_key, parse_multikey};
pub use public::PublicKey;

/// The two curves atproto allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// secp256k1, JWT name `ES256K`.
    K256,
    /// NIST P-256, JWT name `ES256`.
    P256,
}

impl Algorithm {
    /// The JWT `alg` name.
    pub fn jwt_name(self) -> &'static str {
        match self {
            Algorithm::K256 => "ES256K",
            Algorithm::P256 => "ES256",
        }
    }

    pub fn from_jwt_name(name: &str) -> Option<Algorithm> {
        match name {
            "ES256K" => Some(Algorithm::K256),
            "ES256" => Some(Algorithm::P256),
            _ => None,
        }
    }

    /// The multicodec prefix (unsigned varint) that names the key type in did:key and
    /// Multikey strings.
    pub(crate) fn multicodec_prefix(self) -> [u8; 2] {
        match self {
            Algorithm::K256 => [0xe7, 0x01], // secp256k1-pub
            Algorithm::P256 => [0x80, 0x24], // p256-pub
        }
    }
}

/// Why a key or signature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("invalid signature encoding")]
    SignatureEncoding,
    #[error("high-S signature")]
    HighS,
    #[error("signature does not verify")]
    BadSignature,
    #[error("unsupported key type: {0}")]
    Unsupported(String),
}
