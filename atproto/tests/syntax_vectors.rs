//! Interop test vectors for `atproto::syntax`, from
//! `tests/data/interop/syntax/`.
//!
//! File names are `<kind>_<suffix>.txt` where suffix is one of
//! `syntax_valid` (must parse), `syntax_invalid` (must be rejected) and
//! `parse_invalid` (superficially well-formed, but must be rejected by the
//! full parse). Lines are taken verbatim (only the `\n` separator is removed:
//! leading and trailing spaces are part of the case); empty lines and lines
//! starting with `#` are comments.
//!
//! Every file in the directory must belong to a kind listed in `kinds!`
//! below (see `every_vector_file_is_covered`), so a new file cannot be
//! skipped silently.

use std::fmt::{Debug, Display};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use atproto::syntax::{
    AtIdentifier, AtUri, Datetime, Did, Handle, Language, Nsid, RecordKey, SyntaxError, Tid, Uri,
    datetime, language, validate_cid_string,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

const SUFFIXES: &[&str] = &["syntax_valid", "syntax_invalid", "parse_invalid"];

fn vector_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/interop/syntax")
}

/// Result of running one case through a kind's checks.
enum Outcome {
    Accepted,
    Rejected(String),
    /// The API disagrees with itself (e.g. `FromStr` accepts, serde rejects,
    /// or display does not round-trip): always a failure.
    Broken(String),
}

/// Parses `s` every way the API allows and checks they agree, that display
/// and serde round-trip exactly, and that rejection is consistent.
fn check_type<T>(s: &str) -> Outcome
where
    T: FromStr<Err = SyntaxError>
        + TryFrom<String, Error = SyntaxError>
        + for<'a> TryFrom<&'a str, Error = SyntaxError>
        + Display
        + Debug
        + PartialEq
        + AsRef<str>
        + Serialize
        + DeserializeOwned
        + Into<String>
        + Clone,
{
    let from_str = s.parse::<T>();
    let from_string = T::try_from(s.to_owned());
    let from_ref = T::try_from(s);
    let json = serde_json::Value::String(s.to_owned());
    let from_serde = serde_json::from_value::<T>(json.clone());
    match (from_str, from_string, from_ref, from_serde) {
        (Ok(a), Ok(b), Ok(c), Ok(d)) => {
            if a != b || a != c || a != d {
                return Outcome::Broken(format!("parse paths disagree: {a:?} {b:?} {c:?} {d:?}"));
            }
            if a.to_string() != s || a.as_ref() != s || a.clone().into() != s {
                return Outcome::Broken(format!("does not display as its input: {a}"));
            }
            match serde_json::to_value(&a) {
                Ok(v) if v == json => Outcome::Accepted,
                other => Outcome::Broken(format!("serializes as {other:?}")),
            }
        }
        (Err(a), Err(b), Err(c), Err(_)) => {
            if a != b || a != c {
                return Outcome::Broken(format!("errors disagree: {a} / {b} / {c}"));
            }
            Outcome::Rejected(a.to_string())
        }
        (a, b, c, d) => Outcome::Broken(format!(
            "FromStr ok={} TryFrom<String> ok={} TryFrom<&str> ok={} serde ok={}",
            a.is_ok(),
            b.is_ok(),
            c.is_ok(),
            d.is_ok()
        )),
    }
}

fn check_did(s: &str) -> Outcome {
    check_type::<Did>(s)
}

fn check_handle(s: &str) -> Outcome {
    let out = check_type::<Handle>(s);
    if let Outcome::Accepted = out {
        // The normalized form of a valid handle is valid too.
        let h: Handle = s.parse().unwrap();
        if h.normalize().as_str().parse::<Handle>().is_err() {
            return Outcome::Broken("normalized handle does not parse".into());
        }
    }
    out
}

