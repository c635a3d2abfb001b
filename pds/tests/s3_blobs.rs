//! Blobs in an S3-compatible bucket (`HEARTH_BLOBSTORE=s3`) against a real S3 API server
//! (moto): upload, serving (bytes and type), collection of unreferenced uploads, takedown, and
//! account deletion removing the objects no other account holds. The disk store is what every
//! other suite runs on.

mod common;

use common::*;
use hearth_pds::config::BlobStoreArgs;
use hearth_testkit::s3::{ACCESS_KEY_ID, BUCKET, Moto, SECRET_ACCESS_KEY, start_moto};
use serde_json::{Value, json};

fn s3_options(moto: &Moto) -> Options {
    Options {
        blobstore: BlobStoreArgs {
            blobstore: "s3".into(),
            s3_endpoint: Some(moto.endpoint()),
            s3_bucket: Some(BUCKET.into()),
            s3_region: "us-east-1".into(),
            s3_access_key_id: Some(ACCESS_KEY_ID.into()),
            s3_secret_access_key: Some(SECRET_ACCESS_KEY.into()),
            s3_path_style: true,
        },
        ..Options::default()
    }
}

/// A PNG header followed by `len` bytes varying with `seed`: distinct content per call.
fn png(seed: u8, len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    b
}

/// The object key of a blob, as the layout on disk: `blobs/<last 2 chars>/<cid>`.
fn key(cid: &str) -> String {
    format!("blobs/{}/{cid}", &cid[cid.len() - 2..])
}

async fn upload(pds: &Pds, a: &Account, bytes: Vec<u8>) -> Value {
    pds.post_raw(
        "com.atproto.repo.uploadBlob",
        Some(&a.access),
        Some("image/png"),
        bytes,
    )
    .await
    .ok()["blob"]
        .clone()
}

fn cid_of(blob: &Value) -> String {
    blob["ref"]["$link"].as_str().expect("blob ref").to_owned()
}

async fn get_blob(pds: &Pds, did: &str, cid: &str) -> reqwest::Response {
    pds.http
        .get(pds.xrpc(&format!("com.atproto.sync.getBlob?did={did}&cid={cid}")))
        .send()
        .await
        .expect("getBlob")
}

async fn reference(pds: &Pds, a: &Account, blob: &Value) {
    pds.create_record(
        a,
        "app.bsky.feed.post",
        json!({
            "$type": "app.bsky.feed.post",
            "text": "with an image",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "embed": { "$type": "app.bsky.embed.images", "images": [{ "alt": "", "image": blob }] },
        }),
    )
    .await;
}

