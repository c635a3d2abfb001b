//! `hearth admin stats`: the figures an operator looks at, read from the data directory.

use crate::accounts::{AdminError, read_pds};
use crate::layout::{self, Kind};
use hearth_pds::accounts::store as accounts;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Stats {
    /// Accounts by status (`active`, `deactivated`, `takendown`).
    pub accounts: Vec<(String, i64)>,
    /// The last firehose sequence number.
    pub firehose_head_seq: i64,
    pub databases: Vec<DatabaseStats>,
    /// Files outside the databases, by top directory (`blobs`, `appview/space-images`, ...):
    /// (directory, files, bytes).
    pub files: Vec<(String, u64, u64)>,
}

#[derive(Debug, Serialize)]
pub struct DatabaseStats {
    pub path: String,
    /// The database file and its WAL.
    pub bytes: u64,
    pub tables: Vec<(String, i64)>,
}

pub fn stats(data_dir: &Path) -> Result<Stats, AdminError> {
    let conn = read_pds(data_dir)?;
    let accounts = accounts::count_by_status(&conn)?
        .into_iter()
        .map(|(s, n)| (s.as_status().unwrap_or("active").to_owned(), n))
        .collect();
    let firehose_head_seq = hearth_pds::sequencer::store::last(&conn)?;
    let io = |e| AdminError::Db(hearth_db::DbError::File(e));
    let mut databases = Vec::new();
    let mut files: Vec<(String, u64, u64)> = Vec::new();
    for part in layout::parts(data_dir, None).map_err(io)? {
        let path = data_dir.join(&part.path);
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        match part.kind {
            Kind::Database => {
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                databases.push(DatabaseStats {
                    path: part.path.display().to_string(),
                    bytes: size(&path) + size(Path::new(&wal)),
                    tables: hearth_db::table_counts(&path)?,
                });
            }
            Kind::File => {
                let group = if part.path.starts_with(layout::BLOBS) {
                    layout::BLOBS.to_owned()
                } else if part.path.starts_with(layout::SPACE_IMAGES) {
                    layout::SPACE_IMAGES.to_owned()
                } else {
                    part.path
                        .parent()
                        .map(|p| p.display().to_string())
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| ".".into())
                };
                match files.iter_mut().find(|(g, _, _)| *g == group) {
                    Some(entry) => {
                        entry.1 += 1;
                        entry.2 += size(&path);
                    }
                    None => files.push((group, 1, size(&path))),
                }
            }
        }
    }
    Ok(Stats {
        accounts,
        firehose_head_seq,
        databases,
        files,
    })
}
