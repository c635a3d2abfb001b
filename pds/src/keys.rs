//! Accounts' repository signing keys, decoded once and kept: importing a K-256 key derives its
//! public point, which costs more than the signature it is used for.

use crate::accounts::store;
use crate::db::DbError;
use atproto::crypto::{Algorithm, Keypair};
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Default)]
pub struct KeyCache {
    keys: RwLock<HashMap<i64, Arc<Keypair>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("account {0} has no signing key")]
    Missing(i64),
    #[error("account {0} has an unreadable signing key")]
    Corrupt(i64),
}

impl KeyCache {
    pub fn get(&self, conn: &Connection, account: i64) -> Result<Arc<Keypair>, KeyError> {
        if let Some(k) = self.cached(account) {
            return Ok(k);
        }
        let bytes = store::signing_key(conn, account)?.ok_or(KeyError::Missing(account))?;
        let key = Arc::new(
            Keypair::from_bytes(Algorithm::K256, &bytes).map_err(|_| KeyError::Corrupt(account))?,
        );
        if let Ok(mut m) = self.keys.write() {
            m.insert(account, key.clone());
        }
        Ok(key)
    }

    /// The key if it is already loaded (no database access).
    pub fn cached(&self, account: i64) -> Option<Arc<Keypair>> {
        self.keys.read().ok().and_then(|m| m.get(&account).cloned())
    }

    /// Drops a key (account deleted or key rotated).
    pub fn forget(&self, account: i64) {
        if let Ok(mut m) = self.keys.write() {
            m.remove(&account);
        }
    }
}
