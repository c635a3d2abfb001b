//! The interop MST vectors: key heights, common prefixes, and every commit-proof fixture
//! (build, apply, compare both roots and the exact proof block set, invert in every order).

mod common;

use atproto::blockstore::MemoryBlockStore;
use atproto::data::{Cid, parse_cid};
use atproto::mst::{Mst, key};
use common::{data_path, load_json, report};
use std::collections::BTreeMap;

#[test]
fn key_heights() {
    let cases = load_json("interop/mst/key_heights.json");
    let cases = cases.as_array().expect("array");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let k = c["key"].as_str().expect("key");
            let want = c["height"].as_u64().expect("height") as u32;
            let got = key::height(k.as_bytes());
            (got != want).then(|| format!("{k:?}: got {got}, want {want}"))
        })
        .collect();
    report("mst key heights", cases.len(), &failures);
}

#[test]
fn common_prefixes() {
    let cases = load_json("interop/mst/common_prefix.json");
    let cases = cases.as_array().expect("array");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let (l, r) = (
                c["left"].as_str().expect("l"),
                c["right"].as_str().expect("r"),
            );
            let want = c["len"].as_u64().expect("len") as usize;
            let got = key::common_prefix_len(l.as_bytes(), r.as_bytes());
            (got != want).then(|| format!("{l:?}/{r:?}: got {got}, want {want}"))
        })
        .collect();
    report("mst common prefix", cases.len(), &failures);
}

#[test]
fn example_keys_build_the_same_tree_in_any_order() {
    let text = std::fs::read_to_string(data_path("interop/mst/example_keys.txt")).expect("read");
    let keys: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let leaf =
        parse_cid("bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454").expect("cid");
    let mut sorted: Vec<(String, Cid)> = keys.iter().map(|k| (k.to_string(), leaf)).collect();
    sorted.sort();
    let mut bulk = Mst::from_sorted(MemoryBlockStore::new(), sorted).expect("build");
    let want = bulk.root_cid().expect("root");
    assert_eq!(bulk.verify().expect("verify"), keys.len());
    let mut forward = Mst::create(MemoryBlockStore::new());
    for k in &keys {
        forward.add(k, leaf).expect("add");
    }
    let mut backward = Mst::create(MemoryBlockStore::new());
    for k in keys.iter().rev() {
        backward.add(k, leaf).expect("add");
    }
    assert_eq!(forward.root_cid().expect("root"), want);
    assert_eq!(backward.root_cid().expect("root"), want);
    println!("mst example keys: {} keys, root {want}", keys.len());
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn commit_proof_fixtures() {
    let cases = load_json("interop/firehose/commit-proof-fixtures.json");
    let cases = cases.as_array().expect("array");
    let mut failures = Vec::new();
    let mut inversions = 0;
    for c in cases {
        let name = c["comment"].as_str().expect("comment");
        let strs = |f: &str| -> Vec<String> {
            c[f].as_array()
                .expect(f)
                .iter()
                .map(|v| v.as_str().expect("str").to_owned())
                .collect()
        };
        let leaf = parse_cid(c["leafValue"].as_str().expect("leaf")).expect("cid");
        let (keys, adds, dels) = (strs("keys"), strs("adds"), strs("dels"));
        let mut store = MemoryBlockStore::new();
        let mut mst = Mst::create(MemoryBlockStore::new());
        for k in &keys {
            mst.add(k, leaf).expect("add");
        }
        let (before, blocks) = mst.save().expect("save");
        store.extend(blocks);
        if before.to_string() != c["rootBeforeCommit"] {
            failures.push(format!("{name}: root before {before}"));
            continue;
        }
        // Apply the commit to a tree loaded from storage, as a PDS does.
        let mut mst = Mst::load(store.clone(), before);
        for k in &adds {
            mst.add(k, leaf).expect("add");
        }
        for k in &dels {
            mst.delete(k).expect("delete");
        }
        let (after, blocks) = mst.save().expect("save");
        store.extend(blocks);
        if after.to_string() != c["rootAfterCommit"] {
            failures.push(format!("{name}: root after {after}"));
            continue;
        }
        let mut proof = BTreeMap::new();
        let mut mst = Mst::load(store.clone(), after);
        for k in adds.iter().chain(&dels) {
            mst.covering_proof(k, &mut proof).expect("proof");
        }
        let got: Vec<String> = proof.keys().map(|c| c.to_string()).collect();
        let mut want = strs("blocksInProof");
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        if got_sorted != want {
            failures.push(format!(
                "{name}: proof blocks {got_sorted:?}, want {want:?}"
            ));
        }
        // Invert with nothing but the proof, in every order of the operations.
        let proof_store: MemoryBlockStore = proof.into_iter().collect();
        let ops: Vec<(bool, &String)> = adds
            .iter()
            .map(|k| (true, k))
            .chain(dels.iter().map(|k| (false, k)))
            .collect();
        for order in permutations(ops.len()) {
            let mut inv = Mst::load(&proof_store, after);
            for &i in &order {
                let (was_add, k) = ops[i];
                let r = if was_add {
                    inv.delete(k).map(|_| ())
                } else {
                    inv.add(k, leaf)
                };
                if let Err(e) = r {
                    failures.push(format!("{name}: inverting {k} in order {order:?}: {e}"));
                }
            }
            match inv.root_cid() {
                Ok(root) if root == before => {}
                other => failures.push(format!("{name}: inversion {order:?} gave {other:?}")),
            }
            inversions += 1;
        }
    }
    println!("commit-proof fixtures: {inversions} inversions checked");
    report("commit-proof fixtures", cases.len(), &failures);
}
