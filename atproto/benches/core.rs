//! Micro-benchmarks of the protocol core: MST building, commit signing and verification,
//! DAG-CBOR encoding and decoding. Run with `cargo bench -p atproto --bench core`.

use atproto::blockstore::MemoryBlockStore;
use atproto::crypto::{Algorithm, Keypair};
use atproto::data::{Cid, Ipld, cbor, cid_for_cbor};
use atproto::mst::Mst;
use atproto::repo::{Commit, UnsignedCommit};
use atproto::syntax::Tid;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;

/// Realistic keys: post paths with TIDs one millisecond apart.
fn keys(n: usize) -> Vec<(String, Cid)> {
    let leaf = cid_for_cbor(b"\xa0");
    (0..n)
        .map(|i| {
            let tid = Tid::from_parts(1_700_000_000_000_000 + i as u64 * 1000, 0);
            (format!("app.bsky.feed.post/{tid}"), leaf)
        })
        .collect()
}

fn mst(c: &mut Criterion) {
    let mut g = c.benchmark_group("mst_build_root");
    for n in [10_000usize, 100_000] {
        let entries = keys(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("from_sorted", n), &entries, |b, e| {
            b.iter(|| {
                let mut m = Mst::from_sorted(MemoryBlockStore::new(), e.clone()).expect("build");
                black_box(m.root_cid().expect("root"))
            })
        });
    }
    let entries = keys(10_000);
    g.bench_with_input(
        BenchmarkId::new("add_one_by_one", 10_000),
        &entries,
        |b, e| {
            b.iter(|| {
                let mut m = Mst::create(MemoryBlockStore::new());
                for (k, v) in e {
                    m.add(k, *v).expect("add");
                }
                black_box(m.root_cid().expect("root"))
            })
        },
    );
    g.finish();
}

fn post() -> Ipld {
    let mut m = BTreeMap::new();
    m.insert("$type".into(), Ipld::String("app.bsky.feed.post".into()));
    m.insert(
        "text".into(),
        Ipld::String(
            "Organizing meeting Thursday at 7pm in the library basement. Bring a friend!".into(),
        ),
    );
    m.insert(
        "createdAt".into(),
        Ipld::String("2026-11-27T02:19:37.123Z".into()),
    );
    m.insert("langs".into(), Ipld::List(vec![Ipld::String("en".into())]));
    Ipld::Map(m)
}

fn commits(c: &mut Criterion) {
    let mut g = c.benchmark_group("commit");
    for alg in [Algorithm::K256, Algorithm::P256] {
        let key = Keypair::generate(alg);
        let unsigned = UnsignedCommit::new(
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
            cid_for_cbor(b"x"),
            "3kabcdefghij2",
        );
        g.bench_function(format!("sign_{}", alg.jwt_name()), |b| {
            b.iter(|| black_box(unsigned.clone().sign(&key).expect("sign")))
        });
        let signed: Commit = unsigned.clone().sign(&key).expect("sign");
        let pk = key.public();
        g.bench_function(format!("verify_{}", alg.jwt_name()), |b| {
            b.iter(|| signed.verify(&pk).expect("verify"))
        });
    }
    g.finish();
}

fn dag_cbor(c: &mut Criterion) {
    let mut g = c.benchmark_group("dag_cbor");
    let value = post();
    let bytes = cbor::encode(&value).expect("encode");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode_post", |b| {
        b.iter(|| black_box(cbor::encode(&value).expect("encode")))
    });
    g.bench_function("decode_post", |b| {
        b.iter(|| black_box(cbor::decode(&bytes).expect("decode")))
    });
    g.bench_function("cid_post", |b| b.iter(|| black_box(cid_for_cbor(&bytes))));
    g.finish();
}

criterion_group!(benches, mst, commits, dag_cbor);
criterion_main!(benches);
