//! Space addressing, in the form of the atproto permissioned-data proposal (0016), so that the
//! identifiers survive a later move of the records into per-member permissioned repos:
//!
//! ```text
//! space:  at://{authority}/space/social.hearth.space/{skey}
//! record: at://{authority}/space/social.hearth.space/{skey}/{authorDid}/{collection}/{rkey}
//! ```
//!
//! These have more path segments than the restricted `at-uri` lexicon format allows, which is
//! why the social.hearth lexicons type them as `uri` and this module parses them strictly.

use atproto::data::Ipld;
use atproto::syntax::{Did, tid};
use std::fmt;
use std::str::FromStr;

/// The NSID in every space URI.
pub const SPACE_NSID: &str = "social.hearth.space";
pub const CHANNEL_NSID: &str = "social.hearth.channel";
pub const POST_NSID: &str = "social.hearth.post";
/// What every space URI contains: the test for "this points into a space".
pub const MARKER: &str = "/space/social.hearth.space/";

/// The collections a space holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Channel,
    Post,
}

impl Collection {
    pub fn nsid(self) -> &'static str {
        match self {
            Collection::Channel => CHANNEL_NSID,
            Collection::Post => POST_NSID,
        }
    }
}

/// A record inside a space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPath {
    pub author: String,
    pub collection: Collection,
    pub rkey: String,
}

/// A space, or a record in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceUri {
    pub authority: String,
    pub skey: String,
    pub record: Option<RecordPath>,
}

/// Why a string is not a space URI. Messages name the rule, never the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a space URI: {0}")]
pub struct UriError(&'static str);

impl SpaceUri {
    pub fn space(authority: &str, skey: &str) -> SpaceUri {
        SpaceUri {
            authority: authority.to_owned(),
            skey: skey.to_owned(),
            record: None,
        }
    }

    pub fn record(
        authority: &str,
        skey: &str,
        author: &str,
        collection: Collection,
        rkey: &str,
    ) -> SpaceUri {
        SpaceUri {
            authority: authority.to_owned(),
            skey: skey.to_owned(),
            record: Some(RecordPath {
                author: author.to_owned(),
                collection,
                rkey: rkey.to_owned(),
            }),
        }
    }

    /// The URI of the space this URI is in (itself, for a space URI).
    pub fn space_uri(&self) -> SpaceUri {
        SpaceUri::space(&self.authority, &self.skey)
    }

    /// The record path if this names a record of `collection`.
    pub fn as_collection(&self, collection: Collection) -> Option<&RecordPath> {
        self.record.as_ref().filter(|r| r.collection == collection)
    }
}

impl FromStr for SpaceUri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<SpaceUri, UriError> {
        if s.len() > 8192 {
            return Err(UriError("too long"));
        }
        let rest = s
            .strip_prefix("at://")
            .ok_or(UriError("must start with at://"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != 4 && parts.len() != 7 {
            return Err(UriError(
                "expected at://{authority}/space/social.hearth.space/{skey}[/{did}/{collection}/{rkey}]",
            ));
        }
        let authority = parts[0];
        Did::from_str(authority).map_err(|_| UriError("authority must be a DID"))?;
        if parts[1] != "space" || parts[2] != SPACE_NSID {
            return Err(UriError("path must start with /space/social.hearth.space/"));
        }
        tid::validate(parts[3]).map_err(|_| UriError("space key must be a TID"))?;
        let record = if parts.len() == 7 {
            Did::from_str(parts[4]).map_err(|_| UriError("record author must be a DID"))?;
            let collection = match parts[5] {
                CHANNEL_NSID => Collection::Channel,
                POST_NSID => Collection::Post,
                _ => return Err(UriError("collection must be a channel or a post")),
            };
            tid::validate(parts[6]).map_err(|_| UriError("record key must be a TID"))?;
            Some(RecordPath {
                author: parts[4].to_owned(),
                collection,
                rkey: parts[6].to_owned(),
            })
        } else {
            None
        };
        Ok(SpaceUri {
            authority: authority.to_owned(),
            skey: parts[3].to_owned(),
            record,
        })
    }
}

impl fmt::Display for SpaceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at://{}/space/{SPACE_NSID}/{}",
            self.authority, self.skey
        )?;
        if let Some(r) = &self.record {
            write!(f, "/{}/{}/{}", r.author, r.collection.nsid(), r.rkey)?;
        }
        Ok(())
    }
}

