//! AT-URIs in the restricted form that Lexicon `at-uri` fields use, per
//! <https://atproto.com/specs/at-uri-scheme>:
//!
//! ```text
//! at://<authority>[/<collection>[/<rkey>]]
//! ```
//!
//! `authority` is a DID or a handle, `collection` an NSID, `rkey` a record
//! key. No query, no fragment, no trailing slash, no empty or extra path
//! segments, lowercase `at://`, at most 8 KiB in total.

use super::{
    AtIdentifier, Did, Nsid, RecordKey, SyntaxError, SyntaxKind, atidentifier, err, nsid,
    recordkey, string_newtype,
};

/// Maximum total length of an AT-URI.
pub const MAX_AT_URI_LEN: usize = 8 * 1024;

const SCHEME: &str = "at://";

/// A syntactically valid AT-URI, such as
/// `at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AtUri(String);

string_newtype!(AtUri, validate, "an AT-URI string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::AtUri, reason)
}

/// Splits the text after `at://` into its (up to) three parts, without
/// checking them. Returns `None` if there are more than three parts.
fn split(rest: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let mut parts = rest.splitn(4, '/');
    let authority = parts.next().unwrap_or("");
    let collection = parts.next();
    let rkey = parts.next();
    if parts.next().is_some() {
        return None;
    }
    Some((authority, collection, rkey))
}

/// Checks `s` against the restricted AT-URI syntax without allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    if s.len() > MAX_AT_URI_LEN {
        return Err(e("longer than 8192 characters"));
    }
    let Some(rest) = s.strip_prefix(SCHEME) else {
        return Err(e("must start with \"at://\""));
    };
    let Some((authority, collection, rkey)) = split(rest) else {
        return Err(e("too many path segments (at most /collection/rkey)"));
    };
    validate_parts(authority, collection, rkey)
}

fn validate_parts(
    authority: &str,
    collection: Option<&str>,
    rkey: Option<&str>,
) -> Result<(), SyntaxError> {
    if collection == Some("") || rkey == Some("") {
        return Err(e("empty path segment (trailing or doubled '/')"));
    }
    atidentifier::validate(authority).map_err(|_| e("authority is neither a DID nor a handle"))?;
    if let Some(c) = collection {
        nsid::validate(c).map_err(|_| e("collection is not a valid NSID"))?;
    }
    if let Some(r) = rkey {
        if collection.is_none() {
            return Err(e("record key without a collection"));
        }
        recordkey::validate(r).map_err(|_| e("record key is not valid"))?;
    }
    Ok(())
}

impl AtUri {
    fn parts(&self) -> (&str, Option<&str>, Option<&str>) {
        let rest = self.0.get(SCHEME.len()..).unwrap_or("");
        split(rest).unwrap_or((rest, None, None))
    }

    /// Builds and validates `at://authority[/collection[/rkey]]`.
    pub fn from_parts(
        authority: &str,
        collection: Option<&str>,
        rkey: Option<&str>,
    ) -> Result<AtUri, SyntaxError> {
        validate_parts(authority, collection, rkey)?;
        let len = SCHEME.len()
            + authority.len()
            + collection.map_or(0, |c| c.len() + 1)
            + rkey.map_or(0, |r| r.len() + 1);
        if len > MAX_AT_URI_LEN {
            return Err(e("longer than 8192 characters"));
        }
        let mut s = String::with_capacity(len);
        s.push_str(SCHEME);
        s.push_str(authority);
        for part in [collection, rkey].into_iter().flatten() {
            s.push('/');
            s.push_str(part);
        }
        Ok(AtUri(s))
    }

    /// `at://did/collection/rkey` from already validated parts. Cannot fail:
    /// the longest possible result (2048 + 317 + 512 + 7) is under the limit.
    pub fn record(did: &Did, collection: &Nsid, rkey: &RecordKey) -> AtUri {
        let (d, c, r) = (did.as_str(), collection.as_str(), rkey.as_str());
        let mut s = String::with_capacity(SCHEME.len() + d.len() + c.len() + r.len() + 2);
        s.push_str(SCHEME);
        s.push_str(d);
        s.push('/');
        s.push_str(c);
        s.push('/');
        s.push_str(r);
        AtUri(s)
    }

    /// `at://did/collection` from already validated parts.
    pub fn collection_uri(did: &Did, collection: &Nsid) -> AtUri {
        AtUri(format!("{SCHEME}{did}/{collection}"))
    }

