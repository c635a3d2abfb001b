//! Backups that restore, with the real binary: `hearth up` (PDS, AppView, spaces and its local
//! PLC directory in one data directory) takes a burst of writes while `hearth admin backup`
//! copies it; `hearth admin restore` puts the backup in a fresh directory and `hearth up`
//! starts there. Every write acknowledged before the backup began must be there with its CID,
//! every repository must verify against its key in the (restored) PLC directory, the firehose
//! must continue from the backup's head, blobs, spaces and their images must be intact, and the
//! AppView must pick up from its restored cursor.

mod binary;

use binary::{Hearth, free_port, wait_healthy};
use hearth_testkit::firehose::*;
use hearth_testkit::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TASKS: usize = 8;

/// A PNG as far as sniffing goes, with a tail that makes its bytes ours.
fn png(tail: &[u8]) -> Vec<u8> {
    let mut b = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
    ];
    b.extend_from_slice(tail);
    b
}

/// A URI as a query parameter: a did:web authority holds `%3A`, which must arrive as is.
fn enc(uri: &str) -> String {
    uri.replace('%', "%25")
}

struct Ports {
    pds: u16,
    appview: u16,
    plc: u16,
}

fn up(ports: &Ports, data: &Path, log: &str) -> Hearth {
    let log = std::fs::File::create(data.with_file_name(log)).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("up")
        .env_remove("HEARTH_PLC_URL")
        .env_remove("HEARTH_BACKUP_DIR")
        .env("HEARTH_DATA_DIR", data)
        .env("HEARTH_PORT", ports.pds.to_string())
        .env("HEARTH_APPVIEW_PORT", ports.appview.to_string())
        .env("HEARTH_PLC_PORT", ports.plc.to_string())
        .env("HEARTH_RATE_LIMITS", "false")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn hearth up");
    Hearth(child)
}

fn admin(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("admin")
        .args(args)
        .env("HEARTH_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run hearth admin")
}

