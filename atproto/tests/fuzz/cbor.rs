//! DAG-CBOR and binary/string CIDs.

use crate::meter::{bounded, measure};
use crate::strategy;
use atproto::data::{
    Cid, DataError, Ipld, MAX_DEPTH, cbor, cid_for_cbor, cid_from_bytes, cid_from_str, parse_cid,
};
use proptest::prelude::*;

/// Decodes hostile bytes within the bounds; whatever decodes is the canonical encoding of
/// what it decodes to.
fn decode_checked(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = bounded(bytes.len(), || cbor::decode(bytes)) {
        let again = cbor::encode(&v).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            &again[..],
            bytes,
            "decoding accepted a non-canonical encoding of {:?}",
            v
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn decode_survives_arbitrary_bytes(bytes in strategy::bytes(512)) {
        decode_checked(&bytes)?;
        let _ = bounded(bytes.len(), || cbor::decode_record(&bytes));
    }

    #[test]
    fn decode_survives_edited_encodings(v in strategy::ipld(), edits in strategy::edits()) {
        let bytes = strategy::apply(&cbor::encode(&v).expect("encode"), &edits);
        decode_checked(&bytes)?;
    }

    #[test]
    fn encode_then_decode_is_identity(v in strategy::ipld()) {
        let bytes = cbor::encode(&v).expect("encode");
        prop_assert_eq!(cbor::decode(&bytes).expect("decode"), v.clone());
        // The walker that splits firehose frames agrees with the decoder on where a value ends.
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        prop_assert_eq!(cbor::item_end(&two, 0), Ok(bytes.len()));
        if matches!(v, Ipld::Map(_)) && atproto::data::validate::record(&v).is_ok() {
            prop_assert_eq!(cbor::decode_record(&bytes).expect("record"), v);
        }
    }

    #[test]
    fn binary_cids_decode_exactly(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(cid) = bounded(bytes.len(), || cid_from_bytes(&bytes)) {
            prop_assert_eq!(cid.to_bytes(), bytes);
        }
    }

    #[test]
    fn cids_with_extra_bytes_are_refused(
        seed in proptest::collection::vec(any::<u8>(), 0..16),
        extra in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let cid = cid_for_cbor(&seed);
        let mut bytes = cid.to_bytes();
        prop_assert_eq!(cid_from_bytes(&bytes), Ok(cid));
        bytes.extend_from_slice(&extra);
        prop_assert!(cid_from_bytes(&bytes).is_err());
        let text = multibase::encode(multibase::Base::Base32Lower, &bytes);
        prop_assert!(parse_cid(&text).is_err(), "{}", text);
        // The same CID inside a DAG-CBOR block, with the extra bytes inside the tag.
        let mut block = vec![0xd8, 0x2a, 0x58, (bytes.len() + 1) as u8, 0];
        block.extend_from_slice(&bytes);
        prop_assert!(cbor::decode(&block).is_err());
    }

    #[test]
    fn cid_strings_parse_only_in_one_spelling(s in "b[a-z2-7]{0,70}") {
        if let Ok(cid) = bounded(s.len(), || parse_cid(&s)) {
            prop_assert_eq!(cid.to_string(), s);
        }
    }

    #[test]
    fn cid_strings_survive_anything(s in "\\PC{0,100}") {
        let _ = bounded(s.len(), || cid_from_str(&s));
        let _ = bounded(s.len(), || atproto::syntax::validate_cid_string(&s));
    }
}

/// Arrays nested a hundred deep, each claiming 2^64 - 1 elements: the decoder would reserve a
/// megabyte per level before finding the input ends.
#[test]
fn overclaimed_nested_arrays_reserve_nothing() {
    for head in [
        &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        &[0x9a, 0xff, 0xff, 0xff, 0xff],
    ] {
        let bytes = head.repeat(100);
        let (result, usage) = measure(|| cbor::decode(&bytes));
        assert!(matches!(result, Err(DataError::Cbor(_))), "{result:?}");
        assert!(
            usage.peak < 64 * 1024,
            "{} bytes live to refuse {} bytes",
            usage.peak,
            bytes.len()
        );
    }
}

#[test]
fn deep_nesting_is_refused_without_recursing_through_it() {
    for unit in [&[0x81][..], &[0xa1, 0x60], &[0xd8, 0x2a]] {
        let bytes = unit.repeat(100_000);
        assert_eq!(cbor::decode(&bytes), Err(DataError::TooDeep), "{unit:x?}");
    }
    // Deep but ordinary nesting still decodes. (The decoder's own limit, two steps per level
    // out of 256, stops just short of MAX_DEPTH.)
    let mut v = Ipld::Null;
    for _ in 0..MAX_DEPTH - 8 {
        v = Ipld::List(vec![v]);
    }
    let bytes = cbor::encode(&v).expect("encode");
    assert_eq!(cbor::decode(&bytes), Ok(v));
}

#[test]
fn cid_strings_must_be_the_cid_alone() {
    let cid: Cid = cid_for_cbor(b"x");
    let s = cid.to_string();
    assert_eq!(parse_cid(&s), Ok(cid));
    for bad in [
        format!("/ipfs/{s}"),
        format!("junk/ipfs/{s}"),
        format!("{s}aa"),
    ] {
        assert!(parse_cid(&bad).is_err(), "{bad}");
    }
}
