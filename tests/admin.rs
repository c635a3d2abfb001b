//! `hearth admin` with the real binary, on a data directory and against a running server:
//! every account and invite command both ways, the refusals an operator meets (no database
//! there, a server running on it, a wrong admin password, deletion without --yes), and
//! `verify` and `stats`, including `verify` finding a repository that disagrees with its index
//! and a blob without bytes.

mod binary;

use binary::{Hearth, free_port, wait_healthy};
use hearth_testkit::firehose::*;
use hearth_testkit::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The environment the server runs with, which `hearth admin` shares on its machine.
fn server_env(cmd: &mut Command, port: u16, data: &Path, plc: &str) {
    cmd.env("HEARTH_PORT", port.to_string())
        .env("HEARTH_DATA_DIR", data)
        .env("HEARTH_PLC_URL", plc)
        .env("HEARTH_HOSTNAME", "localhost")
        .env("HEARTH_DEV", "true")
        .env("HEARTH_RATE_LIMITS", "false")
        .env("HEARTH_INVITE_REQUIRED", "true")
        .env_remove("HEARTH_ADMIN_URL")
        .env("RUST_LOG", "warn");
}

async fn start(port: u16, data: &Path, plc: &str) -> Hearth {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.arg("pds")
        .env("HEARTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    server_env(&mut cmd, port, data, plc);
    let server = Hearth(cmd.spawn().expect("spawn hearth pds"));
    wait_healthy(&client(), &format!("http://localhost:{port}")).await;
    server
}

/// Runs `hearth admin <args>` in the server's environment (without its admin password unless
/// `password` says so).
fn admin(port: u16, data: &Path, plc: &str, password: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.arg("admin").args(args);
    server_env(&mut cmd, port, data, plc);
    match password {
        Some(p) => cmd.env("HEARTH_ADMIN_PASSWORD", p),
        None => cmd.env_remove("HEARTH_ADMIN_PASSWORD"),
    };
    cmd.output().expect("run hearth admin")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "hearth admin failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: Output, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should have failed: {err}");
    assert!(err.contains(says), "expected {says:?} in: {err}");
}

/// The DID on the first line `accounts create` prints.
fn did_of(listing: &str) -> String {
    listing
        .split('\t')
        .next()
        .filter(|d| d.starts_with("did:plc:"))
        .unwrap_or_else(|| panic!("no DID in {listing:?}"))
        .to_owned()
}

