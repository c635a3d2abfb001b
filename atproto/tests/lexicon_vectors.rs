//! Lexicon loading and validation, driven by every file of the interop vectors in
//! `tests/data/interop/lexicon/`, the official lexicons, and realistic `app.bsky` records.

mod common;

use atproto::data::Ipld;
use atproto::data::json::from_json;
use atproto::lexicon::{Catalog, LexiconError, MethodKind, ValidationError, official};
use common::{data_path, load_json, report};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const DIR: &str = "interop/lexicon";

/// The top-level vector files this suite knows how to run; `catalog/` is read whole.
const TOP_LEVEL_FILES: &[&str] = &[
    "lexicon-valid.json",
    "lexicon-invalid.json",
    "record-data-valid.json",
    "record-data-invalid.json",
];

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn cases(file: &str) -> Vec<Value> {
    match load_json(&format!("{DIR}/{file}")) {
        Value::Array(items) => items,
        other => panic!("{file}: expected an array, got {other}"),
    }
}

fn name_of(case: &Value) -> String {
    case["name"].as_str().unwrap_or("<unnamed>").to_owned()
}

#[test]
fn every_vector_file_is_run() {
    let root = data_path(DIR);
    let catalog_dir = root.join("catalog");
    let mut ran = 0;
    let mut failures = Vec::new();
    for path in std::fs::read_dir(&root)
        .expect("vector dir")
        .map(|e| e.expect("entry").path())
    {
        ran += 1;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let known = TOP_LEVEL_FILES.contains(&name.as_str()) || path == catalog_dir;
        if !known {
            failures.push(format!("{name}: a vector file this suite does not run"));
        }
    }
    for name in TOP_LEVEL_FILES {
        if !root.join(name).is_file() {
            failures.push(format!("{name}: missing"));
        }
    }
    report("vector files", ran, &failures);
}

#[test]
fn lexicon_valid_documents_load() {
    let mut failures = Vec::new();
    let all = cases("lexicon-valid.json");
    for case in &all {
        let mut catalog = Catalog::new();
        if let Err(e) = catalog.add(&case["lexicon"]) {
            failures.push(format!("{}: refused: {e}", name_of(case)));
        }
    }
    report("lexicon-valid.json", all.len(), &failures);
}

#[test]
fn lexicon_invalid_documents_are_refused() {
    let mut failures = Vec::new();
    let all = cases("lexicon-invalid.json");
    for case in &all {
        let mut catalog = Catalog::new();
        match catalog.add(&case["lexicon"]) {
            Ok(()) => failures.push(format!("{}: accepted", name_of(case))),
            Err(e) => println!("  {}: refused: {e}", name_of(case)),
        }
    }
    report("lexicon-invalid.json", all.len(), &failures);
}

fn vector_catalog() -> (Catalog, usize) {
    let mut catalog = Catalog::new();
    let files = json_files(&data_path(&format!("{DIR}/catalog")));
    for file in &files {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("read"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        catalog
            .add(&json)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
    (catalog, files.len())
}

#[test]
fn catalog_documents_load() {
    let files = json_files(&data_path(&format!("{DIR}/catalog")));
    let mut failures = Vec::new();
    let mut alone = Catalog::new();
    let mut on_official = Catalog::with_official();
    for file in &files {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("read"))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Err(e) = alone.add(&json) {
            failures.push(format!("{}: refused: {e}", file.display()));
        }
        if let Err(e) = on_official.add(&json) {
            failures.push(format!(
                "{} (on the official catalog): refused: {e}",
                file.display()
            ));
        }
    }
    // The procedure vector refers to app.bsky.actor.defs, so refs resolve only on top of the
    // official lexicons.
    if let Err(e) = on_official.check_refs() {
        failures.push(format!("references: {e}"));
    }
    if alone.len() != files.len() {
        failures.push(format!(
            "{} documents for {} files",
            alone.len(),
            files.len()
        ));
    }
    report("catalog/*.json", files.len(), &failures);
}

fn record_case(case: &Value) -> Result<(String, String, Ipld), String> {
    let rkey = case["rkey"].as_str().ok_or("no rkey")?.to_owned();
    let collection = case["data"]["$type"]
        .as_str()
        .ok_or("no data.$type")?
        .to_owned();
    let data = from_json(&case["data"]).map_err(|e| format!("not valid atproto data: {e}"))?;
    Ok((collection, rkey, data))
}

#[test]
fn record_data_valid() {
    let (catalog, _) = vector_catalog();
    let mut failures = Vec::new();
    let all = cases("record-data-valid.json");
    for case in &all {
        let name = name_of(case);
        match record_case(case) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok((collection, rkey, data)) => {
                if let Err(e) = catalog.validate_record(&collection, &rkey, &data) {
                    failures.push(format!("{name}: refused: {e}"));
                }
            }
        }
    }
    report("record-data-valid.json", all.len(), &failures);
}

