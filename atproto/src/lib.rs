//! The AT Protocol core that both Hearth services stand on.
pub mod data;
pub mod blockstore;
pub mod syntax;
pub mod mst;
