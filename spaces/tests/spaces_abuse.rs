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

/// Every foreign key's child lookup (what SQLite runs for each cascade of `space.delete`)
/// is served by an index: no SCAN of `notification`, `post` or any other table.
#[tokio::test]
async fn space_delete_uses_indexes() {
    let cases = Cases::new("spaces space.delete uses indexes");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let owner = did("owner");
    let (space, discussion) = new_space(&s, &owner, "invite").await;
    s.create_post(
        &owner,
        hearth_spaces::ops::posts::CreatePost {
            channel: Some(discussion),
            text: "bye".into(),
            facets: None,
            images: None,
            reply_to: None,
        },
    )
    .await
    .expect("post");
    let conn = rusqlite::Connection::open(tmp.path().join("spaces.sqlite")).expect("open");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    let mut checked = Vec::new();
    for table in &tables {
        let fks: Vec<(String, String)> = conn
            .prepare(&format!(
                "SELECT \"table\", \"from\" FROM pragma_foreign_key_list('{table}')"
            ))
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("foreign keys");
        for (parent, column) in fks {
            let plan: Vec<String> = conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT 1 FROM {table} WHERE {column} = ?1"
                ))
                .and_then(|mut st| st.query_map([1], |r| r.get(3))?.collect())
                .expect("plan");
            assert!(
                plan.iter().all(|p| !p.starts_with("SCAN")),
                "deleting a {parent} scans {table} by {column}: {plan:?}"
            );
            checked.push(format!("{table}.{column}"));
        }
    }
    for must in [
        "notification.space",
        "post.channel",
        "post.space",
        "notification.post",
    ] {
        assert!(
            checked.iter().any(|c| c == must),
            "{must} not checked: {checked:?}"
        );
    }
    cases.case();
    s.delete_space(&owner, &space).await.expect("delete");
    let left: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM post) + (SELECT count(*) FROM notification)",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(left, 0, "the space's rows went with it");
    cases.case();
}