#[test]
fn record_data_invalid() {
    let (catalog, _) = vector_catalog();
    let mut failures = Vec::new();
    let all = cases("record-data-invalid.json");
    for case in &all {
        let name = name_of(case);
        match record_case(case) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok((collection, rkey, data)) => {
                match catalog.validate_record(&collection, &rkey, &data) {
                    Ok(()) => failures.push(format!("{name}: accepted")),
                    // Refused by the schema, not for want of one.
                    Err(e @ ValidationError::Invalid(_)) => println!("  {name}: {e}"),
                    Err(e) => failures.push(format!("{name}: refused for another reason: {e}")),
                }
            }
        }
    }
    report("record-data-invalid.json", all.len(), &failures);
}

// ----- official lexicons -----

#[test]
fn every_official_lexicon_loads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lexicons");
    let on_disk = json_files(&dir).len();
    let mut failures: Vec<String> = official::load_errors()
        .iter()
        .map(|(path, e)| format!("{path}: {e}"))
        .collect();
    let catalog = Catalog::official();
    if official::files().len() != on_disk {
        failures.push(format!(
            "{} files embedded but {on_disk} on disk (touch src/lexicon/official.rs to re-embed)",
            official::files().len()
        ));
    }
    if catalog.len() != on_disk {
        failures.push(format!(
            "{} lexicons loaded from {on_disk} files",
            catalog.len()
        ));
    }
    if let Err(e) = catalog.check_refs() {
        failures.push(format!("references: {e}"));
    }
    println!(
        "official lexicons: {} loaded, {on_disk} files",
        catalog.len()
    );
    report("official lexicons", on_disk, &failures);
}

#[test]
fn add_dir_loads_the_official_directory() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lexicons");
    let mut catalog = Catalog::new();
    let n = catalog.add_dir(&dir).expect("add_dir");
    assert_eq!(n, Catalog::official().len());
    assert_eq!(catalog.len(), n);
    // All or nothing: a second load of the same NSIDs is refused and adds nothing.
    assert!(matches!(
        catalog.add_dir(&dir),
        Err(LexiconError::Duplicate(_))
    ));
    assert_eq!(catalog.len(), n);
    println!("add_dir: {n} documents");
}

#[test]
fn own_lexicons_extend_the_official_catalog() {
    let mut catalog = Catalog::with_official();
    let doc = json!({
        "lexicon": 1,
        "id": "social.hearth.test.note",
        "defs": {
            "main": {
                "type": "record",
                "key": "tid",
                "record": {
                    "type": "object",
                    "required": ["text", "subject"],
                    "properties": {
                        "text": { "type": "string", "maxGraphemes": 10 },
                        "subject": { "type": "ref", "ref": "com.atproto.repo.strongRef" }
                    }
                }
            }
        }
    });
    catalog.add(&doc).expect("own lexicon");
    assert!(matches!(catalog.add(&doc), Err(LexiconError::Duplicate(_))));
    assert!(Catalog::official().get("social.hearth.test.note").is_none());
    catalog.check_refs().expect("refs");
    let rec = ipld(json!({
        "$type": "social.hearth.test.note",
        "text": "hello",
        "subject": { "uri": POST_URI, "cid": RECORD_CID }
    }));
    catalog
        .validate_record("social.hearth.test.note", TID, &rec)
        .expect("valid");
}

// ----- realistic app.bsky records -----

const TID: &str = "3jzfcijpj2z2a";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const POST_URI: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3jzfcijpj2z2a";
const RECORD_CID: &str = "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq";
const BLOB_CID: &str = "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity";

