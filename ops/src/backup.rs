//! Online backups of a data directory: every database copied as of one commit (while the
//! server keeps writing), every other file (blobs, space images, keys) byte for byte, into a
//! new timestamped directory with a manifest. On demand (`hearth admin backup`) and on a
//! schedule (`HEARTH_BACKUP_DIR`, `HEARTH_BACKUP_INTERVAL`, keeping `HEARTH_BACKUP_KEEP`).
//!
//! A backup is written under a hidden `.partial` name and renamed once its manifest is on
//! disk, so a directory named `hearth-…` is always a finished backup.

use crate::layout::{self, Kind};
use crate::manifest::{self, Entry, Manifest};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Scheduled backups of the server's data directory.
#[derive(Debug, Clone, Args)]
pub struct BackupConfig {
    /// Where scheduled backups go: each is a `hearth-<time>` directory inside. Unset: no
    /// scheduled backups (`hearth admin backup` still makes one on demand).
    #[arg(long, env = "HEARTH_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Time between scheduled backups (`6h`, `30min`, `1day`).
    #[arg(long, env = "HEARTH_BACKUP_INTERVAL", default_value = "6h", value_parser = parse_interval)]
    pub backup_interval: Duration,
    /// How many backups are kept; older ones are deleted after each scheduled backup.
    #[arg(long, env = "HEARTH_BACKUP_KEEP", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..))]
    pub backup_keep: u32,
}