#[tokio::test]
async fn blobs_live_in_the_bucket() {
    let cases = Cases::new("pds_s3_blobs");
    let moto = start_moto().await;
    let w = World::new(s3_options(&moto));
    let pds = &w.pds;
    let state = pds.state().clone();
    let a = pds.create_account("alice").await;
    let b = pds.create_account("bob").await;

    cases.case("the data directory notes the bucket, for backups to say so");
    let note = std::fs::read_to_string(w.dir.path().join(hearth_pds::blobs::BLOBSTORE_NOTE))
        .expect("blob store note");
    assert!(note.contains(BUCKET), "{note}");

    cases.case("an upload is written to the bucket, not the data directory");
    // Several read chunks' worth, so serving streams more than one piece.
    let big = png(1, 300 * 1024);
    let kept = upload(pds, &a, big.clone()).await;
    let kept_cid = cid_of(&kept);
    assert_eq!(kept["mimeType"], "image/png");
    assert_eq!(kept["size"], big.len());
    assert!(moto.has(&key(&kept_cid)).await, "object in the bucket");
    let parsed = atproto::data::parse_cid(&kept_cid).expect("cid");
    assert!(!state.blobs.path(&parsed).exists(), "nothing on disk");
    assert!(state.blobs.exists(&parsed).await.expect("exists"));
    reference(pds, &a, &kept).await;

    cases.case("getBlob serves the object's bytes with the recorded type and our headers");
    let r = get_blob(pds, &a.did, &kept_cid).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; sandbox"
    );
    assert_eq!(&r.bytes().await.expect("body")[..], &big[..]);

    cases.case("an unreferenced upload is collected: row and object");
    let loose = upload(pds, &a, png(2, 1000)).await;
    let loose_cid = cid_of(&loose);
    assert!(moto.has(&key(&loose_cid)).await);
    let n = hearth_pds::background::collect_blobs(&state, 0)
        .await
        .expect("collect");
    assert_eq!(n, 1, "only the unreferenced blob");
    assert!(!moto.has(&key(&loose_cid)).await, "its object is deleted");
    assert!(moto.has(&key(&kept_cid)).await, "the referenced one stays");
    get_blob(pds, &a.did, &kept_cid)
        .await
        .error_for_status()
        .expect("still served");
    pds.get(
        &format!("com.atproto.sync.getBlob?did={}&cid={loose_cid}", a.did),
        None,
    )
    .await
    .err(400, "BlobNotFound");

    cases.case("a collected blob uploaded again is stored again");
    let again = upload(pds, &a, png(2, 1000)).await;
    assert_eq!(cid_of(&again), loose_cid);
    assert!(moto.has(&key(&loose_cid)).await);
    reference(pds, &a, &again).await;

    cases.case("a late delete finds the re-upload's row and keeps its object");
    // What the collector does after its commit when an upload of the same content committed
    // in between: the fresh check sees the row, so the object stays.
    let again_cid = atproto::data::parse_cid(&loose_cid).expect("cid");
    state.blobs.release_unheld(&state.db, vec![again_cid]).await;
    assert!(moto.has(&key(&loose_cid)).await, "held, so not deleted");

    cases.case("a taken-down blob is no longer served");
    let takedown = |applied: bool| {
        json!({
            "subject": { "$type": "com.atproto.admin.defs#repoBlobRef", "did": a.did, "cid": loose_cid },
            "takedown": { "applied": applied, "ref": "case-1" },
        })
    };
    pds.admin_post("com.atproto.admin.updateSubjectStatus", &takedown(true))
        .await
        .ok();
    pds.get(
        &format!("com.atproto.sync.getBlob?did={}&cid={loose_cid}", a.did),
        None,
    )
    .await
    .err(400, "BlobNotFound");
    pds.admin_post("com.atproto.admin.updateSubjectStatus", &takedown(false))
        .await
        .ok();
    let r = get_blob(pds, &a.did, &loose_cid).await;
    assert_eq!(r.status(), 200, "served again once reversed");
    assert_eq!(&r.bytes().await.expect("body")[..], &png(2, 1000)[..]);

    cases.case("account deletion removes the objects no other account holds");
    let shared = upload(pds, &b, big.clone()).await;
    assert_eq!(cid_of(&shared), kept_cid, "same content, same object");
    reference(pds, &b, &shared).await;
    pds.admin_post("com.atproto.admin.deleteAccount", &json!({ "did": a.did }))
        .await
        .ok();
    assert!(
        !moto.has(&key(&loose_cid)).await,
        "alice's own blob is gone"
    );
    assert!(
        moto.has(&key(&kept_cid)).await,
        "bob still holds the shared one"
    );
    let r = get_blob(pds, &b.did, &kept_cid).await;
    assert_eq!(r.status(), 200);
    assert_eq!(&r.bytes().await.expect("body")[..], &big[..]);
    pds.admin_post("com.atproto.admin.deleteAccount", &json!({ "did": b.did }))
        .await
        .ok();
    assert!(
        !moto.has(&key(&kept_cid)).await,
        "the last holder's deletion removes it"
    );
}

#[tokio::test]
async fn an_unreachable_bucket_fails_the_upload_and_records_nothing() {
    let cases = Cases::new("pds_s3_blobs unreachable");
    let moto = start_moto().await;
    let mut o = s3_options(&moto);
    o.blobstore.s3_bucket = Some("no-such-bucket".into());
    let w = World::new(o);
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    cases.case("upload to a missing bucket: an internal error, no row");
    let before = pds.snapshot(&a.did).await;
    pds.post_raw(
        "com.atproto.repo.uploadBlob",
        Some(&a.access),
        Some("image/png"),
        png(3, 100),
    )
    .await
    .err(500, "InternalServerError");
    assert_eq!(before, pds.snapshot(&a.did).await);
    let listed = pds
        .get(&format!("com.atproto.sync.listBlobs?did={}", a.did), None)
        .await
        .ok();
    assert_eq!(listed["cids"], json!([]));
}

#[tokio::test]
async fn a_release_waits_for_an_upload_of_the_same_content() {
    let cases = Cases::new("pds_s3_blobs lock");
    let moto = start_moto().await;
    let w = World::new(s3_options(&moto));
    let state = w.pds.state().clone();
    cases.case("a delete waits while an upload of the same CID is between its object and its row");
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(png(4, 500)))]);
    let stored = state
        .blobs
        .put(body, 1 << 20, Some("image/png"))
        .await
        .expect("put");
    let staged = state.blobs.stage(&stored).await.expect("stage");
    let cid = stored.cid.to_string();
    assert!(moto.has(&key(&cid)).await, "written before any row");
    let release = {
        let (state, c) = (state.clone(), stored.cid);
        tokio::spawn(async move { state.blobs.release_unheld(&state.db, vec![c]).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !release.is_finished(),
        "the delete waits for the upload's lock"
    );
    assert!(moto.has(&key(&cid)).await);
    cases.case("once the upload is done (here: no row was written), the delete goes ahead");
    drop(staged);
    release.await.expect("release");
    assert!(
        !moto.has(&key(&cid)).await,
        "no row holds it, so it is deleted"
    );
    state.blobs.discard(&stored).await;
}