fn check_atidentifier(s: &str) -> Outcome {
    let out = check_type::<AtIdentifier>(s);
    if let Outcome::Accepted = out {
        let a: AtIdentifier = s.parse().unwrap();
        // "FromStr tries DID first": anything starting with did: is a Did.
        if a.is_did() != s.starts_with("did:") {
            return Outcome::Broken(format!("wrong variant: {a:?}"));
        }
    }
    out
}

fn check_nsid(s: &str) -> Outcome {
    let out = check_type::<Nsid>(s);
    if let Outcome::Accepted = out {
        let n: Nsid = s.parse().unwrap();
        let rebuilt = format!("{}.{}", n.domain_part(), n.name());
        if rebuilt != s || n.segments().count() < 3 {
            return Outcome::Broken(format!("accessors do not rebuild it: {rebuilt}"));
        }
    }
    out
}

fn check_aturi(s: &str) -> Outcome {
    let out = check_type::<AtUri>(s);
    if let Outcome::Accepted = out {
        let u: AtUri = s.parse().unwrap();
        let authority = u.authority();
        let collection = u.collection();
        let rkey = u.rkey();
        let rebuilt = AtUri::from_parts(
            authority.as_str(),
            collection.as_ref().map(Nsid::as_str),
            rkey.as_ref().map(RecordKey::as_str),
        );
        match rebuilt {
            Ok(r) if r == u => {}
            other => return Outcome::Broken(format!("from_parts(accessors) gave {other:?}")),
        }
        if let (AtIdentifier::Did(did), Some(c), Some(r)) = (&authority, &collection, &rkey)
            && AtUri::record(did, c, r) != u
        {
            return Outcome::Broken("AtUri::record does not rebuild it".into());
        }
    }
    out
}

fn check_recordkey(s: &str) -> Outcome {
    check_type::<RecordKey>(s)
}

fn check_tid(s: &str) -> Outcome {
    let out = check_type::<Tid>(s);
    if let Outcome::Accepted = out {
        let t: Tid = s.parse().unwrap();
        if Tid::from_u64(t.as_u64()) != t {
            return Outcome::Broken("u64 round trip".into());
        }
        if t.as_u64() >> 63 == 0 && Tid::from_parts(t.timestamp_micros(), t.clock_id()) != t {
            return Outcome::Broken("from_parts round trip".into());
        }
    }
    out
}

fn check_datetime(s: &str) -> Outcome {
    check_type::<Datetime>(s)
}

fn check_language(s: &str) -> Outcome {
    check_type::<Language>(s)
}

fn check_uri(s: &str) -> Outcome {
    check_type::<Uri>(s)
}

fn check_cid(s: &str) -> Outcome {
    match validate_cid_string(s) {
        Ok(()) => Outcome::Accepted,
        Err(e) => Outcome::Rejected(e.to_string()),
    }
}

/// Syntax-only checks, where the API has them: `parse_invalid` cases must
/// pass these (they are well-formed) while failing the full parse.
fn syntax_only_datetime(s: &str) -> bool {
    datetime::validate_syntax(s).is_ok()
}

fn syntax_only_language(s: &str) -> bool {
    language::validate_syntax(s).is_ok()
}

struct Kind {
    prefix: &'static str,
    check: fn(&str) -> Outcome,
    syntax_only: Option<fn(&str) -> bool>,
}

/// The single list of kinds: it builds both `KINDS` (used by the coverage
/// test) and one `#[test]` per kind.
macro_rules! kinds {
    ($($test:ident: $prefix:literal => $check:expr, $syntax_only:expr;)*) => {
        const KINDS: &[Kind] = &[
            $(Kind { prefix: $prefix, check: $check, syntax_only: $syntax_only },)*
        ];
        $(
            #[test]
            fn $test() {
                run_kind($prefix);
            }
        )*
    };
}

