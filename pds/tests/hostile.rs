//! The PDS under hostile input: malformed and oversized bodies, bad records, bad tokens, writes
//! to repositories that are not the caller's, stale swaps, oversized batches, bad blobs, path
//! tricks, and rate limits. Every refusal must be `{"error","message"}` JSON with the exact
//! XRPC error name and status, must change nothing (repository head and rev, record and blob
//! counts, the firehose), and must leave the server answering.

mod common;

use common::*;
use hearth_pds::auth::{SessionClaims, TokenKind, mint_session};
use hearth_testkit::{Call, Refusal};
use serde_json::{Value, json};

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
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "malformed JSON",
                400,
                "InvalidRequest",
                Call::post_bytes(
                    CREATE,
                    Some("application/json"),
                    br#"{"repo": "x", "#.to_vec(),
                )
                .bearer(tok),
            ),
            Refusal::new(
                "JSON that is not an object",
                400,
                "InvalidRequest",
                Call::post_bytes(CREATE, Some("application/json"), b"[1,2,3]".to_vec()).bearer(tok),
            ),
            Refusal::new(
                "empty body",
                400,
                "InvalidRequest",
                Call::post_bytes(CREATE, Some("application/json"), Vec::new()).bearer(tok),
            ),
        ],
    )
    .await;
    let good = serde_json::to_vec(&create_body(&a, "app.bsky.feed.post", None, post("x"))).unwrap();
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "wrong content type",
                400,
                "InvalidRequest",
                Call::post_bytes(CREATE, Some("text/plain"), good.clone()).bearer(tok),
            ),
            Refusal::new(
                "no content type",
                400,
                "InvalidRequest",
                Call::post_bytes(CREATE, None, good.clone()).bearer(tok),
            ),
            Refusal::new(
                "form content type",
                400,
                "InvalidRequest",
                Call::post_bytes(
                    CREATE,
                    Some("application/x-www-form-urlencoded"),
                    good.clone(),
                )
                .bearer(tok),
            ),
        ],
    )
    .await;
    let huge = serde_json::to_vec(&create_body(
        &a,
        "com.example.blob",
        None,
        json!({ "$type": "com.example.blob", "s": "x".repeat(2 * 1024 * 1024 + 10) }),
    ))
    .unwrap();
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "JSON body over the limit",
                413,
                "PayloadTooLarge",
                Call::post_bytes(CREATE, Some("application/json"), huge).bearer(tok),
            ),
            Refusal::new(
                "missing required field (collection)",
                400,
                "InvalidRequest",
                Call::post(CREATE, &json!({ "repo": a.did, "record": post("x") })).bearer(tok),
            ),
            Refusal::new(
                "field of the wrong type",
                400,
                "InvalidRequest",
                Call::post(
                    CREATE,
                    &json!({ "repo": a.did, "collection": 5, "record": post("x") }),
                )
                .bearer(tok),
            ),
        ],
    )
    .await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_body = format!(
        r#"{{"repo":"{}","collection":"com.example.x","record":{deep}}}"#,
        a.did
    );
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "JSON nested 10000 deep",
            400,
            "InvalidRequest",
            Call::post_bytes(CREATE, Some("application/json"), deep_body.into_bytes()).bearer(tok),
        )],
    )
    .await;

    // --- records ---
    assert_refused(&cases, pds, &a.did, [
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
            json!({
                "$type": "app.bsky.feed.like",
                "text": "hi",
                "createdAt": "2024-01-01T00:00:00.000Z",
            }),
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
            json!({
                "$type": "com.example.thing",
                "l": { "$link": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", "x": 1 },
            }),
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
    ].into_iter().flat_map(|(what, record)| [
            Refusal::new(what, 400, "InvalidRequest", Call::post(CREATE, &create_body(&a, "com.example.thing", None, record.clone())).bearer(tok)),
            // The same record through putRecord and applyWrites.
            Refusal::new(format!("{what} (putRecord)"), 400, "InvalidRequest", Call::post("com.atproto.repo.putRecord", &json!({
                "repo": a.did,
                "collection": "com.example.thing",
                "rkey": "k",
                "record": record.clone(),
            })).bearer(tok)),
            Refusal::new(format!("{what} (applyWrites)"), 400, "InvalidRequest", Call::post("com.atproto.repo.applyWrites", &json!({ "repo": a.did, "writes": [
                { "$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.thing", "value": record }
            ] })).bearer(tok)),
        ])).await;

    // --- record keys and collections ---
    let long_key = "a".repeat(600);
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            ".",
            "..",
            "a/b",
            long_key.as_str(),
            "",
            "a b",
            "a#b",
            "a?b",
            "%2e%2e",
        ]
        .into_iter()
        .flat_map(|rkey| {
            [
                Refusal::new(
                    format!("record key {:?}", &rkey[..rkey.len().min(20)]),
                    400,
                    "InvalidRequest",
                    Call::post(
                        CREATE,
                        &create_body(
                            &a,
                            "com.example.thing",
                            Some(rkey),
                            json!({ "$type": "com.example.thing" }),
                        ),
                    )
                    .bearer(tok),
                ),
                Refusal::new(
                    format!("putRecord key {:?}", &rkey[..rkey.len().min(20)]),
                    400,
                    "InvalidRequest",
                    Call::post(
                        "com.atproto.repo.putRecord",
                        &json!({
                            "repo": a.did,
                            "collection": "com.example.thing",
                            "rkey": rkey,
                            "record": { "$type": "com.example.thing" },
                        }),
                    )
                    .bearer(tok),
                ),
                Refusal::new(
                    format!("getRecord key {:?}", &rkey[..rkey.len().min(20)]),
                    400,
                    "InvalidRequest",
                    Call::get(&format!(
                        "com.atproto.repo.getRecord?repo={}&collection=com.example.thing&rkey={}",
                        a.did,
                        urlencode(rkey)
                    )),
                ),
            ]
        }),
    )
    .await;
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            "notansid",
            "com.example",
            "com..example.x",
            "com.example/x",
            "../../etc",
            "com.example.x.",
            "1com.example.x",
            "",
        ]
        .into_iter()
        .map(|nsid| {
            Refusal::new(
                format!("collection {nsid:?}"),
                400,
                "InvalidRequest",
                Call::post(
                    CREATE,
                    &create_body(&a, nsid, None, json!({ "$type": nsid })),
                )
                .bearer(tok),
            )
        }),
    )
    .await;

    // --- size and lexicons ---
    let big = json!({ "$type": "com.example.big", "s": "x".repeat(1024 * 1024 + 16) });
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "record over 1 MiB encoded",
            413,
            "PayloadTooLarge",
            Call::post(CREATE, &create_body(&a, "com.example.big", None, big)).bearer(tok),
        )],
    )
    .await;
    let mut long_post = post("");
    long_post["text"] = json!("a".repeat(3001));
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "post with 3001 graphemes",
            400,
            "InvalidRequest",
            Call::post(
                CREATE,
                &create_body(&a, "app.bsky.feed.post", None, long_post),
            )
            .bearer(tok),
        )],
    )
    .await;
    let mut graphemes = post("");
    graphemes["text"] = json!("é".repeat(301));
    assert_refused(&cases, pds, &a.did, [
        Refusal::new("post with 301 graphemes", 400, "InvalidRequest", Call::post(CREATE, &create_body(&a, "app.bsky.feed.post", None, graphemes)).bearer(tok)),
        Refusal::new("post missing createdAt", 400, "InvalidRequest", Call::post(CREATE, &create_body(
                &a,
                "app.bsky.feed.post",
                None,
                json!({ "$type": "app.bsky.feed.post", "text": "hi" })
            )).bearer(tok)),
        Refusal::new("post with a bad createdAt", 400, "InvalidRequest", Call::post(CREATE, &create_body(
                &a,
                "app.bsky.feed.post",
                None,
                json!({ "$type": "app.bsky.feed.post", "text": "hi", "createdAt": "yesterday" })
            )).bearer(tok)),
        Refusal::new("profile with a key other than self", 400, "InvalidRequest", Call::post(CREATE, &create_body(
                &a,
                "app.bsky.actor.profile",
                Some("notself"),
                json!({ "$type": "app.bsky.actor.profile" })
            )).bearer(tok)),
    ]).await;
    let mut unknown = create_body(
        &a,
        "com.example.unknown",
        None,
        json!({ "$type": "com.example.unknown" }),
    );
    unknown["validate"] = json!(true);
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "validate:true on an unknown collection",
            400,
            "InvalidRequest",
            Call::post(CREATE, &unknown).bearer(tok),
        )],
    )
    .await;

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
    let mail = tempfile::tempdir().unwrap();
    let smtp = smtp::start_smtp(mail.path()).await;
    let w = World::new(Options {
        smtp: Some(smtp.url()),
        ..Options::default()
    });
    let pds = &w.pds;
    let a = pds.create_account("alice").await;
    let state = pds.state().clone();
    let body = create_body(&a, "app.bsky.feed.post", None, post("should not land"));
    // The Authorization header exactly as given (`None`: no header).
    let write = |authorization: Option<String>| {
        let call = Call::post("com.atproto.repo.createRecord", &body);
        match authorization {
            Some(value) => call.header("authorization", &value),
            None => call,
        }
    };
    let bearer = |t: &str| Some(format!("Bearer {t}"));

    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new("no token", 401, "AuthenticationRequired", write(None)),
            Refusal::new(
                "Basic instead of Bearer",
                401,
                "AuthenticationRequired",
                write(Some("Basic YWxpY2U6cGFzcw==".into())),
            ),
            // HTTP trims the trailing space, so this arrives as a bare "Bearer" scheme.
            Refusal::new(
                "empty bearer",
                401,
                "AuthenticationRequired",
                write(Some("Bearer ".into())),
            ),
        ],
    )
    .await;
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            "abc",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "....",
            "eyJhbGciOiJub25lIn0.e30.",
        ]
        .into_iter()
        .map(|bad| {
            Refusal::new(
                format!("malformed token {bad:?}"),
                400,
                "InvalidToken",
                write(bearer(bad)),
            )
        }),
    )
    .await;
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
    let access = |key: &[u8; 32], aud: &str, sub: &str, exp: i64| {
        mint_session(
            key,
            TokenKind::Access,
            &claims("com.atproto.access", aud, sub, exp),
        )
    };
    let service = state.service_did.as_str();
    // A real token's signature on altered claims.
    let altered = access(&key, service, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", now + 600);
    let altered_claims = altered.split('.').nth(1).unwrap();
    let mut parts: Vec<&str> = a.access.split('.').collect();
    parts[1] = altered_claims;
    let refresh_scoped = |kind| {
        mint_session(
            &key,
            kind,
            &claims("com.atproto.refresh", service, &a.did, now + 600),
        )
    };
    let refresh_session = |token: &str| {
        Call::post("com.atproto.server.refreshSession", &json!({})).bearer(Some(token))
    };
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "expired token",
                400,
                "ExpiredToken",
                write(bearer(&access(&key, service, &a.did, now - 1))),
            ),
            Refusal::new(
                "token signed with another key",
                400,
                "InvalidToken",
                write(bearer(&access(&[9u8; 32], service, &a.did, now + 600))),
            ),
            Refusal::new(
                "signature over other claims",
                400,
                "InvalidToken",
                write(bearer(&parts.join("."))),
            ),
            Refusal::new(
                "alg none",
                400,
                "InvalidToken",
                write(bearer(&format!(
                    "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{altered_claims}."
                ))),
            ),
            Refusal::new(
                "refresh token as access token",
                400,
                "InvalidToken",
                write(bearer(&a.refresh)),
            ),
            Refusal::new(
                "access token for another service",
                400,
                "InvalidToken",
                write(bearer(&access(
                    &key,
                    "did:web:other.example",
                    &a.did,
                    now + 600,
                ))),
            ),
            Refusal::new(
                "access token with the refresh scope",
                400,
                "InvalidToken",
                write(bearer(&refresh_scoped(TokenKind::Access))),
            ),
            Refusal::new(
                "refresh token without a jti",
                400,
                "InvalidToken",
                refresh_session(&refresh_scoped(TokenKind::Refresh)),
            ),
            Refusal::new(
                "access token as refresh token",
                400,
                "InvalidToken",
                refresh_session(&a.access),
            ),
        ],
    )
    .await;

    // A deleted account's tokens.
    let gone = pds.create_account("gone").await;
    pds.admin_post(
        "com.atproto.admin.deleteAccount",
        &json!({ "did": gone.did }),
    )
    .await
    .ok();
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "deleted account's access token",
                400,
                "InvalidToken",
                Call::get("com.atproto.server.getSession").bearer(Some(&gone.access)),
            ),
            Refusal::new(
                "deleted account's refresh token",
                400,
                "InvalidToken",
                Call::post("com.atproto.server.refreshSession", &json!({}))
                    .bearer(Some(&gone.refresh)),
            ),
            Refusal::new(
                "deleted account writing",
                400,
                "InvalidToken",
                Call::post(
                    "com.atproto.repo.createRecord",
                    &create_body(&gone, "app.bsky.feed.post", None, post("x")),
                )
                .bearer(Some(&gone.access)),
            ),
        ],
    )
    .await;

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
    assert_refused(&cases, pds, &a.did, [
        Refusal::new("app password: createAppPassword", 400, "InvalidToken", Call::post("com.atproto.server.createAppPassword", &json!({ "name": "another" })).bearer(Some(&app_tok))),
        Refusal::new("app password: revokeAppPassword", 400, "InvalidToken", Call::post("com.atproto.server.revokeAppPassword", &json!({ "name": "phone" })).bearer(Some(&app_tok))),
        Refusal::new("app password: deactivateAccount", 400, "InvalidToken", Call::post("com.atproto.server.deactivateAccount", &json!({})).bearer(Some(&app_tok))),
        Refusal::new("app password: requestAccountDelete", 400, "InvalidToken", Call::post("com.atproto.server.requestAccountDelete", &json!({})).bearer(Some(&app_tok))),
        Refusal::new("app password: service token for createAppPassword", 400, "InvalidToken", Call::get("com.atproto.server.getServiceAuth?aud=did:web:x.example&lxm=com.atproto.server.createAppPassword").bearer(Some(&app_tok))),
    ]).await;
    // deleteAccount takes the account password; an app password is not it.
    let token = delete_code(pds, &smtp, &a).await;
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "deleteAccount with the app password",
                401,
                "AuthenticationRequired",
                Call::post(
                    "com.atproto.server.deleteAccount",
                    &json!({ "did": a.did, "password": app_pw, "token": token }),
                ),
            ),
            Refusal::new(
                "deleteAccount with a wrong token",
                400,
                "InvalidToken",
                Call::post(
                    "com.atproto.server.deleteAccount",
                    &json!({ "did": a.did, "password": PASSWORD, "token": "00000-00000" }),
                ),
            ),
        ],
    )
    .await;
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
    assert_refused(&cases, pds, &b.did, [
        b.did.as_str(),
        b.handle.as_str(),
        "did:plc:nobodyhereatallxxxxxxxxx",
    ].into_iter().flat_map(|repo| [
            Refusal::new(format!("createRecord in {repo}"), 401, "AuthenticationRequired", Call::post("com.atproto.repo.createRecord", &json!({
                "repo": repo,
                "collection": "app.bsky.feed.post",
                "record": post("mine now"),
            })).bearer(tok)),
            Refusal::new(format!("putRecord in {repo}"), 401, "AuthenticationRequired", Call::post("com.atproto.repo.putRecord", &json!({
                "repo": repo,
                "collection": "app.bsky.actor.profile",
                "rkey": "self",
                "record": { "$type": "app.bsky.actor.profile" },
            })).bearer(tok)),
            Refusal::new(format!("deleteRecord in {repo}"), 401, "AuthenticationRequired", Call::post("com.atproto.repo.deleteRecord", &json!({
                "repo": repo,
                "collection": "app.bsky.feed.post",
                "rkey": "3jzfcijpj2z2a",
            })).bearer(tok)),
            Refusal::new(format!("applyWrites in {repo}"), 401, "AuthenticationRequired", Call::post("com.atproto.repo.applyWrites", &json!({
                "repo": repo,
                "writes": [{ "$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "value": post("x") }],
            })).bearer(tok)),
        ])).await;
    assert_refused(
        &cases,
        pds,
        &b.did,
        [Refusal::new(
            "uploadBlob is always to one's own account",
            401,
            "AuthenticationRequired",
            Call::post_bytes(
                "com.atproto.repo.uploadBlob",
                Some("text/plain"),
                b"hi".to_vec(),
            ),
        )],
    )
    .await;

    // Swaps.
    let old_head = first["commit"]["cid"].as_str().unwrap();
    assert_refused(&cases, pds, &a.did, [
        Refusal::new("stale swapCommit (createRecord)", 400, "InvalidSwap", Call::post("com.atproto.repo.createRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "record": post("x"),
            "swapCommit": old_head,
        })).bearer(tok)),
        Refusal::new("stale swapCommit (applyWrites)", 400, "InvalidSwap", Call::post("com.atproto.repo.applyWrites", &json!({
            "repo": a.did,
            "swapCommit": old_head,
            "writes": [{ "$type": "com.atproto.repo.applyWrites#delete", "collection": "app.bsky.feed.post", "rkey": rkey(&first) }],
        })).bearer(tok)),
        Refusal::new("stale swapCommit (deleteRecord)", 400, "InvalidSwap", Call::post("com.atproto.repo.deleteRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey(&first),
            "swapCommit": old_head,
        })).bearer(tok)),
        Refusal::new("swapCommit that is not a CID", 400, "InvalidRequest", Call::post("com.atproto.repo.createRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "record": post("x"),
            "swapCommit": "../etc",
        })).bearer(tok)),
    ]).await;
    let first_cid = first["cid"].as_str().unwrap();
    let second_cid = second["cid"].as_str().unwrap();
    assert_refused(&cases, pds, &a.did, [
        Refusal::new("stale swapRecord (putRecord)", 400, "InvalidSwap", Call::post("com.atproto.repo.putRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey(&first),
            "record": post("edited"),
            "swapRecord": second_cid,
        })).bearer(tok)),
        Refusal::new("swapRecord null on an existing record", 400, "InvalidSwap", Call::post("com.atproto.repo.putRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey(&first),
            "record": post("edited"),
            "swapRecord": null,
        })).bearer(tok)),
        Refusal::new("swapRecord on a missing record", 400, "InvalidSwap", Call::post("com.atproto.repo.putRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "rkey": "3jzfcijpj2z2a",
            "record": post("new"),
            "swapRecord": first_cid,
        })).bearer(tok)),
        Refusal::new("stale swapRecord (deleteRecord)", 400, "InvalidSwap", Call::post("com.atproto.repo.deleteRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey(&first),
            "swapRecord": second_cid,
        })).bearer(tok)),
        Refusal::new("createRecord on an existing rkey", 400, "InvalidRequest", Call::post("com.atproto.repo.createRecord", &json!({
            "repo": a.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey(&first),
            "record": post("again"),
        })).bearer(tok)),
        Refusal::new("applyWrites create on an existing rkey", 400, "InvalidRequest", Call::post("com.atproto.repo.applyWrites", &json!({
            "repo": a.did,
            "writes": [{ "$type": "com.atproto.repo.applyWrites#create", "collection": "app.bsky.feed.post", "rkey": rkey(&first), "value": post("again") }],
        })).bearer(tok)),
    ]).await;

    // Batches.
    let many: Vec<Value> = (0..201)
        .map(|i| {
            json!({
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": "com.example.n",
                "rkey": format!("k{i}"),
                "value": { "$type": "com.example.n" },
            })
        })
        .collect();
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "applyWrites with 201 writes",
            400,
            "InvalidRequest",
            Call::post(
                "com.atproto.repo.applyWrites",
                &json!({ "repo": a.did, "writes": many }),
            )
            .bearer(tok),
        )],
    )
    .await;
    let ok_create = json!({
        "$type": "com.atproto.repo.applyWrites#create",
        "collection": "com.example.n",
        "rkey": "fine",
        "value": { "$type": "com.example.n" },
    });
    for (what, name, second) in [
        (
            "2nd write updates a missing record",
            "InvalidRequest",
            json!({
                "$type": "com.atproto.repo.applyWrites#update",
                "collection": "com.example.n",
                "rkey": "missing",
                "value": { "$type": "com.example.n" },
            }),
        ),
        (
            "2nd write deletes a missing record",
            "InvalidRequest",
            json!({
                "$type": "com.atproto.repo.applyWrites#delete",
                "collection": "com.example.n",
                "rkey": "missing",
            }),
        ),
        (
            "2nd write repeats the 1st's path",
            "InvalidRequest",
            ok_create.clone(),
        ),
        (
            "2nd write has a float",
            "InvalidRequest",
            json!({
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": "com.example.n",
                "value": { "$type": "com.example.n", "f": 0.5 },
            }),
        ),
        (
            "2nd write has an invalid post",
            "InvalidRequest",
            json!({
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": "app.bsky.feed.post",
                "value": { "$type": "app.bsky.feed.post" },
            }),
        ),
        (
            "2nd write has an unknown $type",
            "InvalidRequest",
            json!({
                "$type": "com.atproto.repo.applyWrites#upsert",
                "collection": "com.example.n",
                "rkey": "x",
                "value": { "$type": "com.example.n" },
            }),
        ),
        (
            "2nd write has a bad rkey",
            "InvalidRequest",
            json!({
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": "com.example.n",
                "rkey": "..",
                "value": { "$type": "com.example.n" },
            }),
        ),
        (
            "2nd write has no collection",
            "InvalidRequest",
            json!({
                "$type": "com.atproto.repo.applyWrites#create",
                "value": { "$type": "com.example.n" },
            }),
        ),
        (
            "2nd write references a missing blob",
            "BlobNotFound",
            json!({
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": "com.example.n",
                "value": { "$type": "com.example.n", "b": { "$type": "blob", "ref": { "$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy" }, "mimeType": "image/png", "size": 10 } },
            }),
        ),
        (
            "2nd write is not an object",
            "InvalidRequest",
            json!("create"),
        ),
    ] {
        assert_refused(
            &cases,
            pds,
            &a.did,
            [Refusal::new(
                format!("applyWrites: {what}"),
                400,
                name,
                Call::post(
                    "com.atproto.repo.applyWrites",
                    &json!({ "repo": a.did, "writes": [ok_create.clone(), second] }),
                )
                .bearer(tok),
            )],
        )
        .await;
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
        .map(|i| {
            json!({
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": "com.example.n",
                "rkey": format!("k{i}"),
                "value": { "$type": "com.example.n" },
            })
        })
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

    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "blob over the limit (Content-Length)",
            413,
            "PayloadTooLarge",
            Call::post_bytes(UPLOAD, Some("application/octet-stream"), vec![7u8; 1025]).bearer(tok),
        )],
    )
    .await;
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
        Res::read(r).await.err(413, "PayloadTooLarge");
    }
    assert_eq!(before, pds.snapshot(&a.did).await);
    pds.assert_healthy().await;
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "empty blob",
            400,
            "InvalidRequest",
            Call::post_bytes(UPLOAD, Some("image/png"), Vec::new()).bearer(tok),
        )],
    )
    .await;
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

    let never = json!({
        "$type": "blob",
        "ref": { "$link": "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy" },
        "mimeType": "image/png",
        "size": 10,
    });
    let with_image = |image: Value| {
        json!({ "repo": a.did, "collection": "app.bsky.feed.post", "record": {
            "$type": "app.bsky.feed.post", "text": "pic", "createdAt": "2024-01-01T00:00:00.000Z",
            "embed": { "$type": "app.bsky.embed.images", "images": [{ "image": image, "alt": "" }] }
        } })
    };
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "record referencing a blob never uploaded",
                400,
                "BlobNotFound",
                Call::post("com.atproto.repo.createRecord", &with_image(never.clone())).bearer(tok),
            ),
            Refusal::new(
                "unknown record referencing a blob never uploaded",
                400,
                "BlobNotFound",
                Call::post(
                    "com.atproto.repo.createRecord",
                    &json!({
                        "repo": a.did,
                        "collection": "com.example.x",
                        "record": { "$type": "com.example.x", "b": never },
                    }),
                )
                .bearer(tok),
            ),
        ],
    )
    .await;
    let mut wrong_mime = png_ref.clone();
    wrong_mime["mimeType"] = json!("image/jpeg");
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "blob ref with a mismatched mimeType",
            400,
            "InvalidMimeType",
            Call::post("com.atproto.repo.createRecord", &with_image(wrong_mime)).bearer(tok),
        )],
    )
    .await;
    let mut wrong_size = png_ref.clone();
    wrong_size["size"] = json!(99999);
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "blob ref with a mismatched size",
            400,
            "InvalidSize",
            Call::post("com.atproto.repo.createRecord", &with_image(wrong_size)).bearer(tok),
        )],
    )
    .await;
    // Another account's blob cannot be claimed.
    let b = pds.create_account("bob").await;
    assert_refused(
        &cases,
        pds,
        &b.did,
        [Refusal::new(
            "record referencing another account's blob",
            400,
            "BlobNotFound",
            Call::post(
                "com.atproto.repo.createRecord",
                &json!({
                    "repo": b.did,
                    "collection": "com.example.x",
                    "record": { "$type": "com.example.x", "b": png_ref },
                }),
            )
            .bearer(Some(&b.access)),
        )],
    )
    .await;

    // getBlob with path tricks.
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            format!("did={}&cid=../../etc/passwd", a.did),
            format!("did={}&cid=..%2F..%2Fetc%2Fpasswd", a.did),
            format!("did={}&cid=%2e%2e", a.did),
            format!("did={}&cid=", a.did),
            format!("did={}", a.did),
            format!("cid={png_cid}"),
            format!("did=../x&cid={png_cid}"),
            format!("did=..%2F..%2Fetc&cid={png_cid}"),
            format!("did=did:plc:../../x&cid={png_cid}"),
            format!("did=/etc/passwd&cid={png_cid}"),
        ]
        .into_iter()
        .map(|q| {
            Refusal::new(
                format!("getBlob {q}"),
                400,
                "InvalidRequest",
                Call::get(&format!("com.atproto.sync.getBlob?{q}")),
            )
        }),
    )
    .await;
    assert_refused(&cases, pds, &a.did, [
        Refusal::new("getBlob of a dag-cbor CID", 400, "BlobNotFound", Call::get(&format!("com.atproto.sync.getBlob?did={}&cid=bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", a.did))),
        Refusal::new("getBlob of someone else's blob", 400, "BlobNotFound", Call::get(&format!("com.atproto.sync.getBlob?did={}&cid={png_cid}", b.did))),
    ]).await;

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

    assert_refused(
        &cases,
        pds,
        &a.did,
        [
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
        ]
        .into_iter()
        .map(|(target, status, name)| {
            Refusal::new(
                format!("GET {target}"),
                status,
                name,
                Call::raw(&raw(target, "GET")),
            )
        }),
    )
    .await;
    // The AppView is unreachable in this world: proxied calls fail cleanly.
    assert_refused(
        &cases,
        pds,
        &a.did,
        [Refusal::new(
            "app.bsky call with no AppView reachable",
            502,
            "UpstreamFailure",
            Call::get("app.bsky.feed.getTimeline").bearer(Some(&a.access)),
        )],
    )
    .await;
    assert_refused(
        &cases,
        pds,
        &a.did,
        ["nonsense", "did:web:x.example", "#svc", "not-a-did#svc"].map(|header| {
            Refusal::new(
                format!("atproto-proxy {header:?}"),
                400,
                "InvalidRequest",
                Call::get("com.example.fooBar").header("atproto-proxy", header),
            )
        }),
    )
    .await;

    // Wrong HTTP methods.
    let wrong_methods = [
        ("/xrpc/com.atproto.repo.createRecord", "GET"),
        ("/xrpc/com.atproto.repo.getRecord", "POST"),
        ("/xrpc/com.atproto.server.createSession", "PUT"),
        ("/xrpc/com.example.fooBar", "DELETE"),
        ("/xrpc/_health", "POST"),
    ];
    assert_refused(
        &cases,
        pds,
        &a.did,
        wrong_methods.map(|(target, method)| {
            let req = if method == "POST" || method == "PUT" {
                format!(
                    "{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                )
            } else {
                raw(target, method)
            };
            Refusal::new(
                format!("{method} {target}"),
                405,
                "InvalidRequest",
                Call::raw(&req),
            )
        }),
    )
    .await;

    // Huge query strings, up to what an HTTP URI can hold (64 KiB), reach the handlers and get
    // XRPC errors. (Sent raw: HTTP client libraries refuse URLs this long.)
    let long = "x".repeat(60_000);
    assert_refused(&cases, pds, &a.did, [
        Refusal::new("getRecord with a 60 kB rkey", 400, "InvalidRequest", Call::raw(&raw(&format!("/xrpc/com.atproto.repo.getRecord?repo={}&collection=app.bsky.feed.post&rkey={long}", a.did), "GET"))),
        Refusal::new("getRecord with a 60 kB repo", 400, "RepoNotFound", Call::raw(&raw(&format!("/xrpc/com.atproto.repo.getRecord?repo={long}&collection=app.bsky.feed.post&rkey=self"), "GET"))),
        Refusal::new("getBlob with a 60 kB did", 400, "InvalidRequest", Call::raw(&raw(&format!("/xrpc/com.atproto.sync.getBlob?did=did:plc:{long}&cid=bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"), "GET"))),
        Refusal::new("listRecords with 7000 parameters", 400, "InvalidRequest", Call::raw(&raw(
            &format!(
                "/xrpc/com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post&{}",
                a.did,
                "limit=1&".repeat(7_000)
            ),
            "GET"
        ))),
        Refusal::new("unknown method with a 60 kB query", 501, "MethodNotImplemented", Call::raw(&raw(&format!("/xrpc/com.example.fooBar?q={long}"), "GET"))),
        Refusal::new("getBlocks with 1001 CIDs", 400, "InvalidRequest", Call::raw(&raw(
            &format!(
                "/xrpc/com.atproto.sync.getBlocks?did={}&{}",
                a.did,
                "cids=QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG&".repeat(1001)
            ),
            "GET"
        ))),
    ]).await;
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
    assert_refused(&cases, pds, &a.did, [
        Refusal::new("listRecords with limit=-1", 400, "InvalidRequest", Call::get(&format!(
                "com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post&limit=-1",
                a.did
            ))),
        Refusal::new("listRecords with limit=huge", 400, "InvalidRequest", Call::get(&format!("com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post&limit=99999999999999999999", a.did))),
        Refusal::new("getBlocks with a bad CID", 400, "InvalidRequest", Call::get(&format!("com.atproto.sync.getBlocks?did={}&cids=../../x", a.did))),
    ]).await;
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
    let login = |password: &str| {
        Call::post(
            "com.atproto.server.createSession",
            &json!({ "identifier": a.handle, "password": password }),
        )
    };
    assert_refused(
        &cases,
        pds,
        &a.did,
        [
            Refusal::new(
                "31st login from one IP",
                429,
                "RateLimitExceeded",
                login(PASSWORD),
            ),
            Refusal::new(
                "and with a wrong password",
                429,
                "RateLimitExceeded",
                login("wrong"),
            ),
        ],
    )
    .await;
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
