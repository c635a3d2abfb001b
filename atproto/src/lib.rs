//! The AT Protocol core that both Hearth services stand on: identifier syntax, the data model
//! (DAG-CBOR, JSON, CIDs), keys and signatures, the Merkle Search Tree, CAR files, signed
//! commits and Sync 1.1 diff verification, firehose frames, service-auth tokens, did:plc
//! operations, DID and handle resolution, and lexicon validation. No HTTP routing and no SQL:
//! everything here is tested against the atproto interop vectors on its own.
//!
//! # Crate choices
//!
//! - Data model: `ipld-core`, `cid` and `serde_ipld_dagcbor`, the IPLD community's shared
//!   types and codec (canonical key order on encode, strict DAG-CBOR on decode).
//! - Keys: RustCrypto's `k256` and `p256`; low-S is enforced on top.
//! - MST and CAR: our own, several times faster than `atrium-repo`, `rsky-repo` and
//!   `jacquard-repo` at building a tree (figures in `docs/benchmarks.md`, "MST crates"), and with
//!   a bulk build. All four agree on every commit-proof fixture root; `atrium-repo` has no covering proofs; `rsky-repo` matches the
//!   reference proofs but is async with string-keyed storage; `jacquard-repo` is MPL-2.0 and
//!   builds proofs only as a side effect of commits. `iroh-car` reads CARs fastest but is
//!   async-only, does not verify block CIDs, and rejects the empty-roots CARs the reference
//!   `getBlocks` writes.
//! - Service-auth JWTs: our own (atproto's ES256K/ES256 with low-S are not what general JWT
//!   crates implement).
pub mod auth;
pub mod blockstore;
pub mod car;
pub mod crypto;
pub mod data;
pub mod firehose;
pub mod identity;
pub mod lexicon;
pub mod mst;
pub mod plc;
pub mod repo;
pub mod syntax;
