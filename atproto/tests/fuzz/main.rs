//! Property and fuzz tests over every parser a remote party feeds: DAG-CBOR, CIDs, CAR files,
//! firehose frames, service-auth JWTs, DID documents, identifier syntax and lexicon-validated
//! records. For any input a parser must return (never panic), allocate in proportion to the
//! input rather than to a length the input claims, and finish quickly; where there is an
//! encoder, encoding then decoding gives the value back and decoding accepts only the
//! canonical encoding.
//!
//! Cases per property come from `PROPTEST_CASES` (proptest's default, 256, in `cargo test`);
//! `scripts/fuzz` runs the long budget in release mode. What a long run covered is recorded in
//! `docs/fuzzing.md`.

mod car;
mod cbor;
mod firehose;
mod identity;
mod jwt;
mod lexicon;
mod meter;
mod strategy;
mod syntax;

#[global_allocator]
static METER: meter::Meter = meter::Meter;
