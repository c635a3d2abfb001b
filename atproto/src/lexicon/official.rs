//! The official lexicons (`com.atproto.*`, `app.bsky.*`, `chat.bsky.*`), vendored under
//! `atproto/lexicons/` and embedded in the binary at compile time.
//!
//! Editing a vendored file triggers a rebuild; adding a new file may need a `touch` of this
//! module on stable Rust (the embedding macro can't watch a directory). The test suite checks
//! that the embedded count matches the files on disk.

use super::{Catalog, LexiconError};
use include_dir::{Dir, DirEntry, include_dir};
use std::sync::LazyLock;

static FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/lexicons");

struct Official {
    catalog: Catalog,
    errors: Vec<(&'static str, LexiconError)>,
}

static OFFICIAL: LazyLock<Official> = LazyLock::new(|| {
    let mut catalog = Catalog::new();
    let mut errors = Vec::new();
    for (path, text) in files() {
        let res = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| LexiconError::Malformed {
                id: None,
                message: e.to_string(),
            })
            .and_then(|json| catalog.add(&json));
        if let Err(e) = res {
            errors.push((path, e));
        }
    }
    Official { catalog, errors }
});

/// The catalog of every official lexicon, parsed once on first use.
pub fn catalog() -> &'static Catalog {
    &OFFICIAL.catalog
}

/// Embedded files that failed to load (path relative to `lexicons/`, and why). Empty in a
/// correct build; a test asserts so.
pub fn load_errors() -> &'static [(&'static str, LexiconError)] {
    &OFFICIAL.errors
}

/// Every embedded `*.json` file: path relative to `lexicons/`, and contents.
pub fn files() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    collect(&FILES, &mut out);
    out
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<(&'static str, &'static str)>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => collect(d, out),
            DirEntry::File(f) => {
                let path = f.path().to_str();
                let is_json = f.path().extension().is_some_and(|e| e == "json");
                if let (true, Some(path), Some(text)) = (is_json, path, f.contents_utf8()) {
                    out.push((path, text));
                }
            }
        }
    }
}
