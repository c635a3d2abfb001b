//! Firehose frames: a DAG-CBOR header, then a DAG-CBOR body.

use crate::meter::bounded;
use crate::strategy;
use atproto::data::{Ipld, cbor, cid_for_cbor};
use atproto::firehose::{
    Account, Commit, Event, Frame, Identity, Info, RepoOpWire, Sync, decode_frame, encode_error,
    encode_event,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn cid() -> impl Strategy<Value = atproto::data::Cid> {
    vec(any::<u8>(), 0..8).prop_map(|b| cid_for_cbor(&b))
}

fn op() -> impl Strategy<Value = RepoOpWire> {
    (
        "create|update|delete|\\PC{0,6}",
        "\\PC{0,30}",
        option::of(cid()),
        option::of(cid()),
    )
        .prop_map(|(action, path, cid, prev)| RepoOpWire {
            action,
            path,
            cid,
            prev,
        })
}

fn event() -> impl Strategy<Value = Event> {
    let s = || "\\PC{0,24}";
    prop_oneof![
        (
            any::<i64>(),
            (s(), cid(), s(), option::of(s())),
            vec(any::<u8>(), 0..64),
            vec(op(), 0..4),
            vec(cid(), 0..2),
            (option::of(cid()), s()),
        )
            .prop_map(
                |(seq, (repo, commit, rev, since), blocks, ops, blobs, (prev_data, time))| {
                    Event::Commit(Box::new(Commit {
                        seq,
                        rebase: false,
                        too_big: false,
                        repo,
                        commit,
                        rev,
                        since,
                        blocks,
                        ops,
                        blobs,
                        prev_data,
                        time,
                    }))
                }
            ),
        (any::<i64>(), s(), vec(any::<u8>(), 0..64), s(), s()).prop_map(
            |(seq, did, blocks, rev, time)| Event::Sync(Sync {
                seq,
                did,
                blocks,
                rev,
                time
            })
        ),
        (any::<i64>(), s(), s(), option::of(s())).prop_map(|(seq, did, time, handle)| {
            Event::Identity(Identity {
                seq,
                did,
                time,
                handle,
            })
        }),
        (any::<i64>(), s(), s(), any::<bool>(), option::of(s())).prop_map(
            |(seq, did, time, active, status)| Event::Account(Account {
                seq,
                did,
                time,
                active,
                status
            })
        ),
        (s(), option::of(s())).prop_map(|(name, message)| Event::Info(Info { name, message })),
    ]
}

/// A header naming a known event type (or none), followed by an arbitrary value.
fn header_and_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(1i64), Just(-1), any::<i64>()],
        option::of(prop::sample::select(vec![
            "#commit",
            "#sync",
            "#identity",
            "#account",
            "#info",
            "#future",
        ])),
        strategy::ipld(),
    )
        .prop_map(|(op, t, body)| {
            let mut header = BTreeMap::new();
            header.insert("op".to_owned(), Ipld::Integer(op.into()));
            if let Some(t) = t {
                header.insert("t".to_owned(), Ipld::String(t.into()));
            }
            let mut out = cbor::encode(&Ipld::Map(header)).expect("header");
            out.extend(cbor::encode(&body).expect("body"));
            out
        })
}

proptest! {
    #[test]
    fn decode_survives_arbitrary_bytes(bytes in strategy::bytes(512)) {
        let _ = bounded(bytes.len(), || decode_frame(&bytes));
    }

    #[test]
    fn decode_survives_any_body(frame in header_and_body(), edits in strategy::edits()) {
        let _ = bounded(frame.len(), || decode_frame(&frame));
        let edited = strategy::apply(&frame, &edits);
        let _ = bounded(edited.len(), || decode_frame(&edited));
    }

    #[test]
    fn encode_then_decode_is_identity(event in event()) {
        let bytes = encode_event(&event).expect("encode");
        prop_assert_eq!(decode_frame(&bytes).expect("decode"), Frame::Event(event));
    }

    #[test]
    fn decode_survives_edited_events(event in event(), edits in strategy::edits()) {
        let bytes = strategy::apply(&encode_event(&event).expect("encode"), &edits);
        if let Ok(Frame::Event(decoded)) = bounded(bytes.len(), || decode_frame(&bytes)) {
            // Unknown fields are skipped (the lexicon may grow), so the bytes need not come
            // back; what was understood must survive another round.
            let again = encode_event(&decoded).expect("encode");
            prop_assert_eq!(decode_frame(&again).expect("decode"), Frame::Event(decoded));
        }
    }

    #[test]
    fn error_frames_round_trip(error in "\\PC{0,24}", message in option::of("\\PC{0,24}")) {
        let bytes = encode_error(&error, message.as_deref()).expect("encode");
        match decode_frame(&bytes).expect("decode") {
            Frame::Error(e) => {
                prop_assert_eq!(e.error, error);
                prop_assert_eq!(e.message, message);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
