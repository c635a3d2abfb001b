//! The merging of local writes into AppView answers, on hand-built answers; every merged answer
//! is checked against the official lexicons (the official client validates them).

use super::*;
use serde_json::json;

const DID: &str = "did:plc:aliceaaaaaaaaaaaaaaaaaaa";
const OTHER: &str = "did:plc:bobbbbbbbbbbbbbbbbbbbbbb";
const CID: &str = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm";
const BLOB: &str = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";

fn validate(nsid: &str, body: &Value) {
    let ipld = atproto::data::json::from_json(body)
        .unwrap_or_else(|e| panic!("{nsid}: not atproto data: {e}\n{body:#}"));
    atproto::lexicon::Catalog::official()
        .validate_output(nsid, &ipld)
        .unwrap_or_else(|e| panic!("{nsid}: invalid per the lexicon: {e}\n{body:#}"));
}

fn blob() -> Value {
    json!({ "$type": "blob", "ref": { "$link": BLOB }, "mimeType": "image/png", "size": 67 })
}

fn post(rkey: &str, at: &str, value: Value) -> LocalRecord {
    LocalRecord {
        uri: format!("at://{DID}/{POST}/{rkey}"),
        cid: CID.into(),
        indexed_at: at.into(),
        value,
    }
}

fn text(t: &str) -> Value {
    json!({ "$type": POST, "text": t, "createdAt": "2025-01-01T00:00:00.000Z" })
}

fn reply(t: &str, root: &str, parent: &str) -> Value {
    json!({
        "$type": POST, "text": t, "createdAt": "2025-01-01T00:00:00.000Z",
        "reply": { "root": { "uri": root, "cid": CID }, "parent": { "uri": parent, "cid": CID } },
    })
}

fn local(posts: Vec<LocalRecord>, profile: Option<Value>) -> Local {
    Local {
        did: DID.into(),
        handle: "alice.test".into(),
        current_profile: profile.clone(),
        profile: profile.map(|value| LocalRecord {
            uri: format!("at://{DID}/{PROFILE}/self"),
            cid: CID.into(),
            indexed_at: "2025-01-01T00:00:09.000Z".into(),
            value,
        }),
        posts,
        public_url: "http://localhost:2583".into(),
    }
}

/// A postView as an AppView sends it.
fn upstream_post(did: &str, rkey: &str, at: &str, name: &str) -> Value {
    json!({
        "uri": format!("at://{did}/{POST}/{rkey}"),
        "cid": CID,
        "author": { "did": did, "handle": "someone.test", "displayName": name },
        "record": text("upstream"),
        "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0,
        "indexedAt": at,
    })
}

