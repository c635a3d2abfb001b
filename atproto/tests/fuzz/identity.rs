//! DID documents (JSON from a PLC directory or any did:web host) and the keys they carry.

use crate::meter::bounded;
use crate::strategy;
use atproto::crypto::{Algorithm, Keypair, PublicKey, parse_did_key, parse_multikey};
use atproto::identity::DidDocument;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Documents of the right shape with hostile contents: ids, types, endpoints and keys drawn
/// from valid, near-valid and arbitrary values.
fn document() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        Just("did:plc:ewvi7nxzyoun6zhxrhs64oiz".to_owned()),
        Just("did:web:example.com".to_owned()),
        "did:[a-z]{1,5}:[a-zA-Z0-9._:%-]{0,20}",
        "\\PC{0,20}",
    ];
    let fragment = prop_oneof![
        Just("#atproto".to_owned()),
        Just("#atproto_pds".to_owned()),
        Just("did:plc:ewvi7nxzyoun6zhxrhs64oiz#atproto".to_owned()),
        "#?\\PC{0,12}",
    ];
    let key = prop_oneof![
        Just(Keypair::generate(Algorithm::K256).public().multikey()),
        Just(Keypair::generate(Algorithm::P256).public().multikey()),
        "z[1-9A-HJ-NP-Za-km-z]{0,60}",
        "\\PC{0,20}",
    ];
    let kind = prop_oneof![
        Just("Multikey".to_owned()),
        Just("EcdsaSecp256k1VerificationKey2019".to_owned()),
        Just("AtprotoPersonalDataServer".to_owned()),
        "\\PC{0,12}",
    ];
    let method = (fragment.clone(), kind.clone(), key)
        .prop_map(|(id, kind, key)| json!({"id": id, "type": kind, "publicKeyMultibase": key}));
    let service = (
        fragment,
        prop_oneof![kind.prop_map(Value::String), strategy::json()],
        strategy::json(),
    )
        .prop_map(
            |(id, kind, endpoint)| json!({"id": id, "type": kind, "serviceEndpoint": endpoint}),
        );
    let aka = prop_oneof!["at://[a-z0-9.-]{0,20}", "\\PC{0,20}"];
    (
        id,
        vec(aka, 0..3),
        vec(method, 0..3),
        vec(service, 0..3),
        prop_oneof![Just(Value::Null), strategy::json()],
    )
        .prop_map(|(id, aka, methods, services, context)| {
            let mut doc = json!({
                "id": id,
                "alsoKnownAs": aka,
                "verificationMethod": methods,
                "service": services,
            });
            if !context.is_null() {
                doc["@context"] = context;
            }
            doc
        })
}

/// Everything the services ask of a document; none of it may panic.
fn use_document(doc: &DidDocument) {
    let _ = doc.handle();
    let _ = doc.pds_endpoint();
    let _ = doc.signing_key();
    for id in [
        "atproto_pds",
        "#atproto_labeler",
        "",
        "#",
        "did:plc:x#atproto",
    ] {
        let _ = doc.service_endpoint(id);
        let _ = doc.verification_method(id);
    }
}

proptest! {
    #[test]
    fn documents_of_any_shape_are_read_safely(doc in document()) {
        let text = doc.to_string();
        if let Ok(parsed) = bounded(text.len(), || serde_json::from_str::<DidDocument>(&text)) {
            use_document(&parsed);
            // What was read writes back to a document that reads the same.
            let again = serde_json::to_value(&parsed).expect("serialize");
            prop_assert_eq!(serde_json::from_value::<DidDocument>(again).expect("reparse"), parsed);
        }
    }

    #[test]
    fn any_json_is_read_safely(v in strategy::json()) {
        let text = v.to_string();
        if let Ok(doc) = bounded(text.len(), || serde_json::from_str::<DidDocument>(&text)) {
            use_document(&doc);
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_cleanly(bytes in strategy::bytes(256)) {
        let _ = bounded(bytes.len(), || serde_json::from_slice::<DidDocument>(&bytes));
    }

    #[test]
    fn keys_parse_safely(s in "(did:key:)?z?[1-9A-HJ-NP-Za-km-z]{0,70}", kind in "\\PC{0,8}") {
        let _ = bounded(s.len(), || parse_did_key(&s));
        let _ = bounded(s.len(), || parse_multikey(&s));
        let _ = bounded(s.len(), || PublicKey::from_verification_method(&kind, &s));
        let _ = bounded(s.len(), || PublicKey::from_verification_method("EcdsaSecp256k1VerificationKey2019", &s));
    }

    #[test]
    fn keys_round_trip(alg in prop_oneof![Just(Algorithm::K256), Just(Algorithm::P256)]) {
        let public = Keypair::generate(alg).public();
        prop_assert_eq!(parse_multikey(&public.multikey()).expect("multikey"), public);
        prop_assert_eq!(parse_did_key(&public.did_key()).expect("did:key"), public);
    }
}
