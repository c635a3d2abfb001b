//! What a data directory holds and in which order a backup takes it.
//!
//! The databases are copied one after another, each as of one commit, so the order is chosen
//! for what a restored server needs to find consistent:
//! - the AppView's index before the PDS: its firehose cursor is then at most the restored PDS
//!   head, and the AppView catches up from there instead of waiting for sequence numbers the
//!   restored PDS will hand out again;
//! - a database before the files it names (spaces before their images, the PDS before its
//!   blobs): bytes are written before the row that names them commits, so every row in the
//!   copy finds its bytes;
//! - the PDS before the local PLC directory: an account's DID is registered before its row is
//!   written, so every restored account finds its identity.
//!
//! Anything else under the data directory (keys, secrets, databases added later) is taken
//! too, after these; SQLite's side files and unfinished uploads are not.

use std::path::{Path, PathBuf};

/// One file to back up, by its path relative to the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub path: PathBuf,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A SQLite database, copied through a read transaction.
    Database,
    /// A file copied byte for byte.
    File,
}

/// The PDS database, relative to the data directory.
pub const PDS_DB: &str = "pds.sqlite";
/// The AppView's index.
pub const INDEX_DB: &str = "appview/index.sqlite";
/// The spaces database.
pub const SPACES_DB: &str = "appview/spaces.sqlite";
/// The local PLC directory `hearth up` runs.
pub const PLC_DB: &str = "plc.sqlite";
/// PDS blob bytes.
pub const BLOBS: &str = "blobs";
/// Space images.
pub const SPACE_IMAGES: &str = "appview/space-images";

/// The files of `data_dir` to back up, in backup order, leaving out `skip` (a backup directory
/// kept inside the data directory) and whatever a restore must not bring back.
pub fn parts(data_dir: &Path, skip: Option<&Path>) -> std::io::Result<Vec<Part>> {
    let skip = skip.and_then(|s| s.canonicalize().ok());
    let mut out = Vec::new();
    let walk = walkdir::WalkDir::new(data_dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let inside_skip = skip
                .as_ref()
                .is_some_and(|s| e.path().canonicalize().is_ok_and(|p| &p == s));
            !inside_skip
        });
    for entry in walk {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(data_dir)
            .map_err(std::io::Error::other)?
            .to_path_buf();
        if excluded(&rel) {
            continue;
        }
        let kind = if is_database(&rel) {
            Kind::Database
        } else {
            Kind::File
        };
        out.push(Part { path: rel, kind });
    }
    out.sort_by_key(|p| rank(&p.path));
    Ok(out)
}

/// Files named by the hash of their bytes (blobs, space images): never changed in place.
pub fn content_addressed(rel: &Path) -> bool {
    rel.starts_with(BLOBS) || rel.starts_with(SPACE_IMAGES)
}

fn is_database(rel: &Path) -> bool {
    rel.extension().is_some_and(|e| e == "sqlite")
}

/// SQLite's side files (the copy is a whole database without them), uploads still being
/// received, images being written, and lock files.
fn excluded(rel: &Path) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    rel.starts_with("blobs-tmp")
        || [
            ".sqlite-wal",
            ".sqlite-shm",
            ".sqlite-journal",
            ".tmp",
            ".lock",
        ]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn rank(rel: &Path) -> u8 {
    if rel == Path::new(INDEX_DB) {
        0
    } else if rel == Path::new(SPACES_DB) {
        1
    } else if rel.starts_with(SPACE_IMAGES) {
        2
    } else if rel == Path::new(PDS_DB) {
        3
    } else if rel.starts_with(BLOBS) {
        4
    } else if rel == Path::new(PLC_DB) {
        5
    } else if is_database(rel) {
        6
    } else {
        7
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_come_in_backup_order_without_side_files() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        for f in [
            "pds.sqlite",
            "pds.sqlite-wal",
            "pds.sqlite-shm",
            "plc.sqlite",
            "secrets/jwt.key",
            "blobs/ab/bafyab",
            "blobs-tmp/0123",
            "appview/index.sqlite",
            "appview/spaces.sqlite",
            "appview/service.key",
            "appview/space-images/bafyimg",
            "appview/space-images/.bafyimg.12.tmp",
            "backups/hearth-x/pds.sqlite",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
            std::fs::write(&p, b"x").expect("write");
        }
        let got: Vec<(String, Kind)> = parts(d, Some(&d.join("backups")))
            .expect("parts")
            .into_iter()
            .map(|p| (p.path.display().to_string(), p.kind))
            .collect();
        let want = [
            ("appview/index.sqlite", Kind::Database),
            ("appview/spaces.sqlite", Kind::Database),
            ("appview/space-images/bafyimg", Kind::File),
            ("pds.sqlite", Kind::Database),
            ("blobs/ab/bafyab", Kind::File),
            ("plc.sqlite", Kind::Database),
            ("appview/service.key", Kind::File),
            ("secrets/jwt.key", Kind::File),
        ];
        let want: Vec<(String, Kind)> = want.iter().map(|(p, k)| (p.to_string(), *k)).collect();
        assert_eq!(got, want);
    }
}
