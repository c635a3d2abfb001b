//! The spaces service handle: the database, the image directory, email settings, the rate
//! limits and the clock, and what every operation uses (a read, a write, the space's budget,
//! a view context). The operations themselves are in [`crate::ops`].
//!
//! Reads run on the reader pool; writes run on the spaces database's single writer (group
//! commit), where the gate, the change, its audit entry, its notifications and any email it
//! causes are one transaction: either all of it happened or none of it did.

use crate::model::*;
use crate::ratelimit::{Limits, RateLimiter};
use crate::store::{self, SpaceRow, ViewCtx};
use crate::uri::SpaceUri;
use crate::views::*;
use atproto::syntax::TidClock;
use hearth_db::{Db, WriteTxn};
use rusqlite::Connection;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Notify;

/// Why the spaces service could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("spaces database: {0}")]
    Db(#[from] hearth_db::DbError),
    #[error("spaces storage: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Mail(#[from] hearth_mail::MailError),
}

/// Where and how the service runs.
#[derive(Debug, Clone)]
pub struct SpacesConfig {
    /// The AppView's data directory (`<data_dir>/appview`): `spaces.sqlite` and
    /// `space-images/` go here.
    pub dir: PathBuf,
    /// The space authority: the AppView's service DID.
    pub authority: String,
    /// The AppView's public URL, for invite links and image URLs.
    pub public_url: String,
    /// SMTP server (`smtp://host:port`, `smtps://...`); email is off without one.
    pub smtp_url: Option<String>,
    pub smtp_from: Option<String>,
    pub limits: Limits,
    /// Where image bytes live when not in `space-images/` (`HEARTH_BLOBSTORE=s3`).
    pub images_bucket: Option<hearth_net::s3::ObjectStore>,
}

/// A cheap handle to the service (clone it into tasks).
#[derive(Clone)]
pub struct Spaces(Arc<Inner>);

/// How many changes a slow page listener may fall behind before it is told it lagged (and then
/// treats that as "something changed").
const LIVE_BACKLOG: usize = 256;

pub struct Inner {
    pub db: Db<()>,
    pub authority: String,
    pub public_url: String,
    pub images_dir: PathBuf,
    /// With S3, the bucket image bytes live in (`images_dir` then unused), and the runtime that
    /// deletes them after a commit (the writer thread has none).
    pub(crate) images_bucket: Option<(hearth_net::s3::ObjectStore, tokio::runtime::Handle)>,
    /// The checked SMTP settings; `None`: email is off.
    pub mail: Option<hearth_mail::MailConfig>,
    pub limits: RateLimiter,
    pub(crate) clock: TidClock,
    /// Woken after a commit that queued email.
    pub(crate) outbox: Notify,
    /// Posts written, for open pages ([`crate::live`]).
    pub(crate) live: tokio::sync::broadcast::Sender<Change>,
    /// The AppView's profile index, once it is mounted.
    profiles: std::sync::OnceLock<Arc<dyn crate::profiles::ProfileLookup>>,
    /// The background checkpointer runs while this lives.
    _alive: Arc<()>,
}

