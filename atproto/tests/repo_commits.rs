//! Repository commits end to end: build a repository with writes, export it as a CAR, verify
//! the export and every commit diff, and refuse tampered or mis-signed data.

use atproto::blockstore::MemoryBlockStore;
use atproto::car::write_car;
use atproto::crypto::{Algorithm, Keypair};
use atproto::data::{Ipld, cbor, cid_for_cbor};
use atproto::mst::Mst;
use atproto::repo::{
    Commit, RecordWrite, RepoError, WriteAction, apply_writes, verify_commit_car, verify_repo_car,
};
use atproto::syntax::TidClock;
use std::collections::BTreeMap;

const DID: &str = "did:plc:testrepo12345678";

fn record(text: &str) -> (atproto::data::Cid, Vec<u8>) {
    let mut m = BTreeMap::new();
    m.insert(
        "$type".to_string(),
        Ipld::String("app.bsky.feed.post".into()),
    );
    m.insert("text".to_string(), Ipld::String(text.into()));
    m.insert(
        "createdAt".to_string(),
        Ipld::String("2024-01-01T00:00:00.000Z".into()),
    );
    let bytes = cbor::encode(&Ipld::Map(m)).expect("encode");
    (cid_for_cbor(&bytes), bytes)
}

fn write(action: WriteAction, rkey: &str, text: Option<&str>) -> RecordWrite {
    RecordWrite {
        action,
        collection: "app.bsky.feed.post".into(),
        rkey: rkey.into(),
        record: text.map(record),
    }
}

#[test]
fn build_export_and_verify_a_repository() {
    for alg in [Algorithm::K256, Algorithm::P256] {
        let key = Keypair::generate(alg);
        let clock = TidClock::new();
        let mut store = MemoryBlockStore::new();
        let mut root: Option<atproto::data::Cid> = None;
        let mut head = None;
        let batches = vec![
            vec![
                write(WriteAction::Create, "a1", Some("one")),
                write(WriteAction::Create, "a2", Some("two")),
            ],
            vec![write(WriteAction::Update, "a1", Some("one, edited"))],
            vec![
                write(WriteAction::Create, "a3", Some("three")),
                write(WriteAction::Delete, "a2", None),
            ],
        ];
        for batch in batches {
            let mut mst = match root {
                Some(r) => Mst::load(&store, r),
                None => Mst::create(&store),
            };
            let rev = clock.next();
            let commit = apply_writes(&mut mst, DID, rev.as_str(), &key, batch).expect("commit");
            drop(mst);
            // The diff a firehose would carry verifies and inverts to the previous root.
            let car = write_car(
                &commit.cid,
                commit
                    .relevant_blocks
                    .iter()
                    .map(|(c, b)| (c, b.as_slice())),
            )
            .expect("car");
            let v = verify_commit_car(
                &car,
                &commit.ops,
                Some(commit.prev_data),
                Some(&key.public()),
            )
            .expect("diff verifies");
            assert_eq!(v.rev, rev.as_str());
            // The wrong key, or the wrong prevData, is refused.
            let other = Keypair::generate(alg).public();
            assert!(
                verify_commit_car(&car, &commit.ops, Some(commit.prev_data), Some(&other)).is_err()
            );
            let wrong_prev = cid_for_cbor(b"\xa0");
            if wrong_prev != commit.prev_data {
                assert!(matches!(
                    verify_commit_car(&car, &commit.ops, Some(wrong_prev), None),
                    Err(RepoError::InversionMismatch { .. })
                ));
            }
            store.extend(commit.new_blocks.clone());
            root = Some(commit.data);
            head = Some(commit.cid);
        }
        // Export everything reachable and verify it as a whole repository.
        let head = head.expect("head");
        let mut mst = Mst::load(&store, root.expect("root"));
        let mut blocks: Vec<(atproto::data::Cid, Vec<u8>)> = mst.node_blocks().expect("nodes");
        for (_, cid) in mst.leaves().expect("leaves") {
            blocks.push((
                cid,
                atproto::blockstore::BlockStore::get_block(&store, &cid)
                    .expect("get")
                    .expect("record"),
            ));
        }
        let commit_bytes = atproto::blockstore::BlockStore::get_block(&store, &head)
            .expect("get")
            .expect("commit");
        blocks.push((head, commit_bytes.clone()));
        let car = write_car(&head, blocks.iter().map(|(c, b)| (c, b.as_slice()))).expect("car");
        let repo = verify_repo_car(&car, Some(DID), Some(&key.public())).expect("repo verifies");
        let paths: Vec<&str> = repo.records.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(paths, ["app.bsky.feed.post/a1", "app.bsky.feed.post/a3"]);
        assert!(verify_repo_car(&car, Some("did:plc:someoneelse"), None).is_err());
        assert!(verify_repo_car(&car, None, Some(&Keypair::generate(alg).public())).is_err());
        let commit = Commit::from_block(&commit_bytes).expect("commit");
        assert_eq!(commit.version, 3);
        assert_eq!(commit.prev, None);
        commit.verify(&key.public()).expect("signature");
    }
}

