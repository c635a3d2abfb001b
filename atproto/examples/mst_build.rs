//! Times building an MST from a key file and computing its root, for the side-by-side run
//! against `@atproto/repo` in `scripts/bench-mst` (both sides read the same keys).
//! Prints one JSON line: {"keys", "root", "from_sorted_ms", "add_ms"} (medians).

use atproto::blockstore::MemoryBlockStore;
use atproto::data::parse_cid;
use atproto::mst::Mst;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).ok_or("usage: mst_build <keys.txt> [runs]")?;
    let runs: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(11);
    let leaf = parse_cid("bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454")?;
    let keys: Vec<String> = std::fs::read_to_string(path)?
        .lines()
        .map(str::to_owned)
        .collect();
    let mut sorted: Vec<(String, _)> = keys.iter().map(|k| (k.clone(), leaf)).collect();
    sorted.sort();
    let (mut bulk, mut incremental) = (Vec::new(), Vec::new());
    let mut root = None;
    for _ in 0..runs {
        let t = Instant::now();
        let mut m = Mst::from_sorted(MemoryBlockStore::new(), sorted.clone())?;
        let r = m.root_cid()?;
        bulk.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let mut m = Mst::create(MemoryBlockStore::new());
        for k in &keys {
            m.add(k, leaf)?;
        }
        let r2 = m.root_cid()?;
        incremental.push(t.elapsed().as_secs_f64() * 1e3);
        if r != r2 {
            return Err("bulk and incremental roots differ".into());
        }
        root = Some(r);
    }
    println!(
        "{{\"keys\":{},\"root\":\"{}\",\"from_sorted_ms\":{:.3},\"add_ms\":{:.3}}}",
        keys.len(),
        root.ok_or("no runs")?,
        median(bulk),
        median(incremental)
    );
    Ok(())
}