impl Deref for Spaces {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Spaces {
    /// Opens (creating and migrating) the spaces database and image directory.
    pub fn open(cfg: SpacesConfig) -> Result<Spaces, SetupError> {
        let path = cfg.dir.join("spaces.sqlite");
        let db = store::open(&path)?;
        let alive = Arc::new(());
        hearth_db::spawn_checkpointer(&path, "spaces-checkpoint", Arc::downgrade(&alive))?;
        let images_dir = cfg.dir.join("space-images");
        std::fs::create_dir_all(&images_dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Private images: readable by the service only.
            std::fs::set_permissions(&images_dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let images_bucket = match cfg.images_bucket {
            Some(bucket) => Some((
                bucket,
                tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?,
            )),
            None => None,
        };
        let host = cfg
            .public_url
            .split("://")
            .nth(1)
            .and_then(|h| h.split([':', '/']).next())
            .unwrap_or("localhost")
            .to_owned();
        Ok(Spaces(Arc::new(Inner {
            db,
            authority: cfg.authority,
            public_url: cfg.public_url,
            images_dir,
            images_bucket,
            mail: hearth_mail::MailConfig::new(
                cfg.smtp_url.as_deref(),
                cfg.smtp_from.as_deref(),
                &host,
            )?,
            limits: RateLimiter::new(cfg.limits),
            clock: TidClock::new(),
            outbox: Notify::new(),
            live: tokio::sync::broadcast::channel(LIVE_BACKLOG).0,
            profiles: std::sync::OnceLock::new(),
            _alive: alive,
        })))
    }

    /// Gives the service the AppView's profile index (once; later calls are ignored).
    pub fn set_profile_lookup(&self, lookup: Arc<dyn crate::profiles::ProfileLookup>) {
        let _ = self.profiles.set(lookup);
    }

    /// Fills handle, display name and avatar into member views, from the profile index (one
    /// look-up for all of them; a DID may appear more than once).
    pub async fn fill_profiles<'a>(&self, members: impl IntoIterator<Item = &'a mut MemberView>) {
        let Some(lookup) = self.profiles.get() else {
            return;
        };
        let mut members: Vec<&mut MemberView> = members.into_iter().collect();
        let mut dids: Vec<String> = members.iter().map(|m| m.did.clone()).collect();
        dids.sort_unstable();
        dids.dedup();
        let found = lookup.profiles(dids).await;
        for m in members.iter_mut() {
            if let Some(p) = found.get(&m.did) {
                m.profile = p.clone();
            }
        }
    }

    /// Whether this server can send email (an SMTP server is configured).
    pub fn email_available(&self) -> bool {
        self.mail.is_some()
    }

    pub fn images_dir(&self) -> &Path {
        &self.images_dir
    }

    /// Emails queued and not yet sent (or given up on).
    pub async fn outbox_size(&self) -> SpaceResult<i64> {
        self.read(|conn, _| crate::store::outbox_size(conn)).await
    }

    pub(crate) async fn read<T, F>(&self, f: F) -> SpaceResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Spaces) -> SpaceResult<T> + Send + 'static,
    {
        let this = self.clone();
        self.db.readers.read(move |conn| f(conn, &this)).await
    }

    pub(crate) async fn write<T, F>(&self, f: F) -> SpaceResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteTxn<'_, ()>, &Spaces) -> SpaceResult<T> + Send + 'static,
    {
        let this = self.clone();
        self.db.writer.run(move |txn| f(txn, &this)).await
    }

    /// Refuses a write into a space that has used up its burst. Called after the gate, inside
    /// the write: only members spend a space's budget, so a removed member or a stranger who
    /// knows its URI cannot exhaust it and lock the members out.
    pub(crate) fn space_limit(&self, uri: &SpaceUri, cost: f64) -> SpaceResult<()> {
        if self.limits.space(&uri.skey, cost) {
            Ok(())
        } else {
            Err(SpaceError::RateLimited)
        }
    }

    pub(crate) fn ctx<'a>(
        &'a self,
        conn: &'a Connection,
        space: &'a SpaceRow,
        viewer: &'a str,
        role: Role,
    ) -> ViewCtx<'a> {
        ViewCtx::new(conn, &self.authority, &self.public_url, space, viewer, role)
    }

    /// The viewer's state in a space they belong to.
    pub(crate) fn viewer_state(
        &self,
        conn: &Connection,
        space: i64,
        did: &str,
        role: Role,
    ) -> SpaceResult<SpaceViewerState> {
        let level = store::member_level(conn, space, did)?.unwrap_or(Level::DEFAULT);
        Ok(SpaceViewerState {
            role: Some(role.as_str().into()),
            notification_level: Some(level.as_str().into()),
            unread_count: Some(store::unread_in_space(conn, did, space)?),
            join_request_pending: None,
        })
    }
}
