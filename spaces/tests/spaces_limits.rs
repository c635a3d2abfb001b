//! Rate limits, per DID and per space. Per DID: through the real router with the default
//! limits, one account's burst of writes runs out while another account's calls still pass.
//! Per space: through the service with a small budget, members' writes run out of the space's
//! budget while another space is unaffected, and refused callers (a stranger, a removed
//! member) spend none of it, so they cannot lock the members out.

mod spaces_common;

use hearth_spaces::model::SpaceError;
use hearth_spaces::ops::members::CreateInvite;
use hearth_spaces::ops::notifications::SetLevel;
use hearth_spaces::ops::posts::CreatePost;
use hearth_spaces::ops::spaces::CreateSpace;
use hearth_spaces::ratelimit::Limits;
use hearth_spaces::{Spaces, SpacesConfig};
use reqwest::StatusCode;
use serde_json::json;
use spaces_common::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_are_limited_per_did() {
    let cases = Cases::new("spaces rate limit per DID");
    let directory = TestPlc::spawn().expect("PLC directory");
    let plc = directory.url().to_owned();
    let app = start_appview(&plc, None).await;
    let c = Client::new(&app);
    let busy = actor(&plc, "busy").await;
    let calm = actor(&plc, "calm").await;
    let space = c
        .post(
            &busy,
            "space.create",
            json!({ "name": "Limits", "joinPolicy": "invite" }),
        )
        .await
        .expect_ok("space")["space"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    // The default write burst is 120 per DID (the create above took one). Cheap writes, so
    // the space's own budget (1,200) is not what runs out.
    let burst = Limits::default().write_burst as usize;
    let mut refused_at = None;
    for i in 1..=burst + 5 {
        let a = c
            .post(
                &busy,
                "notification.updateSeen",
                json!({ "seenAt": "2026-01-01T00:00:00.000Z" }),
            )
            .await;
        if !a.ok() {
            assert_eq!(
                (a.status, a.error()),
                (StatusCode::TOO_MANY_REQUESTS, "RateLimitExceeded"),
                "write {i}"
            );
            refused_at = Some(i);
            break;
        }
    }
    cases.case("a DID is limited after its burst");
    assert_eq!(
        refused_at,
        Some(burst),
        "the write after a burst of {burst} is refused"
    );
    // A request the rate limit refuses records nothing: its token is still fresh once the
    // bucket has refilled (issue 14, item 5).
    let seen = json!({ "seenAt": "2026-01-01T00:00:00.000Z" });
    let token = mint(
        &busy,
        &c.aud,
        "social.hearth.notification.updateSeen",
        Auth::Good,
    );
    let refused = c
        .call_token(&token, "notification.updateSeen", Input::json(&seen))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // The write rate refills a token in 1 / write_rate seconds; wait a little longer.
    let refill = Duration::from_secs_f64(1.2 / Limits::default().write_rate);
    tokio::time::sleep(refill).await;
    c.call_token(&token, "notification.updateSeen", Input::json(&seen))
        .await
        .expect_ok("the token a rate-limited request carried is still unused");
    tokio::time::sleep(refill).await;
    let replayed = c
        .call_token(&token, "notification.updateSeen", Input::json(&seen))
        .await;
    assert_eq!(
        (replayed.status, replayed.error()),
        (StatusCode::UNAUTHORIZED, "TokenReplayed"),
        "once used, it is spent"
    );
    cases.case("rate-limited requests record no token id");
    // Reads have their own, larger bucket; other accounts are untouched.
    c.get(&busy, "space.get", &[("space", &space)])
        .await
        .expect_ok("busy still reads");
    c.post(
        &calm,
        "notification.updateSeen",
        json!({ "seenAt": "2026-01-01T00:00:00.000Z" }),
    )
    .await
    .expect_ok("another DID still writes");
    cases.case("another DID still writes");
}

fn small_space_budget(dir: &std::path::Path, burst: f64) -> Spaces {
    with_limits(
        dir,
        Limits {
            did_burst: 1e9,
            did_rate: 1e9,
            write_burst: 1e9,
            write_rate: 1e9,
            space_burst: burst,
            // Effectively no refill during the test.
            space_rate: 1e-6,
            ..Limits::default()
        },
    )
}

fn with_limits(dir: &std::path::Path, limits: Limits) -> Spaces {
    Spaces::open(SpacesConfig {
        dir: dir.to_path_buf(),
        authority: "did:web:localhost%3A1".into(),
        public_url: "http://localhost:1".into(),
        smtp_url: None,
        smtp_from: None,
        limits,
        images_bucket: None,
    })
    .expect("spaces")
}

async fn new_space(s: &Spaces, owner: &str) -> (String, String) {
    new_space_with(s, owner, "invite").await
}

async fn new_space_with(s: &Spaces, owner: &str, policy: &str) -> (String, String) {
    let created = s
        .create_space(
            owner,
            CreateSpace {
                name: "Budget".into(),
                description: None,
                join_policy: policy.into(),
                listed: None,
                join_question: None,
                default_channels: None,
            },
        )
        .await
        .expect("space");
    let discussion = created
        .channels
        .iter()
        .find(|c| c.kind == "discussion")
        .map(|c| c.uri.clone())
        .expect("discussion");
    (created.space.uri, discussion)
}

fn post(channel: &str, text: &str) -> CreatePost {
    CreatePost {
        channel: Some(channel.to_owned()),
        text: text.to_owned(),
        facets: None,
        images: None,
        reply_to: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_limited_per_space_and_only_members_spend_it() {
    let cases = Cases::new("spaces rate limit per space");
    let tmp = tempfile::tempdir().expect("tmp");
    const BUDGET: usize = 6;
    let s = small_space_budget(tmp.path(), BUDGET as f64);
    let owner = "did:plc:budgetowner000000000000000";
    let member = "did:plc:budgetmember00000000000000";
    let removed = "did:plc:budgetremoved0000000000000";
    let stranger = "did:plc:budgetstranger000000000000";
    let (space, discussion) = new_space(&s, owner).await;
    let (_, other_discussion) = new_space(&s, owner).await;
    // Creating a space and joining by invite spend none of the space's write budget, so
    // every token below is spent by the writes the test counts.
    let token = s
        .create_invite(
            owner,
            CreateInvite {
                space: space.clone(),
                role: None,
                max_uses: None,
                expires_in_hours: None,
                invitee: None,
            },
        )
        .await
        .expect("invite")
        .token;
    for who in [member, removed] {
        s.accept_invite(who, &token).await.expect("join");
    }
    s.remove_member(owner, &space, removed)
        .await
        .expect("remove");
    let mut spent = 2; // the invite and the removal
    // Refused callers, many times over: none of it is charged to the space.
    for _ in 0..(BUDGET * 3) {
        for who in [stranger, removed] {
            let r = s.create_post(who, post(&discussion, "spam")).await;
            assert!(matches!(r, Err(SpaceError::NotMember)), "{r:?}");
            let r = s
                .set_level(
                    who,
                    SetLevel {
                        space: space.clone(),
                        channel: None,
                        level: "all".into(),
                    },
                )
                .await;
            assert!(r.is_err(), "refused level change");
        }
    }
    cases.case("refused callers spend none of the space budget");
    // Members spend the rest, then the space refuses everyone, the owner included.
    while spent < BUDGET {
        s.create_post(member, post(&discussion, "ok"))
            .await
            .unwrap_or_else(|e| panic!("write {} of {BUDGET}: {e}", spent + 1));
        spent += 1;
    }
    for who in [member, owner] {
        let r = s.create_post(who, post(&discussion, "one too many")).await;
        assert!(matches!(r, Err(SpaceError::RateLimited)), "{r:?}");
    }
    cases.case("the spent space refuses everyone, the owner included");
    // Another space has its own budget.
    s.create_post(owner, post(&other_discussion, "elsewhere"))
        .await
        .expect("another space is not limited");
    cases.case("another space has its own budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_cannot_drain_space_budget() {
    let cases = Cases::new("spaces join requests spend the asker's budget");
    let tmp = tempfile::tempdir().expect("tmp");
    const BUDGET: usize = 5;
    const OWN: usize = 3;
    let s = with_limits(
        tmp.path(),
        Limits {
            did_burst: 1e9,
            did_rate: 1e9,
            write_burst: OWN as f64,
            write_rate: 1e-6,
            space_burst: BUDGET as f64,
            space_rate: 1e-6,
            ..Limits::default()
        },
    );
    let owner = "did:plc:drainowner0000000000000000";
    let (space, discussion) = new_space_with(&s, owner, "request").await;
    let (open_space, _) = new_space_with(&s, owner, "open").await;
    let strangers: Vec<String> = (0..BUDGET * 2)
        .map(|i| format!("did:plc:drainstranger{i:012}"))
        .collect();
    // Many strangers ask, each until their own budget is gone: the space's is untouched.
    for who in &strangers {
        for n in 0..OWN * 2 {
            let r = s.request_join(who, &space, None).await;
            if n < OWN {
                assert!(r.is_ok(), "request {n} within the asker's budget: {r:?}");
            } else {
                assert!(matches!(r, Err(SpaceError::RateLimited)), "{r:?}");
            }
        }
    }
    cases.case("strangers asking to join spend only their own budget");
    // Joining an open space is also the joiner's cost, not the space's.
    let joiner = "did:plc:drainjoiner000000000000000";
    s.request_join(joiner, &open_space, None)
        .await
        .expect("join the open space");
    cases.case("joining an open space is the joiner's cost");
    // The members still have the whole budget of the space.
    for n in 0..BUDGET {
        s.create_post(owner, post(&discussion, "still here"))
            .await
            .unwrap_or_else(|e| panic!("member write {} of {BUDGET}: {e}", n + 1));
    }
    let r = s
        .create_post(owner, post(&discussion, "one too many"))
        .await;
    assert!(matches!(r, Err(SpaceError::RateLimited)), "{r:?}");
    cases.case("members keep the space's whole budget");
}
