//! Blob bytes on disk, content-addressed: `blobs/<2 chars>/<cid>`. An upload streams to a
//! temporary file while it is hashed and sized, then is renamed into place, so a failed or
//! oversized upload leaves nothing behind and a blob is never half-written at its final path.
//!
//! Bytes are shared by every account that uploaded the same content, so placing bytes and
//! removing them must be ordered with the `blob` rows that say who holds them: both happen on
//! the database writer thread, inside the job that changes those rows ([`BlobStore::place`],
//! [`BlobStore::remove`]). Otherwise an upload of content being collected at that moment
//! could find the old file still there, keep it, and record a row whose bytes the collector
//! then deletes.
//!
//! With `HEARTH_BLOBSTORE=s3` the bytes live in a bucket, and a network call must never run
//! inside the writer's job. The rule there: an upload's object is written BEFORE the job that
//! commits its row ([`BlobStore::stage`]), so a row never names a missing object (an object
//! without a row is only garbage); an object is deleted only AFTER the commit that dropped its
//! last row ([`BlobStore::release_unheld`]), after checking again that no row holds it. A lock per CID,
//! held by an upload from its object write to its commit and by the release around its check
//! and delete, keeps a concurrent re-upload of the same content from losing its object.

use atproto::data::{Cid, RAW_CODEC};
use bytes::Bytes;
use cid::multihash::Multihash;
use futures::{Stream, StreamExt};
use hearth_net::s3::{ObjectStore, S3Error};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use tokio::io::AsyncWriteExt;
use tokio::sync::OwnedMutexGuard;

/// The file in the data directory that names the bucket when the bytes live in one, so a
/// backup of the directory can say that it holds no blob bytes (`hearth_ops` reads it).
pub const BLOBSTORE_NOTE: &str = "blobstore.txt";

/// Bytes read in one step when streaming a blob from disk.
const CHUNK: usize = 64 * 1024;

/// A blob's bytes as they are served.
pub type BlobBody = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// How many leading bytes are kept for MIME sniffing.
const SNIFF_BYTES: usize = 4096;

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("Could not read upload: {0}")]
    Read(String),
    #[error("Blob is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("Blob is empty")]
    Empty,
    #[error("writing the upload: {0}")]
    Io(#[from] std::io::Error),
    #[error("hashing the upload: {0}")]
    Hash(String),
    #[error("blob storage: {0}")]
    Remote(#[from] S3Error),
}

#[derive(Clone)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
    /// Set when the bytes live in a bucket; `dir` is then unused.
    remote: Option<ObjectStore>,
}

/// An upload whose bytes are where they will be served from, holding its CID's lock until the
/// job that records it has committed (see the module comment). Drop it after that job.
pub struct Staged {
    _lock: Option<OwnedMutexGuard<()>>,
}

/// An upload hashed and written to a temporary file, not yet at its final path.
#[derive(Clone)]
pub struct Stored {
    pub cid: Cid,
    pub size: u64,
    pub mime_type: String,
    pub tmp: PathBuf,
}

impl BlobStore {
    pub fn open(data_dir: &Path) -> std::io::Result<BlobStore> {
        let dir = data_dir.join("blobs");
        let tmp = data_dir.join("blobs-tmp");
        hearth_db::files::create_private_dir(&dir)?;
        hearth_db::files::create_private_dir(&tmp)?;
        Ok(BlobStore {
            dir,
            tmp,
            remote: None,
        })
    }

    /// Notes in the data directory where the bytes are: `where_` (a bucket), or, `None`, on
    /// disk (the note is removed).
    pub fn note_location(data_dir: &Path, where_: Option<&str>) -> std::io::Result<()> {
        let path = data_dir.join(BLOBSTORE_NOTE);
        match where_ {
            Some(w) => std::fs::write(path, format!("{w}\n")),
            None => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
        }
    }

    /// Where the bytes are when a server noted a bucket ([`BlobStore::note_location`]); `None`:
    /// on disk.
    pub fn noted_location(data_dir: &Path) -> Option<String> {
        let note = std::fs::read_to_string(data_dir.join(BLOBSTORE_NOTE)).ok()?;
        Some(note.trim().to_owned()).filter(|n| !n.is_empty())
    }

    /// The same store with its bytes in `objects`' bucket (uploads still stream through the
    /// local temporary directory, to be hashed before they are named).
    pub fn with_objects(self, objects: ObjectStore) -> BlobStore {
        BlobStore {
            remote: Some(objects),
            ..self
        }
    }