/// Whether a string is an at:// URI pointing into a space (of any authority).
pub fn is_space_reference(s: &str) -> bool {
    s.starts_with("at://") && s.contains(MARKER)
}

/// Whether any string anywhere in a record is a space URI: such a public record (a reply, a
/// quote, a like, a link to private content) must not cross into the public index.
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

    const AUTH: &str = "did:web:localhost%3A2584";
    const SKEY: &str = "3lbsk3yqzaz2a";
    const ALICE: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

    #[test]
    fn round_trips() {
        let space = format!("at://{AUTH}/space/social.hearth.space/{SKEY}");
        let parsed: SpaceUri = space.parse().expect("space");
        assert_eq!(parsed, SpaceUri::space(AUTH, SKEY));
        assert_eq!(parsed.to_string(), space);
        for (coll, c) in [
            (CHANNEL_NSID, Collection::Channel),
            (POST_NSID, Collection::Post),
        ] {
            let uri = format!("{space}/{ALICE}/{coll}/3lbsk4aaaaa2a");
            let parsed: SpaceUri = uri.parse().expect("record");
            assert_eq!(parsed.to_string(), uri);
            assert_eq!(parsed.space_uri(), SpaceUri::space(AUTH, SKEY));
            assert!(parsed.as_collection(c).is_some());
            assert_eq!(
                parsed,
                SpaceUri::record(AUTH, SKEY, ALICE, c, "3lbsk4aaaaa2a")
            );
        }
    }

    #[test]
    fn records_referencing_spaces_are_found_through_their_bytes() {
        use atproto::data::cbor;
        let space = format!(
            "at://{AUTH}/space/social.hearth.space/{SKEY}/{ALICE}/{POST_NSID}/3lbsk4aaaaa2a"
        );
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
    fn refuses_everything_else() {
        let space = format!("at://{AUTH}/space/social.hearth.space/{SKEY}");
        for bad in [
            String::new(),
            "https://example.com".into(),
            format!("at://{AUTH}/app.bsky.feed.post/{SKEY}"),
            format!("at://{AUTH}/space/social.hearth.space"),
            format!("at://{AUTH}/space/social.hearth.space/{SKEY}/"),
            format!("at://{AUTH}/space/other.space/{SKEY}"),
            format!("at://{AUTH}/spaces/social.hearth.space/{SKEY}"),
            format!("at://alice.test/space/social.hearth.space/{SKEY}"),
            format!("at://{AUTH}/space/social.hearth.space/not-a-tid"),
            format!("{space}/{ALICE}/social.hearth.post"),
            format!("{space}/{ALICE}/app.bsky.feed.post/{SKEY}"),
            format!("{space}/alice.test/social.hearth.post/{SKEY}"),
            format!("{space}/{ALICE}/social.hearth.post/x"),
            format!("{space}/{ALICE}/social.hearth.post/{SKEY}/extra"),
            format!("AT://{AUTH}/space/social.hearth.space/{SKEY}"),
        ] {
            assert!(bad.parse::<SpaceUri>().is_err(), "accepted {bad:?}");
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
        let public = atproto::data::json::from_json(&serde_json::json!({
            "$type": "app.bsky.feed.post",
            "text": "the words /space/social.hearth.space/ in text are not a URI",
        }))
        .expect("data");
        assert!(!references_space(&public));
    }
}
