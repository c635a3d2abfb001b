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

use atproto::syntax::{Did, tid};
use std::fmt;
use std::str::FromStr;

use hearth_lexicons::{CHANNEL, POST, SPACE};

/// The collections a space holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Channel,
    Post,
}

impl Collection {
    pub fn nsid(self) -> &'static str {
        match self {
            Collection::Channel => CHANNEL,
            Collection::Post => POST,
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
        if parts[1] != "space" || parts[2] != SPACE {
            return Err(UriError("path must start with /space/social.hearth.space/"));
        }
        tid::validate(parts[3]).map_err(|_| UriError("space key must be a TID"))?;
        let record = if parts.len() == 7 {
            Did::from_str(parts[4]).map_err(|_| UriError("record author must be a DID"))?;
            let collection = match parts[5] {
                CHANNEL => Collection::Channel,
                POST => Collection::Post,
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
        write!(f, "at://{}/space/{SPACE}/{}", self.authority, self.skey)?;
        if let Some(r) = &self.record {
            write!(f, "/{}/{}/{}", r.author, r.collection.nsid(), r.rkey)?;
        }
        Ok(())
    }
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
        for (coll, c) in [(CHANNEL, Collection::Channel), (POST, Collection::Post)] {
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
}
