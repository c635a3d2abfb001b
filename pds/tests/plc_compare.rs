//! The local PLC directory accepts exactly what the reference one does: builds and starts
//! `examples/local_plc.rs`, then runs `tests/interop/plc-compare.mjs`, which replays the same
//! operations against it and against the real `@did-plc/server` and compares the answers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("pds/ has a parent")
        .to_path_buf()
}

/// Stops the directory however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// Builds the example with the profile this test was built with and returns its path.
fn build_example(root: &Path) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/plc_compare-<hash>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test runs from target/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // `--workspace` resolves features as `cargo test --workspace` (scripts/test, CI) does, so
    // there this build finds everything fresh instead of recompiling with `-p`'s feature set.
    build
        .current_dir(root)
        .args(["build", "--workspace", "--example", "local_plc"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("running cargo build");
    assert!(status.success(), "building examples/local_plc failed");
    profile_dir.join("examples").join("local_plc")
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

    let mut child = Command::new(build_example(&root))
        .arg("0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting examples/local_plc");
    let stdout = child.stdout.take().expect("piped stdout");
    let _running = Running(child);
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("reading the example's address");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from local_plc: {first:?}"))
        .to_owned();

    let out = Command::new("node")
        .arg("tests/interop/plc-compare.mjs")
        .current_dir(&root)
        .env("PATH", &path)
        .env("HEARTH_PLC_URL", &url)
        .output()
        .expect("running node");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "plc-compare.mjs failed");
    assert!(String::from_utf8_lossy(&out.stdout).contains("all matched"));
}
