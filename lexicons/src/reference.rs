//! What counts as a reference into a members-only space. A public record holding one (a reply,
//! a quote, a like, a link to private content) would leak the space's identifiers and thread
//! structure: the PDS refuses to write such a record and the AppView refuses to index it.

use atproto::data::Ipld;

/// What every space URI (`at://{authority}/space/social.hearth.space/{skey}[/...]`) contains.
pub const MARKER: &str = "/space/social.hearth.space/";

/// Whether a string is an at:// URI pointing into a space (of any authority).
pub fn is_space_reference(s: &str) -> bool {
    s.starts_with("at://") && s.contains(MARKER)
}

/// Whether any string anywhere in a record is a space URI.
pub fn references_space(value: &Ipld) -> bool {
    match value {
        Ipld::String(s) => is_space_reference(s),
        Ipld::List(items) => items.iter().any(references_space),
        Ipld::Map(map) => map.values().any(references_space),
        _ => false,
    }
}

/// [`references_space`] for a record with its DAG-CBOR bytes. Strings are stored in DAG-CBOR
/// as plain UTF-8, so a record whose bytes do not contain [`MARKER`] holds no space URI: the
/// common case costs one substring search instead of a walk over the decoded record.
pub fn record_references_space(bytes: &[u8], value: &Ipld) -> bool {
    memchr::memmem::find(bytes, MARKER.as_bytes()).is_some() && references_space(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nsid::{POST, SPACE};

    const AUTH: &str = "did:web:localhost%3A2584";
    const SKEY: &str = "3lbsk3yqzaz2a";
    const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

    #[test]
    fn the_marker_is_the_space_path() {
        assert_eq!(MARKER, format!("/space/{SPACE}/"));
    }

    #[test]
    fn records_referencing_spaces_are_found_through_their_bytes() {
        use atproto::data::cbor;
        let space =
            format!("at://{AUTH}/space/social.hearth.space/{SKEY}/{ALICE}/{POST}/3lbsk4aaaaa2a");
        let quoting = serde_json::json!({
            "$type": "app.bsky.feed.post", "text": "see", "createdAt": "2026-11-27T00:00:00Z",
            "embed": { "$type": "app.bsky.embed.record", "record": { "uri": space, "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm" } }
        });
        // The marker in text that is not a URI is no reference; a plain post is none either.
        let mentioning = serde_json::json!({
            "$type": "app.bsky.feed.post", "createdAt": "2026-11-27T00:00:00Z",
            "text": format!("our URIs look like {MARKER}"),
        });
        let plain = serde_json::json!({
            "$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2026-11-27T00:00:00Z",
        });
        for (value, expected) in [(quoting, true), (mentioning, false), (plain, false)] {
            let record = atproto::data::json::record_from_json(&value).expect("record");
            let bytes = cbor::encode(&record).expect("encode");
            assert_eq!(
                record_references_space(&bytes, &record),
                expected,
                "{value}"
            );
            assert_eq!(references_space(&record), expected, "{value}");
        }
    }

    #[test]
    fn finds_references_anywhere_in_a_record() {
        let uri = format!("at://{AUTH}/space/social.hearth.space/{SKEY}");
        let record = atproto::data::json::from_json(&serde_json::json!({
            "$type": "app.bsky.feed.post",
            "text": "hello",
            "reply": { "root": { "uri": uri, "cid": "bafyreib2rxk3rybk3aobmv5cjuql3bm2twh4jo5uxgf5uz3lmt2i5fwtcq" } }
        }))
        .expect("data");
        assert!(references_space(&record));
        let listed = atproto::data::json::from_json(&serde_json::json!({
            "$type": "app.bsky.graph.list", "items": ["x", uri],
        }))
        .expect("data");
        assert!(references_space(&listed), "inside a list");
        let public = atproto::data::json::from_json(&serde_json::json!({
            "$type": "app.bsky.feed.post",
            "text": "the words /space/social.hearth.space/ in text are not a URI",
        }))
        .expect("data");
        assert!(!references_space(&public));
    }
}
