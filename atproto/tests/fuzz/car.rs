//! CAR files, and the repository and commit verification that reads them.

use crate::meter::{bounded, measure};
use crate::strategy;
use atproto::blockstore::{BlockStore, MemoryBlockStore};
use atproto::car::{CarError, CarReader, read_car, write_car};
use atproto::crypto::{Algorithm, Keypair};
use atproto::data::{Cid, Ipld, cbor, cid_for_cbor, cid_for_raw};
use atproto::mst::Mst;
use atproto::repo::{
    RecordWrite, RepoOp, WriteAction, apply_writes, verify_commit_car, verify_repo_car,
};
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Blocks of both codecs, each stored under its own CID.
fn blocks() -> impl Strategy<Value = Vec<(Cid, Vec<u8>)>> {
    vec(
        (any::<bool>(), vec(any::<u8>(), 0..64)).prop_map(|(raw, b)| {
            if raw {
                (cid_for_raw(&b), b)
            } else {
                let bytes = cbor::encode(&Ipld::Bytes(b)).expect("encode");
                (cid_for_cbor(&bytes), bytes)
            }
        }),
        0..8,
    )
}

fn car_of(blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let root = blocks
        .first()
        .map_or_else(|| cid_for_cbor(b""), |(c, _)| *c);
    write_car(&root, blocks.iter().map(|(c, b)| (c, b.as_slice()))).expect("car")
}

/// A small signed repository, its export and the diff of its last commit, built once.
struct Repo {
    export: Vec<u8>,
    diff: Vec<u8>,
    ops: Vec<RepoOp>,
    prev_data: Cid,
    key: Keypair,
}

fn repo() -> &'static Repo {
    static REPO: OnceLock<Repo> = OnceLock::new();
    REPO.get_or_init(|| {
        let key = Keypair::generate(Algorithm::K256);
        let mut store = MemoryBlockStore::new();
        let post = |text: &str| {
            let mut m = BTreeMap::new();
            m.insert(
                "$type".to_owned(),
                Ipld::String("app.bsky.feed.post".into()),
            );
            m.insert("text".to_owned(), Ipld::String(text.into()));
            let bytes = cbor::encode(&Ipld::Map(m)).expect("encode");
            (cid_for_cbor(&bytes), bytes)
        };
        let write = |rkey: &str, text: &str| RecordWrite {
            action: WriteAction::Create,
            collection: "app.bsky.feed.post".into(),
            rkey: rkey.into(),
            record: Some(post(text)),
        };
        let mut root = None;
        let mut last = None;
        for (i, batch) in [
            vec![write("a1", "one"), write("a2", "two")],
            vec![write("a3", "three")],
        ]
        .into_iter()
        .enumerate()
        {
            let mut mst = match root {
                Some(r) => Mst::load(&store, r),
                None => Mst::create(&store),
            };
            let rev = format!("3kabcdefghij{}", i + 2);
            let commit =
                apply_writes(&mut mst, "did:plc:fuzzrepo", &rev, &key, batch).expect("commit");
            drop(mst);
            for (c, b) in &commit.new_blocks {
                store.insert(*c, b.clone());
            }
            root = Some(commit.data);
            last = Some(commit);
        }
        let commit = last.expect("a commit");
        let diff = write_car(
            &commit.cid,
            commit
                .relevant_blocks
                .iter()
                .map(|(c, b)| (c, b.as_slice())),
        )
        .expect("diff");
        let export =
            write_car(&commit.cid, store.iter().map(|(c, b)| (c, b.as_slice()))).expect("export");
        Repo {
            export,
            diff,
            ops: commit.ops,
            prev_data: commit.prev_data,
            key,
        }
    })
}

proptest! {
    #[test]
    fn read_car_survives_arbitrary_bytes(bytes in strategy::bytes(512)) {
        let _ = bounded(bytes.len(), || read_car(&bytes));
    }

    #[test]
    fn write_then_read_is_identity(blocks in blocks()) {
        let car = car_of(&blocks);
        let (roots, store) = read_car(&car).expect("read");
        prop_assert_eq!(roots.len(), 1);
        let distinct: BTreeMap<_, _> = blocks.iter().cloned().collect();
        prop_assert_eq!(store.len(), distinct.len());
        for (cid, bytes) in &distinct {
            prop_assert_eq!(store.get_block(cid).expect("get"), Some(bytes.clone()));
        }
    }

    #[test]
    fn read_car_survives_edits(blocks in blocks(), edits in strategy::edits()) {
        let car = strategy::apply(&car_of(&blocks), &edits);
        let _ = bounded(car.len(), || read_car(&car));
    }

    #[test]
    fn repository_checks_survive_edits(edits in strategy::edits()) {
        let repo = repo();
        let key = repo.key.public();
        let export = strategy::apply(&repo.export, &edits);
        let _ = bounded(export.len(), || verify_repo_car(&export, None, Some(&key)));
        let diff = strategy::apply(&repo.diff, &edits);
        let _ = bounded(diff.len(), || {
            verify_commit_car(&diff, &repo.ops, Some(repo.prev_data), Some(&key))
        });
    }
}

#[test]
fn the_fixture_repository_verifies() {
    let repo = repo();
    let key = repo.key.public();
    verify_repo_car(&repo.export, Some("did:plc:fuzzrepo"), Some(&key)).expect("export");
    verify_commit_car(&repo.diff, &repo.ops, Some(repo.prev_data), Some(&key)).expect("diff");
}

/// A frame whose length prefix claims a block of the largest allowed size, followed by a few
/// bytes: the reader must not reserve the claimed size before the bytes arrive.
#[test]
fn claimed_block_length_reserves_nothing() {
    let mut car = car_of(&[]);
    // LEB128 of 4 MiB: the largest frame the reader accepts.
    car.extend_from_slice(&[0x80, 0x80, 0x80, 0x02]);
    car.extend_from_slice(&[0x01, 0x71, 0x12, 0x20]);
    let (result, usage) = measure(|| {
        let mut reader = CarReader::new(&car[..])?;
        reader.next_block()
    });
    assert!(
        usage.largest < 64 * 1024,
        "reserved {} bytes",
        usage.largest
    );
    assert!(matches!(result, Err(CarError::Malformed(_))), "{result:?}");
    // Over the limit is refused outright.
    let mut big = car_of(&[]);
    big.extend_from_slice(&[0x80, 0x80, 0x80, 0x04]);
    assert!(matches!(read_car(&big), Err(CarError::TooLarge)));
}
