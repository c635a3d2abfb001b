//! A backup's manifest (`manifest.json`): every file with its size and SHA-256, and where the
//! PDS's firehose stood. Written last, so a backup without one is unfinished.

use crate::layout::Kind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The manifest's file name inside a backup directory.
pub const FILE: &str = "manifest.json";

/// The manifest format this build writes and reads.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    /// When the backup started (atproto datetime).
    pub created_at: String,
    /// The `hearth` version that wrote it.
    pub hearth_version: String,
    /// The last firehose sequence number in the copied PDS database (none without a PDS):
    /// a restored server continues from the next one.
    pub pds_head_seq: Option<i64>,
    /// Where the PDS's blob bytes are when they are not in the data directory (an S3 bucket):
    /// they are not in this backup, and the bucket's own versioning or replication backs
    /// them up. `None`: on disk, in this backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs_not_copied: Option<String>,
    pub files: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the data directory (and to the backup directory), `/`-separated.
    pub path: String,
    pub kind: Kind,
    pub size: u64,
    pub sha256: String,
}

/// Why a backup does not match its manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("no manifest at {0}: not a finished backup")]
    Missing(PathBuf),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the manifest does not parse: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("manifest format {0} is not one this build reads (it reads {FORMAT})")]
    Format(u32),
    #[error("the manifest names a path outside the backup: {0:?}")]
    BadPath(String),
    #[error("{path}: missing from the backup")]
    FileMissing { path: String },
    #[error("{path}: {got} bytes, the manifest says {want}")]
    Size { path: String, got: u64, want: u64 },
    #[error("{path}: its SHA-256 is not the manifest's")]
    Hash { path: String },
    #[error("{path}: the database is damaged: {problems}")]
    Damaged { path: String, problems: String },
    #[error("{path}: {source}")]
    Db {
        path: String,
        source: hearth_db::DbError,
    },
}

impl Manifest {
    pub fn read(backup: &Path) -> Result<Manifest, ManifestError> {
        let path = backup.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing(backup.to_path_buf()));
            }
            Err(source) => return Err(ManifestError::Io { path, source }),
        };
        let m: Manifest = serde_json::from_slice(&bytes)?;
        if m.format != FORMAT {
            return Err(ManifestError::Format(m.format));
        }
        for e in &m.files {
            relative(&e.path)?;
        }
        Ok(m)
    }

    /// Checks every file the manifest names against its size and hash, and every database
    /// with SQLite's integrity check.
    pub fn verify(&self, backup: &Path) -> Result<(), ManifestError> {
        for e in &self.files {
            let path = backup.join(relative(&e.path)?);
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e2) if e2.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ManifestError::FileMissing {
                        path: e.path.clone(),
                    });
                }
                Err(source) => return Err(ManifestError::Io { path, source }),
            };
            if meta.len() != e.size {
                return Err(ManifestError::Size {
                    path: e.path.clone(),
                    got: meta.len(),
                    want: e.size,
                });
            }
            let (_, sha) = hash_file(&path).map_err(|source| ManifestError::Io {
                path: path.clone(),
                source,
            })?;
            if sha != e.sha256 {
                return Err(ManifestError::Hash {
                    path: e.path.clone(),
                });
            }
            if e.kind == Kind::Database {
                let checked =
                    hearth_db::integrity_check(&path).map_err(|source| ManifestError::Db {
                        path: e.path.clone(),
                        source,
                    })?;
                if let Err(problems) = checked {
                    return Err(ManifestError::Damaged {
                        path: e.path.clone(),
                        problems: problems.join("; "),
                    });
                }
            }
        }
        Ok(())
    }
}

/// A manifest path as a relative path that stays inside the directory it is joined to.
pub fn relative(path: &str) -> Result<PathBuf, ManifestError> {
    let p = Path::new(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(p.to_path_buf())
    } else {
        Err(ManifestError::BadPath(path.to_owned()))
    }
}

/// Size and hex SHA-256 of a file.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    copy_hashed(&mut std::fs::File::open(path)?, &mut std::io::sink())
}

/// Copies `from` into `to`, returning the size and hex SHA-256 of what passed.
pub fn copy_hashed(
    from: &mut impl Read,
    to: &mut impl std::io::Write,
) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_backup_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "./a"] {
            assert!(
                matches!(relative(bad), Err(ManifestError::BadPath(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            relative("appview/index.sqlite").expect("ok"),
            PathBuf::from("appview/index.sqlite")
        );
    }
}