fn ipld(json: Value) -> Ipld {
    from_json(&json).unwrap_or_else(|e| panic!("test data: {e}: {json}"))
}

fn blob(mime: &str, size: u64) -> Value {
    json!({ "$type": "blob", "ref": { "$link": BLOB_CID }, "mimeType": mime, "size": size })
}

fn post() -> Value {
    json!({
        "$type": "app.bsky.feed.post",
        "text": "hi @alice.bsky.social, see https://example.com #rust",
        "facets": [
            {
                "index": { "byteStart": 3, "byteEnd": 21 },
                "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": DID }]
            },
            {
                "index": { "byteStart": 27, "byteEnd": 46 },
                "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": "https://example.com" }]
            },
            {
                "index": { "byteStart": 47, "byteEnd": 52 },
                "features": [{ "$type": "app.bsky.richtext.facet#tag", "tag": "rust" }]
            }
        ],
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [
                {
                    "image": blob("image/jpeg", 123_456),
                    "alt": "a cat",
                    "aspectRatio": { "width": 4, "height": 3 }
                },
                { "image": blob("image/webp", 2_000), "alt": "" }
            ]
        },
        "langs": ["en", "pt-BR"],
        "labels": {
            "$type": "com.atproto.label.defs#selfLabels",
            "values": [{ "val": "nudity" }]
        },
        "tags": ["atproto"],
        "createdAt": "2024-05-01T12:34:56.789Z"
    })
}

fn reply_post() -> Value {
    let strong = json!({ "uri": POST_URI, "cid": RECORD_CID });
    json!({
        "$type": "app.bsky.feed.post",
        "text": "replying 👋🏽",
        "reply": { "root": strong, "parent": strong },
        "embed": {
            "$type": "app.bsky.embed.record",
            "record": { "uri": POST_URI, "cid": RECORD_CID }
        },
        "createdAt": "2024-05-01T12:34:56+02:00"
    })
}

fn profile() -> Value {
    json!({
        "$type": "app.bsky.actor.profile",
        "displayName": "Alice 🌈",
        "description": "Builds things.",
        "avatar": blob("image/png", 50_000),
        "banner": blob("image/jpeg", 900_000),
        "createdAt": "2024-05-01T12:00:00.000Z"
    })
}

fn like() -> Value {
    json!({
        "$type": "app.bsky.feed.like",
        "subject": { "uri": POST_URI, "cid": RECORD_CID },
        "createdAt": "2024-05-01T12:00:00.000Z"
    })
}

fn follow() -> Value {
    json!({
        "$type": "app.bsky.graph.follow",
        "subject": DID,
        "createdAt": "2024-05-01T12:00:00.000Z"
    })
}

