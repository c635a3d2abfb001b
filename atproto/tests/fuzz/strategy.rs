//! Generators shared by the suites: data-model values, JSON, and hostile edits of valid
//! encodings (flipped, dropped and inserted bytes, and length heads that claim far more than
//! follows).

use atproto::data::{Ipld, cid_for_cbor, cid_for_raw};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

/// Field names the lexicons use, so that generated objects reach past the first check of a
/// validator more often than random keys would.
pub const KEYS: &[&str] = &[
    "$type",
    "$link",
    "$bytes",
    "text",
    "createdAt",
    "embed",
    "images",
    "image",
    "alt",
    "aspectRatio",
    "width",
    "height",
    "facets",
    "features",
    "index",
    "byteStart",
    "byteEnd",
    "uri",
    "cid",
    "did",
    "tag",
    "langs",
    "labels",
    "values",
    "val",
    "reply",
    "root",
    "parent",
    "record",
    "external",
    "title",
    "description",
    "thumb",
    "ref",
    "mimeType",
    "size",
    "subject",
    "displayName",
    "avatar",
    "banner",
    "pinnedPost",
    "name",
    "purpose",
    "handle",
    "seq",
    "ops",
];

/// Strings a validator might care about: empty, identifiers, dates, and arbitrary text.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        prop::sample::select(vec![
            "",
            "app.bsky.feed.post",
            "app.bsky.embed.images",
            "app.bsky.richtext.facet#mention",
            "blob",
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3jzfcijpj2z2a",
            "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm",
            "2024-01-01T00:00:00.000Z",
            "en",
            "image/png",
        ])
        .prop_map(str::to_owned),
    ]
}

pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => ".{0,8}"]
}

/// Data-model values without floats (atproto data has none), nested a few levels.
pub fn ipld() -> impl Strategy<Value = Ipld> {
    let leaf = prop_oneof![
        Just(Ipld::Null),
        any::<bool>().prop_map(Ipld::Bool),
        any::<i64>().prop_map(|i| Ipld::Integer(i.into())),
        (-300i64..300).prop_map(|i| Ipld::Integer(i.into())),
        text().prop_map(Ipld::String),
        vec(any::<u8>(), 0..24).prop_map(Ipld::Bytes),
        vec(any::<u8>(), 0..8).prop_map(|b| Ipld::Link(cid_for_cbor(&b))),
        vec(any::<u8>(), 0..8).prop_map(|b| Ipld::Link(cid_for_raw(&b))),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Ipld::List),
            btree_map(key(), inner, 0..8).prop_map(Ipld::Map),
        ]
    })
}

/// JSON values, integers and floats alike, with lexicon-like keys.
pub fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-300i64..300).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            btree_map(key(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// CBOR heads that claim more than any input holds, and other bytes a strict decoder must
/// refuse: indefinite lengths, floats of the wrong width, foreign tags.
const HOSTILE: &[&[u8]] = &[
    &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x9a, 0x7f, 0xff, 0xff, 0xff],
    &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0xba, 0x7f, 0xff, 0xff, 0xff],
    &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x7a, 0x7f, 0xff, 0xff, 0xff],
    &[0x59, 0xff, 0xff],
    &[0xd8, 0x2a],
    &[0xd8, 0x2a, 0x45, 0x00, 0x01, 0x71, 0x12, 0x20],
    &[0xc2],
    &[0x9f],
    &[0xbf],
    &[0xff],
    &[0xf7],
    &[0xfa, 0x7f, 0xc0, 0x00, 0x00],
    &[0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
    &[0x18, 0x01],
    &[0x81, 0x81, 0x81, 0x81],
];

#[derive(Debug, Clone)]
pub enum Edit {
    Set(usize, u8),
    Remove(usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        (any::<usize>(), prop::sample::select(HOSTILE))
            .prop_map(|(i, h)| Edit::Insert(i, h.to_vec())),
        (any::<usize>(), vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    vec(edit(), 1..4)
}

/// Applies edits; positions wrap around the current length.
pub fn apply(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for e in edits {
        let at = |i: usize, len: usize| i % (len + 1);
        match e {
            Edit::Set(i, b) if !out.is_empty() => {
                let i = i % out.len();
                out[i] = *b;
            }
            Edit::Remove(i) if !out.is_empty() => {
                let i = i % out.len();
                out.remove(i);
            }
            Edit::Insert(i, b) => {
                let i = at(*i, out.len());
                out.splice(i..i, b.iter().copied());
            }
            Edit::Truncate(i) => out.truncate(at(*i, out.len())),
            _ => {}
        }
    }
    out
}

/// Arbitrary bytes, biased towards CBOR-looking heads.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..max),
        vec(prop::sample::select(HOSTILE), 0..8).prop_map(|parts| parts.concat()),
    ]
}
