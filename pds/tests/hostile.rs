//! The PDS under hostile input: malformed and oversized bodies, bad records, bad tokens, writes
//! to repositories that are not the caller's, stale swaps, oversized batches, bad blobs, path
//! tricks, and rate limits. Every refusal must be `{"error","message"}` JSON with the exact
//! XRPC error name and status, must change nothing (repository head and rev, record and blob
//! counts, the firehose), and must leave the server answering.

mod common;

use common::*;
use hearth_pds::auth::{SessionClaims, TokenKind, mint_session};
use serde_json::{Value, json};

/// Runs a refused request and checks it changed nothing for `did`.
macro_rules! refused {
    ($cases:expr, $pds:expr, $did:expr, $what:expr, $status:expr, $name:expr, $req:expr) => {{
        $cases.case($what);
        let before = $pds.snapshot($did).await;
        let res = $req.await;
        res.err($status, $name);
        let after = $pds.snapshot($did).await;
        assert_eq!(before, after, "{}: state changed", $what);
        $pds.assert_healthy().await;
        res
    }};
}

fn create_body(a: &Account, collection: &str, rkey: Option<&str>, record: Value) -> Value {
    let mut b = json!({ "repo": a.did, "collection": collection, "record": record });
    if let Some(k) = rkey {
        b["rkey"] = json!(k);
    }
    b
}

