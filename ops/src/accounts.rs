//! Account and invite administration on a data directory: reads straight from the database
//! (beside a running server), writes through the PDS's own account operations after taking
//! the data directory's lock ([`crate::lock`]). The same operations on a running server are in
//! [`crate::remote`].

use crate::lock::{DataDirLock, LockError};
use hearth_pds::accounts::service::Accounts;
use hearth_pds::accounts::{AccountError, invites, service, store};
use hearth_pds::config::PdsConfig;
use hearth_pds::state::AppState;
use std::path::{Path, PathBuf};

pub use crate::rows::{AccountRow, InviteRow, NewAccount};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no PDS database at {0}: is this the server's data directory?")]
    NoDatabase(PathBuf),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Account(#[from] AccountError),
    #[error("database: {0}")]
    Db(#[from] hearth_db::DbError),
    #[error("opening the PDS: {0}")]
    Start(#[from] hearth_pds::StartError),
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
}

/// The PDS database of a data directory, which must exist: a mistyped directory is an error,
/// not a new empty server.
pub fn pds_db(data_dir: &Path) -> Result<PathBuf, AdminError> {
    let path = data_dir.join(crate::layout::PDS_DB);
    if path.is_file() {
        Ok(path)
    } else {
        Err(AdminError::NoDatabase(data_dir.to_path_buf()))
    }
}

/// A read-only connection to the PDS database of `data_dir`.
pub fn read_pds(data_dir: &Path) -> Result<rusqlite::Connection, AdminError> {
    read_only(&pds_db(data_dir)?)
}

/// A read-only connection to the database at `path`.
pub fn read_only(path: &Path) -> Result<rusqlite::Connection, AdminError> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(hearth_db::DbError::from)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(hearth_db::DbError::from)?;
    Ok(conn)
}

fn status_name(s: store::AccountStatus) -> String {
    s.as_status().unwrap_or("active").to_owned()
}

/// Every account, in creation order.
pub fn list_accounts(data_dir: &Path) -> Result<Vec<AccountRow>, AdminError> {
    let conn = read_pds(data_dir)?;
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store::list(&conn, after, 500)?;
        let Some(last) = page.last() else {
            return Ok(out);
        };
        after = last.id;
        out.extend(page.into_iter().map(|a| AccountRow {
            did: a.did,
            handle: a.handle,
            email: a.email,
            status: status_name(a.status),
        }));
    }
}

/// The newest invite codes (at most 500).
pub fn list_invites(data_dir: &Path) -> Result<Vec<InviteRow>, AdminError> {
    let conn = read_pds(data_dir)?;
    Ok(invites::list(&conn, None)?
        .into_iter()
        .map(|c| InviteRow {
            code: c.code,
            available: c.available,
            used: c.uses.len(),
            disabled: c.disabled,
            for_account: c.for_account,
        })
        .collect())
}

/// The PDS of a data directory, opened for writing by `hearth admin` while no server runs on
/// it. Its configuration is the server's (the same environment), so accounts it creates get
/// the same hostnames and PLC directory.
pub struct Writable {
    state: AppState,
    _lock: DataDirLock,
}

impl Writable {
    pub fn open(cfg: PdsConfig) -> Result<Writable, AdminError> {
        pds_db(&cfg.data_dir)?;
        let lock = DataDirLock::acquire(&cfg.data_dir)?;
        let state = hearth_pds::build_state(cfg)?;
        Ok(Writable { state, _lock: lock })
    }

    pub async fn create_account(&self, n: NewAccount) -> Result<AccountRow, AdminError> {
        // The operator creates accounts without an invite code, whatever members need.
        let accounts = Accounts {
            invite_required: false,
            ..self.state.accounts()
        };
        let created = accounts
            .create_account(service::NewAccountInput {
                handle: n.handle,
                email: Some(n.email.clone()),
                password: Some(n.password),
                invite_code: None,
                recovery_key: None,
            })
            .await?;
        Ok(AccountRow {
            did: created.did,
            handle: Some(created.handle),
            email: Some(n.email),
            status: "active".into(),
        })
    }

    /// Takes an account down (`Some(reference)`) or reverses it (`None`).
    pub async fn set_takedown(
        &self,
        did: &str,
        reference: Option<String>,
    ) -> Result<(), AdminError> {
        Ok(self.state.accounts().set_takedown(did, reference).await?)
    }

    pub async fn reset_password(&self, did: &str, password: &str) -> Result<(), AdminError> {
        Ok(self.state.accounts().reset_password(did, password).await?)
    }

    pub async fn delete_account(&self, did: &str) -> Result<(), AdminError> {
        Ok(self.state.accounts().delete_by_did(did).await?)
    }

    /// `count` new codes of `uses` uses each; returns them.
    pub async fn create_invites(&self, count: i64, uses: i64) -> Result<Vec<String>, AdminError> {
        let issued = invites::issue(
            &self.state.db.writer,
            &self.state.cfg.hostname,
            count,
            uses,
            vec!["admin".into()],
        )
        .await?;
        Ok(issued.into_iter().flat_map(|(_, codes)| codes).collect())
    }
}
