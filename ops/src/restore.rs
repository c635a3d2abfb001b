//! Restoring a backup into a fresh data directory: the backup is checked against its manifest
//! (sizes, hashes, database integrity) before anything is written, and a directory that holds
//! anything is never written into.

use crate::backup::{copy_file, sync_dir};
use crate::manifest::{self, Manifest, ManifestError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(
        "{0} is not empty: restore only into a new or empty directory, never over a data directory"
    )]
    NotEmpty(PathBuf),
    #[error("the backup does not verify: {0}")]
    Manifest(#[from] ManifestError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: changed while it was restored")]
    Changed { path: String },
}

/// Restores the backup at `backup` into `data_dir`, which must be missing or empty. Returns
/// the backup's manifest.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<Manifest, RestoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RestoreError::Io { path, source }
    };
    match std::fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(RestoreError::NotEmpty(data_dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(RestoreError::Io {
                path: data_dir.to_path_buf(),
                source,
            });
        }
    }
    let m = Manifest::read(backup)?;
    m.verify(backup)?;
    hearth_db::files::create_private_dir(data_dir).map_err(io(data_dir))?;
    for e in &m.files {
        let rel = manifest::relative(&e.path)?;
        let dest = data_dir.join(&rel);
        if let Some(parent) = dest.parent() {
            hearth_db::files::create_private_dir(parent).map_err(io(parent))?;
        }
        let (size, sha) = copy_file(&backup.join(&rel), &dest).map_err(io(&dest))?;
        if size != e.size || sha != e.sha256 {
            return Err(RestoreError::Changed {
                path: e.path.clone(),
            });
        }
    }
    sync_dir(data_dir);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup;
    use std::os::unix::fs::PermissionsExt;

    /// A data directory with a PDS database, a blob, a key and a space image.
    fn data_dir(root: &Path) -> PathBuf {
        let d = root.join("data");
        std::fs::create_dir_all(&d).expect("dir");
        drop(
            hearth_pds::db::open(&d.join("pds.sqlite"), hearth_pds::db::CONNECTIONS).expect("open"),
        );
        for (f, bytes) in [
            ("blobs/ab/bafyab", &b"blob bytes"[..]),
            ("secrets/jwt.key", &[7u8; 32][..]),
            ("appview/space-images/bafyimg", &b"image bytes"[..]),
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
            std::fs::write(&p, bytes).expect("write");
        }
        d
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn a_backup_restores_byte_for_byte_and_only_into_an_empty_directory() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = data_dir(tmp.path());
        let root = tmp.path().join("backups");
        let made = backup::create(&data, &root).expect("backup");
        assert_eq!(made.manifest.pds_head_seq, Some(0));
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&made.dir.join("secrets/jwt.key")), 0o600);
        let paths: Vec<&str> = made
            .manifest
            .files
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "appview/space-images/bafyimg",
                "pds.sqlite",
                "blobs/ab/bafyab",
                "secrets/jwt.key"
            ]
        );

        // Into a directory that holds anything: refused, and nothing is written.
        let busy = tmp.path().join("busy");
        std::fs::create_dir_all(&busy).expect("dir");
        std::fs::write(busy.join("keep.txt"), b"mine").expect("write");
        assert!(matches!(
            restore(&made.dir, &busy),
            Err(RestoreError::NotEmpty(_))
        ));
        assert_eq!(std::fs::read_dir(&busy).expect("ls").count(), 1);

        let fresh = tmp.path().join("fresh");
        let m = restore(&made.dir, &fresh).expect("restore");
        assert_eq!(m, made.manifest);
        for f in [
            "blobs/ab/bafyab",
            "secrets/jwt.key",
            "appview/space-images/bafyimg",
        ] {
            assert_eq!(
                std::fs::read(fresh.join(f)).expect("restored"),
                std::fs::read(data.join(f)).expect("original"),
                "{f}"
            );
            assert_eq!(mode(&fresh.join(f)), 0o600);
        }
        assert_eq!(mode(&fresh), 0o700);
        hearth_pds::db::open(&fresh.join("pds.sqlite"), hearth_pds::db::CONNECTIONS)
            .expect("the restored database opens");
    }

    #[test]
    fn blobs_and_images_are_linked_from_the_previous_backup_unless_damaged() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let data = data_dir(tmp.path());
        let root = tmp.path().join("backups");
        let ino = |b: &Path, f: &str| std::fs::metadata(b.join(f)).expect("meta").ino();
        let first = backup::create(&data, &root).expect("first");
        let second = backup::create(&data, &root).expect("second");
        for f in ["blobs/ab/bafyab", "appview/space-images/bafyimg"] {
            assert_eq!(ino(&first.dir, f), ino(&second.dir, f), "{f} is shared");
        }
        for f in ["pds.sqlite", "secrets/jwt.key"] {
            assert_ne!(ino(&first.dir, f), ino(&second.dir, f), "{f} is copied");
        }
        // The shared copy is damaged: the next backup copies from the data directory again,
        // and restores.
        std::fs::write(second.dir.join("blobs/ab/bafyab"), b"blob bytez").expect("damage");
        let third = backup::create(&data, &root).expect("third");
        assert_ne!(
            ino(&second.dir, "blobs/ab/bafyab"),
            ino(&third.dir, "blobs/ab/bafyab")
        );
        assert_eq!(
            ino(&second.dir, "appview/space-images/bafyimg"),
            ino(&third.dir, "appview/space-images/bafyimg")
        );
        let fresh = tmp.path().join("fresh");
        restore(&third.dir, &fresh).expect("restore");
        assert_eq!(
            std::fs::read(fresh.join("blobs/ab/bafyab")).expect("blob"),
            b"blob bytes"
        );
        // Pruning the older backups leaves the shared files to the newer ones.
        backup::prune(&root, 1).expect("prune");
        third.manifest.verify(&third.dir).expect("still whole");
    }

    #[test]
    fn a_damaged_backup_is_refused_before_anything_is_written() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = data_dir(tmp.path());
        let root = tmp.path().join("backups");
        type Damage = (&'static str, fn(&Path));
        let damage: [Damage; 4] = [
            ("a blob's bytes changed", |b| {
                std::fs::write(b.join("blobs/ab/bafyab"), b"blob bytez").expect("write")
            }),
            ("a file removed", |b| {
                std::fs::remove_file(b.join("secrets/jwt.key")).expect("rm")
            }),
            ("the manifest removed", |b| {
                std::fs::remove_file(b.join(manifest::FILE)).expect("rm")
            }),
            ("the manifest names a path outside", |b| {
                let p = b.join(manifest::FILE);
                let s = std::fs::read_to_string(&p).expect("read");
                std::fs::write(&p, s.replace("\"secrets/jwt.key\"", "\"../../etc/x\""))
                    .expect("write");
            }),
        ];
        for (i, (what, break_it)) in damage.into_iter().enumerate() {
            let made = backup::create(&data, &root).expect("backup");
            break_it(&made.dir);
            let dest = tmp.path().join(format!("restore-{i}"));
            let got = restore(&made.dir, &dest);
            assert!(
                matches!(got, Err(RestoreError::Manifest(_))),
                "{what}: {got:?}"
            );
            assert!(!dest.exists(), "{what}: something was written");
        }
        // Pruning keeps the newest.
        let all = backup::list(&root).expect("list");
        assert_eq!(all.len(), 3, "the one without a manifest is not a backup");
        // An unfinished backup is left alone while it may still be written, and taken once
        // abandoned.
        let fresh = root.join(".hearth-2026-01-01T00-00-00.000Z.partial");
        let stale = root.join(".hearth-2026-01-02T00-00-00.000Z.partial");
        for d in [&fresh, &stale] {
            std::fs::create_dir_all(d).expect("partial");
        }
        std::fs::File::open(&stale)
            .and_then(|f| {
                f.set_modified(
                    std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400),
                )
            })
            .expect("age it");
        let deleted = backup::prune(&root, 1).expect("prune");
        assert_eq!(deleted, [&all[..2], std::slice::from_ref(&stale)].concat());
        assert!(fresh.is_dir() && !stale.exists());
        assert_eq!(backup::list(&root).expect("list"), all[2..].to_vec());
    }
}
