//! The AT Protocol core that both Hearth services stand on.
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
