//! Account email against a real SMTP server (aiosmtpd): for each flow the code arrives, works
//! once, expires (a fixed clock), and wrong, reused or misdirected codes are refused without
//! changing anything. Without SMTP the flows say email is unavailable; requests for codes are
//! rate-limited without revealing which addresses have accounts.

mod common;

use common::*;
use hearth_pds::clock::Clock;
use hearth_pds::email::{CODE_TTL_SECS, Purpose};
use serde_json::{Value, json};

struct Mail {
    smtp: smtp::Smtp,
    w: World,
    _dir: tempfile::TempDir,
}

async fn mail_world(o: Options) -> Mail {
    let dir = tempfile::tempdir().expect("tmp");
    let smtp = smtp::start_smtp(dir.path()).await;
    let w = World::new(Options {
        smtp: Some(smtp.url()),
        ..o
    });
    Mail { smtp, w, _dir: dir }
}

/// What a refused request must leave alone: the account row's email fields and password, its
/// codes, and the mail: queued (the outbox) and sent (what the SMTP server received).
#[derive(Debug, PartialEq, Eq)]
struct Mailbox {
    email: Option<String>,
    confirmed: bool,
    password_hash: String,
    codes: Vec<(String, Vec<u8>, i64)>,
    outbox: i64,
    sent: usize,
}

