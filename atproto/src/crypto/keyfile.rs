//! Secrets kept in a file: hex text, created once with owner-only permissions (0600) and
//! fsynced before use, so a key that signed anything is never lost or replaced by a restart.

use super::{Algorithm, CryptoError, Keypair};
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not hex: {source}")]
    Hex {
        path: String,
        source: hex::FromHexError,
    },
    #[error("{path}: {source}")]
    Key { path: String, source: CryptoError },
}

/// Reads the secret at `path`, or stores `make()` there first if the file does not exist.
pub fn read_or_create(
    path: &Path,
    make: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            return hex::decode(text.trim()).map_err(|source| KeyFileError::Hex {
                path: path.display().to_string(),
                source,
            });
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    let bytes = make();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(hex::encode(&bytes).as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(bytes)
}

/// The private key at `path`, generated and stored on first use.
pub fn load_or_generate(path: &Path, alg: Algorithm) -> Result<Keypair, KeyFileError> {
    let bytes = read_or_create(path, || Keypair::generate(alg).to_bytes().to_vec())?;
    Keypair::from_bytes(alg, &bytes).map_err(|source| KeyFileError::Key {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("k.key");
        let a = load_or_generate(&path, Algorithm::K256).expect("create");
        let b = load_or_generate(&path, Algorithm::K256).expect("read");
        assert_eq!(a.to_bytes(), b.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "zz").expect("write");
        assert!(matches!(
            load_or_generate(&path, Algorithm::K256),
            Err(KeyFileError::Hex { .. })
        ));
    }
}
