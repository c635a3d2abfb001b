//! Public JSON Web Keys for the two curves atproto OAuth allows (`EC` keys on `P-256`, alg
//! ES256, and `secp256k1`, alg ES256K), and their RFC 7638 thumbprints, which bind a DPoP key to
//! the tokens issued for it (`cnf.jkt`).

use atproto::crypto::{Algorithm, PublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a JWK was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwkError {
    #[error("not a JWK object")]
    Malformed,
    #[error("key type {0:?} is not supported (EC only)")]
    KeyType(String),
    #[error("curve {0:?} is not supported (P-256 or secp256k1)")]
    Curve(String),
    #[error("key carries private material")]
    Private,
    #[error("key coordinates are not 32 base64url bytes each")]
    Coordinates,
    #[error("key is not a point on its curve")]
    NotOnCurve,
    #[error("key is meant for {0:?}, not signatures")]
    Use(String),
}

/// An EC public key as a JWK. `kid`, `alg` and `use` are kept when given (a client's JWKS names
/// its keys); a private part (`d`) is refused when reading, so a key sent by a client can never
/// be mistaken for, or carry, a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// What arrives on the wire, before the checks in [`Jwk::from_json`].
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(default)]
    crv: String,
    #[serde(default)]
    x: String,
    #[serde(default)]
    y: String,
    #[serde(default)]
    d: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(rename = "use", default)]
    use_: Option<String>,
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Jwk, D::Error> {
        let raw = RawJwk::deserialize(d)?;
        Jwk::check(raw).map_err(serde::de::Error::custom)
    }
}

fn crv_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::P256 => "P-256",
        Algorithm::K256 => "secp256k1",
    }
}

impl Jwk {
    /// Reads a public JWK from a JSON value (a DPoP proof's `jwk` header, a JWKS entry).
    pub fn from_json(v: &serde_json::Value) -> Result<Jwk, JwkError> {
        let raw = RawJwk::deserialize(v).map_err(|_| JwkError::Malformed)?;
        Jwk::check(raw)
    }

    fn check(raw: RawJwk) -> Result<Jwk, JwkError> {
        if raw.kty != "EC" {
            return Err(JwkError::KeyType(raw.kty));
        }
        if raw.d.is_some() {
            return Err(JwkError::Private);
        }
        if let Some(u) = &raw.use_
            && u != "sig"
        {
            return Err(JwkError::Use(u.clone()));
        }
        let jwk = Jwk {
            kty: raw.kty,
            crv: raw.crv,
            x: raw.x,
            y: raw.y,
            kid: raw.kid,
            alg: raw.alg,
            use_: raw.use_,
        };
        jwk.public_key()?;
        Ok(jwk)
    }

    /// The JWK of a public key.
    pub fn from_public(key: &PublicKey) -> Jwk {
        let alg = key.algorithm();
        let point = uncompressed(key);
        Jwk {
            kty: "EC".into(),
            crv: crv_name(alg).into(),
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..65]),
            kid: None,
            alg: Some(alg.jwt_name().into()),
            use_: None,
        }
    }

    /// The curve, from `crv`.
    pub fn algorithm(&self) -> Result<Algorithm, JwkError> {
        match self.crv.as_str() {
            "P-256" => Ok(Algorithm::P256),
            "secp256k1" => Ok(Algorithm::K256),
            other => Err(JwkError::Curve(other.to_owned())),
        }
    }

    /// The verifying key.
    pub fn public_key(&self) -> Result<PublicKey, JwkError> {
        let alg = self.algorithm()?;
        let coord = |c: &str| -> Result<Vec<u8>, JwkError> {
            let b = URL_SAFE_NO_PAD
                .decode(c)
                .map_err(|_| JwkError::Coordinates)?;
            if b.len() == 32 {
                Ok(b)
            } else {
                Err(JwkError::Coordinates)
            }
        };
        let mut point = Vec::with_capacity(65);
        point.push(0x04);
        point.extend(coord(&self.x)?);
        point.extend(coord(&self.y)?);
        PublicKey::from_sec1(alg, &point).map_err(|_| JwkError::NotOnCurve)
    }

    /// The RFC 7638 thumbprint: SHA-256 of the required members (`crv`, `kty`, `x`, `y`) in
    /// lexicographic order with no whitespace, base64url.
    pub fn thumbprint(&self) -> String {
        // The members are checked base64url or curve names, so no JSON escaping is needed; the
        // JSON writer is still used so an unchecked `Jwk` built by hand cannot inject members.
        let canonical = serde_json::json!({
            "crv": self.crv,
            "kty": self.kty,
            "x": self.x,
            "y": self.y,
        });
        // Written in sorted order, so the bytes are the same whether serde_json's maps sort
        // their keys or keep insertion order (its `preserve_order` feature).
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(Sha256::digest(bytes))
    }
}

