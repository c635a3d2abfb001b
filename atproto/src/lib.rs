//! The AT Protocol core that both Hearth services stand on.
pub mod data;
pub mod blockstore;
pub mod syntax;
pub mod mst;
pub mod crypto;
pub mod car;
pub mod repo;
pub mod auth;