    /// Where a blob's bytes are on disk (with the disk store).
    pub fn path(&self, cid: &Cid) -> PathBuf {
        self.dir.join(sharded(cid))
    }

    /// Streams a request body to a temporary file. Refuses bodies over `max` bytes as soon as
    /// they pass it. The caller places the file with [`BlobStore::place`] (or drops it with
    /// [`BlobStore::discard`]).
    pub async fn put<E: std::fmt::Display>(
        &self,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
        max: u64,
        declared_type: Option<&str>,
    ) -> Result<Stored, BlobError> {
        let tmp = self.tmp.join(format!("{:032x}", rand::random::<u128>()));
        let result = self.write(&tmp, body, max, declared_type).await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    async fn write<E: std::fmt::Display>(
        &self,
        tmp: &Path,
        mut stream: impl Stream<Item = Result<Bytes, E>> + Unpin,
        max: u64,
        declared_type: Option<&str>,
    ) -> Result<Stored, BlobError> {
        let mut file = tokio::fs::File::create(tmp).await?;
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        let mut size: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BlobError::Read(e.to_string()))?;
            size += chunk.len() as u64;
            if size > max {
                return Err(BlobError::TooLarge(max));
            }
            if head.len() < SNIFF_BYTES {
                let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        if size == 0 {
            return Err(BlobError::Empty);
        }
        file.sync_all().await?;
        drop(file);
        let digest = hasher.finalize();
        let mh =
            Multihash::<64>::wrap(0x12, &digest).map_err(|e| BlobError::Hash(e.to_string()))?;
        Ok(Stored {
            cid: Cid::new_v1(RAW_CODEC, mh),
            size,
            mime_type: sniff(&head, declared_type),
            tmp: tmp.to_path_buf(),
        })
    }

    /// Before the job that records an upload: with S3, writes the object (the network call
    /// stays out of the writer's job) and takes the CID's lock until that job is done. Nothing
    /// with the disk store, where [`BlobStore::place`] does it all.
    pub async fn stage(&self, stored: &Stored) -> Result<Staged, BlobError> {
        let Some(remote) = &self.remote else {
            return Ok(Staged { _lock: None });
        };
        let key = key(&stored.cid);
        let guard = remote.lock(&key).await;
        remote
            .put_file(&key, &stored.tmp, &stored.mime_type)
            .await?;
        Ok(Staged { _lock: Some(guard) })
    }

    /// Moves an upload to its final path, replacing any copy already there (same CID, same
    /// bytes; the rename is atomic). Call on the writer thread, in the job that records it.
    /// With S3 the object is already written ([`BlobStore::stage`]).
    pub fn place(&self, stored: &Stored) -> std::io::Result<()> {
        if self.remote.is_some() {
            return Ok(());
        }
        let dest = self.path(&stored.cid);
        if let Some(parent) = dest.parent() {
            hearth_db::files::create_private_dir(parent)?;
        }
        std::fs::rename(&stored.tmp, dest)
    }

    /// Drops an upload's temporary file: one that was not placed, or, with S3, once recorded
    /// (nothing if it was moved into place).
    pub async fn discard(&self, stored: &Stored) {
        let _ = tokio::fs::remove_file(&stored.tmp).await;
    }

    /// Removes a blob's bytes once no account holds it. Call on the writer thread, in the job
    /// that deleted the last `blob` row for it. With S3 this does nothing: the object goes in
    /// [`BlobStore::release_unheld`], after the commit.
    pub fn remove(&self, cid: &Cid) {
        if self.remote.is_some() {
            return;
        }
        if let Err(e) = std::fs::remove_file(self.path(cid))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%cid, error = %e, "could not remove blob bytes");
        }
    }

    /// After the commit that dropped the last rows of `cids`: with S3, deletes each object no
    /// `blob` row holds on a fresh read of `db`, under the CID's lock. Nothing with the disk
    /// store, where [`BlobStore::remove`] did it in the job. A failed delete leaves garbage,
    /// never a missing blob, so it is logged, not returned.
    pub async fn release_unheld(&self, db: &crate::db::Db, cids: Vec<Cid>) {
        let Some(remote) = &self.remote else {
            return;
        };
        for cid in cids {
            let key = key(&cid);
            let _guard = remote.lock(&key).await;
            let c = cid.to_string();
            let held = db
                .readers
                .read(move |conn| crate::repo::store::blob_held(conn, &c))
                .await;
            match held {
                Ok(true) => {}
                Ok(false) => {
                    if let Err(e) = remote.delete(&key).await {
                        tracing::warn!(%cid, error = %e, "could not delete blob object");
                    }
                }
                Err(e) => tracing::warn!(%cid, error = %e, "could not check blob before deleting"),
            }
        }
    }

    /// A blob's bytes, or `None` when they are missing.
    pub async fn read(&self, cid: &Cid) -> Result<Option<BlobBody>, BlobError> {
        if let Some(remote) = &self.remote {
            let body = remote.get(&key(cid)).await?;
            return Ok(
                body.map(|s| -> BlobBody { Box::pin(s.map(|r| r.map_err(std::io::Error::other))) })
            );
        }
        match tokio::fs::File::open(self.path(cid)).await {
            Ok(file) => Ok(Some(Box::pin(file_stream(file)))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a blob's bytes are there (for checks; serving uses [`BlobStore::read`]).
    pub async fn exists(&self, cid: &Cid) -> Result<bool, BlobError> {
        match &self.remote {
            Some(remote) => Ok(remote.exists(&key(cid)).await?),
            None => Ok(tokio::fs::try_exists(self.path(cid)).await?),
        }
    }
}

/// `<last 2 chars>/<cid>`: spreads the files over directories (and object keys over
/// prefixes).
fn sharded(cid: &Cid) -> String {
    let s = cid.to_string();
    let shard = &s[s.len().saturating_sub(2)..];
    format!("{shard}/{s}")
}

/// A blob's object key: the same layout as on disk, under `blobs/`.
fn key(cid: &Cid) -> String {
    format!("blobs/{}", sharded(cid))
}

fn file_stream(
    file: tokio::fs::File,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    use tokio::io::AsyncReadExt;
    futures::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// The MIME type from the content itself when recognisable, else the client's declared type,
/// else `application/octet-stream`. Sniffing keeps a client from labelling HTML as an image;
/// markup (recognised or declared) is never recorded as something a browser would render.
fn sniff(head: &[u8], declared: Option<&str>) -> String {
    let renderable = |t: &str| t.starts_with("text/html") || t.contains("xml");
    if let Some(t) = infer::get(head) {
        let t = t.mime_type();
        return if renderable(t) {
            "application/octet-stream".to_owned()
        } else {
            t.to_owned()
        };
    }
    match declared.map(str::trim) {
        Some(d) if valid_mime(d) && !renderable(d) && d != "*/*" => d.to_owned(),
        _ => "application/octet-stream".to_owned(),
    }
}

fn valid_mime(s: &str) -> bool {
    let Some((top, sub)) = s.split(';').next().unwrap_or("").split_once('/') else {
        return false;
    };
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    token(top) && token(sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_prefers_content() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
        ];
        assert_eq!(sniff(&png, Some("text/plain")), "image/png");
        assert_eq!(sniff(b"hello", Some("text/plain")), "text/plain");
        assert_eq!(
            sniff(b"<html>", Some("text/html")),
            "application/octet-stream"
        );
        assert_eq!(sniff(b"x", Some("not a mime")), "application/octet-stream");
        assert_eq!(sniff(b"x", None), "application/octet-stream");
    }

    // Every upload's first bytes reach `sniff`, whatever they are: short, truncated magic
    // numbers, container headers with lengths pointing past the end.
    proptest::proptest! {
        #[test]
        fn sniffing_survives_any_head(
            head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            magic in proptest::sample::select(MAGIC),
            cut in 0usize..64,
            declared in proptest::option::of("\\PC{0,40}"),
        ) {
            let t = sniff(&head, declared.as_deref());
            proptest::prop_assert!(valid_mime(&t), "{}", t);
            let mut crafted = magic.to_vec();
            crafted.extend_from_slice(&head);
            crafted.truncate(cut.min(crafted.len()));
            let t = sniff(&crafted, declared.as_deref());
            proptest::prop_assert!(valid_mime(&t) && !t.contains("html") && !t.contains("xml"), "{}", t);
        }
    }

    /// Leading bytes of formats the sniffer recognises, including containers that carry a
    /// length (ISO-BMFF `ftyp`, RIFF, ZIP, zstd and lz4 skippable frames).
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"GIF89a",
        b"RIFF\xff\xff\xff\xffWEBPVP8 ",
        b"\x00\x00\x00\x20ftypavif",
        b"\xff\xff\xff\xffftypheic",
        b"\x00\x00\x00\x00ftyp",
        b"PK\x03\x04",
        b"\x50\x2a\x4d\x18\xff\xff\xff\xff",
        b"\x5e\x2a\x4d\x18\x00\x00\x00\x10",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"<?xml",
        b"<svg",
        b"%PDF-",
        b"\x1f\x8b",
    ];
}