#[tokio::test]
async fn bad_bodies_and_records_are_refused_without_effect() {
    let cases = Cases::new("pds_hostile bodies and records");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    pds.create_record(&a, "app.bsky.feed.post", post("first"))
        .await;
    let tok = Some(a.access.as_str());
    const CREATE: &str = "com.atproto.repo.createRecord";

    // --- bodies ---
    refused!(
        cases,
        pds,
        &a.did,
        "malformed JSON",
        400,
        "InvalidRequest",
        pds.post_raw(
            CREATE,
            tok,
            Some("application/json"),
            br#"{"repo": "x", "#.to_vec()
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "JSON that is not an object",
        400,
        "InvalidRequest",
        pds.post_raw(CREATE, tok, Some("application/json"), b"[1,2,3]".to_vec())
    );
    refused!(
        cases,
        pds,
        &a.did,
        "empty body",
        400,
        "InvalidRequest",
        pds.post_raw(CREATE, tok, Some("application/json"), Vec::new())
    );
    let good = serde_json::to_vec(&create_body(&a, "app.bsky.feed.post", None, post("x"))).unwrap();
    refused!(
        cases,
        pds,
        &a.did,
        "wrong content type",
        400,
        "InvalidRequest",
        pds.post_raw(CREATE, tok, Some("text/plain"), good.clone())
    );
    refused!(
        cases,
        pds,
        &a.did,
        "no content type",
        400,
        "InvalidRequest",
        pds.post_raw(CREATE, tok, None, good.clone())
    );
    refused!(
        cases,
        pds,
        &a.did,
        "form content type",
        400,
        "InvalidRequest",
        pds.post_raw(
            CREATE,
            tok,
            Some("application/x-www-form-urlencoded"),
            good.clone()
        )
    );
    let huge = serde_json::to_vec(&create_body(
        &a,
        "com.example.blob",
        None,
        json!({ "$type": "com.example.blob", "s": "x".repeat(2 * 1024 * 1024 + 10) }),
    ))
    .unwrap();
    refused!(
        cases,
        pds,
        &a.did,
        "JSON body over the limit",
        413,
        "PayloadTooLarge",
        pds.post_raw(CREATE, tok, Some("application/json"), huge)
    );
    refused!(
        cases,
        pds,
        &a.did,
        "missing required field (collection)",
        400,
        "InvalidRequest",
        pds.post(CREATE, tok, &json!({ "repo": a.did, "record": post("x") }))
    );
    refused!(
        cases,
        pds,
        &a.did,
        "field of the wrong type",
        400,
        "InvalidRequest",
        pds.post(
            CREATE,
            tok,
            &json!({ "repo": a.did, "collection": 5, "record": post("x") })
        )
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_body = format!(
        r#"{{"repo":"{}","collection":"com.example.x","record":{deep}}}"#,
        a.did
    );
    refused!(
        cases,
        pds,
        &a.did,
        "JSON nested 10000 deep",
        400,
        "InvalidRequest",
        pds.post_raw(
            CREATE,
            tok,
            Some("application/json"),
            deep_body.into_bytes()
        )
    );

    // --- records ---
    for (what, record) in [
        ("string record", json!("hello")),
        ("array record", json!([1, 2])),
        ("null record", Value::Null),
        (
            "missing $type",
            json!({ "text": "hi", "createdAt": "2024-01-01T00:00:00.000Z" }),
        ),
        ("$type not a string", json!({ "$type": 7, "text": "hi" })),
        (
            "wrong $type",
            json!({ "$type": "app.bsky.feed.like", "text": "hi", "createdAt": "2024-01-01T00:00:00.000Z" }),
        ),
        (
            "float in record",
            json!({ "$type": "com.example.thing", "n": 1.5 }),
        ),
        (
            "float deep in record",
            json!({ "$type": "com.example.thing", "a": [{ "b": 0.1 }] }),
        ),
        (
            "integer beyond 2^63",
            json!({ "$type": "com.example.thing", "n": 18446744073709551615u64 }),
        ),
        (
            "invalid $link",
            json!({ "$type": "com.example.thing", "l": { "$link": "not-a-cid" } }),
        ),
        (
            "$link not a string",
            json!({ "$type": "com.example.thing", "l": { "$link": 5 } }),
        ),
        (
            "$link with extra fields",
            json!({ "$type": "com.example.thing", "l": { "$link": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", "x": 1 } }),
        ),
        (
            "invalid $bytes",
            json!({ "$type": "com.example.thing", "b": { "$bytes": "!!!not base64!!!" } }),
        ),
        (
            "$bytes not a string",
            json!({ "$type": "com.example.thing", "b": { "$bytes": [1] } }),
        ),
        (
            "malformed blob object",
            json!({ "$type": "com.example.thing", "b": { "$type": "blob", "ref": "nope" } }),
        ),
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            what,
            400,
            "InvalidRequest",
            pds.post(
                CREATE,
                tok,
                &create_body(&a, "com.example.thing", None, record.clone())
            )
        );
        // The same record through putRecord and applyWrites.
        refused!(cases, pds, &a.did, &format!("{what} (putRecord)"), 400, "InvalidRequest",
            pds.post("com.atproto.repo.putRecord", tok, &json!({ "repo": a.did, "collection": "com.example.thing", "rkey": "k", "record": record.clone() })));
        refused!(cases, pds, &a.did, &format!("{what} (applyWrites)"), 400, "InvalidRequest",
            pds.post("com.atproto.repo.applyWrites", tok, &json!({ "repo": a.did, "writes": [
                { "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.thing", "value": record }
            ] })));
    }

    // --- record keys and collections ---
    let long_key = "a".repeat(600);
    for rkey in [
        ".",
        "..",
        "a/b",
        long_key.as_str(),
        "",
        "a b",
        "a#b",
        "a?b",
        "%2e%2e",
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("record key {:?}", &rkey[..rkey.len().min(20)]),
            400,
            "InvalidRequest",
            pds.post(
                CREATE,
                tok,
                &create_body(
                    &a,
                    "com.example.thing",
                    Some(rkey),
                    json!({ "$type": "com.example.thing" })
                )
            )
        );
        refused!(cases, pds, &a.did, &format!("putRecord key {:?}", &rkey[..rkey.len().min(20)]), 400, "InvalidRequest",
            pds.post("com.atproto.repo.putRecord", tok, &json!({ "repo": a.did, "collection": "com.example.thing", "rkey": rkey, "record": { "$type": "com.example.thing" } })));
        refused!(
            cases,
            pds,
            &a.did,
            &format!("getRecord key {:?}", &rkey[..rkey.len().min(20)]),
            400,
            "InvalidRequest",
            pds.get(
                &format!(
                    "com.atproto.repo.getRecord?repo={}&collection=com.example.thing&rkey={}",
                    a.did,
                    urlencode(rkey)
                ),
                None
            )
        );
    }
    for nsid in [
        "notansid",
        "com.example",
        "com..example.x",
        "com.example/x",
        "../../etc",
        "com.example.x.",
        "1com.example.x",
        "",
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("collection {nsid:?}"),
            400,
            "InvalidRequest",
            pds.post(
                CREATE,
                tok,
                &create_body(&a, nsid, None, json!({ "$type": nsid }))
            )
        );
    }

    // --- size and lexicons ---
    let big = json!({ "$type": "com.example.big", "s": "x".repeat(1024 * 1024 + 16) });
    refused!(
        cases,
        pds,
        &a.did,
        "record over 1 MiB encoded",
        413,
        "PayloadTooLarge",
        pds.post(CREATE, tok, &create_body(&a, "com.example.big", None, big))
    );
    let mut long_post = post("");
    long_post["text"] = json!("a".repeat(3001));
    refused!(
        cases,
        pds,
        &a.did,
        "post with 3001 graphemes",
        400,
        "InvalidRequest",
        pds.post(
            CREATE,
            tok,
            &create_body(&a, "app.bsky.feed.post", None, long_post)
        )
    );
    let mut graphemes = post("");
    graphemes["text"] = json!("é".repeat(301));
    refused!(
        cases,
        pds,
        &a.did,
        "post with 301 graphemes",
        400,
        "InvalidRequest",
        pds.post(
            CREATE,
            tok,
            &create_body(&a, "app.bsky.feed.post", None, graphemes)
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "post missing createdAt",
        400,
        "InvalidRequest",
        pds.post(
            CREATE,
            tok,
            &create_body(
                &a,
                "app.bsky.feed.post",
                None,
                json!({ "$type": "app.bsky.feed.post", "text": "hi" })
            )
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "post with a bad createdAt",
        400,
        "InvalidRequest",
        pds.post(
            CREATE,
            tok,
            &create_body(
                &a,
                "app.bsky.feed.post",
                None,
                json!({ "$type": "app.bsky.feed.post", "text": "hi", "createdAt": "yesterday" })
            )
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "profile with a key other than self",
        400,
        "InvalidRequest",
        pds.post(
            CREATE,
            tok,
            &create_body(
                &a,
                "app.bsky.actor.profile",
                Some("notself"),
                json!({ "$type": "app.bsky.actor.profile" })
            )
        )
    );
    let mut unknown = create_body(
        &a,
        "com.example.unknown",
        None,
        json!({ "$type": "com.example.unknown" }),
    );
    unknown["validate"] = json!(true);
    refused!(
        cases,
        pds,
        &a.did,
        "validate:true on an unknown collection",
        400,
        "InvalidRequest",
        pds.post(CREATE, tok, &unknown)
    );

    // Accepted: an unknown collection with validate unset, and with validate:false.
    cases.case("unknown collection, validate unset: accepted as unknown");
    let before = pds.snapshot(&a.did).await;
    let v = pds
        .post(
            CREATE,
            tok,
            &create_body(
                &a,
                "com.example.unknown",
                None,
                json!({ "$type": "com.example.unknown", "n": 1.0 }),
            ),
        )
        .await
        .ok();
    assert_eq!(v["validationStatus"], "unknown");
    let after = pds.snapshot(&a.did).await;
    assert_eq!(after.records, before.records + 1);
    assert_eq!(after.seq, before.seq + 1);
    assert_ne!(after.rev, before.rev);
    cases.case("known collection: validated");
    let v = pds
        .create_record(&a, "app.bsky.feed.post", post("fine"))
        .await;
    assert_eq!(v["validationStatus"], "valid");
    cases.case("validate:false skips the lexicon");
    let mut skip = create_body(
        &a,
        "app.bsky.feed.post",
        None,
        json!({ "$type": "app.bsky.feed.post", "text": "no date" }),
    );
    skip["validate"] = json!(false);
    let v = pds.post(CREATE, tok, &skip).await.ok();
    assert_eq!(v["validationStatus"], "unknown");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_tokens_are_refused_without_effect() {
    let cases = Cases::new("pds_hostile tokens");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let state = pds.state().clone();
    let write = |token: Option<String>| {
        let body = create_body(&a, "app.bsky.feed.post", None, post("should not land"));
        async move {
            let mut req = pds
                .http
                .post(pds.xrpc("com.atproto.repo.createRecord"))
                .json(&body);
            if let Some(t) = token {
                req = req.header("authorization", t);
            }
            let r = req.send().await.expect("send");
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            Res {
                status,
                body: serde_json::from_str(&text).unwrap_or(Value::Null),
                text,
            }
        }
    };
    let bearer = |t: &str| Some(format!("Bearer {t}"));

    refused!(
        cases,
        pds,
        &a.did,
        "no token",
        401,
        "AuthenticationRequired",
        write(None)
    );
    refused!(
        cases,
        pds,
        &a.did,
        "Basic instead of Bearer",
        401,
        "AuthenticationRequired",
        write(Some("Basic YWxpY2U6cGFzcw==".into()))
    );
    // HTTP trims the trailing space, so this arrives as a bare "Bearer" scheme.
    refused!(
        cases,
        pds,
        &a.did,
        "empty bearer",
        401,
        "AuthenticationRequired",
        write(Some("Bearer ".into()))
    );
    for bad in [
        "abc",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJub25lIn0.e30.",
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("malformed token {bad:?}"),
            400,
            "InvalidToken",
            write(bearer(bad))
        );
    }
    let now = hearth_pds::state::now_secs();
    let claims = |scope: &str, aud: &str, sub: &str, exp: i64| SessionClaims {
        scope: scope.into(),
        sub: sub.into(),
        aud: aud.into(),
        iat: now - 10,
        exp,
        jti: None,
    };
    let key = state.secrets.jwt_key;
    let expired = mint_session(
        &key,
        TokenKind::Access,
        &claims("com.atproto.access", &state.service_did, &a.did, now - 1),
    );
    refused!(
        cases,
        pds,
        &a.did,
        "expired token",
        400,
        "ExpiredToken",
        write(bearer(&expired))
    );
    let forged = mint_session(
        &[9u8; 32],
        TokenKind::Access,
        &claims("com.atproto.access", &state.service_did, &a.did, now + 600),
    );
    refused!(
        cases,
        pds,
        &a.did,
        "token signed with another key",
        400,
        "InvalidToken",
        write(bearer(&forged))
    );
    // A real token's signature on altered claims.
    let mut parts: Vec<String> = a.access.split('.').map(str::to_owned).collect();
    let altered = mint_session(
        &key,
        TokenKind::Access,
        &claims(
            "com.atproto.access",
            &state.service_did,
            "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
            now + 600,
        ),
    );
    parts[1] = altered.split('.').nth(1).unwrap().to_owned();
    refused!(
        cases,
        pds,
        &a.did,
        "signature over other claims",
        400,
        "InvalidToken",
        write(bearer(&parts.join(".")))
    );
    let none_alg = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{}.",
        altered.split('.').nth(1).unwrap()
    );
    refused!(
        cases,
        pds,
        &a.did,
        "alg none",
        400,
        "InvalidToken",
        write(bearer(&none_alg))
    );
    refused!(
        cases,
        pds,
        &a.did,
        "refresh token as access token",
        400,
        "InvalidToken",
        write(bearer(&a.refresh))
    );
    let other_aud = mint_session(
        &key,
        TokenKind::Access,
        &claims(
            "com.atproto.access",
            "did:web:other.example",
            &a.did,
            now + 600,
        ),
    );
    refused!(
        cases,
        pds,
        &a.did,
        "access token for another service",
        400,
        "InvalidToken",
        write(bearer(&other_aud))
    );
    let bad_scope = mint_session(
        &key,
        TokenKind::Access,
        &claims("com.atproto.refresh", &state.service_did, &a.did, now + 600),
    );
    refused!(
        cases,
        pds,
        &a.did,
        "access token with the refresh scope",
        400,
        "InvalidToken",
        write(bearer(&bad_scope))
    );
    let as_refresh = mint_session(
        &key,
        TokenKind::Refresh,
        &claims("com.atproto.refresh", &state.service_did, &a.did, now + 600),
    );
    refused!(
        cases,
        pds,
        &a.did,
        "refresh token without a jti",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.refreshSession",
            Some(&as_refresh),
            &json!({})
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "access token as refresh token",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.refreshSession",
            Some(&a.access),
            &json!({})
        )
    );

    // A deleted account's tokens.
    let gone = pds.create_account("gone").await;
    pds.admin_post(
        "com.atproto.admin.deleteAccount",
        &json!({ "did": gone.did }),
    )
    .await
    .ok();
    refused!(
        cases,
        pds,
        &a.did,
        "deleted account's access token",
        400,
        "InvalidToken",
        pds.get("com.atproto.server.getSession", Some(&gone.access))
    );
    refused!(
        cases,
        pds,
        &a.did,
        "deleted account's refresh token",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.refreshSession",
            Some(&gone.refresh),
            &json!({})
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "deleted account writing",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.repo.createRecord",
            Some(&gone.access),
            &create_body(&gone, "app.bsky.feed.post", None, post("x"))
        )
    );

    // App-password sessions may write but not manage the account.
    let ap = pds
        .post(
            "com.atproto.server.createAppPassword",
            Some(&a.access),
            &json!({ "name": "phone" }),
        )
        .await
        .ok();
    let app_pw = ap["password"].as_str().unwrap().to_owned();
    let app = pds.login(&a.handle, &app_pw).await.ok();
    let app_tok = app["accessJwt"].as_str().unwrap().to_owned();
    cases.case("app-password session can write");
    pds.create_record(
        &Account {
            access: app_tok.clone(),
            ..a.clone()
        },
        "app.bsky.feed.post",
        post("from phone"),
    )
    .await;
    refused!(
        cases,
        pds,
        &a.did,
        "app password: createAppPassword",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.createAppPassword",
            Some(&app_tok),
            &json!({ "name": "another" })
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "app password: revokeAppPassword",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.revokeAppPassword",
            Some(&app_tok),
            &json!({ "name": "phone" })
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "app password: deactivateAccount",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.deactivateAccount",
            Some(&app_tok),
            &json!({})
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "app password: requestAccountDelete",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.requestAccountDelete",
            Some(&app_tok),
            &json!({})
        )
    );
    refused!(cases, pds, &a.did, "app password: service token for createAppPassword", 400, "InvalidToken",
        pds.get("com.atproto.server.getServiceAuth?aud=did:web:x.example&lxm=com.atproto.server.createAppPassword", Some(&app_tok)));
    // deleteAccount takes the account password; an app password is not it.
    pds.post(
        "com.atproto.server.requestAccountDelete",
        Some(&a.access),
        &json!({}),
    )
    .await
    .ok();
    let token = email_token(pds, &a.did).await;
    refused!(
        cases,
        pds,
        &a.did,
        "deleteAccount with the app password",
        401,
        "AuthenticationRequired",
        pds.post(
            "com.atproto.server.deleteAccount",
            None,
            &json!({ "did": a.did, "password": app_pw, "token": token })
        )
    );
    refused!(
        cases,
        pds,
        &a.did,
        "deleteAccount with a wrong token",
        400,
        "InvalidToken",
        pds.post(
            "com.atproto.server.deleteAccount",
            None,
            &json!({ "did": a.did, "password": PASSWORD, "token": "00000-00000" })
        )
    );
    cases.case("account survives");
    pds.get("com.atproto.server.getSession", Some(&a.access))
        .await
        .ok();
}

#[tokio::test]
async fn writes_that_must_not_land() {
    let cases = Cases::new("pds_hostile writes");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let b = pds.create_account("bob").await;
    let tok = Some(a.access.as_str());
    let first = pds
        .create_record(&a, "app.bsky.feed.post", post("one"))
        .await;
    let second = pds
        .create_record(&a, "app.bsky.feed.post", post("two"))
        .await;
    let rkey = |v: &Value| {
        v["uri"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };

    // Another user's repository, by DID and by handle, through every write method.
    for repo in [
        b.did.as_str(),
        b.handle.as_str(),
        "did:plc:nobodyhereatallxxxxxxxxx",
    ] {
        refused!(cases, pds, &b.did, &format!("createRecord in {repo}"), 401, "AuthenticationRequired",
            pds.post("com.atproto.repo.createRecord", tok, &json!({ "repo": repo, "collection": "app.bsky.feed.post", "record": post("mine now") })));
        refused!(cases, pds, &b.did, &format!("putRecord in {repo}"), 401, "AuthenticationRequired",
            pds.post("com.atproto.repo.putRecord", tok, &json!({ "repo": repo, "collection": "app.bsky.actor.profile", "rkey": "self", "record": { "$type": "app.bsky.actor.profile" } })));
        refused!(cases, pds, &b.did, &format!("deleteRecord in {repo}"), 401, "AuthenticationRequired",
            pds.post("com.atproto.repo.deleteRecord", tok, &json!({ "repo": repo, "collection": "app.bsky.feed.post", "rkey": "3jzfcijpj2z2a" })));
        refused!(cases, pds, &b.did, &format!("applyWrites in {repo}"), 401, "AuthenticationRequired",
            pds.post("com.atproto.repo.applyWrites", tok, &json!({ "repo": repo, "writes": [{ "$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "value": post("x") }] })));
    }
    refused!(
        cases,
        pds,
        &b.did,
        "uploadBlob is always to one's own account",
        401,
        "AuthenticationRequired",
        pds.post_raw(
            "com.atproto.repo.uploadBlob",
            None,
            Some("text/plain"),
            b"hi".to_vec()
        )
    );

    // Swaps.
    let old_head = first["commit"]["cid"].as_str().unwrap();
    refused!(cases, pds, &a.did, "stale swapCommit (createRecord)", 400, "InvalidSwap",
        pds.post("com.atproto.repo.createRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "record": post("x"), "swapCommit": old_head })));
    refused!(cases, pds, &a.did, "stale swapCommit (applyWrites)", 400, "InvalidSwap",
        pds.post("com.atproto.repo.applyWrites", tok, &json!({ "repo": a.did, "swapCommit": old_head, "writes": [{ "$type": "com.atproto.repo.applyWrites#delete", "collection": "app.bsky.feed.post", "rkey": rkey(&first) }] })));
    refused!(cases, pds, &a.did, "stale swapCommit (deleteRecord)", 400, "InvalidSwap",
        pds.post("com.atproto.repo.deleteRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey(&first), "swapCommit": old_head })));
    refused!(cases, pds, &a.did, "swapCommit that is not a CID", 400, "InvalidRequest",
        pds.post("com.atproto.repo.createRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "record": post("x"), "swapCommit": "../etc" })));
    let first_cid = first["cid"].as_str().unwrap();
    let second_cid = second["cid"].as_str().unwrap();
    refused!(cases, pds, &a.did, "stale swapRecord (putRecord)", 400, "InvalidSwap",
        pds.post("com.atproto.repo.putRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey(&first), "record": post("edited"), "swapRecord": second_cid })));
    refused!(cases, pds, &a.did, "swapRecord null on an existing record", 400, "InvalidSwap",
        pds.post("com.atproto.repo.putRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey(&first), "record": post("edited"), "swapRecord": null })));
    refused!(cases, pds, &a.did, "swapRecord on a missing record", 400, "InvalidSwap",
        pds.post("com.atproto.repo.putRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": "3jzfcijpj2z2a", "record": post("new"), "swapRecord": first_cid })));
    refused!(cases, pds, &a.did, "stale swapRecord (deleteRecord)", 400, "InvalidSwap",
        pds.post("com.atproto.repo.deleteRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey(&first), "swapRecord": second_cid })));
    refused!(cases, pds, &a.did, "createRecord on an existing rkey", 400, "InvalidRequest",
        pds.post("com.atproto.repo.createRecord", tok, &json!({ "repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey(&first), "record": post("again") })));
    refused!(cases, pds, &a.did, "applyWrites create on an existing rkey", 400, "InvalidRequest",
        pds.post("com.atproto.repo.applyWrites", tok, &json!({ "repo": a.did, "writes": [{ "$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "rkey": rkey(&first), "value": post("again") }] })));

    // Batches.
    let many: Vec<Value> = (0..201)
        .map(|i| json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.n", "rkey": format!("k{i}"), "value": { "$type": "com.example.n" } }))
        .collect();
    refused!(
        cases,
        pds,
        &a.did,
        "applyWrites with 201 writes",
        400,
        "InvalidRequest",
        pds.post(
            "com.atproto.repo.applyWrites",
            tok,
            &json!({ "repo": a.did, "writes": many })
        )
    );
    let ok_create = json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.n", "rkey": "fine", "value": { "$type": "com.example.n" } });
    for (what, name, second) in [
        (
            "2nd write updates a missing record",
            "InvalidRequest",
            json!({ "$type": "com.atproto.repo.applyWrites#update", "collection": "com.example.n", "rkey": "missing", "value": { "$type": "com.example.n" } }),
        ),
        (
            "2nd write deletes a missing record",
            "InvalidRequest",
            json!({ "$type": "com.atproto.repo.applyWrites#delete", "collection": "com.example.n", "rkey": "missing" }),
        ),
        (
            "2nd write repeats the 1st's path",
            "InvalidRequest",
            ok_create.clone(),
        ),
        (
            "2nd write has a float",
            "InvalidRequest",
            json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.n", "value": { "$type": "com.example.n", "f": 0.5 } }),
        ),
        (
            "2nd write has an invalid post",
            "InvalidRequest",
            json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "value": { "$type": "app.bsky.feed.post" } }),
        ),
        (
            "2nd write has an unknown $type",
            "InvalidRequest",
            json!({ "$type": "com.atproto.repo.applyWrites#upsert", "collection": "com.example.n", "rkey": "x", "value": { "$type": "com.example.n" } }),
        ),
        (
            "2nd write has a bad rkey",
            "InvalidRequest",
            json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.n", "rkey": "..", "value": { "$type": "com.example.n" } }),
        ),
        (
            "2nd write has no collection",
            "InvalidRequest",
            json!({ "$type": "com.atproto.repo.applyWrites#create", "value": { "$type": "com.example.n" } }),
        ),
        (
            "2nd write references a missing blob",
            "BlobNotFound",
            json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.n", "value": { "$type": "com.example.n", "b": { "$type": "blob", "ref": { "$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy" }, "mimeType": "image/png", "size": 10 } } }),
        ),
        (
            "2nd write is not an object",
            "InvalidRequest",
            json!("create"),
        ),
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("applyWrites: {what}"),
            400,
            name,
            pds.post(
                "com.atproto.repo.applyWrites",
                tok,
                &json!({ "repo": a.did, "writes": [ok_create.clone(), second] })
            )
        );
        cases.case(&format!("applyWrites: {what}: 1st write absent"));
        pds.get(
            &format!(
                "com.atproto.repo.getRecord?repo={}&collection=com.example.n&rkey=fine",
                a.did
            ),
            None,
        )
        .await
        .err(400, "RecordNotFound");
    }
    cases.case("200 writes are accepted");
    let max: Vec<Value> = (0..200)
        .map(|i| json!({ "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.n", "rkey": format!("k{i}"), "value": { "$type": "com.example.n" } }))
        .collect();
    let before = pds.snapshot(&a.did).await;
    pds.post(
        "com.atproto.repo.applyWrites",
        tok,
        &json!({ "repo": a.did, "writes": max }),
    )
    .await
    .ok();
    let after = pds.snapshot(&a.did).await;
    assert_eq!(after.records, before.records + 200);
    assert_eq!(after.seq, before.seq + 1, "one commit, one event");
}

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x01, 0x54, 0xa2, 0x4f, 0x5d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

fn tmp_files(pds: &Pds) -> usize {
    std::fs::read_dir(pds.data_dir.join("blobs-tmp"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn blobs_under_attack() {
    let cases = Cases::new("pds_hostile blobs");
    let w = World::new(Options {
        blob_max_bytes: 1024,
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let tok = Some(a.access.as_str());
    const UPLOAD: &str = "com.atproto.repo.uploadBlob";

    refused!(
        cases,
        pds,
        &a.did,
        "blob over the limit (Content-Length)",
        413,
        "PayloadTooLarge",
        pds.post_raw(
            UPLOAD,
            tok,
            Some("application/octet-stream"),
            vec![7u8; 1025]
        )
    );
    cases.case("blob over the limit (streamed, no Content-Length)");
    let before = pds.snapshot(&a.did).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..8).map(|_| Ok(vec![1u8; 512])).collect();
    let r = pds
        .http
        .post(pds.xrpc(UPLOAD))
        .bearer_auth(&a.access)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    // The server may answer before the client finishes sending; when it does, the answer is
    // the XRPC error.
    if let Ok(r) = r {
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        Res {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
        .err(413, "PayloadTooLarge");
    }
    assert_eq!(before, pds.snapshot(&a.did).await);
    pds.assert_healthy().await;
    refused!(
        cases,
        pds,
        &a.did,
        "empty blob",
        400,
        "InvalidRequest",
        pds.post_raw(UPLOAD, tok, Some("image/png"), Vec::new())
    );
    cases.case("no temporary files left behind");
    assert_eq!(tmp_files(pds), 0);

    cases.case("exactly at the limit is accepted");
    let edge = pds
        .post_raw(
            UPLOAD,
            tok,
            Some("application/octet-stream"),
            vec![3u8; 1024],
        )
        .await
        .ok();
    let png = pds
        .post_raw(UPLOAD, tok, Some("image/png"), PNG.to_vec())
        .await
        .ok();
    assert_eq!(png["blob"]["mimeType"], "image/png");
    let png_ref = png["blob"].clone();
    let png_cid = png_ref["ref"]["$link"].as_str().unwrap().to_owned();

    let never = json!({ "$type": "blob", "ref": { "$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy" }, "mimeType": "image/png", "size": 10 });
    let with_image = |image: Value| {
        json!({ "repo": a.did, "collection": "app.bsky.feed.post", "record": {
            "$type": "app.bsky.feed.post", "text": "pic", "createdAt": "2024-01-01T00:00:00.000Z",
            "embed": { "$type": "app.bsky.embed.images", "images": [{ "image": image, "alt": "" }] }
        } })
    };
    refused!(
        cases,
        pds,
        &a.did,
        "record referencing a blob never uploaded",
        400,
        "BlobNotFound",
        pds.post(
            "com.atproto.repo.createRecord",
            tok,
            &with_image(never.clone())
        )
    );
    refused!(cases, pds, &a.did, "unknown record referencing a blob never uploaded", 400, "BlobNotFound",
        pds.post("com.atproto.repo.createRecord", tok, &json!({ "repo": a.did, "collection": "com.example.x", "record": { "$type": "com.example.x", "b": never } })));
    let mut wrong_mime = png_ref.clone();
    wrong_mime["mimeType"] = json!("image/jpeg");
    refused!(
        cases,
        pds,
        &a.did,
        "blob ref with a mismatched mimeType",
        400,
        "InvalidMimeType",
        pds.post(
            "com.atproto.repo.createRecord",
            tok,
            &with_image(wrong_mime)
        )
    );
    let mut wrong_size = png_ref.clone();
    wrong_size["size"] = json!(99999);
    refused!(
        cases,
        pds,
        &a.did,
        "blob ref with a mismatched size",
        400,
        "InvalidSize",
        pds.post(
            "com.atproto.repo.createRecord",
            tok,
            &with_image(wrong_size)
        )
    );
    // Another account's blob cannot be claimed.
    let b = pds.create_account("bob").await;
    refused!(cases, pds, &b.did, "record referencing another account's blob", 400, "BlobNotFound",
        pds.post("com.atproto.repo.createRecord", Some(&b.access), &json!({ "repo": b.did, "collection": "com.example.x", "record": { "$type": "com.example.x", "b": png_ref } })));

    // getBlob with path tricks.
    for q in [
        format!("did={}&cid=../../etc/passwd", a.did),
        format!("did={}&cid=..%2F..%2Fetc%2Fpasswd", a.did),
        format!("did={}&cid=%2e%2e", a.did),
        format!("did={}&cid=", a.did),
        format!("did={}", a.did),
        format!("cid={png_cid}"),
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("getBlob {q}"),
            400,
            "InvalidRequest",
            pds.get(&format!("com.atproto.sync.getBlob?{q}"), None)
        );
    }
    for q in [
        format!("did=../x&cid={png_cid}"),
        format!("did=..%2F..%2Fetc&cid={png_cid}"),
        format!("did=did:plc:../../x&cid={png_cid}"),
        format!("did=/etc/passwd&cid={png_cid}"),
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("getBlob {q}"),
            400,
            "InvalidRequest",
            pds.get(&format!("com.atproto.sync.getBlob?{q}"), None)
        );
    }
    refused!(cases, pds, &a.did, "getBlob of a dag-cbor CID", 400, "BlobNotFound",
        pds.get(&format!("com.atproto.sync.getBlob?did={}&cid=bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", a.did), None));
    refused!(
        cases,
        pds,
        &a.did,
        "getBlob of someone else's blob",
        400,
        "BlobNotFound",
        pds.get(
            &format!("com.atproto.sync.getBlob?did={}&cid={png_cid}", b.did),
            None
        )
    );

    // Garbage collection: referenced blobs stay, unreferenced ones go after the grace period.
    pds.post(
        "com.atproto.repo.createRecord",
        tok,
        &with_image(png["blob"].clone()),
    )
    .await
    .ok();
    let edge_cid = edge["blob"]["ref"]["$link"].as_str().unwrap().to_owned();
    let state = pds.state().clone();
    cases.case("collection with a long grace keeps young unreferenced blobs");
    hearth_pds::background::collect_blobs(&state, 3600)
        .await
        .unwrap();
    pds.get(
        &format!("com.atproto.sync.getBlob?did={}&cid={edge_cid}", a.did),
        None,
    )
    .await
    .ok();
    cases.case("unreferenced blob collected after the grace period");
    let n = hearth_pds::background::collect_blobs(&state, 0)
        .await
        .unwrap();
    assert_eq!(n, 1, "exactly the unreferenced blob's bytes are removed");
    pds.get(
        &format!("com.atproto.sync.getBlob?did={}&cid={edge_cid}", a.did),
        None,
    )
    .await
    .err(400, "BlobNotFound");
    let edge_path = state
        .blobs
        .path(&atproto::data::parse_cid(&edge_cid).unwrap());
    assert!(!edge_path.exists(), "collected blob's file is gone");
    cases.case("referenced blob kept");
    let r = pds
        .http
        .get(pds.xrpc(&format!(
            "com.atproto.sync.getBlob?did={}&cid={png_cid}",
            a.did
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(&r.bytes().await.unwrap()[..], PNG);
    pds.assert_healthy().await;
}

#[tokio::test]
async fn http_surface_tricks() {
    let cases = Cases::new("pds_hostile http surface");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let host = format!("localhost:{}", pds.port);
    let raw = |target: &str, method: &str| {
        format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };

    for (target, status, name) in [
        ("/xrpc/../../etc/passwd", 404, "NotFound"),
        ("/xrpc/%2e%2e/x", 404, "NotFound"),
        ("/xrpc/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404, "NotFound"),
        ("/../../etc/passwd", 404, "NotFound"),
        (
            "/xrpc/com.atproto.sync.getBlob/../../../etc/passwd",
            404,
            "NotFound",
        ),
        ("/xrpc/", 404, "NotFound"),
        ("/xrpc", 404, "NotFound"),
        ("/xrpc/com.example.fooBar", 501, "MethodNotImplemented"),
        (
            "/xrpc/com.atproto.repo.doesNotExist",
            501,
            "MethodNotImplemented",
        ),
        (
            "/xrpc/com.atproto.server.createAccount2",
            501,
            "MethodNotImplemented",
        ),
        ("/etc/passwd", 404, "NotFound"),
    ] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("GET {target}"),
            status,
            name,
            pds.raw(&raw(target, "GET"))
        );
    }
    // The AppView is unreachable in this world: proxied calls fail cleanly.
    refused!(
        cases,
        pds,
        &a.did,
        "app.bsky call with no AppView reachable",
        502,
        "UpstreamFailure",
        pds.get("app.bsky.feed.getTimeline", Some(&a.access))
    );
    for header in ["nonsense", "did:web:x.example", "#svc", "not-a-did#svc"] {
        refused!(
            cases,
            pds,
            &a.did,
            &format!("atproto-proxy {header:?}"),
            400,
            "InvalidRequest",
            async {
                let r = pds
                    .http
                    .get(pds.xrpc("com.example.fooBar"))
                    .header("atproto-proxy", header)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                Res {
                    status,
                    body: serde_json::from_str(&text).unwrap_or(Value::Null),
                    text,
                }
            }
        );
    }

    // Wrong HTTP methods.
    for (target, method) in [
        ("/xrpc/com.atproto.repo.createRecord", "GET"),
        ("/xrpc/com.atproto.repo.getRecord", "POST"),
        ("/xrpc/com.atproto.server.createSession", "PUT"),
        ("/xrpc/com.example.fooBar", "DELETE"),
        ("/xrpc/_health", "POST"),
    ] {
        let req = if method == "POST" || method == "PUT" {
            format!(
                "{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            )
        } else {
            raw(target, method)
        };
        refused!(
            cases,
            pds,
            &a.did,
            &format!("{method} {target}"),
            405,
            "InvalidRequest",
            pds.raw(&req)
        );
    }

    // Huge query strings, up to what an HTTP URI can hold (64 KiB), reach the handlers and get
    // XRPC errors. (Sent raw: HTTP client libraries refuse URLs this long.)
    let long = "x".repeat(60_000);
    refused!(cases, pds, &a.did, "getRecord with a 60 kB rkey", 400, "InvalidRequest",
        pds.raw(&raw(&format!("/xrpc/com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey={long}", a.did), "GET")));
    refused!(cases, pds, &a.did, "getRecord with a 60 kB repo", 400, "RepoNotFound",
        pds.raw(&raw(&format!("/xrpc/com.atproto.repo.getRecord?repo={long}&collection=app.bsky.feed.post&rkey=self"), "GET")));
    refused!(cases, pds, &a.did, "getBlob with a 60 kB did", 400, "InvalidRequest",
        pds.raw(&raw(&format!("/xrpc/com.atproto.sync.getBlob?did=did:plc:{long}&cid=bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"), "GET")));
    refused!(
        cases,
        pds,
        &a.did,
        "listRecords with 7000 parameters",
        400,
        "InvalidRequest",
        pds.raw(&raw(
            &format!(
                "/xrpc/com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post&{}",
                a.did,
                "limit=1&".repeat(7_000)
            ),
            "GET"
        ))
    );
    refused!(
        cases,
        pds,
        &a.did,
        "unknown method with a 60 kB query",
        501,
        "MethodNotImplemented",
        pds.raw(&raw(&format!("/xrpc/com.example.fooBar?q={long}"), "GET"))
    );
    refused!(
        cases,
        pds,
        &a.did,
        "getBlocks with 1001 CIDs",
        400,
        "InvalidRequest",
        pds.raw(&raw(
            &format!(
                "/xrpc/com.atproto.sync.getBlocks?did={}&{}",
                a.did,
                "cids=QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG&".repeat(1001)
            ),
            "GET"
        ))
    );
    // Past that, hyper refuses the request before routing (414 URI Too Long, or 431 past its
    // header buffer), with no body: no handler ever sees it, so it cannot be an XRPC error.
    // What matters is that nothing changes and the server keeps serving.
    for size in [100_000, 1_000_000] {
        cases.case(&format!("{size}-byte request target"));
        let before = pds.snapshot(&a.did).await;
        let r = pds
            .raw(&raw(
                &format!("/xrpc/com.atproto.repo.getRecord?rkey={}", "y".repeat(size)),
                "GET",
            ))
            .await;
        assert!(matches!(r.status.as_u16(), 414 | 431), "{}", r.status);
        assert_eq!(before, pds.snapshot(&a.did).await);
        pds.assert_healthy().await;
    }
    refused!(
        cases,
        pds,
        &a.did,
        "listRecords with limit=-1",
        400,
        "InvalidRequest",
        pds.get(
            &format!(
                "com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post&limit=-1",
                a.did
            ),
            None
        )
    );
    refused!(cases, pds, &a.did, "listRecords with limit=huge", 400, "InvalidRequest",
        pds.get(&format!("com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post&limit=99999999999999999999", a.did), None));
    refused!(
        cases,
        pds,
        &a.did,
        "getBlocks with a bad CID",
        400,
        "InvalidRequest",
        pds.get(
            &format!("com.atproto.sync.getBlocks?did={}&cids=../../x", a.did),
            None
        )
    );
}

#[tokio::test]
async fn login_rate_limit() {
    let cases = Cases::new("pds_hostile rate limits");
    let w = World::new(Options {
        rate_limits: true,
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    // The per-IP login budget is 30 per five minutes; wrong passwords spend it too.
    for i in 0..30 {
        let pw = if i % 2 == 0 { "wrong" } else { PASSWORD };
        let r = pds.login(&a.handle, pw).await;
        assert_ne!(r.status, 429, "attempt {i} was limited: {}", r.text);
    }
    refused!(
        cases,
        pds,
        &a.did,
        "31st login from one IP",
        429,
        "RateLimitExceeded",
        pds.login(&a.handle, PASSWORD)
    );
    refused!(
        cases,
        pds,
        &a.did,
        "and with a wrong password",
        429,
        "RateLimitExceeded",
        pds.login(&a.handle, "wrong")
    );
    cases.case("other methods are not affected");
    pds.get("com.atproto.server.getSession", Some(&a.access))
        .await
        .ok();
}

/// Every `blob` row has its bytes on disk.
async fn assert_blob_rows_have_bytes(pds: &Pds) {
    let cids: Vec<String> = pds
        .state()
        .db
        .readers
        .read(|c| {
            c.prepare("SELECT DISTINCT cid FROM blob")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                .map_err(hearth_pds::db::DbError::from)
        })
        .await
        .unwrap();
    for cid in cids {
        let path = pds
            .state()
            .blobs
            .path(&atproto::data::parse_cid(&cid).unwrap());
        assert!(
            path.exists(),
            "blob {cid} is recorded but its bytes are gone"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_collection_racing_uploads_keeps_bytes() {
    let cases = Cases::new("pds_hostile blob collection race");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let b = pds.create_account("bob").await;
    let state = pds.state().clone();
    const UPLOAD: &str = "com.atproto.repo.uploadBlob";
    for i in 0..60 {
        cases.case(&format!(
            "collection of shared bytes racing a new upload of them ({i})"
        ));
        let bytes = format!("shared bytes {i}").into_bytes();
        // Alice's copy is unreferenced, so a zero grace collects it at once, while Bob uploads
        // the same content.
        pds.post_raw(UPLOAD, Some(&a.access), Some("text/plain"), bytes.clone())
            .await
            .ok();
        let (collected, uploaded) = tokio::join!(
            hearth_pds::background::collect_blobs(&state, 0),
            pds.post_raw(UPLOAD, Some(&b.access), Some("text/plain"), bytes.clone()),
        );
        collected.unwrap();
        let up = uploaded.ok();
        assert_blob_rows_have_bytes(pds).await;
        // If Bob's row survived the collection, his blob is served.
        let cid = up["blob"]["ref"]["$link"].as_str().unwrap().to_owned();
        let r = pds
            .get(
                &format!("com.atproto.sync.getBlob?did={}&cid={cid}", b.did),
                None,
            )
            .await;
        if r.status != 200 {
            r.err(400, "BlobNotFound");
        }
    }
    pds.assert_healthy().await;
}
