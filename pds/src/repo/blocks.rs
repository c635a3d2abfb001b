//! One account's repository blocks, read through a SQLite connection.

use atproto::blockstore::{BlockStore, BlockStoreError};
use atproto::data::Cid;
use rusqlite::{Connection, OptionalExtension, params};

pub struct SqlBlocks<'c> {
    pub conn: &'c Connection,
    pub account: i64,
}

impl BlockStore for SqlBlocks<'_> {
    fn get_block(&self, cid: &Cid) -> Result<Option<Vec<u8>>, BlockStoreError> {
        self.conn
            .prepare_cached("SELECT content FROM repo_block WHERE account = ?1 AND cid = ?2")
            .and_then(|mut s| {
                s.query_row(params![self.account, cid.to_bytes()], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| BlockStoreError(e.to_string()))
    }
}
