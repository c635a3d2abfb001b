//! Private images: sniffed (never trusting the client's Content-Type), content-addressed
//! (raw-codec CIDs, like blobs), stored on the AppView's disk and served only through the gate.
//! They are never handed to a PDS, so no public `getBlob` can serve them.
//!
//! With `HEARTH_BLOBSTORE=s3` the bytes live in the bucket, under `space-images/<cid>`, by the
//! PDS's rule for blobs (see `hearth_pds::blobs`): the object is written before the row that
//! names it commits, with the key's lock held until then ([`put`]); it is deleted after the
//! commit that dropped its last reference, under that lock, once a fresh read confirms no space
//! refers to it ([`unlink`]).

use crate::Spaces;
use crate::model::{SpaceError, SpaceResult};
use atproto::data::cid_for_raw;
use std::path::{Path, PathBuf};
use tokio::sync::OwnedMutexGuard;

/// Largest image accepted (the lexicon's `maxSize`).
pub const MAX_IMAGE_BYTES: usize = 5_000_000;

/// How long an upload may wait to be attached to a post before it is collected.
pub const UNATTACHED_GRACE_MS: i64 = 24 * 3_600_000;

/// Starts the hourly collection of uploads never attached to a post.
pub fn start_collector(s: &crate::Spaces) {
    let s = s.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match s.collect_unattached_images(crate::model::now_ms()).await {
                Ok(n) => tracing::debug!(collected = n, "spaces: unattached uploads collected"),
                Err(e) => tracing::warn!(error = %e, "spaces: collecting uploads failed"),
            }
        }
    });
}

/// The image types accepted, as sniffed from the bytes.
const ACCEPTED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/heif",
];

/// The MIME type of an accepted image, from its magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let kind = infer::get(bytes)?;
    (kind.matcher_type() == infer::MatcherType::Image && ACCEPTED.contains(&kind.mime_type()))
        .then(|| kind.mime_type())
}

/// The CID of an image's bytes.
pub fn cid_of(bytes: &[u8]) -> String {
    cid_for_raw(bytes).to_string()
}

/// Where an image's bytes live. The CID was produced or checked by us, so it is a plain
/// base32 name with no path separators.
pub fn path_for(dir: &Path, cid: &str) -> PathBuf {
    dir.join(cid)
}

/// Writes the bytes under their CID, atomically (temporary file, then rename); a file already
/// there holds the same bytes by construction.
pub fn store(dir: &Path, cid: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = path_for(dir, cid);
    if path.exists() {
        return Ok(());
    }
    let tmp = dir.join(format!(".{cid}.{}.tmp", rand::random::<u64>()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)
}

/// Deletes the files of images no space refers to any more (the disk store).
fn unlink_files(dir: &Path, cids: &[String]) {
    for cid in cids {
        if let Err(e) = std::fs::remove_file(path_for(dir, cid))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "could not delete a private image");
        }
    }
}

/// An image's object key in the bucket.
fn key(cid: &str) -> String {
    format!("space-images/{cid}")
}

fn bucket_error(e: hearth_net::s3::S3Error) -> SpaceError {
    SpaceError::Io(std::io::Error::other(e.to_string()))
}

/// Stores an upload's bytes before the row naming it is written. With S3, the returned guard
/// holds the image's lock: drop it once that write is done.
pub(crate) async fn put(
    s: &Spaces,
    cid: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> SpaceResult<Option<OwnedMutexGuard<()>>> {
    if let Some((bucket, _)) = &s.images_bucket {
        let key = key(cid);
        let guard = bucket.lock(&key).await;
        bucket
            .put_bytes(&key, bytes.into(), mime)
            .await
            .map_err(bucket_error)?;
        return Ok(Some(guard));
    }
    let (dir, cid) = (s.images_dir.clone(), cid.to_owned());
    tokio::task::spawn_blocking(move || store(&dir, &cid, &bytes))
        .await
        .map_err(|e| SpaceError::Io(std::io::Error::other(e.to_string())))??;
    Ok(None)
}

/// An image's bytes (a missing image is not found).
pub(crate) async fn read(s: &Spaces, cid: &str) -> SpaceResult<Vec<u8>> {
    let Some((bucket, _)) = &s.images_bucket else {
        return Ok(tokio::fs::read(path_for(&s.images_dir, cid)).await?);
    };
    let bytes = bucket
        .get_bytes(&key(cid))
        .await
        .map_err(bucket_error)?
        .ok_or(SpaceError::NotFound("Image not found"))?;
    Ok(bytes.to_vec())
}

/// Deletes images no space refers to any more, after the commit that dropped them (from an
/// `after_commit` hook or after the write). On disk at once; with S3 in a task, each object
/// under its lock and only if a fresh read still finds no reference.
pub(crate) fn unlink(s: &Spaces, cids: Vec<String>) {
    let Some((bucket, runtime)) = &s.images_bucket else {
        unlink_files(&s.images_dir, &cids);
        return;
    };
    let (s, bucket) = (s.clone(), bucket.clone());
    runtime.spawn(async move {
        for cid in cids {
            let key = key(&cid);
            let _guard = bucket.lock(&key).await;
            let c = cid.clone();
            let unreferenced = s
                .read(move |conn, _| crate::store::unreferenced_images(conn, vec![c]))
                .await;
            match unreferenced {
                Ok(gone) if gone.contains(&cid) => {
                    if let Err(e) = bucket.delete(&key).await {
                        tracing::warn!(error = %e, "could not delete a private image");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not check an image before deleting"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_images_only() {
        let png = hex_png();
        assert_eq!(sniff(&png), Some("image/png"));
        assert_eq!(sniff(b"GIF89a\x01\x00\x01\x00"), Some("image/gif"));
        assert_eq!(sniff(b"%PDF-1.7 not an image"), None);
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff(b""), None);
        assert!(cid_of(&png).starts_with("bafkrei"));
    }

    // Uploads are sniffed from whatever bytes a member sends: short, truncated magic numbers,
    // container headers whose lengths point past the end. Only accepted image types come out.
    proptest::proptest! {
        #[test]
        fn sniffing_survives_any_upload(
            magic in proptest::sample::select(MAGIC),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            cut in 0usize..80,
        ) {
            let mut bytes = magic.to_vec();
            bytes.extend_from_slice(&tail);
            bytes.truncate(cut);
            if let Some(t) = sniff(&bytes) {
                proptest::prop_assert!(ACCEPTED.contains(&t), "{}", t);
            }
        }
    }

    /// Leading bytes of image formats and of look-alikes, including containers that carry a
    /// length (ISO-BMFF `ftyp`, RIFF).
    const MAGIC: &[&[u8]] = &[
        b"",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"GIF89a",
        b"RIFF\xff\xff\xff\xffWEBPVP8 ",
        b"\x00\x00\x00\x20ftypavif",
        b"\xff\xff\xff\xffftypheic",
        b"\x00\x00\x00\x00ftypmif1",
        b"<svg",
        b"%PDF-",
        b"PK\x03\x04",
    ];

    fn hex_png() -> Vec<u8> {
        let h = "89504e470d0a1a0a0000000d4948445200000001000000010806000000\
                 1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082";
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0))
            .collect()
    }
}
