//! Real data captured from the network (see tests/data/real/SOURCE.txt): firehose commits and
//! whole repository exports, read exactly as the reference reads them.

mod common;

use atproto::blockstore::BlockStore;
use atproto::car::read_car;
use atproto::data::{Cid, cbor, json, parse_cid};
use atproto::mst::Mst;
use atproto::repo::{WriteAction, verify_repo_car};
use common::{data_path, report};

fn link(v: &serde_json::Value) -> Option<Cid> {
    v.get("$link")
        .and_then(|l| l.as_str())
        .map(|s| parse_cid(s).expect("cid"))
}

#[test]
fn firehose_commits() {
    let mut files: Vec<_> = std::fs::read_dir(data_path("real"))
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("firehose_commit_"))
        })
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut ops_checked = 0;
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let evt: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
        let blocks = match json::from_json(&evt["blocks"]) {
            Ok(atproto::data::Ipld::Bytes(b)) => b,
            other => {
                failures.push(format!("{name}: blocks not bytes: {other:?}"));
                continue;
            }
        };
        let (roots, store) = read_car(&blocks).expect("CAR slice");
        let commit_cid = link(&evt["commit"]).expect("commit link");
        if roots != [commit_cid] {
            failures.push(format!("{name}: CAR root differs from commit"));
        }
        let commit_bytes = store
            .get_block(&commit_cid)
            .expect("store")
            .expect("commit block");
        let commit = atproto::repo::Commit::from_block(&commit_bytes).expect("commit");
        if commit.did != evt["repo"] || commit.rev != evt["rev"] {
            failures.push(format!("{name}: commit did/rev differ from event"));
        }
        let mut mst = Mst::load(&store, commit.data);
        for op in evt["ops"].as_array().expect("ops") {
            let path = op["path"].as_str().expect("path");
            WriteAction::parse(op["action"].as_str().expect("action")).expect("known action");
            let want = link(&op["cid"]);
            let got = mst.get(path).expect("MST path present in slice");
            if got != want {
                failures.push(format!(
                    "{name}: {path}: tree has {got:?}, op says {want:?}"
                ));
            }
            if let Some(cid) = want {
                match store.get_block(&cid).expect("store") {
                    Some(b) => {
                        cbor::decode_record(&b).expect("record decodes");
                    }
                    None => failures.push(format!("{name}: record block {cid} missing")),
                }
            }
            ops_checked += 1;
        }
    }
    println!("real firehose commits: {ops_checked} ops checked");
    report("real firehose commits", files.len(), &failures);
}

#[test]
fn repository_exports() {
    let cases = [
        ("paul_staging.repo.car", 2u64, 185usize, 452usize),
        ("greenground.repo.car", 3, 2, 0),
    ];
    let mut failures = Vec::new();
    for (file, version, records, blocks) in cases {
        let bytes = std::fs::read(data_path(&format!("real/{file}"))).expect("read");
        let (_, store) = read_car(&bytes).expect("CAR");
        if blocks > 0 && store.len() != blocks {
            failures.push(format!("{file}: {} blocks, want {blocks}", store.len()));
        }
        match verify_repo_car(&bytes, None, None) {
            Ok(repo) => {
                if repo.version != version || repo.records.len() != records {
                    failures.push(format!(
                        "{file}: version {} with {} records, want {version} with {records}",
                        repo.version,
                        repo.records.len()
                    ));
                }
                // Recompute the root from the leaves alone: the same tree must come out.
                let leaves: Vec<(String, Cid)> = repo
                    .records
                    .iter()
                    .map(|(p, c, _)| (p.clone(), *c))
                    .collect();
                let mut rebuilt =
                    Mst::from_sorted(atproto::blockstore::MemoryBlockStore::new(), leaves)
                        .expect("build");
                if rebuilt.root_cid().expect("root") != repo.data {
                    failures.push(format!("{file}: rebuilt root differs"));
                }
            }
            Err(e) => failures.push(format!("{file}: {e}")),
        }
    }
    report("real repository exports", cases.len(), &failures);
}
