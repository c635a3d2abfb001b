//! The operations the web app's pages use beyond the XRPC methods: the invite preview (whose
//! gate is the token) and the audience a composer announces before posting.

use hearth_spaces::model::SpaceError;
use hearth_spaces::ops::members::CreateInvite;
use hearth_spaces::ops::notifications::SetLevel;
use hearth_spaces::ops::spaces::CreateSpace;
use hearth_spaces::{Spaces, SpacesConfig};

const OWNER: &str = "did:plc:owner";
const ADMIN: &str = "did:plc:admin";
const ANA: &str = "did:plc:ana";
const BEN: &str = "did:plc:ben";

fn open(dir: &std::path::Path) -> Spaces {
    Spaces::open(SpacesConfig {
        dir: dir.to_owned(),
        authority: "did:web:localhost".into(),
        public_url: "http://localhost".into(),
        smtp_url: None,
        smtp_from: None,
        limits: Default::default(),
        images_bucket: None,
    })
    .expect("spaces")
}

async fn space(s: &Spaces) -> (String, Vec<(String, String)>) {
    let created = s
        .create_space(
            OWNER,
            CreateSpace {
                name: "Riverside Tenants".into(),
                description: Some("Tenants of 12 River St".into()),
                join_policy: "invite".into(),
                listed: None,
                join_question: None,
                default_channels: None,
            },
        )
        .await
        .expect("create");
    let channels = created
        .channels
        .iter()
        .map(|c| (c.kind.clone(), c.uri.clone()))
        .collect();
    (created.space.uri, channels)
}

fn invite(space: &str, max_uses: Option<i64>) -> CreateInvite {
    CreateInvite {
        space: space.to_owned(),
        role: None,
        max_uses,
        expires_in_hours: None,
        invitee: None,
    }
}

#[tokio::test]
async fn an_invite_preview_shows_the_space_only_for_a_valid_token() {
    let dir = tempfile::tempdir().expect("dir");
    let s = open(dir.path());
    let (uri, _) = space(&s).await;
    let inv = s
        .create_invite(OWNER, invite(&uri, Some(1)))
        .await
        .expect("invite");
    let p = s.preview_invite(&inv.token).await.expect("preview");
    assert_eq!(p.space.name, "Riverside Tenants");
    assert_eq!(
        p.space.description.as_deref(),
        Some("Tenants of 12 River St")
    );
    assert_eq!(p.invited_by.did, OWNER);
    assert!(p.space.viewer.is_none());

    let invalid =
        |r: Result<_, SpaceError>| matches!(r, Err(SpaceError::Named("InvalidInvite", _)));
    assert!(
        invalid(s.preview_invite("no-such-token").await),
        "unknown token"
    );
    // Used up.
    s.accept_invite(ANA, &inv.token).await.expect("join");
    assert!(invalid(s.preview_invite(&inv.token).await), "used up");
    // Revoked.
    let inv2 = s
        .create_invite(OWNER, invite(&uri, None))
        .await
        .expect("invite");
    s.revoke_invite(OWNER, &uri, &inv2.invite.id)
        .await
        .expect("revoke");
    assert!(invalid(s.preview_invite(&inv2.token).await), "revoked");
    // Its creator no longer able to invite (an admin demoted to member).
    let admin_inv = s
        .create_invite(
            OWNER,
            CreateInvite {
                role: Some("admin".into()),
                ..invite(&uri, None)
            },
        )
        .await
        .expect("admin invite");
    s.accept_invite(ADMIN, &admin_inv.token)
        .await
        .expect("admin joins");
    let by_admin = s
        .create_invite(ADMIN, invite(&uri, None))
        .await
        .expect("invite");
    assert!(s.preview_invite(&by_admin.token).await.is_ok());
    s.set_role(OWNER, &uri, ADMIN, "member")
        .await
        .expect("demote");
    assert!(
        invalid(s.preview_invite(&by_admin.token).await),
        "creator demoted"
    );
}

#[tokio::test]
async fn the_audience_counts_who_a_new_thread_would_notify() {
    let dir = tempfile::tempdir().expect("dir");
    let s = open(dir.path());
    let (uri, channels) = space(&s).await;
    let channel = |kind: &str| {
        channels
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, u)| u.clone())
            .expect("channel")
    };
    let inv = s
        .create_invite(OWNER, invite(&uri, None))
        .await
        .expect("invite");
    s.accept_invite(ANA, &inv.token).await.expect("ana");
    s.accept_invite(BEN, &inv.token).await.expect("ben");
    let ann = channel("announcements");
    let a = s.thread_audience(OWNER, &ann).await.expect("audience");
    assert_eq!(
        (a.notified, a.emailed),
        (2, 0),
        "both members; email is off"
    );
    // Discussion threads reach only members at level `all` (none by default).
    let d = s
        .thread_audience(ANA, &channel("discussion"))
        .await
        .expect("discussion");
    assert_eq!(d.notified, 0);
    s.set_level(
        BEN,
        SetLevel {
            space: uri.clone(),
            channel: None,
            level: "all".into(),
        },
    )
    .await
    .expect("level");
    let d = s
        .thread_audience(ANA, &channel("discussion"))
        .await
        .expect("discussion");
    assert_eq!(d.notified, 1, "ben hears of every thread now");
    s.set_level(
        ANA,
        SetLevel {
            space: uri.clone(),
            channel: None,
            level: "muted".into(),
        },
    )
    .await
    .expect("mute");
    let a = s.thread_audience(OWNER, &ann).await.expect("audience");
    assert_eq!(a.notified, 1, "a muted member is not counted");
    // Only someone who may post there is told.
    assert!(matches!(
        s.thread_audience(ANA, &ann).await,
        Err(SpaceError::Forbidden(_))
    ));
    assert!(matches!(
        s.thread_audience("did:plc:stranger", &ann).await,
        Err(SpaceError::NotMember)
    ));
}
