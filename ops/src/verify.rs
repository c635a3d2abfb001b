//! `hearth admin verify`: every database passes SQLite's integrity check, every repository
//! verifies (signed by its account's key, a sound MST, every record present) and agrees with
//! the record index, every blob the PDS records has its bytes on disk, and the AppView's index
//! is nowhere ahead of the PDS it follows. Read-only, safe beside a running server.

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
    /// Where the blob bytes are when they are in a bucket: their presence is not checked.
    pub blobs_elsewhere: Option<String>,
    /// Local accounts whose latest revision the AppView has not applied yet: normal while it
    /// catches up, not a problem.
    pub appview_behind: usize,
    /// (DID, what is wrong): the AppView applied a revision the PDS does not have (an index
    /// restored from a later time than the PDS). Delete `appview/index.sqlite` to rebuild it.
    pub appview_ahead: Vec<(String, String)>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty()
            && self.bad_repos.is_empty()
            && self.missing_blobs.is_empty()
            && self.appview_ahead.is_empty()
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
    let index = data_dir.join(layout::INDEX_DB);
    let index = if index.is_file() {
        Some(crate::accounts::read_only(&index)?)
    } else {
        None
    };
    let mut after = 0;
    loop {
        let page = accounts::list(&conn, after, 500)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for a in page {
            report.repos += 1;
            let checked = match check::check_repo(&conn, a.id, &a.did) {
                Ok(c) => c,
                Err(e) => {
                    report.bad_repos.push((a.did, e.to_string()));
                    continue;
                }
            };
            report.records += checked.records;
            let Some(index) = &index else { continue };
            let applied = hearth_appview::index::applied_rev(index, &a.did)
                .map_err(hearth_db::DbError::from)?;
            // Revisions are TIDs: later ones sort after earlier ones.
            match (applied.flatten(), checked.rev) {
                (Some(applied), Some(rev)) if applied > rev => report.appview_ahead.push((
                    a.did,
                    format!("the AppView applied revision {applied}, the PDS is at {rev}"),
                )),
                (Some(applied), Some(rev)) if applied == rev => {}
                _ => report.appview_behind += 1,
            }
        }
    }
    report.blobs_elsewhere = hearth_pds::blobs::BlobStore::noted_location(data_dir);
    let blobs = hearth_pds::blobs::BlobStore::open(data_dir)
        .map_err(|e| AdminError::Db(hearth_db::DbError::File(e)))?;
    for cid in repo_store::all_blob_cids(&conn)? {
        report.blobs += 1;
        if report.blobs_elsewhere.is_some() {
            continue;
        }
        let present = atproto::data::parse_cid(&cid)
            .map(|c| blobs.path(&c).is_file())
            .unwrap_or(false);
        if !present {
            report.missing_blobs.push(cid);
        }
    }
    Ok(report)
}
