//! Abuse resistance of the spaces service (issue 14), through the service itself: invites
//! bounded by their creator's current authority and by default expiry and uses, indexes that
//! keep `space.delete` cheap, bounded posts and lists, moderation and export.

mod spaces_common;

use hearth_spaces::images::UNATTACHED_GRACE_MS;
use hearth_spaces::model::now_ms;
use hearth_spaces::model::{MAX_PAGE, SpaceError, parse_time};
use hearth_spaces::ops::members::{CreateInvite, INVITE_DEFAULT_HOURS, INVITE_DEFAULT_USES};
use hearth_spaces::ops::posts::{
    CreatePost, ImageInput, MAX_EMOJI_PER_POST, MAX_FACETS, MAX_MENTIONS, MAX_REACTIONS_PER_MEMBER,
};
use hearth_spaces::ops::spaces::CreateSpace;
use hearth_spaces::ratelimit::Limits;
use hearth_spaces::store::LISTED_FANOUT_SQL;
use hearth_spaces::{Spaces, SpacesConfig};
use spaces_common::*;

fn open(dir: &std::path::Path) -> Spaces {
    open_with(dir, Limits::default())
}

fn open_with(dir: &std::path::Path, limits: Limits) -> Spaces {
    open_on(dir, limits, None)
}

fn open_on(
    dir: &std::path::Path,
    limits: Limits,
    images_bucket: Option<hearth_net::s3::ObjectStore>,
) -> Spaces {
    Spaces::open(SpacesConfig {
        dir: dir.to_path_buf(),
        authority: "did:web:localhost%3A1".into(),
        public_url: "http://localhost:1".into(),
        smtp_url: None,
        smtp_from: None,
        limits,
        images_bucket,
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
            invitee: None,
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
    cases.case("a demoted or removed admin's invite is void");
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
    cases.case("an admin's invite grants at most moderator");
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
                invitee: None,
            },
        )
        .await
        .expect("invite");
    assert_eq!(created.invite.max_uses, Some(INVITE_DEFAULT_USES));
    let expires = created.invite.expires_at.expect("an expiry by default");
    let left = parse_time(&expires).expect("datetime") / 1000 - atproto_now();
    let want = INVITE_DEFAULT_HOURS * 3600;
    assert!((want - 60..=want).contains(&left), "{left}s left");
    cases.case("an invite without limits gets the default expiry");
    for i in 0..INVITE_DEFAULT_USES {
        s.accept_invite(&did(&format!("j{i}")), &created.token)
            .await
            .expect("within the default uses");
    }
    invalid_invite(s.accept_invite(&did("onetoomany"), &created.token).await);
    cases.case("an invite without limits stops after the default uses");
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
        CreatePost {
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
    cases.case("every foreign-key lookup of space.delete uses an index");
    s.delete_space(&owner, &space).await.expect("delete");
    let left: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM post) + (SELECT count(*) FROM notification)",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(left, 0, "the space's rows went with it");
    cases.case("space.delete removes the space's posts and notifications");
}

fn text_post(channel: &str, text: &str, facets: Option<Vec<serde_json::Value>>) -> CreatePost {
    CreatePost {
        channel: Some(channel.to_owned()),
        text: text.to_owned(),
        facets,
        images: None,
        reply_to: None,
    }
}

fn mention(did: &str) -> serde_json::Value {
    serde_json::json!({
        "index": { "byteStart": 0, "byteEnd": 1 },
        "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": did }]
    })
}

/// A space with `n` members besides the owner; returns (space, discussion, members).
async fn populated(s: &Spaces, owner: &str, n: usize) -> (String, String, Vec<String>) {
    let (space, discussion) = new_space(s, owner, "invite").await;
    let members: Vec<String> = (0..n).map(|i| did(&format!("m{i}"))).collect();
    for chunk in members.chunks(INVITE_DEFAULT_USES as usize) {
        let t = invite(s, owner, &space, None).await;
        for m in chunk {
            s.accept_invite(m, &t).await.expect("join");
        }
    }
    (space, discussion, members)
}

fn db(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("spaces.sqlite")).expect("open")
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect("count")
}

