//! The interop data-model vectors: JSON ⇄ DAG-CBOR ⇄ CID, and the valid/invalid sets.

mod common;

use atproto::data::{cbor, cid_for_cbor, json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use common::{load_json, report};

#[test]
fn fixtures_round_trip_json_cbor_cid() {
    let cases = load_json("interop/data-model/data-model-fixtures.json");
    let mut failures = Vec::new();
    let cases = cases.as_array().expect("array");
    for (i, case) in cases.iter().enumerate() {
        let value = match json::from_json(&case["json"]) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("#{i}: from_json: {e}"));
                continue;
            }
        };
        let bytes = cbor::encode(&value).expect("encode");
        let want = case["cbor_base64"].as_str().expect("cbor_base64");
        if STANDARD_NO_PAD.encode(&bytes) != want {
            failures.push(format!("#{i}: CBOR differs"));
        }
        let cid = cid_for_cbor(&bytes).to_string();
        if cid != case["cid"].as_str().expect("cid") {
            failures.push(format!("#{i}: CID {cid}"));
        }
        let decoded = cbor::decode(&STANDARD_NO_PAD.decode(want).expect("b64")).expect("decode");
        if decoded != value {
            failures.push(format!("#{i}: decoded value differs"));
        }
        if json::to_json(&decoded) != case["json"] {
            failures.push(format!("#{i}: JSON round trip differs"));
        }
    }
    report("data-model fixtures", cases.len(), &failures);
}

#[test]
fn valid_records_are_accepted() {
    let cases = load_json("interop/data-model/data-model-valid.json");
    let cases = cases.as_array().expect("array");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            json::record_from_json(&c["json"])
                .err()
                .map(|e| format!("{}: rejected: {e}", c["note"]))
        })
        .collect();
    report("data-model valid", cases.len(), &failures);
}

#[test]
fn invalid_records_are_rejected() {
    let cases = load_json("interop/data-model/data-model-invalid.json");
    let cases = cases.as_array().expect("array");
    let failures: Vec<String> = cases
        .iter()
        .filter(|c| json::record_from_json(&c["json"]).is_ok())
        .map(|c| format!("{}: accepted", c["note"]))
        .collect();
    report("data-model invalid", cases.len(), &failures);
}

#[test]
fn cbor_decoding_refuses_hostile_input() {
    // Truncated map, trailing bytes, a tag other than 42, a float, and deep nesting.
    let float = cbor::encode(&atproto::data::Ipld::Float(1.5)).expect("encode");
    assert!(cbor::decode_record(&float).is_err());
    for bad in [
        &[0xa1u8, 0x61][..],
        &[0xa0, 0x00],
        &[0xc1, 0x00],
        &[0x9f, 0xff],
        &[0xf7],
    ] {
        assert!(cbor::decode(bad).is_err(), "accepted {bad:x?}");
    }
    let deep: Vec<u8> = std::iter::repeat_n(0x81u8, 100_000).chain([0xa0]).collect();
    assert!(cbor::decode_record(&deep).is_err());
}