/// The state once the outbox is empty (a message leaves it a moment after the SMTP server
/// took it), to compare with [`mailbox`] right after a refusal: mail it queued is then in the
/// outbox, or sent.
async fn settled(pds: &Pds, did: &str, smtp: Option<&smtp::Smtp>) -> Mailbox {
    for _ in 0..200 {
        let m = mailbox(pds, did, smtp).await;
        if m.outbox == 0 {
            return m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the outbox did not drain");
}

async fn mailbox(pds: &Pds, did: &str, smtp: Option<&smtp::Smtp>) -> Mailbox {
    let sent = smtp.map_or(0, |s| s.messages().len());
    let d = did.to_owned();
    pds.state()
        .db
        .readers
        .read(move |c| {
            let (id, email, confirmed, password_hash) = c.query_row(
                "SELECT id, email, email_confirmed_at IS NOT NULL, password_hash FROM account WHERE did = ?1",
                [&d],
                |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            let mut st = c.prepare(
                "SELECT purpose, token_hash, requested_at FROM email_token WHERE account = ?1 ORDER BY purpose",
            )?;
            let codes = st
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let outbox = c.query_row("SELECT COUNT(*) FROM email_outbox", [], |r| r.get(0))?;
            Ok::<_, hearth_pds::db::DbError>(Mailbox {
                email,
                confirmed,
                password_hash,
                codes,
                outbox,
                sent,
            })
        })
        .await
        .expect("mailbox")
}

async fn account_id(pds: &Pds, did: &str) -> i64 {
    let d = did.to_owned();
    pds.state()
        .db
        .readers
        .read(move |c| {
            c.query_row("SELECT id FROM account WHERE did = ?1", [&d], |r| r.get(0))
                .map_err(hearth_pds::db::DbError::from)
        })
        .await
        .expect("account id")
}

/// Each row is refused with its status and error and changes nothing of `did`'s.
async fn refused(
    cases: &Cases,
    pds: &Pds,
    did: &str,
    smtp: Option<&smtp::Smtp>,
    rows: Vec<Refusal>,
) {
    for row in rows {
        cases.case(&row.what);
        let before = settled(pds, did, smtp).await;
        let res = pds.send(&row.call).await;
        assert_eq!(
            (res.status.as_u16(), res.body["error"].as_str()),
            (row.status, Some(row.error)),
            "{}: {}",
            row.what,
            res.text
        );
        assert_xrpc_error(&res.body, &res.text);
        assert_eq!(
            before,
            mailbox(pds, did, smtp).await,
            "{}: state changed",
            row.what
        );
    }
}

/// Asks for a code with `nsid` and returns the email and the code.
async fn request(m: &Mail, a: &Account, nsid: &str, body: Value) -> (String, String) {
    let addr = email_of(a);
    let seen = m.smtp.to(&addr).len();
    m.w.pds.post(nsid, Some(&a.access), &body).await.ok();
    m.smtp.next_code(&addr, seen).await
}

fn late() -> Clock {
    Clock::Fixed(Clock::System.now_micros() + (CODE_TTL_SECS + 60) * 1_000_000)
}

async fn session(pds: &Pds, a: &Account) -> Value {
    pds.get("com.atproto.server.getSession", Some(&a.access))
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_email_code_works_once_and_expires() {
    let cases = Cases::new("pds_email confirmEmail");
    let m = mail_world(Options::default()).await;
    let pds = &m.w.pds;
    let ana = pds.create_account("ana").await;
    let bob = pds.create_account("bob").await;
    let s = session(pds, &ana).await;
    assert_eq!(
        (s["emailConfirmed"].clone(), s["emailAuthFactor"].clone()),
        (json!(false), json!(false))
    );

    cases.case("the code arrives, in a readable email with text and HTML parts");
    let (mail, code) = request(
        &m,
        &ana,
        "com.atproto.server.requestEmailConfirmation",
        json!({}),
    )
    .await;
    for want in [
        "Subject: Confirm your email address",
        "text/plain",
        "text/html",
        "@ana.test",
        "If this was not you",
        "15 minutes",
    ] {
        assert!(mail.contains(want), "{want} missing from {mail}");
    }
    let (_, bobs) = request(
        &m,
        &bob,
        "com.atproto.server.requestEmailConfirmation",
        json!({}),
    )
    .await;
    let confirm = |email: &str, token: &str| {
        Call::post(
            "com.atproto.server.confirmEmail",
            &json!({ "email": email, "token": token }),
        )
        .bearer(Some(&ana.access))
    };
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![
            Refusal::new(
                "a wrong code",
                400,
                "InvalidToken",
                confirm("ana@example.com", "AAAAA-AAAAA"),
            ),
            Refusal::new(
                "an empty code",
                400,
                "InvalidToken",
                confirm("ana@example.com", ""),
            ),
            Refusal::new(
                "bob's code",
                400,
                "InvalidToken",
                confirm("ana@example.com", &bobs),
            ),
            Refusal::new(
                "another address",
                400,
                "InvalidEmail",
                confirm("bob@example.com", &code),
            ),
            Refusal::new(
                "no session",
                401,
                "AuthenticationRequired",
                Call::post(
                    "com.atproto.server.confirmEmail",
                    &json!({ "email": "ana@example.com", "token": code }),
                ),
            ),
            Refusal::new(
                "a missing field",
                400,
                "InvalidRequest",
                Call::post(
                    "com.atproto.server.confirmEmail",
                    &json!({ "email": "ana@example.com" }),
                )
                .bearer(Some(&ana.access)),
            ),
        ],
    )
    .await;

    cases.case("the right code confirms, whatever its case");
    pds.send(&confirm("ANA@example.com", &code.to_lowercase()))
        .await
        .ok();
    assert_eq!(session(pds, &ana).await["emailConfirmed"], true);
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![Refusal::new(
            "the code again",
            400,
            "InvalidToken",
            confirm("ana@example.com", &code),
        )],
    )
    .await;

    cases.case("an expired code is refused and changes nothing");
    let id = account_id(pds, &bob.did).await;
    let before = settled(pds, &bob.did, Some(&m.smtp)).await;
    let mut accounts = pds.state().accounts();
    accounts.clock = late();
    let r = accounts.confirm_email(id, "bob@example.com", &bobs).await;
    assert!(
        matches!(r, Err(hearth_pds::accounts::AccountError::ExpiredToken)),
        "{r:?}"
    );
    assert_eq!(before, mailbox(pds, &bob.did, Some(&m.smtp)).await);
    // In time, the same code still works.
    pds.post(
        "com.atproto.server.confirmEmail",
        Some(&bob.access),
        &json!({ "email": "bob@example.com", "token": bobs }),
    )
    .await
    .ok();
    assert_eq!(session(pds, &bob).await["emailConfirmed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_code_works_once_and_expires() {
    let cases = Cases::new("pds_email resetPassword");
    let m = mail_world(Options::default()).await;
    let pds = &m.w.pds;
    let ana = pds.create_account("ana").await;
    let reset = |token: &str, password: &str| {
        Call::post(
            "com.atproto.server.resetPassword",
            &json!({ "token": token, "password": password }),
        )
    };

    cases.case("an unknown address gets the same answer, and no email");
    let known = pds
        .post(
            "com.atproto.server.requestPasswordReset",
            None,
            &json!({ "email": "ana@example.com" }),
        )
        .await;
    let unknown = pds
        .post(
            "com.atproto.server.requestPasswordReset",
            None,
            &json!({ "email": "nobody@example.com" }),
        )
        .await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let (mail, code) = m.smtp.next_code("ana@example.com", 0).await;
    assert!(mail.contains("reset the password"), "{mail}");
    assert!(m.smtp.to("nobody@example.com").is_empty());

    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![
            Refusal::new(
                "a wrong code",
                400,
                "InvalidToken",
                reset("AAAAA-AAAAA", "new password"),
            ),
            Refusal::new(
                "a code with a wrong letter",
                400,
                "InvalidToken",
                reset(
                    &format!(
                        "{}{}",
                        &code[..10],
                        if code.ends_with('A') { 'B' } else { 'A' }
                    ),
                    "new password",
                ),
            ),
            Refusal::new("no password", 400, "InvalidRequest", reset(&code, "")),
            Refusal::new(
                "a password too long",
                400,
                "InvalidRequest",
                reset(&code, &"x".repeat(300)),
            ),
        ],
    )
    .await;
    cases.case("a deletion code is no reset code");
    let (_, delete) = request(
        &m,
        &ana,
        "com.atproto.server.requestAccountDelete",
        json!({}),
    )
    .await;
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![Refusal::new(
            "the deletion code",
            400,
            "InvalidToken",
            reset(&delete, "new password"),
        )],
    )
    .await;

    cases.case("an expired code is refused and changes nothing");
    let before = settled(pds, &ana.did, Some(&m.smtp)).await;
    let mut accounts = pds.state().accounts();
    accounts.clock = late();
    let r = accounts
        .reset_password_with_code(&code, "new password")
        .await;
    assert!(
        matches!(r, Err(hearth_pds::accounts::AccountError::ExpiredToken)),
        "{r:?}"
    );
    assert_eq!(before, mailbox(pds, &ana.did, Some(&m.smtp)).await);

    cases.case("the code sets the password and signs every session out");
    pds.send(&reset(&code, "new password")).await.ok();
    let login = |password: &str| {
        Call::post(
            "com.atproto.server.createSession",
            &json!({ "identifier": "ana.test", "password": password }),
        )
    };
    pds.send(&login(PASSWORD))
        .await
        .err(401, "AuthenticationRequired");
    pds.send(&login("new password")).await.ok();
    pds.post(
        "com.atproto.server.refreshSession",
        Some(&ana.refresh),
        &json!({}),
    )
    .await
    .err(400, "InvalidToken");
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![Refusal::new(
            "the code again",
            400,
            "InvalidToken",
            reset(&code, "third password"),
        )],
    )
    .await;
    pds.send(&login("new password")).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_update_needs_the_code_once_confirmed() {
    let cases = Cases::new("pds_email updateEmail");
    let m = mail_world(Options::default()).await;
    let pds = &m.w.pds;
    let ana = pds.create_account("ana").await;
    pds.create_account("bob").await;
    let update =
        |body: Value| Call::post("com.atproto.server.updateEmail", &body).bearer(Some(&ana.access));

    cases.case("an unconfirmed address changes without a code");
    let r = pds
        .post(
            "com.atproto.server.requestEmailUpdate",
            Some(&ana.access),
            &json!({}),
        )
        .await
        .ok();
    assert_eq!(r["tokenRequired"], false);
    pds.send(&update(json!({ "email": "ana2@example.com" })))
        .await
        .ok();
    let s = session(pds, &ana).await;
    assert_eq!(
        (s["email"].as_str(), s["emailConfirmed"].as_bool()),
        (Some("ana2@example.com"), Some(false))
    );
    assert!(
        m.smtp.to("ana@example.com").is_empty(),
        "no code was needed, none was sent"
    );
    pds.send(&update(json!({ "email": "ana@example.com" })))
        .await
        .ok();

    let (_, confirm) = request(
        &m,
        &ana,
        "com.atproto.server.requestEmailConfirmation",
        json!({}),
    )
    .await;
    pds.post(
        "com.atproto.server.confirmEmail",
        Some(&ana.access),
        &json!({ "email": "ana@example.com", "token": confirm }),
    )
    .await
    .ok();
    cases.case("a confirmed address: the code goes to it, and is required");
    let seen = m.smtp.to("ana@example.com").len();
    let r = pds
        .post(
            "com.atproto.server.requestEmailUpdate",
            Some(&ana.access),
            &json!({}),
        )
        .await
        .ok();
    assert_eq!(r["tokenRequired"], true);
    let (mail, code) = m.smtp.next_code("ana@example.com", seen).await;
    assert!(
        mail.contains("change the account's email address"),
        "{mail}"
    );
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![
            Refusal::new(
                "no code",
                400,
                "TokenRequired",
                update(json!({ "email": "new@example.com" })),
            ),
            Refusal::new(
                "a wrong code",
                400,
                "InvalidToken",
                update(json!({ "email": "new@example.com", "token": "AAAAA-AAAAA" })),
            ),
            Refusal::new(
                "the confirmation code, used up",
                400,
                "InvalidToken",
                update(json!({ "email": "new@example.com", "token": confirm })),
            ),
            Refusal::new(
                "bob's address",
                400,
                "InvalidEmail",
                update(json!({ "email": "BOB@example.com", "token": code })),
            ),
            Refusal::new(
                "not an address",
                400,
                "InvalidEmail",
                update(json!({ "email": "nope", "token": code })),
            ),
            Refusal::new(
                "sign-in codes by email",
                400,
                "InvalidRequest",
                update(
                    json!({ "email": "new@example.com", "token": code, "emailAuthFactor": true }),
                ),
            ),
        ],
    )
    .await;

    cases.case("an expired code is refused and changes nothing");
    let id = account_id(pds, &ana.did).await;
    let before = settled(pds, &ana.did, Some(&m.smtp)).await;
    let mut accounts = pds.state().accounts();
    accounts.clock = late();
    let r = accounts
        .update_email(id, "new@example.com", Some(&code))
        .await;
    assert!(
        matches!(r, Err(hearth_pds::accounts::AccountError::ExpiredToken)),
        "{r:?}"
    );
    assert_eq!(before, mailbox(pds, &ana.did, Some(&m.smtp)).await);

    cases.case("the code changes the address, which starts unconfirmed");
    pds.send(&update(
        json!({ "email": "new@example.com", "token": code }),
    ))
    .await
    .ok();
    let s = session(pds, &ana).await;
    assert_eq!(
        (s["email"].as_str(), s["emailConfirmed"].as_bool()),
        (Some("new@example.com"), Some(false))
    );
    pds.send(&Call::post(
        "com.atproto.server.createSession",
        &json!({ "identifier": "new@example.com", "password": PASSWORD }),
    ))
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plc_operation_code_is_single_use_and_bound_to_its_purpose() {
    let cases = Cases::new("pds_email requestPlcOperationSignature");
    let m = mail_world(Options::default()).await;
    let pds = &m.w.pds;
    let ana = pds.create_account("ana").await;
    let bob = pds.create_account("bob").await;
    let (ana_id, bob_id) = (
        account_id(pds, &ana.did).await,
        account_id(pds, &bob.did).await,
    );
    cases.case("the code arrives and says what it is for");
    let (mail, code) = request(
        &m,
        &ana,
        "com.atproto.identity.requestPlcOperationSignature",
        json!({}),
    )
    .await;
    assert!(mail.contains("identity"), "{mail}");
    assert!(
        mail.contains("Subject: Your code to change your account's identity"),
        "{mail}"
    );
    let (_, delete) = request(
        &m,
        &ana,
        "com.atproto.server.requestAccountDelete",
        json!({}),
    )
    .await;
    let accounts = pds.state().accounts();
    let take = |id: i64, code: String| {
        let accounts = pds.state().accounts();
        async move { accounts.take_code(id, Purpose::PlcOperation, &code).await }
    };
    let wrong = [
        ("a wrong code", ana_id, "AAAAA-AAAAA".to_owned()),
        ("the deletion code", ana_id, delete.clone()),
        ("ana's code for bob", bob_id, code.clone()),
    ];
    for (what, id, c) in wrong {
        cases.case(what);
        let before = settled(pds, &ana.did, Some(&m.smtp)).await;
        let r = take(id, c).await;
        assert!(
            matches!(r, Err(hearth_pds::accounts::AccountError::InvalidToken)),
            "{what}: {r:?}"
        );
        assert_eq!(
            before,
            mailbox(pds, &ana.did, Some(&m.smtp)).await,
            "{what}"
        );
    }
    cases.case("expired");
    let mut late_accounts = pds.state().accounts();
    late_accounts.clock = late();
    let r = late_accounts
        .take_code(ana_id, Purpose::PlcOperation, &code)
        .await;
    assert!(
        matches!(r, Err(hearth_pds::accounts::AccountError::ExpiredToken)),
        "{r:?}"
    );
    cases.case("signPlcOperation requires the code, uses it up, and signs what was asked");
    let sign = |body: Value| {
        Call::post("com.atproto.identity.signPlcOperation", &body).bearer(Some(&ana.access))
    };
    let moved = json!(["at://moved.example"]);
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![
            Refusal::new(
                "signPlcOperation without a code",
                400,
                "InvalidRequest",
                sign(json!({ "alsoKnownAs": moved })),
            ),
            Refusal::new(
                "signPlcOperation with a wrong code",
                400,
                "InvalidToken",
                sign(json!({ "token": "AAAAA-AAAAA", "alsoKnownAs": moved })),
            ),
            Refusal::new(
                "signPlcOperation with the deletion code",
                400,
                "InvalidToken",
                sign(json!({ "token": delete, "alsoKnownAs": moved })),
            ),
            Refusal::new(
                "signPlcOperation with a rotation key that is no did:key",
                400,
                "InvalidRequest",
                sign(json!({ "token": code, "rotationKeys": ["nope"] })),
            ),
            Refusal::new(
                "signPlcOperation by bob with ana's code",
                400,
                "InvalidToken",
                Call::post(
                    "com.atproto.identity.signPlcOperation",
                    &json!({ "token": code }),
                )
                .bearer(Some(&bob.access)),
            ),
        ],
    )
    .await;
    let signed = pds
        .send(&sign(json!({ "token": code, "alsoKnownAs": moved })))
        .await
        .ok();
    let op = &signed["operation"];
    assert_eq!(op["type"], "plc_operation", "{signed}");
    assert_eq!(op["alsoKnownAs"], moved, "{signed}");
    assert!(op["prev"].is_string() && op["sig"].is_string(), "{signed}");
    assert!(
        op["services"]["atproto_pds"]["endpoint"].is_string(),
        "the rest is kept: {signed}"
    );
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![Refusal::new(
            "signPlcOperation with the code again",
            400,
            "InvalidToken",
            sign(json!({ "token": code })),
        )],
    )
    .await;
    let r = take(ana_id, code).await;
    assert!(
        matches!(r, Err(hearth_pds::accounts::AccountError::InvalidToken)),
        "{r:?}"
    );
    cases.case("a new code works once through the library too (what migration uses)");
    let (_, again) = request(
        &m,
        &ana,
        "com.atproto.identity.requestPlcOperationSignature",
        json!({}),
    )
    .await;
    accounts
        .take_code(ana_id, Purpose::PlcOperation, &again)
        .await
        .expect("the code");
    let r = take(ana_id, again).await;
    assert!(
        matches!(r, Err(hearth_pds::accounts::AccountError::InvalidToken)),
        "{r:?}"
    );
    cases.case("the deletion code is untouched by all that, and deletes");
    pds.post(
        "com.atproto.server.deleteAccount",
        None,
        &json!({ "did": ana.did, "password": PASSWORD, "token": delete }),
    )
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_email_is_unavailable() {
    let cases = Cases::new("pds_email unavailable");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let ana = pds.create_account("ana").await;
    cases.case("describeServer says so");
    let d = pds
        .get("com.atproto.server.describeServer", None)
        .await
        .ok();
    assert_eq!(d["emailAvailable"], false);
    let rows = [
        (
            "requestEmailConfirmation",
            "com.atproto.server.requestEmailConfirmation",
            json!({}),
        ),
        (
            "requestAccountDelete",
            "com.atproto.server.requestAccountDelete",
            json!({}),
        ),
        (
            "requestPlcOperationSignature",
            "com.atproto.identity.requestPlcOperationSignature",
            json!({}),
        ),
        (
            "requestPasswordReset, an account's address",
            "com.atproto.server.requestPasswordReset",
            json!({ "email": "ana@example.com" }),
        ),
        (
            "requestPasswordReset, no account's",
            "com.atproto.server.requestPasswordReset",
            json!({ "email": "nobody@example.com" }),
        ),
    ];
    let rows = rows
        .into_iter()
        .map(|(what, nsid, body)| {
            Refusal::new(
                what,
                501,
                "EmailNotConfigured",
                Call::post(nsid, &body).bearer(Some(&ana.access)),
            )
        })
        .collect();
    refused(&cases, pds, &ana.did, None, rows).await;
    cases.case("with SMTP, describeServer says email works");
    let m = mail_world(Options::default()).await;
    let d =
        m.w.pds
            .get("com.atproto.server.describeServer", None)
            .await
            .ok();
    assert_eq!(d["emailAvailable"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_requests_are_rate_limited_per_account_and_address() {
    let cases = Cases::new("pds_email rate limits");
    let m = mail_world(Options {
        rate_limits: true,
        ..Options::default()
    })
    .await;
    let pds = &m.w.pds;
    let ana = pds.create_account("ana").await;
    let cap = hearth_pds::limits::EMAIL_PER_ACCOUNT.capacity as usize;
    cases.case("per account");
    for i in 0..cap {
        pds.post(
            "com.atproto.server.requestEmailConfirmation",
            Some(&ana.access),
            &json!({}),
        )
        .await
        .ok();
        assert!(i < cap);
    }
    refused(
        &cases,
        pds,
        &ana.did,
        Some(&m.smtp),
        vec![Refusal::new(
            "one over the account's limit",
            429,
            "RateLimitExceeded",
            Call::post("com.atproto.server.requestEmailConfirmation", &json!({}))
                .bearer(Some(&ana.access)),
        )],
    )
    .await;
    cases.case("per address, the same whether it has an account or not");
    for addr in ["ana@example.com", "nobody@example.com"] {
        for _ in 0..cap {
            pds.post(
                "com.atproto.server.requestPasswordReset",
                None,
                &json!({ "email": addr }),
            )
            .await
            .ok();
        }
        pds.post(
            "com.atproto.server.requestPasswordReset",
            None,
            &json!({ "email": addr.to_uppercase() }),
        )
        .await
        .err(429, "RateLimitExceeded");
    }
}
