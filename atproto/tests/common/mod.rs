//! Shared helpers for the vector-driven tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Path to a file under `tests/data/`.
pub fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// Reads and parses a JSON test-vector file.
pub fn load_json(rel: &str) -> serde_json::Value {
    let path = data_path(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fails with every collected failure, after reporting how many cases ran.
pub fn report(name: &str, ran: usize, failures: &[String]) {
    println!("{name}: {ran} cases run, {} failed", failures.len());
    assert!(ran > 0, "{name}: no cases ran");
    assert!(
        failures.is_empty(),
        "{name} failures:\n{}",
        failures.join("\n")
    );
}