/// (handle, status) of the account with `did` in an `accounts list`, if there.
fn listed(listing: &str, did: &str) -> Option<(String, String)> {
    listing.lines().find_map(|l| {
        let cols: Vec<&str> = l.split('\t').collect();
        (cols.first() == Some(&did)).then(|| (cols[1].to_owned(), cols[3].to_owned()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_command_on_the_data_directory_and_on_a_running_server() {
    let cases = Cases::new("admin");
    let plc = TestPlc::spawn().expect("PLC directory");
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let port = free_port();
    let url = format!("http://localhost:{port}");
    let pds = Xrpc::local(port);
    let run = |password: Option<&str>, args: &[&str]| admin(port, &data, plc.url(), password, args);
    let remote = |args: &[&str]| {
        let mut all = vec!["--url", url.as_str()];
        all.extend_from_slice(args);
        admin(port, &data, plc.url(), Some(ADMIN_PASSWORD), &all)
    };

    const CREATE_X: &[&str] = &[
        "accounts",
        "create",
        "--handle",
        "x.test",
        "--email",
        "x@example.com",
        "--password",
        "pw",
    ];

    cases.case("a directory with no PDS database is refused, and left as it was");
    refused(run(None, &["accounts", "list"]), "no PDS database");
    refused(run(None, CREATE_X), "no PDS database");
    assert!(!data.join("pds.sqlite").exists());

    let server = start(port, &data, plc.url()).await;

    cases.case("beside a running server: writes on the data directory are refused, reads work");
    refused(run(None, CREATE_X), "in use by a running Hearth server");
    refused(
        run(None, &["invites", "create"]),
        "in use by a running Hearth server",
    );
    ok(run(None, &["accounts", "list"]));

    cases.case("a second server on the same data directory refuses to start");
    let mut second = Command::new(env!("CARGO_BIN_EXE_hearth"));
    second.arg("pds").stdout(Stdio::null());
    server_env(&mut second, free_port(), &data, plc.url());
    refused(
        second.output().expect("run a second server"),
        "in use by a running Hearth server",
    );

    cases.case("--url: a wrong or missing admin password is refused with a clear error");
    refused(
        admin(
            port,
            &data,
            plc.url(),
            Some("wrong"),
            &["--url", &url, "accounts", "list"],
        ),
        "refused the admin password",
    );
    refused(
        run(None, &["--url", &url, "accounts", "list"]),
        "needs the server's admin password",
    );
    refused(remote(&["verify"]), "works on the data directory");

    cases.case("--url: create an account on a server that requires invites");
    let alice = did_of(&ok(remote(&[
        "accounts",
        "create",
        "--handle",
        "alice.test",
        "--email",
        "alice@example.com",
        "--password",
        "alice-pass-1",
    ])));
    assert_eq!(pds.login("alice.test", "alice-pass-1").await.status, 200);
    let session = pds.login("alice.test", "alice-pass-1").await.ok();
    let token = session["accessJwt"].as_str().expect("token").to_owned();

    cases.case("--url and the data directory list the same accounts");
    let over_http = ok(remote(&["accounts", "list"]));
    let from_disk = ok(run(None, &["accounts", "list"]));
    assert_eq!(
        listed(&over_http, &alice),
        Some(("alice.test".into(), "active".into()))
    );
    assert_eq!(over_http, from_disk);

    cases.case("--url: invites create and list");
    let codes = ok(remote(&[
        "invites", "create", "--count", "2", "--uses", "3",
    ]));
    let codes: Vec<&str> = codes.lines().collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    let listing = ok(remote(&["invites", "list"]));
    for c in &codes {
        assert!(listing.contains(&format!("{c}\t0/3 used")), "{listing}");
    }
    assert_eq!(listing, ok(run(None, &["invites", "list"])));

    cases.case("--url: takedown ends the account's use, restore brings it back");
    ok(remote(&[
        "accounts",
        "takedown",
        &alice,
        "--reference",
        "ticket-7",
    ]));
    let r = pds.login("alice.test", "alice-pass-1").await;
    r.err(401, "AccountTakedown");
    let r = pds
        .post("com.atproto.repo.createRecord", Some(&token), &json!({ "repo": alice, "collection": "app.bsky.feed.post", "record": post("taken down") }))
        .await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert_eq!(
        listed(&ok(remote(&["accounts", "list"])), &alice).map(|(_, s)| s),
        Some("takendown".into())
    );
    ok(remote(&["accounts", "restore", &alice]));
    assert_eq!(pds.login("alice.test", "alice-pass-1").await.status, 200);

    cases.case("--url: reset-password");
    ok(remote(&[
        "accounts",
        "reset-password",
        &alice,
        "--password",
        "alice-pass-2",
    ]));
    assert_eq!(pds.login("alice.test", "alice-pass-2").await.status, 200);
    assert_ne!(pds.login("alice.test", "alice-pass-1").await.status, 200);
    let session = pds.login("alice.test", "alice-pass-2").await.ok();
    let alice_acct = Account {
        did: alice.clone(),
        handle: "alice.test".into(),
        access: session["accessJwt"].as_str().expect("token").to_owned(),
        refresh: session["refreshJwt"].as_str().expect("refresh").to_owned(),
    };
    pds.create_record(&alice_acct, "app.bsky.feed.post", post("hello"))
        .await;
    let blob = pds
        .post_raw(
            "com.atproto.repo.uploadBlob",
            Some(&alice_acct.access),
            Some("image/png"),
            b"\x89PNG\r\n\x1a\nhi".to_vec(),
        )
        .await
        .ok()["blob"]
        .clone();
    let mut with_blob = post("with a file");
    with_blob["embed"] = json!({ "$type": "app.bsky.embed.external", "external": { "uri": "https://example.com", "title": "t", "description": "d", "thumb": blob } });
    pds.create_record(&alice_acct, "app.bsky.feed.post", with_blob)
        .await;
    drop(server);

    cases.case("on the data directory with the server stopped: create, takedown, restore, reset-password, invites");
    let bob = did_of(&ok(run(
        None,
        &[
            "accounts",
            "create",
            "--handle",
            "bob.test",
            "--email",
            "bob@example.com",
            "--password",
            "bob-pass-1",
        ],
    )));
    ok(run(None, &["accounts", "takedown", &bob]));
    assert_eq!(
        listed(&ok(run(None, &["accounts", "list"])), &bob),
        Some(("bob.test".into(), "takendown".into()))
    );
    ok(run(None, &["accounts", "restore", &bob]));
    ok(run(
        None,
        &[
            "accounts",
            "reset-password",
            &bob,
            "--password",
            "bob-pass-2",
        ],
    ));
    let code = ok(run(None, &["invites", "create"]));
    assert_eq!(code.lines().count(), 1);
    refused(
        run(None, &["accounts", "takedown", "did:plc:nobodyhere"]),
        "Account not found",
    );

    cases.case("verify and stats on a healthy directory");
    let v = ok(run(None, &["verify"]));
    assert!(
        v.contains("2 repositories") && v.contains("all good"),
        "{v}"
    );
    let s: Value = serde_json::from_str(&ok(run(None, &["stats", "--json"]))).expect("stats json");
    assert_eq!(s["accounts"], json!([["active", 2]]), "{s}");
    let pds_db = s["databases"]
        .as_array()
        .expect("databases")
        .iter()
        .find(|d| d["path"] == "pds.sqlite")
        .expect("pds.sqlite");
    let rows = |table: &str| {
        pds_db["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t[0] == table)
            .and_then(|t| t[1].as_i64())
    };
    assert_eq!(rows("account"), Some(2));
    assert_eq!(s["files"][0], json!(["blobs", 1, 10]), "{s}");

    cases.case(
        "the server starts after direct writes: the firehose sequence is unbroken and verifies",
    );
    let head = s["firehose_head_seq"].as_i64().expect("head");
    let server = start(port, &data, plc.url()).await;
    assert_eq!(pds.login("bob.test", "bob-pass-2").await.status, 200);
    let events = replay(port, 0, head).await;
    check_replay(plc.url(), &events, 1).await;
    let after = pds
        .create_record(&alice_acct, "app.bsky.feed.post", post("after"))
        .await;
    let next = replay(port, head, head + 1).await;
    assert!(
        matches!(next.as_slice(), [atproto::firehose::Event::Commit(c)] if Some(c.commit.to_string().as_str()) == after["commit"]["cid"].as_str()),
        "{next:?}"
    );

    cases.case("--url: delete needs --yes, then removes the account");
    refused(remote(&["accounts", "delete", &bob]), "--yes");
    ok(remote(&["accounts", "delete", &bob, "--yes"]));
    assert_eq!(listed(&ok(remote(&["accounts", "list"])), &bob), None);
    assert_eq!(pds.login("bob.test", "bob-pass-2").await.status, 401);
    drop(server);

    cases.case(
        "verify finds a record index that disagrees with the repository, and a blob without bytes",
    );
    {
        let conn = rusqlite::Connection::open(data.join("pds.sqlite")).expect("open");
        let changed = conn
            .execute(
                "DELETE FROM record WHERE rkey = (SELECT MIN(rkey) FROM record)",
                [],
            )
            .expect("damage the index");
        assert_eq!(changed, 1);
    }
    let blob_cid = blob["ref"]["$link"].as_str().expect("cid");
    let blob_file = walk_find(&data.join("blobs"), blob_cid).expect("blob file");
    std::fs::remove_file(blob_file).expect("remove blob");
    let out = run(None, &["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("BAD REPO {alice}: the record index disagrees")),
        "{text}"
    );
    assert!(text.contains(&format!("MISSING BLOB {blob_cid}")), "{text}");
    assert!(text.contains("PROBLEMS FOUND"), "{text}");
}

fn walk_find(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = walk_find(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}