fn threadgate() -> Value {
    json!({
        "$type": "app.bsky.feed.threadgate",
        "post": POST_URI,
        "allow": [
            { "$type": "app.bsky.feed.threadgate#mentionRule" },
            { "$type": "app.bsky.feed.threadgate#listRule",
              "list": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.graph.list/3jzfcijpj2z2a" },
            // An open union takes types it doesn't list (a newer schema's rule).
            { "$type": "app.bsky.feed.threadgate#someFutureRule", "x": 1 }
        ],
        "hiddenReplies": [POST_URI],
        "createdAt": "2024-05-01T12:00:00.000Z"
    })
}

fn check(collection: &str, rkey: &str, record: Value) -> Result<(), ValidationError> {
    Catalog::official().validate_record(collection, rkey, &ipld(record))
}

/// Asserts a validation error's message, printing it.
fn expect_err(res: Result<(), ValidationError>, contains: &str) -> String {
    let e = res.expect_err("should be refused");
    let msg = e.to_string();
    println!("  refused: {msg}");
    assert!(
        msg.contains(contains),
        "{msg:?} should contain {contains:?}"
    );
    msg
}

#[test]
fn realistic_bsky_records_validate() {
    let records = [
        ("app.bsky.feed.post", TID, post()),
        ("app.bsky.feed.post", TID, reply_post()),
        ("app.bsky.actor.profile", "self", profile()),
        ("app.bsky.feed.like", TID, like()),
        ("app.bsky.graph.follow", TID, follow()),
        ("app.bsky.feed.threadgate", TID, threadgate()),
    ];
    let mut failures = Vec::new();
    for (collection, rkey, record) in &records {
        if let Err(e) = check(collection, rkey, record.clone()) {
            failures.push(format!("{collection}: {e}"));
        }
    }
    report("valid app.bsky records", records.len(), &failures);
}

#[test]
fn post_too_many_graphemes() {
    // 301 graphemes in 301 * 8 = 2408 bytes: within maxLength 3000, over maxGraphemes 300.
    let mut p = post();
    p["text"] = json!("👍🏽".repeat(301));
    p.as_object_mut().map(|m| m.remove("facets"));
    expect_err(
        check("app.bsky.feed.post", TID, p),
        "Record/text must not be longer than 300 graphemes",
    );
    // Exactly 300 is fine.
    let mut p = post();
    p["text"] = json!("👍🏽".repeat(300));
    check("app.bsky.feed.post", TID, p).expect("300 graphemes");
}

#[test]
fn post_error_paths_name_the_field() {
    let mut p = post();
    p["embed"]["images"][0]["alt"] = json!(7);
    let msg = expect_err(check("app.bsky.feed.post", TID, p), "");
    assert_eq!(msg, "Record/embed/images/0/alt must be a string");

    let mut p = post();
    p["facets"][0]["features"][0]["did"] = json!("not-a-did");
    expect_err(
        check("app.bsky.feed.post", TID, p),
        "Record/facets/0/features/0/did must be a valid did",
    );

    let mut p = post();
    p["langs"] = json!(["en", "fr", "de", "ja"]);
    expect_err(
        check("app.bsky.feed.post", TID, p),
        "Record/langs must not have more than 3 elements",
    );

    let mut p = post();
    p["facets"][1]["features"][0] = json!({ "uri": "https://example.com" });
    expect_err(
        check("app.bsky.feed.post", TID, p),
        "Record/facets/1/features/0 must be an object which includes the \"$type\" property",
    );

    let mut p = post();
    p["embed"]["images"][0]["image"] = blob("image/jpeg", 2_000_001);
    expect_err(
        check("app.bsky.feed.post", TID, p),
        "Record/embed/images/0/image is 2000001 bytes",
    );
}

#[test]
fn profile_wrong_blob_mime() {
    let mut p = profile();
    p["avatar"] = blob("image/gif", 1000);
    expect_err(
        check("app.bsky.actor.profile", "self", p),
        "Record/avatar has MIME type \"image/gif\"",
    );
    // A malformed blob (no `ref`) never gets past the data layer, so build the value by
    // hand: the schema refuses it on its own.
    let Ipld::Map(mut p) = ipld(profile()) else {
        panic!("profile is a map")
    };
    let mut avatar = std::collections::BTreeMap::new();
    avatar.insert("$type".to_owned(), Ipld::String("blob".into()));
    avatar.insert("mimeType".to_owned(), Ipld::String("image/png".into()));
    avatar.insert("size".to_owned(), Ipld::Integer(3));
    p.insert("avatar".to_owned(), Ipld::Map(avatar));
    expect_err(
        Catalog::official().validate_record("app.bsky.actor.profile", "self", &Ipld::Map(p)),
        "Record/avatar must be a blob ref",
    );
    // Legacy `{cid, mimeType}` blobs, still found in old records, are accepted.
    let mut p = profile();
    p["avatar"] = json!({ "cid": BLOB_CID, "mimeType": "image/jpeg" });
    check("app.bsky.actor.profile", "self", p).expect("legacy blob");
    // The profile key is literal:self.
    expect_err(
        check("app.bsky.actor.profile", TID, profile()),
        "invalid record key",
    );
}

#[test]
fn like_missing_created_at() {
    let mut l = like();
    l.as_object_mut().map(|m| m.remove("createdAt"));
    expect_err(
        check("app.bsky.feed.like", TID, l),
        "Record must have the property \"createdAt\"",
    );
    let mut l = like();
    l["subject"]["cid"] = json!("bafyfoo");
    expect_err(
        check("app.bsky.feed.like", TID, l),
        "Record/subject/cid must be a valid cid",
    );
    // Likes are keyed by TID.
    expect_err(check("app.bsky.feed.like", "self", like()), "must be a TID");
}

#[test]
fn follow_bad_datetime() {
    for bad in [
        "2024-05-01",
        "2024-05-01T12:00:00",
        "2024-02-30T12:00:00Z",
        "yesterday",
    ] {
        let mut f = follow();
        f["createdAt"] = json!(bad);
        expect_err(
            check("app.bsky.graph.follow", TID, f),
            "Record/createdAt must be a valid datetime",
        );
    }
    let mut f = follow();
    f["subject"] = json!("alice.bsky.social");
    expect_err(
        check("app.bsky.graph.follow", TID, f),
        "Record/subject must be a valid did",
    );
}

#[test]
fn threadgate_union_members() {
    let mut t = threadgate();
    t["allow"][1] = json!({ "$type": "app.bsky.feed.threadgate#listRule" });
    expect_err(
        check("app.bsky.feed.threadgate", TID, t),
        "Record/allow/1 must have the property \"list\"",
    );
    let mut t = threadgate();
    t["allow"][0] = json!({ "$type": "app.bsky.feed.threadgate#mentionRule#main" });
    assert!(check("app.bsky.feed.threadgate", TID, t).is_err());
    let mut t = threadgate();
    t["allow"][0] = json!({ "$type": "app.bsky.feed.threadgate#followerRule" });
    check("app.bsky.feed.threadgate", TID, t).expect("follower rule");
    // Open-union members of unknown types must still be valid data.
    let mut t = threadgate();
    t["allow"][2] = json!({ "$type": "app.bsky.feed.threadgate#future", "x": { "$type": "blob" } });
    assert!(from_json(&t).is_err());
}

#[test]
fn closed_union_violation() {
    let catalog = Catalog::official();
    let good = ipld(json!({
        "repo": DID,
        "writes": [
            { "$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.like", "value": like() },
            { "$type": "com.atproto.repo.applyWrites#delete", "collection": "app.bsky.feed.like", "rkey": TID }
        ]
    }));
    catalog
        .validate_input("com.atproto.repo.applyWrites", &good)
        .expect("valid writes");
    let bad = ipld(json!({
        "repo": DID,
        "writes": [
            { "$type": "com.atproto.repo.applyWrites#upsert", "collection": "app.bsky.feed.like", "value": like() }
        ]
    }));
    expect_err(
        catalog.validate_input("com.atproto.repo.applyWrites", &bad),
        "Input/writes/0 $type must be one of #create, #update, #delete",
    );
}

#[test]
fn record_level_rules() {
    let catalog = Catalog::official();
    let r = catalog.validate_record(
        "com.example.unknown",
        TID,
        &ipld(json!({ "$type": "com.example.unknown" })),
    );
    assert!(
        matches!(r, Err(ValidationError::UnknownCollection(_))),
        "{r:?}"
    );
    let r = catalog.validate_record(
        "app.bsky.feed.defs",
        TID,
        &ipld(json!({ "$type": "app.bsky.feed.defs" })),
    );
    assert!(matches!(r, Err(ValidationError::NotARecord(_))), "{r:?}");
    let mut l = like();
    l["$type"] = json!("app.bsky.feed.post");
    expect_err(
        check("app.bsky.feed.like", TID, l),
        "Record/$type must be \"app.bsky.feed.like\"",
    );
    let mut l = like();
    l.as_object_mut().map(|m| m.remove("$type"));
    expect_err(
        check("app.bsky.feed.like", TID, l),
        "Record/$type must be a string",
    );
    // Fields the schema doesn't describe are allowed.
    let mut l = like();
    l["com.example.extra"] = json!({ "anything": [1, 2, 3] });
    check("app.bsky.feed.like", TID, l).expect("extra field");
    // A bad record key is refused whatever the rule.
    expect_err(
        check("app.bsky.feed.like", "a/b", like()),
        "invalid record key",
    );
}

#[test]
fn xrpc_params_and_bodies() {
    let catalog = Catalog::official();
    assert_eq!(
        catalog.method_kind("app.bsky.feed.getAuthorFeed"),
        Some(MethodKind::Query)
    );
    assert_eq!(
        catalog.method_kind("com.atproto.repo.applyWrites"),
        Some(MethodKind::Procedure)
    );
    assert_eq!(
        catalog.method_kind("com.atproto.sync.subscribeRepos"),
        Some(MethodKind::Subscription)
    );
    assert_eq!(catalog.method_kind("app.bsky.feed.post"), None);
    assert_eq!(catalog.method_kind("com.example.nothing"), None);

    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let nsid = "app.bsky.feed.getAuthorFeed";
    catalog
        .validate_params(
            nsid,
            &p(&[
                ("actor", "alice.bsky.social"),
                ("limit", "30"),
                ("includePins", "true"),
                ("unknownParam", "x"),
            ]),
        )
        .expect("valid params");
    expect_err(
        catalog.validate_params(nsid, &p(&[("limit", "30")])),
        "Params must have the property \"actor\"",
    );
    expect_err(
        catalog.validate_params(nsid, &p(&[("actor", DID), ("limit", "101")])),
        "Params/limit can not be greater than 100",
    );
    expect_err(
        catalog.validate_params(nsid, &p(&[("actor", DID), ("limit", "ten")])),
        "Params/limit must be an integer",
    );
    expect_err(
        catalog.validate_params(nsid, &p(&[("actor", DID), ("includePins", "yes")])),
        "Params/includePins must be a boolean",
    );
    expect_err(
        catalog.validate_params(nsid, &p(&[("actor", "not an identifier")])),
        "Params/actor must be a valid at-identifier",
    );
    expect_err(
        catalog.validate_params(nsid, &p(&[("actor", DID), ("actor", DID)])),
        "Params/actor must not be given more than once",
    );
    catalog
        .validate_params(
            "app.bsky.actor.getProfiles",
            &p(&[("actors", DID), ("actors", "bob.example.com")]),
        )
        .expect("array param");
    expect_err(
        catalog.validate_params(
            "app.bsky.actor.getProfiles",
            &p(&[("actors", DID), ("actors", "-")]),
        ),
        "Params/actors/1 must be a valid at-identifier",
    );

    let out =
        ipld(json!({ "did": "did:web:pds.example.com", "availableUserDomains": [".example.com"] }));
    catalog
        .validate_output("com.atproto.server.describeServer", &out)
        .expect("valid output");
    let out = ipld(json!({ "did": "did:web:pds.example.com" }));
    expect_err(
        catalog.validate_output("com.atproto.server.describeServer", &out),
        "Output must have the property \"availableUserDomains\"",
    );
    let r = catalog.validate_input("app.bsky.feed.getAuthorFeed", &ipld(json!({})));
    assert!(
        matches!(r, Err(ValidationError::WrongMethodKind { .. })),
        "{r:?}"
    );
    let r = catalog.validate_input("com.example.nothing", &ipld(json!({})));
    assert!(matches!(r, Err(ValidationError::UnknownMethod(_))), "{r:?}");

    let msg = ipld(
        json!({ "seq": 1, "did": DID, "time": "2024-05-01T12:00:00Z", "handle": "alice.bsky.social" }),
    );
    catalog
        .validate_message("com.atproto.sync.subscribeRepos", "#identity", &msg)
        .expect("identity message");
    let msg = ipld(json!({ "seq": 1, "did": DID }));
    expect_err(
        catalog.validate_message("com.atproto.sync.subscribeRepos", "#identity", &msg),
        "Message must have the property \"time\"",
    );
}

/// The "unknown wrong type" vectors also lack the required `integer`; with it added they
/// must still be refused, for the `unknown` field itself.
#[test]
fn unknown_field_rules() {
    let (catalog, _) = vector_catalog();
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases("record-data-invalid.json") {
        let name = name_of(&case);
        if !name.starts_with("unknown wrong type") {
            continue;
        }
        ran += 1;
        let mut case = case.clone();
        case["data"]["integer"] = json!(1);
        match record_case(&case) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok((collection, rkey, data)) => {
                match catalog.validate_record(&collection, &rkey, &data) {
                    Err(e)
                        if e.to_string()
                            .starts_with("Record/unknown must be an object") =>
                    {
                        println!("  {name}: {e}")
                    }
                    other => failures.push(format!("{name}: {other:?}")),
                }
            }
        }
    }
    report("unknown wrong type (with integer)", ran, &failures);
}

