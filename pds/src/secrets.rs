//! Secrets the PDS generates once and keeps in its data directory, readable by the owner only:
//! the key that signs session tokens and the PLC rotation key for the accounts it creates.

use atproto::crypto::{Algorithm, Keypair};
use std::io::Write;
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
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Secrets> {
        std::fs::create_dir_all(dir)?;
        let jwt = read_or_create(&dir.join("jwt.key"), || rand::random::<[u8; 32]>().to_vec())?;
        let jwt_key: [u8; 32] = jwt
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("jwt.key must hold 32 bytes"))?;
        let plc = read_or_create(&dir.join("plc-rotation.key"), || {
            Keypair::generate(Algorithm::K256).to_bytes().to_vec()
        })?;
        let service = read_or_create(&dir.join("service.key"), || {
            Keypair::generate(Algorithm::K256).to_bytes().to_vec()
        })?;
        Ok(Secrets {
            jwt_key,
            plc_rotation_key: Keypair::from_bytes(Algorithm::K256, &plc)?,
            service_key: Keypair::from_bytes(Algorithm::K256, &service)?,
        })
    }
}

/// Reads a hex-encoded secret, or writes a new one with mode 0600 first.
fn read_or_create(path: &Path, make: impl FnOnce() -> Vec<u8>) -> anyhow::Result<Vec<u8>> {
    if path.exists() {
        let text = std::fs::read_to_string(path)?;
        return Ok(hex::decode(text.trim())?);
    }
    let bytes = make();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(hex::encode(&bytes).as_bytes())?;
    f.sync_all()?;
    Ok(bytes)
}