#[derive(Clone, Debug)]
struct Acked {
    did: String,
    rkey: String,
    cid: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_into_a_server_that_carries_on() {
    let cases = Cases::new("backup_restore");
    let root = tempfile::tempdir().expect("tempdir");
    let (data, restored, backups) = (
        root.path().join("data"),
        root.path().join("restored"),
        root.path().join("backups"),
    );
    let ports = Ports {
        pds: free_port(),
        appview: free_port(),
        plc: free_port(),
    };
    let plc_url = format!("http://localhost:{}", ports.plc);
    let http = client();
    let pds = Xrpc::local(ports.pds);

    let server = up(&ports, &data, "first.log");
    wait_healthy(&http, &format!("http://localhost:{}", ports.pds)).await;
    wait_healthy(&http, &format!("http://localhost:{}", ports.appview)).await;

    cases.case("accounts, a post with an image, a space with an image post");
    let alice = pds.create_account("alice").await;
    let bob = pds.create_account("bob").await;
    let blob_bytes = png(b"public image");
    let blob = pds
        .post_raw(
            "com.atproto.repo.uploadBlob",
            Some(&alice.access),
            Some("image/png"),
            blob_bytes.clone(),
        )
        .await
        .ok()["blob"]
        .clone();
    let blob_cid = blob["ref"]["$link"].as_str().expect("blob cid").to_owned();
    let mut with_image = post("with an image");
    with_image["embed"] = json!({ "$type": "app.bsky.embed.images", "images": [{ "image": blob, "alt": "a picture" }] });
    pds.create_record(&alice, "app.bsky.feed.post", with_image)
        .await;
    let made = pds
        .post(
            "social.hearth.space.create",
            Some(&alice.access),
            &json!({ "name": "Dock Workers", "joinPolicy": "invite" }),
        )
        .await
        .ok();
    let space = made["space"]["uri"].as_str().expect("space uri").to_owned();
    let discussion = made["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["kind"] == "discussion")
        .and_then(|c| c["uri"].as_str())
        .expect("discussion channel")
        .to_owned();
    let image_bytes = png(b"private image");
    let image = pds
        .post_raw(
            &format!("social.hearth.post.uploadImage?space={}", enc(&space)),
            Some(&alice.access),
            Some("image/png"),
            image_bytes.clone(),
        )
        .await
        .ok()["image"]
        .clone();
    let image_cid = image["ref"]["$link"]
        .as_str()
        .expect("image cid")
        .to_owned();
    let space_post = pds
        .post(
            "social.hearth.post.create",
            Some(&alice.access),
            &json!({ "channel": discussion, "text": "PRIVATE schedule", "images": [{ "image": image, "alt": "schedule" }] }),
        )
        .await
        .ok()["post"]["uri"]
        .as_str()
        .expect("space post uri")
        .to_owned();

    cases.case("a backup taken while writes pour in");
    let accounts = vec![alice.clone(), bob.clone()];
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (pds, acked, stop, accounts) =
            (pds.clone(), acked.clone(), stop.clone(), accounts.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let a = &accounts[(t + n) % accounts.len()];
                let r = pds
                    .post(
                        "com.atproto.repo.createRecord",
                        Some(&a.access),
                        &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "record": post(&format!("task {t} write {n}")) }),
                    )
                    .await
                    .ok();
                let uri = r["uri"].as_str().expect("uri");
                acked.lock().expect("lock").push(Acked {
                    did: a.did.clone(),
                    rkey: uri.rsplit('/').next().expect("rkey").to_owned(),
                    cid: r["cid"].as_str().expect("cid").to_owned(),
                });
                n += 1;
            }
        }));
    }
    while acked.lock().expect("lock").len() < 50 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before: Vec<Acked> = acked.lock().expect("lock").clone();
    let out = {
        let (data, backups) = (data.clone(), backups.clone());
        tokio::task::spawn_blocking(move || {
            admin(
                &data,
                &["backup", "--out", backups.to_str().expect("utf-8")],
            )
        })
        .await
        .expect("backup task")
    };
    assert!(
        out.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let during = acked.lock().expect("lock").len() - before.len();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("writer task");
    }
    assert!(during > 0, "writes went on while the backup ran");
    // One more write, indexed by the AppView before the server stops: the index left in
    // `data` is then ahead of the backup's PDS for alice, which `verify` must notice below.
    let last = pds
        .create_record(&alice, "app.bsky.feed.post", post("after the backup"))
        .await;
    wait_indexed(ports.appview, last["uri"].as_str().expect("uri")).await;
    println!(
        "backup_restore: {} writes acknowledged before the backup, {during} while it ran",
        before.len()
    );
    drop(server);

    let backup = std::fs::read_dir(&backups)
        .expect("backups")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("manifest.json").is_file())
        .expect("a finished backup");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    let head = manifest["pds_head_seq"].as_i64().expect("head seq");
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    for want in [
        "pds.sqlite",
        "plc.sqlite",
        "appview/index.sqlite",
        "appview/spaces.sqlite",
        "secrets/jwt.key",
        "secrets/plc-rotation.key",
    ] {
        assert!(
            listed.contains(&want),
            "{want} is in the manifest: {listed:?}"
        );
    }
    assert!(listed.iter().any(|p| p.ends_with(&blob_cid)), "the blob");
    assert!(
        listed.iter().any(|p| p.ends_with(&image_cid)),
        "the space image"
    );

    cases.case("restore refuses a directory that holds anything");
    let refused = admin(&data, &["restore", backup.to_str().expect("utf-8")]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("is not empty"), "{err}");

    cases.case("restore into a fresh directory");
    let out = admin(
        &restored,
        &[
            "restore",
            backup.to_str().expect("utf-8"),
            "--data-dir",
            restored.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored_server = up(&ports, &restored, "restored.log");
    wait_healthy(&http, &format!("http://localhost:{}", ports.pds)).await;
    wait_healthy(&http, &format!("http://localhost:{}", ports.appview)).await;

    cases.case("every write acknowledged before the backup began is there with its CID");
    for a in &before {
        let r = pds
            .get(
                &format!(
                    "com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey={}",
                    a.did, a.rkey
                ),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "acknowledged write {a:?} is missing");
        assert_eq!(r.body["cid"].as_str(), Some(a.cid.as_str()), "{a:?}");
    }

    cases.case("every repository verifies against its key in the restored PLC directory");
    for a in &accounts {
        let key = plc_key(&plc_url, &a.did).await;
        let car = http
            .get(pds.xrpc(&format!("com.atproto.sync.getRepo?did={}", a.did)))
            .send()
            .await
            .expect("getRepo")
            .bytes()
            .await
            .expect("car");
        let repo = atproto::repo::verify_repo_car(&car, Some(&a.did), Some(&key))
            .unwrap_or_else(|e| panic!("repository of {} does not verify: {e}", a.did));
        let held: std::collections::HashSet<String> =
            repo.records.iter().map(|(p, _, _)| p.clone()).collect();
        for b in before.iter().filter(|b| b.did == a.did) {
            assert!(
                held.contains(&format!("app.bsky.feed.post/{}", b.rkey)),
                "{b:?}"
            );
        }
    }

    cases.case("the blob is served with its bytes");
    let got = http
        .get(pds.xrpc(&format!(
            "com.atproto.sync.getBlob?did={}&cid={blob_cid}",
            alice.did
        )))
        .send()
        .await
        .expect("getBlob");
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.bytes().await.expect("bytes").as_ref(),
        blob_bytes.as_slice()
    );

    cases.case("the space, its post and its image are intact");
    let feed = pds
        .get(
            &format!("social.hearth.feed.getChannel?channel={}", enc(&discussion)),
            Some(&alice.access),
        )
        .await
        .ok();
    assert!(
        feed["posts"]
            .as_array()
            .expect("posts")
            .iter()
            .any(|p| p["uri"] == space_post.as_str()),
        "{feed}"
    );
    let got = http
        .get(pds.xrpc(&format!(
            "social.hearth.post.getImage?space={}&cid={image_cid}",
            enc(&space)
        )))
        .bearer_auth(&alice.access)
        .send()
        .await
        .expect("getImage");
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.bytes().await.expect("bytes").as_ref(),
        image_bytes.as_slice()
    );

    cases.case("the firehose continues from the backup's head");
    let after = pds
        .create_record(&bob, "app.bsky.feed.post", post("after the restore"))
        .await;
    // A cursor is the last sequence number seen: the next event is the first new one.
    let events = replay(ports.pds, head, head + 1).await;
    match events.as_slice() {
        [atproto::firehose::Event::Commit(c)] => {
            assert_eq!(c.seq, head + 1);
            assert_eq!(
                Some(c.commit.to_string().as_str()),
                after["commit"]["cid"].as_str()
            );
        }
        other => panic!("expected the new commit at seq {}: {other:?}", head + 1),
    }
    check_replay(&plc_url, &replay(ports.pds, 0, head + 1).await, 1).await;

    cases.case("the AppView carries on from its restored cursor");
    wait_indexed(ports.appview, after["uri"].as_str().expect("uri")).await;

    cases.case("verify: the restored directory is consistent");
    let out = admin(&restored, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("all good"), "{text}");

    cases.case("verify: an AppView index newer than its PDS is found");
    drop(restored_server);
    let newer = root.path().join("newer");
    let out = admin(&data, &["backup", "--out", newer.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let newer_backup = std::fs::read_dir(&newer)
        .expect("backups")
        .flatten()
        .map(|e| e.path())
        .next()
        .expect("a backup");
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(restored.join(format!("appview/index.sqlite{side}")));
    }
    std::fs::copy(
        newer_backup.join("appview/index.sqlite"),
        restored.join("appview/index.sqlite"),
    )
    .expect("put the newer index in place");
    let out = admin(&restored, &["verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("APPVIEW AHEAD {}", alice.did)),
        "{text}"
    );
}

/// Waits until the AppView serves the post at `uri`.
async fn wait_indexed(port: u16, uri: &str) {
    let appview = Xrpc::local(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = appview
            .get(&format!("app.bsky.feed.getPosts?uris={uri}"), None)
            .await;
        if r.status == 200 && r.body["posts"].as_array().is_some_and(|p| p.len() == 1) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the AppView did not index {uri}: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