#[tokio::test]
async fn mentions_are_bounded() {
    let cases = Cases::new("spaces mentions and facets are bounded");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let owner = did("owner");
    let (_, discussion, members) = populated(&s, &owner, MAX_MENTIONS + 5).await;
    // One mention over the bound, and one facet over the bound, are refused whole.
    let too_many: Vec<_> = members
        .iter()
        .take(MAX_MENTIONS + 1)
        .map(|m| mention(m))
        .collect();
    let r = s
        .create_post(&owner, text_post(&discussion, "x", Some(too_many)))
        .await;
    assert!(matches!(r, Err(SpaceError::Invalid(_))), "{r:?}");
    let facets: Vec<_> = (0..=MAX_FACETS).map(|_| mention(&members[0])).collect();
    let r = s
        .create_post(&owner, text_post(&discussion, "x", Some(facets)))
        .await;
    assert!(matches!(r, Err(SpaceError::Invalid(_))), "{r:?}");
    let conn = db(tmp.path());
    assert_eq!(
        count(&conn, "SELECT count(*) FROM post"),
        0,
        "nothing was written"
    );
    cases.case("mentions and facets up to the bound are accepted");
    // At the bound: every mentioned member is notified once, strangers are not.
    let mut facets: Vec<_> = members
        .iter()
        .take(MAX_MENTIONS - 1)
        .map(|m| mention(m))
        .collect();
    facets.push(mention(&did("stranger")));
    s.create_post(&owner, text_post(&discussion, "x", Some(facets)))
        .await
        .expect("at the bound");
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM notification WHERE reason = 'mention'"
        ),
        (MAX_MENTIONS - 1) as i64
    );
    cases.case("mentions beyond the bound are refused; each listed mention notified once");
    // The mention fan-out is driven by the list: a primary-key look-up per mention, never a
    // scan of the space's members.
    let plan: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {LISTED_FANOUT_SQL}"))
        .and_then(|mut st| {
            let args = rusqlite::params_from_iter([rusqlite::types::Null; 10]);
            st.query_map(args, |r| r.get(3))?.collect()
        })
        .expect("plan");
    assert!(
        plan.iter().any(|p| p.contains("SEARCH m USING PRIMARY KEY")
            || p.contains("SEARCH m USING INDEX sqlite_autoindex_member")),
        "{plan:?}"
    );
    assert!(!plan.iter().any(|p| p.starts_with("SCAN m")), "{plan:?}");
    cases.case("mentions are resolved by key, not by scanning members");
}

#[tokio::test]
async fn reactions_and_lists_are_bounded() {
    let cases = Cases::new("spaces reactions and lists are bounded");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let owner = did("owner");
    let (space, discussion, members) = populated(&s, &owner, (MAX_PAGE as usize) + 20).await;
    let post = s
        .create_post(&owner, text_post(&discussion, "react", None))
        .await
        .expect("post")
        .post
        .uri;
    let emoji = |i: i64| {
        char::from_u32(0x1F600 + i as u32)
            .expect("emoji")
            .to_string()
    };
    for i in 0..MAX_REACTIONS_PER_MEMBER {
        s.react(&members[0], &post, &emoji(i), false)
            .await
            .expect("within the bound");
    }
    let r = s
        .react(&members[0], &post, &emoji(MAX_REACTIONS_PER_MEMBER), false)
        .await;
    assert!(matches!(r, Err(SpaceError::Invalid(_))), "{r:?}");
    // Repeating one is not a new reaction; removing one makes room.
    s.react(&members[0], &post, &emoji(0), false)
        .await
        .expect("again");
    s.react(&members[0], &post, &emoji(0), true)
        .await
        .expect("remove");
    s.react(&members[0], &post, &emoji(99), false)
        .await
        .expect("room again");
    cases.case("a member's distinct reactions per post are bounded");
    // Distinct emoji per post, from everyone.
    let mut next = 100;
    'fill: for m in &members[1..] {
        for _ in 0..MAX_REACTIONS_PER_MEMBER {
            let conn = db(tmp.path());
            if count(&conn, "SELECT count(DISTINCT emoji) FROM reaction") >= MAX_EMOJI_PER_POST {
                break 'fill;
            }
            s.react(m, &post, &emoji(next), false).await.expect("fill");
            next += 1;
        }
    }
    let last = members.last().expect("member");
    let r = s.react(last, &post, &emoji(next), false).await;
    assert!(matches!(r, Err(SpaceError::Invalid(_))), "{r:?}");
    s.react(last, &post, &emoji(100), false)
        .await
        .expect("an emoji already there");
    cases.case("a post's distinct reactions are bounded");
    // A list never returns more than a page, whatever limit a caller passes.
    let page = s
        .list_members(&owner, &space, u32::MAX, None)
        .await
        .expect("members");
    assert_eq!(page.members.len(), MAX_PAGE as usize);
    assert!(page.cursor.is_some());
    cases.case("a list never returns more than a page");
}