#[test]
fn invalid_writes_are_refused() {
    let key = Keypair::generate(Algorithm::K256);
    let store = MemoryBlockStore::new();
    let mut mst = Mst::create(&store);
    let r = apply_writes(
        &mut mst,
        DID,
        "3kabcdefghij2",
        &key,
        vec![write(WriteAction::Update, "nope", Some("x"))],
    );
    assert!(r.is_err());
    let mut mst = Mst::create(&store);
    let r = apply_writes(
        &mut mst,
        DID,
        "3kabcdefghij2",
        &key,
        vec![write(WriteAction::Delete, "nope", None)],
    );
    assert!(r.is_err());
    let mut mst = Mst::create(&store);
    let dup = vec![
        write(WriteAction::Create, "same", Some("x")),
        write(WriteAction::Create, "same", Some("y")),
    ];
    assert!(apply_writes(&mut mst, DID, "3kabcdefghij2", &key, dup).is_err());
    let mut mst = Mst::create(&store);
    let bad_key = vec![RecordWrite {
        action: WriteAction::Create,
        collection: "app.bsky.feed.post".into(),
        rkey: "a/b".into(),
        record: Some(record("x")),
    }];
    assert!(apply_writes(&mut mst, DID, "3kabcdefghij2", &key, bad_key).is_err());
}

#[test]
fn hostile_cars_are_refused() {
    use atproto::car::read_car;
    let (cid, bytes) = record("hello");
    let good = write_car(&cid, [(&cid, bytes.as_slice())]).expect("car");
    assert!(read_car(&good).is_ok());
    // Every truncation fails cleanly.
    for n in 0..good.len() {
        let _ = read_car(&good[..n]);
    }
    // A flipped byte in the block no longer matches its CID.
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(read_car(&bad).is_err());
    // A huge length prefix does not allocate.
    let mut huge = good[..good.len() - bytes.len() - cid.encoded_len() - 1].to_vec();
    huge.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(read_car(&huge).is_err());
    assert!(read_car(b"").is_err());
    assert!(read_car(&[0x01, 0xa0]).is_err());
}

#[test]
fn first_commit_of_a_new_repository_carries_the_empty_root() {
    let key = Keypair::generate(Algorithm::K256);
    let store = MemoryBlockStore::new();
    let mut mst = Mst::create(&store);
    let commit = apply_writes(&mut mst, DID, "3kabcdefghij2", &key, Vec::new()).expect("commit");
    let stored: std::collections::HashSet<_> = commit.new_blocks.iter().map(|(c, _)| *c).collect();
    assert!(
        stored.contains(&commit.data),
        "the empty tree's root node must be stored"
    );
    assert!(stored.contains(&commit.cid));
}
