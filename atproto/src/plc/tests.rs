use super::vectors::{INVALID, VALID};
use super::*;
use crate::crypto::{Algorithm, Keypair};
use serde_json::json;

fn log(json: &str) -> Vec<LogEntry> {
    serde_json::from_str(json).unwrap()
}

#[test]
fn valid_audit_logs_verify() {
    for (name, json) in VALID {
        let entries = log(json);
        let did = entries[0].did.clone();
        let state = verify_audit_log(&did, &entries).unwrap_or_else(|e| panic!("{name}: {e}"));
        match *name {
            "log_tombstone" => assert!(state.is_none(), "{name}"),
            _ => assert!(state.is_some(), "{name}"),
        }
    }
}

#[test]
fn invalid_audit_logs_are_refused() {
    for (name, json) in INVALID {
        let entries = log(json);
        let did = entries[0].did.clone();
        let err = verify_audit_log(&did, &entries).expect_err(name);
        // Refused for the reason the vector is about, not for failing to reproduce its CIDs.
        assert!(!matches!(err, PlcError::AuditLog(_)), "{name}: {err}");
    }
}

#[test]
fn real_genesis_ops_derive_their_dids() {
    // bsky.app's DID, and a legacy `create` genesis (the DID of an early account).
    for (name, did) in [
        ("log_bskyapp", "did:plc:z72i7hdynmk6r22z27h6tvur"),
        ("log_legacy_dholms", "did:plc:yk4dd2qkboz2yv6tpubpc6co"),
    ] {
        let json = VALID.iter().find(|(n, _)| *n == name).unwrap().1;
        let entries = log(json);
        assert_eq!(entries[0].operation.did().unwrap(), did);
        assert_eq!(
            entries[0].operation.cid().unwrap().to_string(),
            entries[0].cid
        );
    }
}

#[test]
fn real_log_renders_the_directory_document() {
    let entries = log(VALID[0].1);
    let data = verify_audit_log(&entries[0].did, &entries)
        .unwrap()
        .unwrap();
    let doc = serde_json::to_value(data.to_did_document().unwrap()).unwrap();
    assert_eq!(
        doc,
        json!({
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                "https://w3id.org/security/suites/secp256k1-2019/v1"
            ],
            "id": "did:plc:z72i7hdynmk6r22z27h6tvur",
            "alsoKnownAs": ["at://bsky.app"],
            "verificationMethod": [{
                "id": "did:plc:z72i7hdynmk6r22z27h6tvur#atproto",
                "type": "Multikey",
                "controller": "did:plc:z72i7hdynmk6r22z27h6tvur",
                "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
            }],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://bsky.social"
            }]
        })
    );
    let data_json = serde_json::to_value(&data).unwrap();
    assert_eq!(data_json["rotationKeys"].as_array().unwrap().len(), 2);
    assert_eq!(data_json["did"], "did:plc:z72i7hdynmk6r22z27h6tvur");
}

#[test]
fn legacy_genesis_normalizes_like_the_reference() {
    let entries = log(VALID[1].1);
    let op = entries[0].operation.normalize().unwrap();
    assert_eq!(op.also_known_as, ["at://dan.bsky.social"]);
    assert_eq!(op.rotation_keys.len(), 2);
    assert_eq!(op.services["atproto_pds"].endpoint, "https://bsky.social");
    let data = verify_audit_log(&entries[0].did, &entries)
        .unwrap()
        .unwrap();
    assert_eq!(data.also_known_as, ["at://dholms.xyz"]);
}

struct Account {
    rotation: Vec<Keypair>,
    signing: Keypair,
}

fn account() -> Account {
    Account {
        rotation: vec![
            Keypair::generate(Algorithm::K256),
            Keypair::generate(Algorithm::P256),
        ],
        signing: Keypair::generate(Algorithm::K256),
    }
}

fn genesis(acct: &Account) -> (String, PlcOp) {
    let op = Operation::atproto(
        &acct.signing.public(),
        "alice.test",
        "https://pds.example.com",
        acct.rotation.iter().map(|k| k.public().did_key()).collect(),
        None,
    );
    create_genesis(op, &acct.rotation[1]).unwrap()
}

fn indexed(did: &str, op: &PlcOp, at: i64) -> IndexedOp {
    IndexedOp {
        did: did.to_owned(),
        op: op.clone(),
        cid: op.cid().unwrap(),
        nullified: false,
        created_at_ms: at,
    }
}