fn quota_exceeded<T: std::fmt::Debug>(r: Result<T, SpaceError>) {
    assert!(
        matches!(r, Err(SpaceError::Named("QuotaExceeded", _))),
        "{r:?}"
    );
}

#[tokio::test]
async fn image_quota_per_account_and_space() {
    let cases = Cases::new("spaces image quotas per account and per space");
    let tmp = tempfile::tempdir().expect("tmp");
    let size = png2(0).len() as i64;
    // Room for two of Ann's images, and four in the space.
    let s = open_with(
        tmp.path(),
        Limits {
            account_image_bytes: 2 * size + size / 2,
            space_image_bytes: 4 * size + size / 2,
            ..Limits::default()
        },
    );
    let owner = did("owner");
    let (space, _, members) = populated(&s, &owner, 3).await;
    let (other, _) = new_space(&s, &members[0], "invite").await;
    let images = || files_under(&tmp.path().join("space-images")).len();
    for tag in 0..2 {
        s.upload_image(&members[0], &space, png2(tag))
            .await
            .expect("within");
    }
    quota_exceeded(s.upload_image(&members[0], &space, png2(2)).await);
    // The account's quota spans spaces.
    quota_exceeded(s.upload_image(&members[0], &other, png2(3)).await);
    // The same image again costs nothing.
    s.upload_image(&members[0], &space, png2(1))
        .await
        .expect("a repeat");
    assert_eq!(images(), 2, "refused uploads leave nothing on disk");
    cases.case("an account's image quota is enforced");
    // Another member fills the space's quota.
    for tag in 10..12 {
        s.upload_image(&members[1], &space, png2(tag))
            .await
            .expect("within");
    }
    quota_exceeded(s.upload_image(&members[2], &space, png2(20)).await);
    assert_eq!(images(), 4);
    cases.case("a space's image quota is enforced");
}

#[tokio::test]
async fn unattached_uploads_are_collected() {
    let cases = Cases::new("spaces unattached uploads are collected");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let owner = did("owner");
    let (space, discussion) = new_space(&s, &owner, "invite").await;
    let dir = tmp.path().join("space-images");
    let kept = s
        .upload_image(&owner, &space, png2(1))
        .await
        .expect("upload")
        .image;
    let dropped = s
        .upload_image(&owner, &space, png2(2))
        .await
        .expect("upload")
        .image;
    let cid = |v: &serde_json::Value| v["ref"]["$link"].as_str().expect("cid").to_owned();
    let mut with_image = text_post(&discussion, "a picture", None);
    with_image.images = Some(vec![ImageInput {
        image: kept.clone(),
        alt: "kept".into(),
    }]);
    s.create_post(&owner, with_image).await.expect("post");
    // Within the grace period nothing goes.
    assert_eq!(s.collect_unattached_images(now_ms()).await.expect("gc"), 0);
    assert!(dir.join(cid(&dropped)).exists());
    cases.case("uploads within the grace period stay");
    // After it, the upload no post shows goes, row and file; the attached one stays.
    let later = now_ms() + UNATTACHED_GRACE_MS + 1000;
    assert_eq!(s.collect_unattached_images(later).await.expect("gc"), 1);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!dir.join(cid(&dropped)).exists(), "its file is gone");
    assert!(dir.join(cid(&kept)).exists(), "the attached image stays");
    let conn = db(tmp.path());
    assert_eq!(count(&conn, "SELECT count(*) FROM space_image"), 1);
    cases.case("unattached uploads are collected after the grace period");
}