/// A duration as operators write it, at least a minute (a backup takes a while, and a zero
/// interval would never let the server rest).
fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(60) {
        return Err("the interval must be at least 1 minute".into());
    }
    Ok(d)
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("data directory {0} does not exist")]
    NoDataDir(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("copying {path}: {source}")]
    Db {
        path: PathBuf,
        source: hearth_db::DbError,
    },
    #[error("writing the manifest: {0}")]
    Manifest(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A finished backup.
#[derive(Debug, Clone)]
pub struct Created {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Prefix of a finished backup's directory name.
const PREFIX: &str = "hearth-";

/// Backs up `data_dir` into a new directory under `root` (created owner-only if missing: a
/// backup holds the server's secrets). Safe while the server runs.
pub fn create(data_dir: &Path, root: &Path) -> Result<Created, BackupError> {
    if !data_dir.is_dir() {
        return Err(BackupError::NoDataDir(data_dir.to_path_buf()));
    }
    hearth_db::files::create_private_dir(root).map_err(io(root))?;
    let created_at = atproto::syntax::Datetime::now().to_string();
    let stamp = created_at.replace(':', "-");
    let mut name = format!("{PREFIX}{stamp}");
    let mut n = 1;
    while root.join(&name).exists() {
        n += 1;
        name = format!("{PREFIX}{stamp}-{n}");
    }
    let partial = root.join(format!(".{name}.partial"));
    let result = write(data_dir, root, &partial, created_at);
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let dir = root.join(&name);
    std::fs::rename(&partial, &dir).map_err(io(&dir))?;
    sync_dir(root);
    tracing::info!(backup = %dir.display(), files = manifest.files.len(), head_seq = ?manifest.pds_head_seq, "backup written");
    Ok(Created { dir, manifest })
}

fn write(
    data_dir: &Path,
    root: &Path,
    out: &Path,
    created_at: String,
) -> Result<Manifest, BackupError> {
    hearth_db::files::create_private_dir(out).map_err(io(out))?;
    let parts = layout::parts(data_dir, Some(root)).map_err(io(data_dir))?;
    let previous = Previous::newest(root)?;
    let mut files = Vec::with_capacity(parts.len());
    let mut pds_head_seq = None;
    for part in parts {
        let src = data_dir.join(&part.path);
        let dest = out.join(&part.path);
        if let Some(parent) = dest.parent() {
            hearth_db::files::create_private_dir(parent).map_err(io(parent))?;
        }
        let (size, sha256) = match part.kind {
            Kind::Database => {
                hearth_db::snapshot(&src, &dest).map_err(|source| BackupError::Db {
                    path: src.clone(),
                    source,
                })?;
                std::fs::File::open(&dest)
                    .and_then(|f| f.sync_all())
                    .map_err(io(&dest))?;
                if part.path == Path::new(layout::PDS_DB) {
                    pds_head_seq = Some(head_seq(&dest)?);
                }
                manifest::hash_file(&dest).map_err(io(&dest))?
            }
            Kind::File => match previous
                .link(&part.path, &dest)
                .map_or_else(|| copy_file(&src, &dest), Ok)
            {
                Ok(done) => done,
                // Collected (a blob, an unattached image) since the walk: it is no longer
                // part of the data.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dest.exists() => continue,
                Err(source) => return Err(BackupError::Io { path: src, source }),
            },
        };
        files.push(Entry {
            path: slash_path(&part.path),
            kind: part.kind,
            size,
            sha256,
        });
    }
    let manifest = Manifest {
        format: manifest::FORMAT,
        created_at,
        hearth_version: env!("CARGO_PKG_VERSION").to_owned(),
        pds_head_seq,
        blobs_not_copied: hearth_pds::blobs::BlobStore::noted_location(data_dir),
        files,
    };
    let path = out.join(manifest::FILE);
    let mut f = private_file(&path).map_err(io(&path))?;
    f.write_all(&serde_json::to_vec_pretty(&manifest)?)
        .and_then(|()| f.sync_all())
        .map_err(io(&path))?;
    Ok(manifest)
}

/// The newest finished backup, whose blobs and images a new backup links to instead of
/// copying: they are named by the hash of their bytes, so the same name is the same bytes, and
/// a backup schedule keeps many backups for the space of one plus what changed.
struct Previous {
    dir: Option<PathBuf>,
    files: std::collections::HashMap<String, Entry>,
}

impl Previous {
    fn newest(root: &Path) -> Result<Previous, BackupError> {
        let found = list(root)?
            .pop()
            .and_then(|dir| Manifest::read(&dir).ok().map(|m| (dir, m)));
        Ok(match found {
            Some((dir, m)) => Previous {
                dir: Some(dir),
                files: m
                    .files
                    .into_iter()
                    .filter(|e| layout::content_addressed(Path::new(&e.path)))
                    .map(|e| (e.path.clone(), e))
                    .collect(),
            },
            None => Previous {
                dir: None,
                files: Default::default(),
            },
        })
    }

    /// Links the previous backup's copy of `rel` to `dest` if there is one and it still holds
    /// the bytes its manifest names (read back in full: a damaged copy is not passed on). `None`
    /// when the file must be copied instead.
    fn link(&self, rel: &Path, dest: &Path) -> Option<(u64, String)> {
        let entry = self.files.get(&slash_path(rel))?;
        let src = self.dir.as_ref()?.join(rel);
        std::fs::hard_link(&src, dest).ok()?;
        match manifest::hash_file(dest) {
            Ok((size, sha)) if size == entry.size && sha == entry.sha256 => Some((size, sha)),
            _ => {
                let _ = std::fs::remove_file(dest);
                None
            }
        }
    }
}

/// The last firehose sequence number in a copy of the PDS database.
fn head_seq(db: &Path) -> Result<i64, BackupError> {
    let db_err = |source| BackupError::Db {
        path: db.to_path_buf(),
        source,
    };
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| db_err(e.into()))?;
    hearth_pds::sequencer::store::last(&conn).map_err(db_err)
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Creates a new owner-only file (never replacing one).
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Copies `src` to a new owner-only file at `dest`, synced, and returns its size and SHA-256.
pub(crate) fn copy_file(src: &Path, dest: &Path) -> std::io::Result<(u64, String)> {
    let mut from = std::fs::File::open(src)?;
    let mut to = private_file(dest)?;
    let done = manifest::copy_hashed(&mut from, &mut to)?;
    to.sync_all()?;
    Ok(done)
}

/// Makes a rename inside `dir` durable; a failure only weakens that, so it is not an error.
pub(crate) fn sync_dir(dir: &Path) {
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "could not sync a directory");
    }
}

/// The finished backups under `root`, oldest first.
pub fn list(root: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(BackupError::Io {
                path: root.to_path_buf(),
                source,
            });
        }
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX))
                && p.join(manifest::FILE).is_file()
        })
        .collect();
    // The names are timestamps: in name order is in time order.
    out.sort();
    Ok(out)
}

/// How long an unfinished backup is left alone before pruning takes it for abandoned (the
/// process writing it stopped): far longer than any backup takes.
const ABANDONED: Duration = Duration::from_secs(24 * 3600);