fn feed_uris(body: &Value) -> Vec<String> {
    body["feed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["post"]["uri"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn timeline_gets_new_posts_on_top_once_and_only_on_the_first_page() {
    let l = local(
        vec![
            post("3new1", "2025-01-01T00:00:05.000Z", text("first")),
            post("3new2", "2025-01-01T00:00:06.000Z", text("second")),
            // Already indexed by the AppView (it read its rev before building the view).
            post("3seen", "2025-01-01T00:00:04.000Z", text("seen")),
        ],
        None,
    );
    let upstream = json!({ "feed": [
        { "post": upstream_post(DID, "3seen", "2025-01-01T00:00:04.000Z", "Alice") },
        { "post": upstream_post(OTHER, "3old", "2025-01-01T00:00:01.000Z", "Bob") },
    ], "cursor": "c" });
    let out = l.munge_timeline(upstream.clone(), &Params::default(), &Quoted::new());
    validate("app.bsky.feed.getTimeline", &out);
    assert_eq!(
        feed_uris(&out),
        vec![
            format!("at://{DID}/{POST}/3new2"),
            format!("at://{DID}/{POST}/3new1"),
            format!("at://{DID}/{POST}/3seen"),
            format!("at://{OTHER}/{POST}/3old"),
        ]
    );
    let p = &out["feed"][0]["post"];
    assert_eq!(p["record"]["text"], "second");
    assert_eq!(p["author"]["did"], DID);
    assert_eq!(p["author"]["handle"], "alice.test");
    assert_eq!(p["likeCount"], 0);
    assert_eq!(out["cursor"], "c");

    let page2 = Params {
        cursor: Some("c".into()),
        ..Params::default()
    };
    let out = l.munge_timeline(upstream, &page2, &Quoted::new());
    assert_eq!(feed_uris(&out).len(), 2, "later pages are left alone");
}

#[test]
fn timeline_page_older_than_a_local_post_does_not_get_it() {
    // Everything on the page is newer than the local post: it belongs on a later page.
    let l = local(
        vec![post("3new", "2025-01-01T00:00:01.000Z", text("x"))],
        None,
    );
    let upstream = json!({ "feed": [
        { "post": upstream_post(OTHER, "3a", "2025-01-01T00:00:09.000Z", "Bob") },
    ] });
    let out = l.munge_timeline(upstream, &Params::default(), &Quoted::new());
    assert_eq!(feed_uris(&out), vec![format!("at://{OTHER}/{POST}/3a")]);
}

#[test]
fn author_feed_only_for_the_user_and_by_filter() {
    let root = format!("at://{OTHER}/{POST}/3root");
    let l = local(
        vec![
            post("3top", "2025-01-01T00:00:05.000Z", text("top level")),
            post(
                "3rep",
                "2025-01-01T00:00:06.000Z",
                reply("a reply", &root, &root),
            ),
        ],
        None,
    );
    let empty = json!({ "feed": [] });
    let with = |actor: &str, filter: Option<&str>| Params {
        actor: Some(actor.into()),
        filter: filter.map(str::to_owned),
        ..Params::default()
    };
    let q = Quoted::new();

    let out = l.munge_author_feed(empty.clone(), &with(DID, None), &q);
    validate("app.bsky.feed.getAuthorFeed", &out);
    assert_eq!(
        feed_uris(&out).len(),
        2,
        "the user's first posts show on an empty feed"
    );

    let out = l.munge_author_feed(empty.clone(), &with("Alice.Test", None), &q);
    assert_eq!(feed_uris(&out).len(), 2, "the actor may be the handle");

    let out = l.munge_author_feed(empty.clone(), &with(OTHER, None), &q);
    assert_eq!(
        feed_uris(&out).len(),
        0,
        "someone else's feed is not touched"
    );

    let out = l.munge_author_feed(empty.clone(), &with(DID, Some("posts_no_replies")), &q);
    assert_eq!(feed_uris(&out), vec![format!("at://{DID}/{POST}/3top")]);

    let out = l.munge_author_feed(empty.clone(), &with(DID, Some("posts_with_media")), &q);
    assert_eq!(feed_uris(&out).len(), 0, "no local post has media");

    let out = l.munge_author_feed(empty, &with(DID, Some("posts_and_author_threads")), &q);
    assert_eq!(
        feed_uris(&out),
        vec![format!("at://{DID}/{POST}/3top")],
        "a reply in someone else's thread is not an author thread"
    );
}

#[test]
fn profile_changes_apply_to_the_users_profile_only() {
    let l = local(
        Vec::new(),
        Some(json!({
            "$type": PROFILE,
            "displayName": "Alice Organizer",
            "description": "new bio",
            "avatar": blob(),
        })),
    );
    let upstream = json!({
        "did": DID, "handle": "alice.test", "displayName": "Alice", "description": "old",
        "banner": "https://cdn.example/banner", "followersCount": 3,
    });
    let out = l.munge_profile(upstream.clone());
    validate("app.bsky.actor.getProfile", &out);
    assert_eq!(out["displayName"], "Alice Organizer");
    assert_eq!(out["description"], "new bio");
    assert_eq!(
        out["avatar"],
        format!("http://localhost:2583/xrpc/com.atproto.sync.getBlob?did={DID}&cid={BLOB}")
    );
    assert!(
        out.get("banner").is_none(),
        "the record no longer has a banner"
    );
    assert_eq!(out["followersCount"], 3, "counts are the AppView's");

    let mut other = upstream;
    other["did"] = json!(OTHER);
    assert_eq!(l.munge_profile(other.clone()), other);
}

#[test]
fn profile_change_refreshes_the_users_author_views() {
    let l = local(
        Vec::new(),
        Some(json!({ "$type": PROFILE, "displayName": "Renamed" })),
    );
    let upstream = json!({ "feed": [
        { "post": upstream_post(DID, "3a", "2025-01-01T00:00:01.000Z", "Old name") },
        { "post": upstream_post(OTHER, "3b", "2025-01-01T00:00:00.000Z", "Bob") },
    ] });
    let out = l.munge_timeline(upstream, &Params::default(), &Quoted::new());
    validate("app.bsky.feed.getTimeline", &out);
    assert_eq!(out["feed"][0]["post"]["author"]["displayName"], "Renamed");
    assert_eq!(out["feed"][1]["post"]["author"]["displayName"], "Bob");
}

fn thread_post(did: &str, rkey: &str, record: Value) -> Value {
    let mut p = upstream_post(did, rkey, "2025-01-01T00:00:00.000Z", "x");
    p["record"] = record;
    json!({ "$type": "app.bsky.feed.defs#threadViewPost", "post": p })
}

#[test]
fn thread_gets_new_replies_under_their_parents() {
    let root = format!("at://{OTHER}/{POST}/3root");
    let mid = format!("at://{OTHER}/{POST}/3mid");
    let mut top = thread_post(OTHER, "3root", text("root"));
    top["replies"] = json!([thread_post(OTHER, "3mid", reply("mid", &root, &root))]);
    let l = local(
        vec![
            post(
                "3r1",
                "2025-01-01T00:00:05.000Z",
                reply("to root", &root, &root),
            ),
            post(
                "3r2",
                "2025-01-01T00:00:06.000Z",
                reply("to mid", &root, &mid),
            ),
            post("3x", "2025-01-01T00:00:07.000Z", text("unrelated")),
        ],
        None,
    );
    let out = l.munge_thread(json!({ "thread": top }), &Quoted::new());
    validate("app.bsky.feed.getPostThread", &out);
    let replies = out["thread"]["replies"].as_array().unwrap();
    assert_eq!(replies[0]["post"]["uri"], format!("at://{DID}/{POST}/3r1"));
    assert_eq!(replies[1]["post"]["uri"], mid);
    assert_eq!(
        replies[1]["replies"][0]["post"]["uri"],
        format!("at://{DID}/{POST}/3r2")
    );
    assert_eq!(replies.len(), 2, "the unrelated post stays out");

    // Already there: not added twice.
    let again = l.munge_thread(out.clone(), &Quoted::new());
    assert_eq!(again, out);
}

#[test]
fn thread_of_an_unindexed_local_post() {
    let parent = format!("at://{OTHER}/{POST}/3root");
    let l = local(
        vec![post(
            "3mine",
            "2025-01-01T00:00:05.000Z",
            reply("mine", &parent, &parent),
        )],
        None,
    );
    let by_handle = format!("at://alice.test/{POST}/3mine");
    let t = l.thread_of_local(&by_handle, &Quoted::new()).unwrap();
    validate("app.bsky.feed.getPostThread", &json!({ "thread": t }));
    assert_eq!(t["post"]["uri"], format!("at://{DID}/{POST}/3mine"));
    assert_eq!(l.parent_of(&by_handle), Some(parent.clone()));
    assert!(l.thread_of_local(&parent, &Quoted::new()).is_none());
    assert!(
        l.thread_of_local(&format!("at://{DID}/{POST}/3nope"), &Quoted::new())
            .is_none()
    );
}

#[test]
fn embeds_render_as_views() {
    let quoted_uri = format!("at://{OTHER}/{POST}/3q");
    let gone_uri = format!("at://{OTHER}/{POST}/3gone");
    let mut images = text("pic");
    images["embed"] = json!({ "$type": "app.bsky.embed.images", "images": [
        { "image": blob(), "alt": "the hall", "aspectRatio": { "width": 4, "height": 3 } },
    ] });
    let mut external = text("link");
    external["embed"] = json!({ "$type": "app.bsky.embed.external", "external": {
        "uri": "https://example.com", "title": "Example", "description": "d", "thumb": blob(),
    } });
    let mut quote = text("quote");
    quote["embed"] =
        json!({ "$type": "app.bsky.embed.record", "record": { "uri": quoted_uri, "cid": CID } });
    let mut gone = text("quote of a deleted post");
    gone["embed"] =
        json!({ "$type": "app.bsky.embed.record", "record": { "uri": gone_uri, "cid": CID } });
    let mut with_media = text("quote with media");
    with_media["embed"] = json!({
        "$type": "app.bsky.embed.recordWithMedia",
        "record": { "$type": "app.bsky.embed.record", "record": { "uri": quoted_uri, "cid": CID } },
        "media": images["embed"].clone(),
    });
    let l = local(
        vec![
            post("3a", "2025-01-01T00:00:01.000Z", images),
            post("3b", "2025-01-01T00:00:02.000Z", external),
            post("3c", "2025-01-01T00:00:03.000Z", quote),
            post("3d", "2025-01-01T00:00:04.000Z", gone),
            post("3e", "2025-01-01T00:00:05.000Z", with_media),
        ],
        None,
    );
    assert_eq!(l.quoted_uris(), vec![quoted_uri.clone(), gone_uri.clone()]);
    let mut quoted = Quoted::new();
    let view = view_record_of_post(&upstream_post(
        OTHER,
        "3q",
        "2025-01-01T00:00:00.000Z",
        "Bob",
    ))
    .unwrap();
    quoted.insert(quoted_uri.clone(), view);

    let out = l.munge_timeline(json!({ "feed": [] }), &Params::default(), &quoted);
    validate("app.bsky.feed.getTimeline", &out);
    let embed = |i: usize| out["feed"][i]["post"]["embed"].clone();
    // Newest first: 3e, 3d, 3c, 3b, 3a.
    assert_eq!(embed(0)["$type"], "app.bsky.embed.recordWithMedia#view");
    assert_eq!(embed(0)["record"]["record"]["uri"], quoted_uri);
    assert_eq!(
        embed(1)["record"]["$type"],
        "app.bsky.embed.record#viewNotFound"
    );
    assert_eq!(
        embed(2)["record"]["$type"],
        "app.bsky.embed.record#viewRecord"
    );
    assert_eq!(embed(2)["record"]["author"]["did"], OTHER);
    assert_eq!(embed(3)["$type"], "app.bsky.embed.external#view");
    assert!(
        embed(3)["external"]["thumb"]
            .as_str()
            .unwrap()
            .contains(BLOB)
    );
    assert_eq!(embed(4)["$type"], "app.bsky.embed.images#view");
    assert_eq!(embed(4)["images"][0]["alt"], "the hall");
    assert_eq!(embed(4)["images"][0]["aspectRatio"]["width"], 4);
}

#[test]
fn query_parameters() {
    let p = Params::parse(Some(
        "actor=alice.test&filter=posts_no_replies&cursor=abc&uri=at%3A%2F%2Fx&parentHeight=3&limit=5",
    ));
    assert_eq!(p.actor.as_deref(), Some("alice.test"));
    assert_eq!(p.filter.as_deref(), Some("posts_no_replies"));
    assert_eq!(p.cursor.as_deref(), Some("abc"));
    assert_eq!(p.uri.as_deref(), Some("at://x"));
    assert_eq!(p.parent_height.as_deref(), Some("3"));
    assert_eq!(
        Method::of("app.bsky.feed.getTimeline"),
        Some(Method::Timeline)
    );
    assert_eq!(Method::of("app.bsky.feed.getPosts"), None);
}
