//! Parsing did:key and Multikey strings, and the legacy DID-document key formats.

use super::{Algorithm, CryptoError, PublicKey};

/// Parses a Multikey string (`z...`).
pub fn parse_multikey(s: &str) -> Result<PublicKey, CryptoError> {
    if !s.starts_with('z') {
        return Err(CryptoError::InvalidKey(
            "multikey must be base58btc ('z')".into(),
        ));
    }
    let (_, bytes) = multibase::decode(s).map_err(|e| CryptoError::InvalidKey(e.to_string()))?;
    for alg in [Algorithm::K256, Algorithm::P256] {
        if let Some(point) = bytes.strip_prefix(&alg.multicodec_prefix()[..]) {
            return PublicKey::from_sec1(alg, point);
        }
    }
    Err(CryptoError::Unsupported(
        "unknown multicodec key type".into(),
    ))
}

/// Parses a `did:key:z...` string.
pub fn parse_did_key(s: &str) -> Result<PublicKey, CryptoError> {
    let rest = s
        .strip_prefix("did:key:")
        .ok_or_else(|| CryptoError::InvalidKey("not a did:key".into()))?;
    parse_multikey(rest)
}

impl PublicKey {
    /// Reads a DID document verification method: `Multikey`, or the legacy
    /// `EcdsaSecp256k1VerificationKey2019` / `EcdsaSecp256r1VerificationKey2019` types whose
    /// `publicKeyMultibase` is a bare SEC1 point without a multicodec prefix.
    pub fn from_verification_method(kind: &str, multibase: &str) -> Result<PublicKey, CryptoError> {
        let legacy = match kind {
            "Multikey" => return parse_multikey(multibase),
            "EcdsaSecp256k1VerificationKey2019" => Algorithm::K256,
            "EcdsaSecp256r1VerificationKey2019" => Algorithm::P256,
            other => return Err(CryptoError::Unsupported(other.to_owned())),
        };
        let (_, bytes) =
            multibase::decode(multibase).map_err(|e| CryptoError::InvalidKey(e.to_string()))?;
        PublicKey::from_sec1(legacy, &bytes)
    }
}
