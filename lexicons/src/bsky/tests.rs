//! How the view types serialize: what clients rely on beyond field names.

use super::*;
use serde_json::{Value, json};

fn author() -> ProfileViewBasic {
    ProfileViewBasic {
        did: "did:plc:a".into(),
        handle: "a.test".into(),
        display_name: None,
        pronouns: None,
        avatar: None,
        viewer: None,
        labels: None,
        created_at: None,
    }
}

fn post(embed: Option<EmbedView>) -> PostView {
    PostView {
        uri: "at://did:plc:a/app.bsky.feed.post/1".into(),
        cid: "bafy".into(),
        author: author(),
        record: json!({ "text": "hi" }),
        embed,
        reply_count: Some(0),
        repost_count: None,
        like_count: None,
        quote_count: None,
        bookmark_count: None,
        indexed_at: "2026-01-01T00:00:00.000Z".into(),
        viewer: None,
        labels: no_labels(),
        threadgate: None,
    }
}

fn to_json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("serializes")
}

#[test]
fn optional_fields_are_left_out_and_empty_lists_kept() {
    let v = to_json(&post(None));
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "author",
            "cid",
            "indexedAt",
            "labels",
            "record",
            "replyCount",
            "uri"
        ]
    );
    assert_eq!(v["labels"], json!([]));
    assert_eq!(
        v["author"],
        json!({ "did": "did:plc:a", "handle": "a.test" })
    );
}

#[test]
fn unions_carry_their_type_and_unit_variants_only_it() {
    let node = ThreadNode::Post(Box::new(ThreadViewPost {
        post: post(None),
        parent: Some(ThreadNode::NotFound(NotFoundPost {
            uri: "at://x/app.bsky.feed.post/0".into(),
            not_found: true,
        })),
        replies: None,
        thread_context: Some(ThreadContext::default()),
    }));
    let v = to_json(&node);
    assert_eq!(v["$type"], "app.bsky.feed.defs#threadViewPost");
    assert_eq!(
        v["parent"],
        json!({ "$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://x/app.bsky.feed.post/0", "notFound": true })
    );
    assert_eq!(v["threadContext"], json!({}));
    assert_eq!(
        to_json(&ThreadItemValue::NotFound),
        json!({ "$type": "app.bsky.unspecced.defs#threadItemNotFound" })
    );
}

#[test]
fn a_fetched_record_view_passes_through_as_it_came() {
    let fetched =
        json!({ "$type": "app.bsky.embed.record#viewRecord", "uri": "at://q", "extra": 1 });
    let embed = EmbedView::Record(RecordView {
        record: RecordViewRecord::Fetched(fetched.clone()),
    });
    assert_eq!(
        to_json(&embed),
        json!({ "$type": "app.bsky.embed.record#view", "record": fetched })
    );
}

#[test]
fn a_detailed_labeler_view_has_the_plain_views_fields_and_its_own() {
    let view = LabelerView {
        uri: "at://did:plc:l/app.bsky.labeler.service/self".into(),
        cid: "bafy".into(),
        creator: ProfileView::from_basic(author(), None, None),
        like_count: Some(2),
        viewer: None,
        indexed_at: "2026-01-01T00:00:00.000Z".into(),
        labels: no_labels(),
    };
    let v = to_json(&LabelerServiceView::Detailed(Box::new(
        LabelerViewDetailed {
            view,
            policies: json!({ "labelValues": [] }),
            reason_types: None,
            subject_types: None,
            subject_collections: None,
        },
    )));
    assert_eq!(v["$type"], "app.bsky.labeler.defs#labelerViewDetailed");
    assert_eq!(v["likeCount"], 2);
    assert_eq!(v["policies"], json!({ "labelValues": [] }));
    assert!(v.get("reasonTypes").is_none());
}
