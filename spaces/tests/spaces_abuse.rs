//! Abuse resistance of the spaces service (issue 14), through the service itself: invites
//! bounded by their creator's current authority and by default expiry and uses, indexes that
//! keep `space.delete` cheap, bounded posts and lists, moderation and export.

mod spaces_common;

use hearth_spaces::model::{SpaceError, parse_time};
use hearth_spaces::ops::members::{CreateInvite, INVITE_DEFAULT_HOURS, INVITE_DEFAULT_USES};
use hearth_spaces::ops::spaces::CreateSpace;
use hearth_spaces::{Spaces, SpacesConfig};
use spaces_common::*;

fn open(dir: &std::path::Path) -> Spaces {
    Spaces::open(SpacesConfig {
        dir: dir.to_path_buf(),
        authority: "did:web:localhost%3A1".into(),
        public_url: "http://localhost:1".into(),
        smtp_url: None,
        smtp_from: None,
        limits: Default::default(),
    })
    .expect("spaces")
}

fn did(name: &str) -> String {
    format!("did:plc:{name:z>24}")
}

/// A space and its discussion channel's URI.
async fn new_space(s: &Spaces, owner: &str, policy: &str) -> (String, String) {
    let created = s
        .create_space(
            owner,
            CreateSpace {
                name: "Abuse".into(),
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

async fn invite(s: &Spaces, by: &str, space: &str, role: Option<&str>) -> String {
    s.create_invite(
        by,
        CreateInvite {
            space: space.to_owned(),
            role: role.map(str::to_owned),
            max_uses: None,
            expires_in_hours: None,
        },
    )
    .await
    .expect("invite")
    .token
}

fn invalid_invite<T: std::fmt::Debug>(r: Result<T, SpaceError>) {
    assert!(
        matches!(r, Err(SpaceError::Named("InvalidInvite", _))),
        "{r:?}"
    );
}

#[tokio::test]
async fn invites_follow_creator_authority() {
    let cases = Cases::new("spaces invites follow their creator's authority");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let (owner, admin, mover) = (did("owner"), did("admin"), did("mover"));
    let (space, _) = new_space(&s, &owner, "invite").await;
    let t = invite(&s, &owner, &space, Some("admin")).await;
    s.accept_invite(&admin, &t).await.expect("admin joins");
    s.accept_invite(&mover, &t).await.expect("mover joins");
    // An admin's invites die with the admin's authority: demoted, then removed.
    let by_admin = invite(&s, &admin, &space, Some("moderator")).await;
    s.set_role(&owner, &space, &admin, "member")
        .await
        .expect("demote");
    invalid_invite(s.accept_invite(&did("late1"), &by_admin).await);
    s.set_role(&owner, &space, &admin, "admin")
        .await
        .expect("promote again");
    let joined = s.accept_invite(&did("ontime"), &by_admin).await;
    assert_eq!(
        joined
            .expect("valid again")
            .space
            .viewer
            .and_then(|v| v.role),
        Some("moderator".into())
    );
    s.remove_member(&owner, &space, &admin)
        .await
        .expect("remove");
    invalid_invite(s.accept_invite(&did("late2"), &by_admin).await);
    cases.case();
    // An owner's admin invite, after the owner hands ownership on and becomes an admin,
    // brings people in no higher than an admin may: moderator.
    let admin_invite = invite(&s, &owner, &space, Some("admin")).await;
    s.set_role(&owner, &space, &mover, "owner")
        .await
        .expect("transfer");
    let joined = s
        .accept_invite(&did("downgraded"), &admin_invite)
        .await
        .expect("still valid, downgraded");
    assert_eq!(
        joined.space.viewer.and_then(|v| v.role),
        Some("moderator".into())
    );
    cases.case();
}

#[tokio::test]
async fn invites_default_to_expiry_and_limited_uses() {
    let cases = Cases::new("spaces invites default to an expiry and a use limit");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let owner = did("owner");
    let (space, _) = new_space(&s, &owner, "invite").await;
    let created = s
        .create_invite(
            &owner,
            CreateInvite {
                space: space.clone(),
                role: None,
                max_uses: None,
                expires_in_hours: None,
            },
        )
        .await
        .expect("invite");
    assert_eq!(created.invite.max_uses, Some(INVITE_DEFAULT_USES));
    let expires = created.invite.expires_at.expect("an expiry by default");
    let left = parse_time(&expires).expect("datetime") / 1000 - atproto_now();
    let want = INVITE_DEFAULT_HOURS * 3600;
    assert!((want - 60..=want).contains(&left), "{left}s left");
    cases.case();
    for i in 0..INVITE_DEFAULT_USES {
        s.accept_invite(&did(&format!("j{i}")), &created.token)
            .await
            .expect("within the default uses");
    }
    invalid_invite(s.accept_invite(&did("onetoomany"), &created.token).await);
    cases.case();
}
