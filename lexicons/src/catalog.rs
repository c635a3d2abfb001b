//! The social.hearth lexicon documents (`lexicons/social/`), embedded in the binary and
//! added on top of the official ones, parsed once. Requests are validated against them before
//! they reach the service; the tests validate every response.
//!
//! Adding a new file under `lexicons/social/` may need a `touch` of this module on stable Rust (the
//! embedding macro can't watch a directory); a test checks that every file on disk is loaded.

use atproto::lexicon::Catalog;
use include_dir::{Dir, DirEntry, include_dir};
use std::sync::LazyLock;

static FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/social");

struct Loaded {
    catalog: Catalog,
    count: usize,
    errors: Vec<String>,
}

static CATALOG: LazyLock<Loaded> = LazyLock::new(|| {
    let mut catalog = Catalog::with_official();
    let mut errors = Vec::new();
    let mut count = 0;
    let mut files = Vec::new();
    collect(&FILES, &mut files);
    for (path, text) in files {
        let res = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| e.to_string())
            .and_then(|json| catalog.add(&json).map_err(|e| e.to_string()));
        match res {
            Ok(()) => count += 1,
            Err(e) => errors.push(format!("{path}: {e}")),
        }
    }
    if let Err(e) = catalog.check_refs() {
        errors.push(e.to_string());
    }
    Loaded {
        catalog,
        count,
        errors,
    }
});

/// The official lexicons plus the embedded social.hearth ones.
pub fn catalog() -> &'static Catalog {
    &CATALOG.catalog
}

/// How many social.hearth documents were loaded, and what failed (empty in a correct build).
pub fn load_report() -> (usize, &'static [String]) {
    (CATALOG.count, &CATALOG.errors)
}

fn collect(dir: &'static Dir<'static>, out: &mut Vec<(&'static str, &'static str)>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => collect(d, out),
            DirEntry::File(f) => {
                let is_json = f.path().extension().is_some_and(|e| e == "json");
                if let (true, Some(path), Some(text)) =
                    (is_json, f.path().to_str(), f.contents_utf8())
                {
                    out.push((path, text));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hearth_lexicon_loads_and_resolves() {
        let (n, errors) = load_report();
        assert!(errors.is_empty(), "{errors:?}");
        let mut on_disk = 0;
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/social"
        ))];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("lexicons dir") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    on_disk += 1;
                }
            }
        }
        assert_eq!(n, on_disk, "embedded count matches the files on disk");
        assert!(n > 0, "the lexicons directory was found");
        for doc in catalog().docs() {
            let id = doc.id.as_str();
            if id.starts_with("social.hearth.") && id != "social.hearth.defs" {
                assert!(catalog().method_kind(id).is_some(), "{id} is a method");
            }
        }
        println!("social.hearth lexicons: {n} cases run (documents loaded and resolved)");
    }
}