/// Documents that break one rule each, beyond the vectors.
#[test]
fn schema_rules() {
    let doc = |defs: Value| json!({ "lexicon": 1, "id": "com.example.test", "defs": defs });
    let record = |props: Value| {
        json!({ "main": { "type": "record", "key": "tid",
        "record": { "type": "object", "properties": props } } })
    };
    let bad: Vec<(&str, Value)> = vec![
        (
            "unknown field",
            record(json!({ "a": { "type": "string", "maxLenght": 5 } })),
        ),
        (
            "unknown format",
            record(json!({ "a": { "type": "string", "format": "email" } })),
        ),
        ("unknown type", record(json!({ "a": { "type": "float" } }))),
        (
            "float constraint",
            record(json!({ "a": { "type": "integer", "maximum": 1.5 } })),
        ),
        (
            "negative length",
            record(json!({ "a": { "type": "string", "maxLength": -1 } })),
        ),
        (
            "min over max",
            record(
                json!({ "a": { "type": "array", "items": { "type": "integer" }, "minLength": 3, "maxLength": 2 } }),
            ),
        ),
        (
            "const and default",
            record(json!({ "a": { "type": "string", "const": "x", "default": "x" } })),
        ),
        (
            "empty closed union",
            record(json!({ "a": { "type": "union", "refs": [], "closed": true } })),
        ),
        (
            "bad ref",
            record(json!({ "a": { "type": "ref", "ref": "not a ref" } })),
        ),
        (
            "bare * accept",
            record(json!({ "a": { "type": "blob", "accept": ["*"] } })),
        ),
        (
            "partial glob accept",
            record(json!({ "a": { "type": "blob", "accept": ["text/ht*"] } })),
        ),
        (
            "token as field",
            record(json!({ "a": { "type": "token" } })),
        ),
        (
            "query as field",
            record(json!({ "a": { "type": "query" } })),
        ),
        ("no defs", json!({})),
        (
            "non-main record",
            json!({ "other": { "type": "record", "key": "tid",
            "record": { "type": "object", "properties": {} } } }),
        ),
        (
            "two primaries",
            json!({ "main": { "type": "token" }, "x": { "type": "query" } }),
        ),
        (
            "defined union",
            json!({ "u": { "type": "union", "refs": [] } }),
        ),
        (
            "required undefined",
            json!({ "o": { "type": "object", "required": ["b"], "properties": {} } }),
        ),
        (
            "nullable undefined",
            json!({ "o": { "type": "object", "nullable": ["b"], "properties": {} } }),
        ),
        (
            "bad record key type",
            json!({ "main": { "type": "record", "key": "uuid",
            "record": { "type": "object", "properties": {} } } }),
        ),
        (
            "bad literal key",
            json!({ "main": { "type": "record", "key": "literal:..",
            "record": { "type": "object", "properties": {} } } }),
        ),
        (
            "record not an object",
            json!({ "main": { "type": "record", "key": "any",
            "record": { "type": "array", "items": { "type": "integer" } } } }),
        ),
        (
            "object param",
            json!({ "main": { "type": "query",
            "parameters": { "type": "params", "properties": { "p": { "type": "object", "properties": {} } } } } }),
        ),
        (
            "unknown param",
            json!({ "main": { "type": "query",
            "parameters": { "type": "params", "properties": { "p": { "type": "unknown" } } } } }),
        ),
        (
            "input on a query",
            json!({ "main": { "type": "query",
            "input": { "encoding": "application/json" } } }),
        ),
        (
            "body schema string",
            json!({ "main": { "type": "procedure",
            "input": { "encoding": "application/json", "schema": { "type": "string" } } } }),
        ),
        (
            "object message",
            json!({ "main": { "type": "subscription",
            "message": { "schema": { "type": "object", "properties": {} } } } }),
        ),
        (
            "rpc aud did",
            json!({ "main": { "type": "permission-set", "permissions": [
            { "type": "permission", "resource": "rpc", "lxm": ["com.example.x"], "aud": "did:web:example.com" } ] } }),
        ),
        (
            "rpc no aud",
            json!({ "main": { "type": "permission-set", "permissions": [
            { "type": "permission", "resource": "rpc", "lxm": ["com.example.x"] } ] } }),
        ),
        (
            "repo wildcard",
            json!({ "main": { "type": "permission-set", "permissions": [
            { "type": "permission", "resource": "repo", "collection": ["*"] } ] } }),
        ),
        (
            "repo bad action",
            json!({ "main": { "type": "permission-set", "permissions": [
            { "type": "permission", "resource": "repo", "collection": ["com.example.x"], "action": ["read"] } ] } }),
        ),
        (
            "bad title:lang",
            json!({ "main": { "type": "permission-set", "title:lang": { "not a tag": "x" },
            "permissions": [] } }),
        ),
    ];
    let mut failures = Vec::new();
    for (name, defs) in &bad {
        match Catalog::new().add(&doc(defs.clone())) {
            Ok(()) => failures.push(format!("{name}: accepted")),
            Err(e) => println!("  {name}: {e}"),
        }
    }
    let good: Vec<(&str, Value)> = vec![
        (
            "empty open union",
            record(json!({ "a": { "type": "union", "refs": [] } })),
        ),
        (
            "inline object and nested array",
            record(json!({ "a": { "type": "array",
            "items": { "type": "object", "properties": { "b": { "type": "array", "items": { "type": "bytes" } } } } } })),
        ),
        (
            "unknown resource",
            json!({ "main": { "type": "permission-set", "permissions": [
            { "type": "permission", "resource": "future", "anything": [1] } ] } }),
        ),
        (
            "$type of a schema record",
            json!({ "main": { "type": "token" } }),
        ),
    ];
    for (name, defs) in &good {
        let mut json = doc(defs.clone());
        if *name == "$type of a schema record" {
            json["$type"] = json!("com.atproto.lexicon.schema");
        }
        if let Err(e) = Catalog::new().add(&json) {
            failures.push(format!("{name}: refused: {e}"));
        }
    }
    report("schema rules", bad.len() + good.len(), &failures);
}

