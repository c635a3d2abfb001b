//! Records, procedure inputs and query parameters checked against the official lexicons, and
//! the JSON form of data that clients send.

use crate::meter::bounded;
use crate::strategy;
use atproto::data::{Ipld, json};
use atproto::lexicon::Catalog;
use proptest::prelude::*;
use serde_json::json as j;

const COLLECTIONS: &[&str] = &[
    "app.bsky.feed.post",
    "app.bsky.feed.like",
    "app.bsky.feed.repost",
    "app.bsky.actor.profile",
    "app.bsky.graph.follow",
    "app.bsky.graph.list",
    "app.bsky.feed.generator",
    "app.bsky.feed.threadgate",
    "com.example.unknown",
];

const PROCEDURES: &[&str] = &[
    "com.atproto.repo.createRecord",
    "com.atproto.repo.applyWrites",
    "com.atproto.server.createSession",
    "com.atproto.server.createAccount",
    "app.bsky.feed.getTimeline",
];

/// A post that passes validation, to be edited.
fn post() -> serde_json::Value {
    j!({
        "$type": "app.bsky.feed.post",
        "text": "hello @alice.test",
        "createdAt": "2024-01-01T00:00:00.000Z",
        "langs": ["en"],
        "facets": [{
            "index": {"byteStart": 6, "byteEnd": 17},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz"}]
        }],
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [{
                "alt": "",
                "image": {
                    "$type": "blob",
                    "ref": {"$link": "bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"},
                    "mimeType": "image/png",
                    "size": 10
                },
                "aspectRatio": {"width": 1, "height": 1}
            }]
        }
    })
}

/// Replaces the value at a path of keys and indexes (wrapping around what is there) with `v`.
fn replace(target: &mut serde_json::Value, path: &[usize], v: serde_json::Value) {
    use serde_json::Value;
    let next = match (target, path.split_first()) {
        (Value::Object(m), Some((step, rest))) if !m.is_empty() => {
            let k = m.keys().nth(step % m.len()).cloned();
            k.and_then(|k| m.get_mut(&k)).map(|n| (n, rest))
        }
        (Value::Array(a), Some((step, rest))) if !a.is_empty() => {
            let len = a.len();
            a.get_mut(step % len).map(|n| (n, rest))
        }
        (target, _) => {
            *target = v;
            return;
        }
    };
    if let Some((n, rest)) = next {
        replace(n, rest, v);
    }
}

/// Checks a record as every collection. The catalog is loaded on first use, so callers fetch
/// it outside the measurement: the load is not the record's doing.
fn validate_all(catalog: &Catalog, record: &Ipld) {
    for c in COLLECTIONS {
        let _ = catalog.validate_record(c, "3jzfcijpj2z2a", record);
        let _ = catalog.validate_record(c, "self", record);
    }
}

proptest! {
    #[test]
    fn random_records_are_judged_safely(v in strategy::ipld()) {
        let size = atproto::data::cbor::encode(&v).map_or(0, |b| b.len());
        let catalog = Catalog::official();
        bounded(size, || validate_all(catalog, &v));
    }

    #[test]
    fn edited_posts_are_judged_safely(
        path in proptest::collection::vec(any::<usize>(), 0..6),
        v in strategy::json(),
    ) {
        let mut p = post();
        replace(&mut p, &path, v);
        let text = p.to_string();
        if let Ok(record) = bounded(text.len(), || json::record_from_json(&p)) {
            let catalog = Catalog::official();
            bounded(text.len(), || validate_all(catalog, &record));
            // The JSON form of a value converts back to the same value.
            prop_assert_eq!(json::from_json(&json::to_json(&record)).expect("again"), record);
        }
    }

    #[test]
    fn any_json_converts_safely(v in strategy::json()) {
        let text = v.to_string();
        if let Ok(value) = bounded(text.len(), || json::from_json(&v)) {
            prop_assert_eq!(json::from_json(&json::to_json(&value)).expect("again"), value);
        }
    }

    #[test]
    fn inputs_and_params_are_judged_safely(
        v in strategy::ipld(),
        params in proptest::collection::vec((strategy::key(), "\\PC{0,16}"), 0..6),
    ) {
        let catalog = Catalog::official();
        for nsid in PROCEDURES {
            let _ = catalog.validate_input(nsid, &v);
            let _ = catalog.validate_params(nsid, &params);
        }
    }
}

#[test]
fn the_fixture_post_is_valid() {
    let record = json::record_from_json(&post()).expect("json");
    Catalog::official()
        .validate_record("app.bsky.feed.post", "3jzfcijpj2z2a", &record)
        .expect("valid");
}