#[test]
fn sign_verify_and_derive() {
    let acct = account();
    let (did, op) = genesis(&acct);
    assert!(did.starts_with("did:plc:"));
    assert_eq!(did.len(), 32);
    assert!(
        did["did:plc:".len()..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    );
    assert_eq!(op.did().unwrap(), did);
    let keys: Vec<String> = acct.rotation.iter().map(|k| k.public().did_key()).collect();
    assert_eq!(verify_sig(&op, &keys).unwrap(), keys[1]);
    // Only the signer verifies; the signing key is no rotation key.
    assert!(verify_sig(&op, &keys[..1]).is_err());
    assert!(verify_sig(&op, &[acct.signing.public().did_key()]).is_err());
    // The signature covers every field.
    let mut tampered = op.clone();
    if let PlcOp::Operation(o) = &mut tampered {
        o.also_known_as = vec!["at://mallory.test".into()];
    }
    assert!(verify_sig(&tampered, &keys).is_err());
    // JSON round trip keeps the bytes and so the CID.
    let back = PlcOp::from_json(&op.to_json()).unwrap();
    assert_eq!(back.cid().unwrap(), op.cid().unwrap());
    assert_eq!(validate_genesis(&did, &op).unwrap().did, did);
}

#[test]
fn genesis_rules() {
    let acct = account();
    let (did, op) = genesis(&acct);
    // A longer prefix of the full hash is accepted; a shorter one, or another hash, is not.
    let long = op.did_with_len(30).unwrap();
    assert!(validate_genesis(&long, &op).is_ok());
    assert_eq!(
        validate_genesis(&did[..31], &op),
        Err(PlcError::ImproperDid("too short"))
    );
    assert!(matches!(
        validate_genesis("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", &op),
        Err(PlcError::GenesisHash(_))
    ));
    // Six rotation keys are too many for a genesis.
    let mut many = Operation::atproto(
        &acct.signing.public(),
        "alice.test",
        "pds.example.com",
        (0..6)
            .map(|_| Keypair::generate(Algorithm::K256).public().did_key())
            .collect(),
        None,
    );
    many.rotation_keys[0] = acct.rotation[0].public().did_key();
    let (did6, op6) = create_genesis(many, &acct.rotation[0]).unwrap();
    assert_eq!(
        validate_genesis(&did6, &op6),
        Err(PlcError::ImproperOperation("too many rotation keys"))
    );
    // A tombstone cannot start a log.
    let tomb = tombstone_op(&op.cid().unwrap(), &acct.rotation[0]).unwrap();
    assert_eq!(validate_genesis(&did, &tomb), Err(PlcError::Misordered));
}

#[test]
fn next_op_rules() {
    let acct = account();
    let (did, g) = genesis(&acct);
    let t0 = 1_000_000;
    assert!(validate_next_op(&did, &[], &g, t0).is_ok());
    let mut ops = vec![indexed(&did, &g, t0)];

    // A valid update by the lower-priority rotation key.
    let u1 = update_op(&g, &acct.rotation[1], |o| {
        o.also_known_as = vec!["at://alice2.test".into()];
    })
    .unwrap();
    let ok = validate_next_op(&did, &ops, &u1, t0 + 1).unwrap();
    assert_eq!(ok.prev, Some(g.cid().unwrap()));
    assert!(ok.nullified.is_empty());

    // Signed by the atproto signing key, which is not a rotation key.
    let bad_key = update_op(&g, &acct.signing, |_| {}).unwrap();
    assert!(matches!(
        validate_next_op(&did, &ops, &bad_key, t0 + 1),
        Err(PlcError::InvalidSignature(_))
    ));
    // Garbled signature.
    let mut bad_sig = u1.clone();
    bad_sig.set_sig(Some("AAAA".into()));
    assert!(matches!(
        validate_next_op(&did, &ops, &bad_sig, t0 + 1),
        Err(PlcError::InvalidSignature(_))
    ));
    // prev naming nothing in the log, no prev, and a prev that is not a CID.
    let stranger = update_op(&u1, &acct.rotation[1], |_| {}).unwrap();
    assert_eq!(
        validate_next_op(&did, &ops, &stranger, t0 + 1),
        Err(PlcError::Misordered)
    );
    assert_eq!(
        validate_next_op(&did, &ops, &g, t0 + 1),
        Err(PlcError::Misordered)
    );
    let mut garbage = u1.clone();
    if let PlcOp::Operation(o) = &mut garbage {
        o.prev = Some("not-a-cid".into());
    }
    assert!(matches!(
        validate_next_op(&did, &ops, &garbage, t0 + 1),
        Err(PlcError::BadPrev(_))
    ));

    ops.push(indexed(&did, &u1, t0 + 1));

    // Recovery: the higher-priority key forks from the genesis within the window.
    let recovery = update_op(&g, &acct.rotation[0], |o| {
        o.also_known_as = vec!["at://alice.test".into()];
    })
    .unwrap();
    let window_end = t0 + 1 + RECOVERY_WINDOW_MS;
    let ok = validate_next_op(&did, &ops, &recovery, window_end).unwrap();
    assert_eq!(ok.nullified, vec![u1.cid().unwrap()]);
    assert_eq!(
        validate_next_op(&did, &ops, &recovery, window_end + 1),
        Err(PlcError::LateRecovery(RECOVERY_WINDOW_MS + 1))
    );
    // The key that signed the displaced op cannot fork over itself.
    let same_rank = update_op(&g, &acct.rotation[1], |o| {
        o.also_known_as = vec!["at://alice3.test".into()];
    })
    .unwrap();
    assert!(matches!(
        validate_next_op(&did, &ops, &same_rank, t0 + 2),
        Err(PlcError::InvalidSignature(_))
    ));

    // A tombstone ends the log: nothing may build on it.
    let tomb = tombstone_op(&u1.cid().unwrap(), &acct.rotation[1]).unwrap();
    assert!(validate_next_op(&did, &ops, &tomb, t0 + 2).is_ok());
    ops.push(indexed(&did, &tomb, t0 + 2));
    let after = PlcOp::Operation(Operation {
        prev: Some(tomb.cid().unwrap().to_string()),
        ..u1.normalize().unwrap()
    })
    .signed(&acct.rotation[0])
    .unwrap();
    assert_eq!(
        validate_next_op(&did, &ops, &after, t0 + 3),
        Err(PlcError::Misordered)
    );
    // ...but the higher key can still undo the tombstone within the window.
    let undo = update_op(&u1, &acct.rotation[0], |_| {}).unwrap();
    let ok = validate_next_op(&did, &ops, &undo, t0 + 3).unwrap();
    assert_eq!(ok.nullified, vec![tomb.cid().unwrap()]);
}

#[test]
fn operation_log_replay() {
    let acct = account();
    let (did, g) = genesis(&acct);
    let u1 = update_op(&g, &acct.rotation[0], |o| {
        o.services.get_mut("atproto_pds").unwrap().endpoint = "https://other.example".into();
    })
    .unwrap();
    let tomb = tombstone_op(&u1.cid().unwrap(), &acct.rotation[0]).unwrap();
    let data = validate_operation_log(&did, &[g.clone(), u1.clone()])
        .unwrap()
        .unwrap();
    assert_eq!(
        data.services["atproto_pds"].endpoint,
        "https://other.example"
    );
    assert_eq!(
        validate_operation_log(&did, &[g.clone(), u1.clone(), tomb.clone()]).unwrap(),
        None
    );
    assert_eq!(
        validate_operation_log(&did, &[g.clone(), tomb.clone(), u1.clone()]),
        Err(PlcError::Misordered)
    );
    assert_eq!(
        validate_operation_log(&did, &[g.clone(), g.clone()]),
        Err(PlcError::Misordered)
    );

    // The same history as an audit log, with a recovery that nullifies the update.
    let recovery = update_op(&g, &acct.rotation[0], |_| {}).unwrap();
    let mut entries = vec![
        LogEntry::new(&did, g.clone(), 0).unwrap(),
        LogEntry::new(&did, u1.clone(), 1000).unwrap(),
        LogEntry::new(&did, recovery, 2000).unwrap(),
    ];
    // u1 was signed by the top key, so nothing outranks it: the fork is refused.
    assert!(verify_audit_log(&did, &entries).is_err());
    let u1_low = update_op(&g, &acct.rotation[1], |_| {}).unwrap();
    entries[1] = LogEntry::new(&did, u1_low, 1000).unwrap();
    assert!(
        verify_audit_log(&did, &entries).is_err(),
        "nullified flag not set"
    );
    entries[1].nullified = true;
    assert!(verify_audit_log(&did, &entries).unwrap().is_some());
    entries[2].cid = entries[0].cid.clone();
    assert!(verify_audit_log(&did, &entries).is_err(), "cid mismatch");
}

fn incoming(json: &serde_json::Value) -> Result<PlcOp, PlcError> {
    parse_incoming_op(json.to_string().as_bytes())
}

#[test]
fn incoming_op_shape_and_limits() {
    let acct = account();
    let (_, g) = genesis(&acct);
    let json = g.to_json();
    assert_eq!(incoming(&json).unwrap(), g);

    let mut extra = json.clone();
    extra["extra"] = json!(1);
    assert!(matches!(incoming(&extra), Err(PlcError::Malformed(_))));
    let mut unsigned = json.clone();
    unsigned.as_object_mut().unwrap().remove("sig");
    assert!(matches!(incoming(&unsigned), Err(PlcError::Malformed(_))));
    let mut no_prev = json.clone();
    no_prev.as_object_mut().unwrap().remove("prev");
    assert!(matches!(incoming(&no_prev), Err(PlcError::Malformed(_))));
    for bad in [json!([]), json!("x"), json!({"type": "plc_tombstone"})] {
        assert!(incoming(&bad).is_err(), "{bad}");
    }
    assert!(matches!(
        parse_incoming_op(b"{\"type\": "),
        Err(PlcError::Malformed(_))
    ));
    let legacy = json!({"type": "create", "signingKey": "k", "recoveryKey": "k",
        "handle": "h", "service": "s", "prev": null, "sig": "s"});
    assert!(matches!(incoming(&legacy), Err(PlcError::Malformed(_))));
    // Unknown fields inside a service are dropped, as the reference schema strips them.
    let mut svc_extra = json.clone();
    svc_extra["services"]["atproto_pds"]["note"] = json!("x");
    assert_eq!(incoming(&svc_extra).unwrap(), g);
    // Map entries keep the order they were written in (serde_json::Value would sort them).
    let written = r#"{"type":"plc_operation","rotationKeys":[],"verificationMethods":{"z":"k1","a":"k2"},"alsoKnownAs":[],"services":{},"prev":null,"sig":"x"}"#;
    let Ok(PlcOp::Operation(op)) = PlcOp::from_json_bytes(written.as_bytes()) else {
        panic!("parses");
    };
    assert_eq!(
        op.verification_methods.keys().collect::<Vec<_>>(),
        ["z", "a"]
    );

    let mut big = json.clone();
    big["alsoKnownAs"] = json!(vec!["at://x.test".repeat(40); 10]);
    assert_eq!(incoming(&big), Err(PlcError::TooLarge));
    let limited = |field: &str, value: serde_json::Value| {
        let mut op = json.clone();
        op[field] = value;
        incoming(&op)
    };
    assert!(matches!(
        limited(
            "alsoKnownAs",
            json!(
                (0..11)
                    .map(|i| format!("at://{i}.test"))
                    .collect::<Vec<_>>()
            )
        ),
        Err(PlcError::Limit(_))
    ));
    assert!(matches!(
        limited("alsoKnownAs", json!(["at://a.test", "at://a.test"])),
        Err(PlcError::Limit(_))
    ));
    assert!(matches!(
        limited("rotationKeys", json!(["did:key:zNope"])),
        Err(PlcError::Limit(_))
    ));
    assert!(matches!(
        limited(
            "verificationMethods",
            json!({"x".repeat(33): acct.signing.public().did_key()})
        ),
        Err(PlcError::Limit(_))
    ));
    assert!(matches!(
        limited(
            "services",
            json!({"s": {"type": "t", "endpoint": "e".repeat(513)}})
        ),
        Err(PlcError::Limit(_))
    ));
}

#[test]
fn rate_limit() {
    let acct = account();
    let (did, g) = genesis(&acct);
    let now = 100 * 24 * 3_600_000;
    let recent: Vec<IndexedOp> = (0..9).map(|i| indexed(&did, &g, now - i)).collect();
    assert!(check_rate_limit(&recent, now).is_ok());
    let mut ten = recent.clone();
    ten.push(indexed(&did, &g, now));
    assert!(matches!(
        check_rate_limit(&ten, now),
        Err(PlcError::RateLimited(_))
    ));
    assert!(check_rate_limit(&ten, now + 3_600_000).is_ok());
}

#[test]
fn p256_keys_get_their_suite_context() {
    let key = Keypair::generate(Algorithm::P256);
    let data = DocumentData {
        did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa".into(),
        verification_methods: [("atproto".to_owned(), key.public().did_key())].into(),
        rotation_keys: vec![],
        also_known_as: vec![],
        services: Default::default(),
    };
    let doc = data.to_did_document().unwrap();
    assert_eq!(
        doc.context[2],
        "https://w3id.org/security/suites/ecdsa-2019/v1"
    );
    assert_eq!(doc.signing_key().unwrap(), key.public());
}