#[test]
fn references_are_checked_across_the_catalog() {
    let mut catalog = Catalog::new();
    catalog
        .add(&json!({ "lexicon": 1, "id": "com.example.a", "defs": {
            "main": { "type": "object", "properties": { "b": { "type": "ref", "ref": "com.example.b#thing" } } } } }))
        .expect("loads before its target");
    assert!(matches!(
        catalog.check_refs(),
        Err(LexiconError::BadReference { .. })
    ));
    // Validating through the missing ref is an error, not a panic.
    let r = catalog.validate_value("com.example.a", &ipld(json!({ "b": {} })));
    assert!(r.is_err(), "{r:?}");
    catalog
        .add(&json!({ "lexicon": 1, "id": "com.example.b", "defs": { "thing": { "type": "token" } } }))
        .expect("loads");
    let e = catalog.check_refs().expect_err("a ref to a token");
    println!("  {e}");
    let mut catalog = Catalog::new();
    catalog
        .add(&json!({ "lexicon": 1, "id": "com.example.c", "defs": {
            "main": { "type": "object", "properties": { "u": { "type": "union", "refs": ["#s"] } } },
            "s": { "type": "string" } } }))
        .expect("loads");
    let e = catalog
        .check_refs()
        .expect_err("a union member that is not an object");
    println!("  {e}");
}

#[test]
fn nullable_and_refs_to_records() {
    let mut catalog = Catalog::with_official();
    catalog
        .add(&json!({ "lexicon": 1, "id": "com.example.wrap", "defs": {
            "main": { "type": "record", "key": "any", "record": { "type": "object",
                "required": ["n"], "nullable": ["n"],
                "properties": {
                    "n": { "type": "string" },
                    "post": { "type": "ref", "ref": "app.bsky.feed.post" }
                } } } } }))
        .expect("loads");
    let ok = ipld(json!({ "$type": "com.example.wrap", "n": null, "post": post() }));
    catalog
        .validate_record("com.example.wrap", "k", &ok)
        .expect("nullable null, ref to record");
    let mut p = post();
    p.as_object_mut().map(|m| m.remove("$type"));
    let bad = ipld(json!({ "$type": "com.example.wrap", "n": "x", "post": p }));
    expect_err(
        catalog.validate_record("com.example.wrap", "k", &bad),
        "Record/post must be an object which includes the \"$type\" property",
    );
    let missing = ipld(json!({ "$type": "com.example.wrap" }));
    expect_err(
        catalog.validate_record("com.example.wrap", "k", &missing),
        "Record must have the property \"n\"",
    );
}
