//! The interop crypto vectors: signature fixtures (including high-S and DER cases) and the
//! W3C did:key fixtures for both curves.

mod common;

use atproto::crypto::{Algorithm, Keypair, PublicKey, parse_did_key};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use common::{load_json, report};

#[test]
fn signature_fixtures() {
    let cases = load_json("interop/crypto/signature-fixtures.json");
    let cases = cases.as_array().expect("array");
    let mut failures = Vec::new();
    for c in cases {
        let name = c["comment"].as_str().expect("comment");
        let msg = STANDARD_NO_PAD
            .decode(c["messageBase64"].as_str().expect("msg"))
            .expect("b64");
        let sig = STANDARD_NO_PAD
            .decode(c["signatureBase64"].as_str().expect("sig"))
            .expect("b64");
        let valid = c["validSignature"].as_bool().expect("valid");
        let key = parse_did_key(c["publicKeyDid"].as_str().expect("did")).expect("did:key");
        let legacy = PublicKey::from_verification_method(
            c["didDocSuite"].as_str().expect("suite"),
            c["publicKeyMultibase"].as_str().expect("multibase"),
        )
        .expect("legacy multibase");
        if legacy != key {
            failures.push(format!("{name}: legacy multibase key differs from did:key"));
        }
        if key.algorithm().jwt_name() != c["algorithm"] {
            failures.push(format!("{name}: algorithm"));
        }
        let got = key.verify(&msg, &sig);
        if got.is_ok() != valid {
            failures.push(format!("{name}: verify gave {got:?}, want valid={valid}"));
        }
    }
    report("signature fixtures", cases.len(), &failures);
}

fn didkey_fixtures(file: &str, alg: Algorithm, private: &str) -> (usize, Vec<String>) {
    let cases = load_json(file);
    let cases = cases.as_array().expect("array");
    let mut failures = Vec::new();
    for c in cases {
        let want = c["publicDidKey"].as_str().expect("did");
        let secret = c[private].as_str().expect("private key");
        let bytes = if private.ends_with("Hex") {
            hex::decode(secret).expect("hex")
        } else {
            multibase::Base::Base58Btc.decode(secret).expect("base58")
        };
        let kp = Keypair::from_bytes(alg, &bytes).expect("key");
        if kp.public().did_key() != want {
            failures.push(format!("{want}: derived {}", kp.public().did_key()));
        }
        match parse_did_key(want) {
            Ok(k) if k == kp.public() && k.did_key() == want => {}
            other => failures.push(format!("{want}: parse gave {other:?}")),
        }
    }
    (cases.len(), failures)
}

#[test]
fn didkey_k256() {
    let (n, f) = didkey_fixtures(
        "interop/crypto/w3c_didkey_K256.json",
        Algorithm::K256,
        "privateKeyBytesHex",
    );
    report("did:key K-256", n, &f);
}

#[test]
fn didkey_p256() {
    let (n, f) = didkey_fixtures(
        "interop/crypto/w3c_didkey_P256.json",
        Algorithm::P256,
        "privateKeyBytesBase58",
    );
    report("did:key P-256", n, &f);
}

#[test]
fn sign_then_verify_and_refuse_tampering() {
    for alg in [Algorithm::K256, Algorithm::P256] {
        let kp = Keypair::generate(alg);
        let pk = kp.public();
        for i in 0..64u8 {
            let msg = vec![i; i as usize + 1];
            let sig = kp.sign(&msg);
            pk.verify(&msg, &sig).expect("verify own signature");
            let mut bad = sig;
            bad[10] ^= 1;
            assert!(pk.verify(&msg, &bad).is_err());
            assert!(pk.verify(b"other", &sig).is_err());
            assert!(pk.verify(&msg, &sig[..63]).is_err());
        }
        let again = Keypair::from_bytes(alg, &kp.to_bytes()).expect("import");
        assert_eq!(again.public(), pk);
        assert_eq!(
            atproto::crypto::parse_multikey(&pk.multikey()).expect("multikey"),
            pk
        );
    }
    assert!(parse_did_key("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBm").is_err());
    assert!(parse_did_key("did:web:example.com").is_err());
}
