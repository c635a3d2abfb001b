//! `hearth admin verify`: every database passes SQLite's integrity check, every repository
//! verifies (signed by its account's key, a sound MST, every record present) and agrees with
//! the record index, and every blob the PDS records has its bytes on disk. Read-only, safe
//! beside a running server.

use crate::accounts::{AdminError, read_pds};
use crate::layout::{self, Kind};
use hearth_pds::accounts::store as accounts;
use hearth_pds::repo::{check, store as repo_store};
use std::path::Path;

/// What `verify` found. Clean when every list of problems is empty.
#[derive(Debug, Default)]
pub struct Report {
    pub databases: usize,
    pub repos: usize,
    pub records: usize,
    pub blobs: usize,
    /// (database, what is wrong)
    pub damaged: Vec<(String, String)>,
    /// (DID, what is wrong)
    pub bad_repos: Vec<(String, String)>,
    /// Blob CIDs recorded without bytes.
    pub missing_blobs: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty() && self.bad_repos.is_empty() && self.missing_blobs.is_empty()
    }
}

pub fn verify(data_dir: &Path) -> Result<Report, AdminError> {
    let conn = read_pds(data_dir)?;
    let mut report = Report::default();
    let parts =
        layout::parts(data_dir, None).map_err(|e| AdminError::Db(hearth_db::DbError::File(e)))?;
    for part in parts.iter().filter(|p| p.kind == Kind::Database) {
        report.databases += 1;
        if let Err(problems) = hearth_db::integrity_check(&data_dir.join(&part.path))? {
            report
                .damaged
                .push((part.path.display().to_string(), problems.join("; ")));
        }
    }
    let mut after = 0;
    loop {
        let page = accounts::list(&conn, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for a in page {
            report.repos += 1;
            match check::check_repo(&conn, a.id, &a.did) {
                Ok(c) => report.records += c.records,
                Err(e) => report.bad_repos.push((a.did, e.to_string())),
            }
        }
    }
    let blobs = hearth_pds::blobs::BlobStore::open(data_dir)
        .map_err(|e| AdminError::Db(hearth_db::DbError::File(e)))?;
    for cid in repo_store::all_blob_cids(&conn)? {
        report.blobs += 1;
        let present = atproto::data::parse_cid(&cid)
            .map(|c| blobs.path(&c).is_file())
            .unwrap_or(false);
        if !present {
            report.missing_blobs.push(cid);
        }
    }
    Ok(report)
}
