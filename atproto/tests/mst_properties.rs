//! Property tests for the MST: the tree depends only on its contents, never on the order of
//! operations, and every commit inverts back to the previous root using only its proof blocks.

use atproto::blockstore::MemoryBlockStore;
use atproto::data::{Cid, cid_for_cbor};
use atproto::mst::Mst;
use atproto::repo::{RepoOp, WriteAction, invert_ops};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn value(n: u32) -> Cid {
    cid_for_cbor(&n.to_be_bytes())
}

fn key_strategy() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "app.bsky.feed.post",
            "app.bsky.feed.like",
            "app.bsky.graph.follow",
            "a.b.c",
        ]),
        "[a-z2-7]{1,13}",
    )
        .prop_map(|(c, r)| format!("{c}/{r}"))
}

fn bulk(keys: &BTreeMap<String, Cid>) -> Cid {
    let entries = keys.iter().map(|(k, v)| (k.clone(), *v)).collect();
    Mst::from_sorted(MemoryBlockStore::new(), entries)
        .expect("build")
        .root_cid()
        .expect("root")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn insertion_order_does_not_matter(
        keys in prop::collection::btree_set(key_strategy(), 0..300),
        seed in any::<u64>(),
    ) {
        let contents: BTreeMap<String, Cid> =
            keys.iter().enumerate().map(|(i, k)| (k.clone(), value(i as u32))).collect();
        let want = bulk(&contents);
        let mut order: Vec<_> = contents.iter().collect();
        // A cheap deterministic shuffle from the seed.
        let mut s = seed | 1;
        for i in (1..order.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut mst = Mst::create(MemoryBlockStore::new());
        for (k, v) in order {
            mst.add(k, *v).expect("add");
        }
        prop_assert_eq!(mst.root_cid().expect("root"), want);
        prop_assert_eq!(mst.verify().expect("verify"), contents.len());
    }

    #[test]
    fn deletes_land_on_the_tree_of_what_remains(
        keys in prop::collection::btree_set(key_strategy(), 1..300),
        delete_mask in prop::collection::vec(any::<bool>(), 300),
    ) {
        let mut contents: BTreeMap<String, Cid> =
            keys.iter().enumerate().map(|(i, k)| (k.clone(), value(i as u32))).collect();
        let mut store = MemoryBlockStore::new();
        let mut mst = Mst::from_sorted(MemoryBlockStore::new(), contents.iter().map(|(k, v)| (k.clone(), *v)).collect()).expect("build");
        let (root, blocks) = mst.save().expect("save");
        store.extend(blocks);
        let mut mst = Mst::load(store, root);
        for (k, del) in keys.iter().zip(&delete_mask) {
            if *del {
                prop_assert_eq!(mst.delete(k).expect("delete"), contents[k]);
                contents.remove(k);
            }
        }
        prop_assert_eq!(mst.root_cid().expect("root"), bulk(&contents));
    }

    #[test]
    fn commits_invert_to_the_previous_root_from_their_proofs(
        keys in prop::collection::btree_set(key_strategy(), 0..200),
        adds in prop::collection::btree_set(key_strategy(), 0..8),
        del_mask in prop::collection::vec(0u8..4, 200),
    ) {
        let before: BTreeMap<String, Cid> =
            keys.iter().enumerate().map(|(i, k)| (k.clone(), value(i as u32))).collect();
        let mut store = MemoryBlockStore::new();
        let mut mst = Mst::from_sorted(MemoryBlockStore::new(), before.iter().map(|(k, v)| (k.clone(), *v)).collect()).expect("build");
        let (prev_root, blocks) = mst.save().expect("save");
        store.extend(blocks);

        let mut mst = Mst::load(store.clone(), prev_root);
        let mut ops = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            match del_mask[i] {
                0 => {
                    let prev = mst.delete(k).expect("delete");
                    ops.push(RepoOp { action: WriteAction::Delete, path: k.clone(), cid: None, prev: Some(prev) });
                }
                1 => {
                    let cid = value(10_000 + i as u32);
                    let prev = mst.update(k, cid).expect("update");
                    ops.push(RepoOp { action: WriteAction::Update, path: k.clone(), cid: Some(cid), prev: Some(prev) });
                }
                _ => {}
            }
        }
        let fresh: BTreeSet<&String> = adds.iter().filter(|k| !before.contains_key(*k)).collect();
        for (i, k) in fresh.into_iter().enumerate() {
            let cid = value(20_000 + i as u32);
            mst.add(k, cid).expect("add");
            ops.push(RepoOp { action: WriteAction::Create, path: k.clone(), cid: Some(cid), prev: None });
        }
        let (new_root, blocks) = mst.save().expect("save");
        store.extend(blocks.iter().cloned());
        let mut proof = BTreeMap::new();
        for op in &ops {
            mst.covering_proof(&op.path, &mut proof).expect("proof");
        }
        // What the firehose carries: new nodes and the covering proofs, nothing else.
        let mut carried: MemoryBlockStore = proof.into_iter().collect();
        carried.extend(blocks);
        let mut reversed = ops.clone();
        reversed.reverse();
        prop_assert_eq!(invert_ops(&carried, new_root, &ops).expect("invert in order"), prev_root);
        prop_assert_eq!(invert_ops(&carried, new_root, &reversed).expect("invert reversed"), prev_root);
    }
}