    /// The authority (DID or handle).
    pub fn authority(&self) -> AtIdentifier {
        AtIdentifier::new_unchecked(self.parts().0)
    }

    /// The authority as written.
    pub fn authority_str(&self) -> &str {
        self.parts().0
    }

    /// The authority, if it is a DID.
    pub fn did(&self) -> Option<Did> {
        let a = self.parts().0;
        a.starts_with("did:")
            .then(|| Did::new_unchecked(a.to_owned()))
    }

    /// The collection NSID, if the URI has a path.
    pub fn collection(&self) -> Option<Nsid> {
        self.parts().1.map(|c| Nsid::new_unchecked(c.to_owned()))
    }

    /// The collection as written, if any.
    pub fn collection_str(&self) -> Option<&str> {
        self.parts().1
    }

    /// The record key, if the URI names a record.
    pub fn rkey(&self) -> Option<RecordKey> {
        self.parts()
            .2
            .map(|r| RecordKey::new_unchecked(r.to_owned()))
    }

    /// The record key as written, if any.
    pub fn rkey_str(&self) -> Option<&str> {
        self.parts().2
    }

    /// The repository path `collection/rkey` (or `collection`), if any.
    pub fn path(&self) -> Option<&str> {
        let rest = self.0.get(SCHEME.len()..)?;
        rest.find('/').map(|i| &rest[i + 1..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let u: AtUri = "at://did:plc:asdf123/com.atproto.feed.post/3jzfcijpj2z2a"
            .parse()
            .unwrap();
        assert_eq!(u.authority().as_str(), "did:plc:asdf123");
        assert!(u.authority().is_did());
        assert_eq!(u.did().unwrap().as_str(), "did:plc:asdf123");
        assert_eq!(u.collection().unwrap().as_str(), "com.atproto.feed.post");
        assert_eq!(u.rkey().unwrap().as_str(), "3jzfcijpj2z2a");
        assert_eq!(u.path(), Some("com.atproto.feed.post/3jzfcijpj2z2a"));

        let h: AtUri = "at://Alice.Test".parse().unwrap();
        assert!(h.authority().is_handle());
        assert_eq!(h.did(), None);
        assert_eq!(h.collection(), None);
        assert_eq!(h.rkey(), None);
        assert_eq!(h.path(), None);

        let c: AtUri = "at://alice.test/app.bsky.feed.post".parse().unwrap();
        assert_eq!(c.collection_str(), Some("app.bsky.feed.post"));
        assert_eq!(c.rkey_str(), None);
    }

    #[test]
    fn constructors() {
        let did: Did = "did:plc:abc".parse().unwrap();
        let nsid: Nsid = "app.bsky.feed.post".parse().unwrap();
        let rkey: RecordKey = "self".parse().unwrap();
        let u = AtUri::record(&did, &nsid, &rkey);
        assert_eq!(u.as_str(), "at://did:plc:abc/app.bsky.feed.post/self");
        assert_eq!(u.as_str().parse::<AtUri>().unwrap(), u);
        assert_eq!(
            AtUri::from_parts("did:plc:abc", Some("app.bsky.feed.post"), Some("self")).unwrap(),
            u
        );
        assert_eq!(
            AtUri::collection_uri(&did, &nsid).as_str(),
            "at://did:plc:abc/app.bsky.feed.post"
        );
        assert_eq!(
            AtUri::from_parts("alice.test", None, None)
                .unwrap()
                .as_str(),
            "at://alice.test"
        );
        assert!(AtUri::from_parts("did:plc:abc", None, Some("self")).is_err());
        assert!(AtUri::from_parts("did:plc:abc", Some("nope"), None).is_err());
        assert!(AtUri::from_parts("did:plc:abc", Some("a.b.c"), Some("..")).is_err());
        assert!(AtUri::from_parts("nope", None, None).is_err());
        assert!(AtUri::from_parts("a.test/x.y.z", None, None).is_err());
    }

    #[test]
    fn serde_round_trip() {
        let u: AtUri = "at://did:plc:abc/app.bsky.feed.post/self".parse().unwrap();
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(serde_json::from_str::<AtUri>(&json).unwrap(), u);
        assert!(serde_json::from_str::<AtUri>("\"at://did:plc:abc/\"").is_err());
    }
}
