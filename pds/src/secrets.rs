//! Secrets the PDS generates once and keeps in its data directory, readable by the owner only:
//! the key that signs session tokens and the PLC rotation key for the accounts it creates.

use atproto::crypto::{Algorithm, Keypair, keyfile};
use std::path::Path;

pub struct Secrets {
    /// HMAC key for access and refresh tokens.
    pub jwt_key: [u8; 32],
    /// The rotation key the PDS puts first in every account's PLC identity.
    pub plc_rotation_key: Keypair,
    /// The key of the PDS's own did:web document.
    pub service_key: Keypair,
}

impl Secrets {
    pub fn load_or_create(dir: &Path) -> Result<Secrets, SecretsError> {
        hearth_db::files::create_private_dir(dir).map_err(SecretsError::Dir)?;
        let jwt =
            keyfile::read_or_create(&dir.join("jwt.key"), || rand::random::<[u8; 32]>().to_vec())?;
        let jwt_key: [u8; 32] = jwt
            .as_slice()
            .try_into()
            .map_err(|_| SecretsError::JwtKeyLength)?;
        Ok(Secrets {
            jwt_key,
            plc_rotation_key: keyfile::load_or_generate(
                &dir.join("plc-rotation.key"),
                Algorithm::K256,
            )?,
            service_key: keyfile::load_or_generate(&dir.join("service.key"), Algorithm::K256)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("creating the secrets directory: {0}")]
    Dir(std::io::Error),
    #[error(transparent)]
    File(#[from] keyfile::KeyFileError),
    #[error("jwt.key must hold 32 bytes")]
    JwtKeyLength,
}