/// Deletes all but the newest `keep` finished backups under `root`, and unfinished ones
/// abandoned a day ago; returns what it deleted.
pub fn prune(root: &Path, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let all = list(root)?;
    let excess = all.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for dir in all.into_iter().take(excess) {
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        deleted.push(dir);
    }
    let entries = std::fs::read_dir(root).map_err(io(root))?;
    for dir in entries.flatten().map(|e| e.path()) {
        let unfinished = dir
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&format!(".{PREFIX}")) && n.ends_with(".partial"));
        let abandoned = std::fs::metadata(&dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ABANDONED);
        if unfinished && abandoned {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            deleted.push(dir);
        }
    }
    Ok(deleted)
}

/// Starts the backup schedule of `cfg` for `data_dir` (nothing when no directory is set):
/// one backup every interval, the first one interval after start, then pruning.
pub fn spawn_schedule(data_dir: PathBuf, cfg: &BackupConfig) {
    let Some(root) = cfg.backup_dir.clone() else {
        return;
    };
    let (every, keep) = (cfg.backup_interval, cfg.backup_keep as usize);
    tracing::info!(dir = %root.display(), every = %humantime::format_duration(every), keep, "scheduled backups");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (d, r) = (data_dir.clone(), root.clone());
            let done = tokio::task::spawn_blocking(move || {
                create(&d, &r)?;
                prune(&r, keep)
            })
            .await;
            match done {
                Ok(Ok(deleted)) => {
                    for dir in deleted {
                        tracing::info!(backup = %dir.display(), "old backup deleted");
                    }
                }
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled backup failed"),
                Err(e) => tracing::error!(error = %e, "scheduled backup task failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_schedule_backs_up_every_interval_and_keeps_the_newest() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("secrets")).expect("dir");
        std::fs::write(data.join("secrets/jwt.key"), [1u8; 32]).expect("write");
        let root = tmp.path().join("backups");
        spawn_schedule(
            data.clone(),
            &BackupConfig {
                backup_dir: Some(root.clone()),
                // Shorter than the command line allows, to see several rounds.
                backup_interval: Duration::from_millis(100),
                backup_keep: 2,
            },
        );
        assert!(
            list(&root).expect("list").is_empty(),
            "none before one interval"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < 4 {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} backups",
                seen.len()
            );
            let now = list(&root).expect("list");
            // A new backup lands before the oldest is deleted (so a failed round never
            // leaves fewer than `keep`): between the two, three can be seen.
            assert!(now.len() <= 3, "pruned to the newest two: {now:?}");
            seen.extend(now);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The newest ones are kept, each a complete backup.
        let kept = list(&root).expect("list");
        let gone: Vec<&PathBuf> = seen.iter().filter(|s| !kept.contains(s)).collect();
        assert!(!gone.is_empty());
        assert!(
            kept.iter().all(|k| gone.iter().all(|g| k > *g)),
            "older backups were deleted first: kept {kept:?}, deleted {gone:?}"
        );
        for k in &kept {
            let m = Manifest::read(k).expect("manifest");
            m.verify(k).expect("verifies");
            assert_eq!(m.files.len(), 1);
        }
    }

    #[test]
    fn a_backup_says_when_the_blobs_are_in_a_bucket() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("secrets")).expect("dir");
        std::fs::write(data.join("secrets/jwt.key"), [1u8; 32]).expect("write");
        let root = tmp.path().join("backups");
        let on_disk = create(&data, &root).expect("backup");
        assert_eq!(on_disk.manifest.blobs_not_copied, None);
        hearth_pds::blobs::BlobStore::note_location(&data, Some("S3 bucket b at http://s3"))
            .expect("note");
        let in_bucket = create(&data, &root).expect("backup");
        assert_eq!(
            in_bucket.manifest.blobs_not_copied.as_deref(),
            Some("S3 bucket b at http://s3")
        );
        let read = Manifest::read(&in_bucket.dir).expect("manifest");
        assert_eq!(
            read, in_bucket.manifest,
            "the note survives the manifest file"
        );
        read.verify(&in_bucket.dir).expect("verifies");
        hearth_pds::blobs::BlobStore::note_location(&data, None).expect("note removed");
        assert_eq!(
            create(&data, &root)
                .expect("backup")
                .manifest
                .blobs_not_copied,
            None
        );
    }

    #[test]
    fn intervals_are_read_as_operators_write_them() {
        assert_eq!(parse_interval("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_interval("1day"), Ok(Duration::from_secs(86_400)));
        for bad in ["0s", "30s", "", "often"] {
            assert!(parse_interval(bad).is_err(), "{bad:?}");
        }
    }
}
