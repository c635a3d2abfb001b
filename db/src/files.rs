//! Owner-only files: the data directory is 0700 and every database and secret in it 0600,
//! created that way (not tightened afterwards, which would leave a window), and checked at
//! start-up so an older or hand-made directory that is looser gets a clear warning.

use std::path::{Path, PathBuf};

/// Creates `dir` (and its parents) if missing; a directory this creates is 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates an empty database file with mode 0600 if none exists, so SQLite (which gives its
/// WAL and shared-memory files the database file's mode) never makes a world-readable one.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The data directory itself, and the directories, databases and secrets up to two levels
/// below it, that other users can read or enter. Blob and image trees below are not walked:
/// the directories above them already keep others out.
pub fn loose_files(data_dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    visit(data_dir, 0, &mut out);
    out
}

#[cfg(unix)]
fn visit(path: &Path, depth: usize, out: &mut Vec<(PathBuf, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_dir() {
        if mode & 0o077 != 0 {
            out.push((path.to_path_buf(), mode));
        }
        if depth < 2
            && let Ok(entries) = std::fs::read_dir(path)
        {
            for entry in entries.flatten() {
                visit(&entry.path(), depth + 1, out);
            }
        }
    } else if meta.is_file() && mode & 0o077 != 0 && is_private_data(path) {
        out.push((path.to_path_buf(), mode));
    }
}

#[cfg(not(unix))]
fn visit(_: &Path, _: usize, _: &mut Vec<(PathBuf, u32)>) {}

fn is_private_data(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let in_secrets = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "secrets");
    in_secrets
        || name.ends_with(".key")
        || [".sqlite", ".sqlite-wal", ".sqlite-shm", ".db"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Logs a warning for everything [`loose_files`] finds.
pub fn warn_if_loose(data_dir: &Path) {
    for (path, mode) in loose_files(data_dir) {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "other users can read this data; make it owner-only (chmod 700 for directories, 600 for files)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn data_files_are_owner_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("data").join("appview");
        create_private_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
        let path = dir.join("index.sqlite");
        let db: crate::Db<()> =
            crate::Db::open(&path, &["CREATE TABLE t (x INTEGER);"], 1, |_| Ok(())).expect("open");
        db.readers
            .read_blocking(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)))
            .expect("read")
            .expect("count");
        for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        assert!(loose_files(&dir).is_empty(), "{:?}", loose_files(&dir));
        // A looser file or directory is reported; blobs and other files are not walked.
        let loose = dir.join("spaces.sqlite");
        std::fs::write(&loose, b"").expect("write");
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(dir.join("notes.txt"), b"").expect("write");
        std::fs::set_permissions(
            dir.join("notes.txt"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let found: Vec<PathBuf> = loose_files(&dir).into_iter().map(|(p, _)| p).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.contains(&dir) && found.contains(&loose), "{found:?}");
    }
}
