//! One writer per data directory. The PDS keeps the last firehose sequence number in its
//! writer thread, so a second process committing to the same database would hand out a
//! number the server then hands out again. The server holds this lock while it runs, and
//! `hearth admin` takes it before writing to a data directory itself; reading never needs it.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file, beside the databases.
const FILE: &str = "hearth.lock";

/// Held for as long as it lives; released when dropped or when the process ends.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{0} is in use by a running Hearth server (it holds hearth.lock there): stop it first, \
         or send hearth admin's command to it with --url and HEARTH_ADMIN_PASSWORD"
    )]
    InUse(PathBuf),
    #[error("locking {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DataDirLock {
    /// Takes the lock of `data_dir` (created owner-only if missing), or says who holds it.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, LockError> {
        let io = |source| LockError::Io {
            path: data_dir.to_path_buf(),
            source,
        };
        hearth_db::files::create_private_dir(data_dir).map_err(io)?;
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(data_dir.join(FILE)).map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::InUse(data_dir.to_path_buf())),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let tmp = tempfile::tempdir().expect("tmp");
        let held = DataDirLock::acquire(tmp.path()).expect("first");
        assert!(matches!(
            DataDirLock::acquire(tmp.path()),
            Err(LockError::InUse(_))
        ));
        drop(held);
        DataDirLock::acquire(tmp.path()).expect("free again");
    }
}