/// The 65-byte uncompressed SEC1 point of a key.
fn uncompressed(key: &PublicKey) -> [u8; 65] {
    let mut out = [0u8; 65];
    match key {
        PublicKey::K256(k) => out.copy_from_slice(&k.serialize_uncompressed()),
        PublicKey::P256(k) => out.copy_from_slice(k.to_encoded_point(false).as_bytes()),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use atproto::crypto::Keypair;

    /// The key of RFC 9449's example proof (section 4.2) and the `jkt` the RFC gives for it
    /// (section 6.1).
    #[test]
    fn rfc9449_example_thumbprint() {
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        }))
        .expect("valid key");
        assert_eq!(
            jwk.thumbprint(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        assert_eq!(jwk.algorithm(), Ok(Algorithm::P256));
    }

    #[test]
    fn round_trip_both_curves() {
        for alg in [Algorithm::P256, Algorithm::K256] {
            let pk = Keypair::generate(alg).public();
            let jwk = Jwk::from_public(&pk);
            assert_eq!(jwk.public_key(), Ok(pk));
            let back: Jwk =
                serde_json::from_value(serde_json::to_value(&jwk).expect("json")).expect("reads");
            assert_eq!(back, jwk);
            // Optional members do not change the thumbprint.
            let bare = Jwk {
                alg: None,
                kid: Some("k1".into()),
                ..jwk.clone()
            };
            assert_eq!(bare.thumbprint(), jwk.thumbprint());
            // Another key, another thumbprint.
            let other = Jwk::from_public(&Keypair::generate(alg).public());
            assert_ne!(other.thumbprint(), jwk.thumbprint());
        }
    }

    #[test]
    fn refusals() {
        let good = serde_json::to_value(Jwk::from_public(
            &Keypair::generate(Algorithm::P256).public(),
        ))
        .expect("json");
        let with = |k: &str, v: serde_json::Value| {
            let mut j = good.clone();
            j[k] = v;
            Jwk::from_json(&j)
        };
        assert_eq!(
            with("d", "AAAA".into()),
            Err(JwkError::Private),
            "private part"
        );
        assert_eq!(
            with("kty", "RSA".into()),
            Err(JwkError::KeyType("RSA".into()))
        );
        assert_eq!(
            with("crv", "P-384".into()),
            Err(JwkError::Curve("P-384".into()))
        );
        assert_eq!(with("x", "AAAA".into()), Err(JwkError::Coordinates));
        assert_eq!(with("use", "enc".into()), Err(JwkError::Use("enc".into())));
        // 32 bytes of zeros is not a point on P-256.
        assert_eq!(
            with("y", URL_SAFE_NO_PAD.encode([0u8; 32]).into()),
            Err(JwkError::NotOnCurve)
        );
        assert_eq!(
            Jwk::from_json(&serde_json::json!({"crv": "P-256"})),
            Err(JwkError::Malformed)
        );
    }
}