kinds! {
    atidentifier_vectors: "atidentifier" => check_atidentifier, None;
    aturi_vectors: "aturi" => check_aturi, None;
    cid_vectors: "cid" => check_cid, None;
    datetime_vectors: "datetime" => check_datetime, Some(syntax_only_datetime);
    did_vectors: "did" => check_did, None;
    handle_vectors: "handle" => check_handle, None;
    language_vectors: "language" => check_language, Some(syntax_only_language);
    nsid_vectors: "nsid" => check_nsid, None;
    recordkey_vectors: "recordkey" => check_recordkey, None;
    tid_vectors: "tid" => check_tid, None;
    uri_vectors: "uri" => check_uri, None;
}

/// Non-comment lines of a vector file, with 1-based line numbers, verbatim.
fn load_cases(path: &Path) -> Vec<(usize, String)> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.split('\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| (i + 1, line.to_owned()))
        .collect()
}

/// Shows a case unambiguously (quotes, escapes, and its length).
fn show(s: &str) -> String {
    let mut q = format!("{s:?}");
    if q.len() > 120 {
        q.truncate(100);
        q.push_str("...\"");
    }
    format!("{q} (len {})", s.len())
}

fn run_kind(prefix: &str) {
    let kind = KINDS.iter().find(|k| k.prefix == prefix).unwrap();
    let dir = vector_dir();
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    // SYNTAX_VECTORS_VERBOSE=1 prints why each rejected case was rejected.
    let verbose = std::env::var_os("SYNTAX_VECTORS_VERBOSE").is_some();

    for suffix in SUFFIXES {
        let file = format!("{prefix}_{suffix}.txt");
        let path = dir.join(&file);
        if !path.exists() {
            assert_ne!(
                *suffix, "syntax_valid",
                "{file} is missing: every kind needs valid and invalid vectors"
            );
            assert_ne!(
                *suffix, "syntax_invalid",
                "{file} is missing: every kind needs valid and invalid vectors"
            );
            continue;
        }
        let cases = load_cases(&path);
        for (line_no, case) in &cases {
            let place = format!("{file}:{line_no}: {}", show(case));
            match ((kind.check)(case), *suffix) {
                (Outcome::Broken(why), _) => {
                    failures.push(format!("{place}: API inconsistency: {why}"))
                }
                (Outcome::Accepted, "syntax_valid") => {}
                (Outcome::Rejected(why), "syntax_valid") => {
                    failures.push(format!("{place}: should be valid, rejected: {why}"))
                }
                (Outcome::Rejected(why), _) => {
                    if verbose {
                        println!("  {place}: {why}");
                    }
                }
                (Outcome::Accepted, _) => {
                    failures.push(format!("{place}: should be rejected, was accepted"))
                }
            }
            if *suffix == "parse_invalid"
                && let Some(syntax_ok) = kind.syntax_only
                && !syntax_ok(case)
            {
                failures.push(format!(
                    "{place}: parse_invalid case should pass the syntax-only check"
                ));
            }
        }
        counts.push((*suffix, cases.len()));
    }

    let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("{prefix}: {}", summary.join(", "));
    for (suffix, n) in &counts {
        assert!(*n > 0, "{prefix}_{suffix}.txt has no cases");
    }
    assert!(
        failures.is_empty(),
        "{} {prefix} vector failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_vector_file_is_covered() {
    let dir = vector_dir();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no vector files in {}", dir.display());

    let mut uncovered = Vec::new();
    for file in &files {
        let covered = KINDS.iter().any(|k| {
            SUFFIXES
                .iter()
                .any(|s| *file == format!("{}_{s}.txt", k.prefix))
        });
        if !covered {
            uncovered.push(file.as_str());
        }
    }
    println!("{} vector files, {} kinds", files.len(), KINDS.len());
    assert!(
        uncovered.is_empty(),
        "vector files not run by any test (add them to kinds! in {}): {uncovered:?}",
        file!()
    );
    // And every kind has its files.
    for k in KINDS {
        for s in ["syntax_valid", "syntax_invalid"] {
            let f = format!("{}_{s}.txt", k.prefix);
            assert!(files.contains(&f), "{f} missing");
        }
    }
}