/// Waits for a deletion that runs after the commit, in a task of its own.
async fn until_gone(moto: &hearth_testkit::s3::Moto, key: &str) -> bool {
    for _ in 0..100 {
        if !moto.has(key).await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

// HEARTH_BLOBSTORE=s3, against a real S3 API server (moto): upload, serving, collection of an
// unattached upload and the space's deletion all reach the bucket; nothing goes to disk.
#[tokio::test]
async fn images_in_a_bucket() {
    use hearth_testkit::s3::{ACCESS_KEY_ID, BUCKET, SECRET_ACCESS_KEY, start_moto};
    let cases = Cases::new("spaces images in a bucket");
    let moto = start_moto().await;
    let bucket = hearth_net::s3::ObjectStore::new(
        &hearth_net::s3::S3Config {
            endpoint: moto.endpoint(),
            bucket: BUCKET.into(),
            region: "us-east-1".into(),
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET_ACCESS_KEY.into(),
            path_style: true,
        },
        &hearth_net::Config::new(true, "hearth-test"),
        std::time::Duration::from_secs(30),
    )
    .expect("bucket");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open_on(tmp.path(), Limits::default(), Some(bucket));
    let owner = did("owner");
    let (space, discussion) = new_space(&s, &owner, "invite").await;
    let cid = |v: &serde_json::Value| v["ref"]["$link"].as_str().expect("cid").to_owned();
    let key = |cid: &str| format!("space-images/{cid}");

    cases.case("an upload goes to the bucket, not the image directory");
    let kept = s
        .upload_image(&owner, &space, png2(1))
        .await
        .expect("upload")
        .image;
    let dropped = s
        .upload_image(&owner, &space, png2(2))
        .await
        .expect("upload")
        .image;
    assert!(moto.has(&key(&cid(&kept))).await);
    assert!(moto.has(&key(&cid(&dropped))).await);
    assert!(!tmp.path().join("space-images").join(cid(&kept)).exists());

    cases.case("a member gets the image's bytes and type from the bucket");
    let mut with_image = text_post(&discussion, "a picture", None);
    with_image.images = Some(vec![ImageInput {
        image: kept.clone(),
        alt: "kept".into(),
    }]);
    let post = s.create_post(&owner, with_image).await.expect("post");
    let got = s
        .get_image(&owner, &space, &cid(&kept))
        .await
        .expect("image");
    assert_eq!(got.mime, "image/png");
    assert_eq!(got.bytes, png2(1));

    cases.case("an unattached upload is collected, row and object");
    let later = now_ms() + UNATTACHED_GRACE_MS + 1000;
    assert_eq!(s.collect_unattached_images(later).await.expect("gc"), 1);
    assert!(
        until_gone(&moto, &key(&cid(&dropped))).await,
        "object deleted"
    );
    assert!(
        moto.has(&key(&cid(&kept))).await,
        "the attached image stays"
    );
    assert!(matches!(
        s.get_image(&owner, &space, &cid(&dropped)).await,
        Err(SpaceError::NotFound(_))
    ));

    cases.case("deleting the last post that shows an image deletes its object");
    s.delete_post(&owner, &post.post.uri)
        .await
        .expect("delete post");
    assert!(until_gone(&moto, &key(&cid(&kept))).await, "object deleted");

    cases.case("an image uploaded again after its collection is stored again");
    let again = s
        .upload_image(&owner, &space, png2(2))
        .await
        .expect("upload")
        .image;
    assert_eq!(cid(&again), cid(&dropped));
    assert!(moto.has(&key(&cid(&again))).await);
    let got = s
        .get_image(&owner, &space, &cid(&again))
        .await
        .expect("image");
    assert_eq!(got.bytes, png2(2));

    cases.case("deleting the space deletes the objects no other space holds");
    s.delete_space(&owner, &space).await.expect("delete space");
    assert!(
        until_gone(&moto, &key(&cid(&again))).await,
        "object deleted"
    );
}

#[tokio::test]
async fn moderator_delete_is_audited() {
    let cases = Cases::new("spaces moderator deletes are audited");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let owner = did("owner");
    let (space, discussion, members) = populated(&s, &owner, 2).await;
    let (moderator, author) = (&members[0], &members[1]);
    s.set_role(&owner, &space, moderator, "moderator")
        .await
        .expect("moderator");
    let post = |text: &'static str| {
        let s = s.clone();
        let (author, discussion) = (author.clone(), discussion.clone());
        async move {
            s.create_post(&author, text_post(&discussion, text, None))
                .await
                .expect("post")
                .post
                .uri
        }
    };
    let own = post("mine to delete").await;
    let moderated = post("a moderator removes this").await;
    s.delete_post(author, &own).await.expect("own delete");
    s.delete_post(moderator, &moderated)
        .await
        .expect("moderator delete");
    let log = s.audit_log(&owner, &space, 100, None).await.expect("log");
    let deletes: Vec<_> = log
        .entries
        .iter()
        .filter(|e| e.action == "post.delete")
        .collect();
    assert_eq!(deletes.len(), 1, "only the moderator's delete: {deletes:?}");
    assert_eq!(deletes[0].actor, *moderator);
    assert_eq!(deletes[0].subject.as_deref(), Some(moderated.as_str()));
    assert_eq!(deletes[0].detail.as_deref(), Some(author.as_str()));
    cases.case("a moderator's delete is in the audit log");
    // Demoted to member, they can no longer delete another's post.
    s.set_role(&owner, &space, moderator, "member")
        .await
        .expect("demote");
    let third = post("not yours").await;
    let r = s.delete_post(moderator, &third).await;
    assert!(matches!(r, Err(SpaceError::Forbidden(_))), "{r:?}");
    cases.case("a demoted moderator can no longer delete others' posts");
}

#[tokio::test]
async fn export_is_bounded_and_respects_current_access() {
    let cases = Cases::new("spaces export is paged and follows current access");
    let tmp = tempfile::tempdir().expect("tmp");
    let s = open(tmp.path());
    let owner = did("owner");
    let (space, discussion, members) = populated(&s, &owner, 1).await;
    let ex = &members[0];
    s.set_role(&owner, &space, ex, "moderator")
        .await
        .expect("promote");
    let team = s
        .create_channel(
            &owner,
            hearth_spaces::ops::spaces::CreateChannel {
                space: space.clone(),
                name: "Moderators".into(),
                description: None,
                kind: "restricted".into(),
                read_role: Some("moderator".into()),
                post_role: Some("moderator".into()),
                email_announcements: None,
            },
        )
        .await
        .expect("channel")
        .uri;
    for (channel, text) in [(&discussion, "public one"), (&team, "team only")] {
        s.create_post(ex, text_post(channel, text, None))
            .await
            .expect("post");
    }
    let texts = |e: &hearth_spaces::ops::spaces::Export| -> Vec<String> {
        e.posts.iter().map(|p| p.text.clone()).collect()
    };
    let before = s.export(ex, &space, 100, None).await.expect("export");
    assert_eq!(texts(&before), ["public one", "team only"]);
    s.set_role(&owner, &space, ex, "member")
        .await
        .expect("demote");
    let after = s.export(ex, &space, 100, None).await.expect("export");
    assert_eq!(texts(&after), ["public one"], "not the channel they lost");
    cases.case("an export follows the member's current access");
    // Paged: every post exactly once, a bounded page at a time.
    for i in 0..5 {
        s.create_post(&owner, text_post(&discussion, &format!("p{i}"), None))
            .await
            .expect("post");
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = s.export(&owner, &space, 2, cursor).await.expect("page");
        assert!(page.posts.len() <= 2);
        assert_eq!(
            page.members.is_empty(),
            pages > 0,
            "members on the first page only"
        );
        seen.extend(texts(&page));
        pages += 1;
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
        assert!(pages < 10, "the cursor moves on");
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7);
    cases.case("an export is paged with a cursor");
}
