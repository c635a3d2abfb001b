//! The local PLC directory accepts exactly what the reference one does: serves it in-process,
//! then runs `tests/interop/plc-compare.mjs`, which replays the same operations against it and
//! against the real `@did-plc/server` and compares the answers.

use hearth_plc::TestPlc;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("pds/ has a parent")
        .to_path_buf()
}

/// `PATH` with Node 22 in front, installed by `scripts/setup-node` if need be; `None` when
/// no Node can be had at all.
fn node_path(root: &Path) -> Option<String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let setup = Command::new(root.join("scripts/setup-node"))
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output();
    let path = match setup {
        Ok(out) if out.status.success() => {
            format!("{}:{path}", String::from_utf8_lossy(&out.stdout).trim())
        }
        other => {
            eprintln!("plc_compare: scripts/setup-node failed ({other:?}); trying node on PATH");
            path
        }
    };
    let works = Command::new("node")
        .arg("--version")
        .env("PATH", &path)
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(path)
}

#[test]
fn local_plc_matches_the_reference_server() {
    let root = workspace_root();
    let Some(path) = node_path(&root) else {
        eprintln!(
            "SKIPPED plc_compare: Node.js is unavailable, so the reference PLC server cannot run"
        );
        return;
    };

    let plc = TestPlc::spawn().expect("PLC directory");
    // The reference server limits operations per DID; so must this one, for the comparison.
    plc.store().set_rate_limits(true);

    let out = Command::new("node")
        .arg("tests/interop/plc-compare.mjs")
        .current_dir(&root)
        .env("PATH", &path)
        .env("HEARTH_PLC_URL", plc.url())
        .output()
        .expect("running node");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "plc-compare.mjs failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("all matched"));
}
