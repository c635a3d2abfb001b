//! What the AppView knows of a repository: its status, scope, and the last commit applied.

use atproto::data::Cid;
use hearth_db::{DbError, Readers};
use rusqlite::OptionalExtension;

#[derive(Debug, Clone, Default)]
pub struct RepoState {
    /// Whether the actor row exists.
    pub known: bool,
    pub status: Option<String>,
    pub in_scope: bool,
    pub rev: Option<String>,
    pub data: Option<Cid>,
    /// A resync is running; events are held until it lands.
    pub resyncing: bool,
}

impl RepoState {
    pub fn load(readers: &Readers, did: &str) -> Result<RepoState, DbError> {
        let did = did.to_owned();
        readers
            .read_blocking(move |c| {
                c.prepare_cached(
                    "SELECT status, in_scope, rev, data_cid, backfill FROM actor WHERE did = ?1",
                )?
                .query_row([&did], |r| {
                    let data: Option<Vec<u8>> = r.get(3)?;
                    Ok(RepoState {
                        known: true,
                        status: r.get(0)?,
                        in_scope: r.get(1)?,
                        rev: r.get(2)?,
                        data: data.and_then(|d| Cid::try_from(d.as_slice()).ok()),
                        resyncing: false,
                    })
                })
                .optional()
            })?
            .map(|o| o.unwrap_or_default())
            .map_err(DbError::from)
    }

    /// Whether the account's content may be shown and indexed.
    pub fn active(&self) -> bool {
        self.status.is_none()
    }
}
