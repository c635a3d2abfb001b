//! Identifier syntax: DIDs, handles, NSIDs, AT-URIs, TIDs, record keys, datetimes, languages.

use crate::meter::bounded;
use atproto::syntax::{
    AtIdentifier, AtUri, Datetime, Did, Handle, Language, Nsid, RecordKey, Tid, Uri, atidentifier,
    aturi, datetime, did, handle, language, nsid, recordkey, tid, uri,
};
use proptest::prelude::*;
use std::str::FromStr;

/// Strings from the characters identifiers are made of, plus the separators and a few
/// characters from outside ASCII, so that near-misses are common.
fn near() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9.:/#?@%_~+=-]{0,40}",
        "(at://)?(did:[a-z]{1,4}:[a-zA-Z0-9._:%-]{1,12}|[a-z0-9-]{1,8}(\\.[a-z0-9-]{1,8}){0,3})(/[a-zA-Z0-9.:_~-]{0,16}){0,3}",
        "[a-z0-9-]{0,12}(\\.[a-zA-Z0-9-]{0,12}){0,5}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}|)",
        "[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8}){0,4}",
        "[234567a-z]{11,15}",
        "\\PC{0,40}",
    ]
}

/// One syntax: its validator, and its type's parser and printer, which must agree.
fn check<T: FromStr + ToString>(
    s: &str,
    validate: fn(&str) -> Result<(), atproto::syntax::SyntaxError>,
) -> Result<(), TestCaseError> {
    let valid = bounded(s.len(), || validate(s)).is_ok();
    let parsed = bounded(s.len(), || s.parse::<T>());
    prop_assert_eq!(
        valid,
        parsed.is_ok(),
        "validator and parser disagree on {:?}",
        s
    );
    if let Ok(v) = parsed {
        prop_assert_eq!(v.to_string(), s);
    }
    Ok(())
}

proptest! {
    #[test]
    fn every_syntax_agrees_with_itself(s in near()) {
        check::<Did>(&s, did::validate)?;
        check::<Handle>(&s, handle::validate)?;
        check::<AtIdentifier>(&s, atidentifier::validate)?;
        check::<Nsid>(&s, nsid::validate)?;
        check::<AtUri>(&s, aturi::validate)?;
        check::<Tid>(&s, tid::validate)?;
        check::<RecordKey>(&s, recordkey::validate)?;
        check::<Datetime>(&s, datetime::validate)?;
        check::<Language>(&s, language::validate)?;
        check::<Uri>(&s, uri::validate)?;
        let _ = bounded(s.len(), || datetime::validate_syntax(&s));
        let _ = bounded(s.len(), || language::validate_syntax(&s));
    }

    #[test]
    fn accessors_never_panic(s in near()) {
        if let Ok(u) = s.parse::<AtUri>() {
            let _ = (u.authority(), u.did(), u.collection(), u.rkey(), u.path());
            if let (Some(c), Some(r)) = (u.collection_str(), u.rkey_str()) {
                prop_assert_eq!(AtUri::from_parts(u.authority_str(), Some(c), Some(r)), Ok(u.clone()));
            }
        }
        if let Ok(h) = s.parse::<Handle>() {
            let _ = (h.normalize(), h.tld(), h.allowed_tld(), h.is_invalid_handle());
        }
        if let Ok(n) = s.parse::<Nsid>() {
            let _ = (n.authority(), n.domain_part(), n.name(), n.normalize());
        }
        if let Ok(d) = s.parse::<Did>() {
            let _ = (d.method(), d.identifier());
        }
        if let Ok(t) = s.parse::<Tid>() {
            prop_assert_eq!(Tid::from_u64(t.as_u64()), t.clone());
            let _ = t.timestamp_micros();
        }
        if let Ok(d) = s.parse::<Datetime>() {
            let _ = d.timestamp_micros();
        }
        if let Ok(l) = s.parse::<Language>() {
            let _ = l.primary();
        }
    }

    #[test]
    fn tids_round_trip(v in 0u64..(1 << 63)) {
        let t = Tid::from_u64(v);
        prop_assert_eq!(t.as_u64(), v);
        prop_assert_eq!(t.as_str().parse::<Tid>(), Ok(t.clone()));
        prop_assert_eq!(RecordKey::from_tid(&t).to_string(), t.to_string());
    }

    #[test]
    fn built_at_uris_parse(
        authority in "did:plc:[a-z2-7]{24}|[a-z]{1,10}\\.(test|com)",
        collection in "[a-z]{1,8}\\.[a-z]{1,8}\\.[a-zA-Z]{1,8}",
        rkey in "[a-zA-Z0-9._:~-]{1,20}",
    ) {
        prop_assume!(rkey != "." && rkey != "..");
        let u = AtUri::from_parts(&authority, Some(&collection), Some(&rkey)).expect("valid parts");
        prop_assert_eq!(u.as_str().parse::<AtUri>(), Ok(u.clone()));
        prop_assert_eq!(u.collection_str(), Some(collection.as_str()));
        prop_assert_eq!(u.rkey_str(), Some(rkey.as_str()));
    }
}
