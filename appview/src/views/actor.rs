//! Profile views (`app.bsky.actor.defs#profileViewBasic`, `#profileView`,
//! `#profileViewDetailed`) with the viewer's relationship.

use super::{Hydrator, ViewResult, record_json};
use hearth_lexicons::bsky::{
    ActorViewerState, BlockedAuthor, KnownFollowers, ProfileAssociated, ProfileView,
    ProfileViewBasic, ProfileViewDetailed, no_labels,
};
use rusqlite::OptionalExtension;

/// What the index holds about an account, for rendering.
#[derive(Debug, Clone)]
pub struct ActorRow {
    pub id: i64,
    pub did: String,
    pub handle: Option<String>,
    pub status: Option<String>,
    pub indexed_at: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub avatar: Option<String>,
    pub banner: Option<String>,
    pub pinned_post: Option<String>,
    pub created_at: Option<String>,
    pub profile_record: Option<Vec<u8>>,
}

/// What lies between the viewer and another account: the records of the viewer's follow and
/// block of it, its follow of the viewer, and whether it blocks the viewer.
#[derive(Debug, Clone, Default)]
pub struct Relation {
    following: Option<String>,
    followed_by: Option<String>,
    blocking: Option<String>,
    blocked_by: bool,
}

const ACTOR_COLUMNS: &str = "a.id, a.did, a.handle, a.status, a.indexed_at, p.display_name, p.description, p.avatar, p.banner,
                        p.pinned_post, p.created_at, p.record";

impl ActorRow {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ActorRow> {
        Ok(ActorRow {
            id: r.get(0)?,
            did: r.get(1)?,
            handle: r.get(2)?,
            status: r.get(3)?,
            indexed_at: r.get(4)?,
            display_name: r.get(5)?,
            description: r.get(6)?,
            avatar: r.get(7)?,
            banner: r.get(8)?,
            pinned_post: r.get(9)?,
            created_at: r.get(10)?,
            profile_record: r.get(11)?,
        })
    }
}

/// Runs `sql` with `first` as ?1 and `rest` as the `IN` list after it (padded, see
/// `post::placeholders`), and returns its (key, uri) rows.
fn pairs<K: rusqlite::types::FromSql, P: rusqlite::ToSql>(
    conn: &rusqlite::Connection,
    sql: &str,
    first: &dyn rusqlite::ToSql,
    rest: &[P],
) -> ViewResult<Vec<(K, String)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let params =
        std::iter::once(first).chain(super::post::padded(rest).map(|p| p as &dyn rusqlite::ToSql));
    stmt.query_map(rusqlite::params_from_iter(params), |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?
    .collect()
}

impl<'c> Hydrator<'c> {
    /// Reads the actor rows and the viewer's relations with each of `ids` in a few `IN (...)`
    /// queries, ahead of rendering a page that shows them (about five queries per author
    /// otherwise).
    pub fn prefetch_actors(&mut self, ids: &[i64]) -> ViewResult<()> {
        let wanted: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !self.actors.contains_key(id))
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        if !wanted.is_empty() {
            let list = super::post::placeholders(0, wanted.len());
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {ACTOR_COLUMNS} FROM actor a LEFT JOIN profile p ON p.actor = a.id WHERE a.id IN ({list})"
            ))?;
            for row in stmt.query_map(
                rusqlite::params_from_iter(super::post::padded(&wanted)),
                ActorRow::from_row,
            )? {
                let row = row?;
                self.actors.insert(row.id, Some(row));
            }
            for id in &wanted {
                self.actors.entry(*id).or_insert(None);
            }
        }
        let Some((viewer_did, viewer_id)) = self.viewer.clone() else {
            return Ok(());
        };
        let others: Vec<(i64, String)> = ids
            .iter()
            .filter(|id| !self.relations.contains_key(id))
            .filter_map(|id| self.actors.get(id)?.as_ref())
            .filter(|a| a.did != viewer_did)
            .map(|a| (a.id, a.did.clone()))
            .collect::<std::collections::HashMap<_, _>>()
            .into_iter()
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let mut found: std::collections::HashMap<i64, Relation> = others
            .iter()
            .map(|(id, _)| (*id, Relation::default()))
            .collect();
        let id_of: std::collections::HashMap<&str, i64> =
            others.iter().map(|(id, did)| (did.as_str(), *id)).collect();
        let list = super::post::placeholders(1, others.len());
        let dids: Vec<&String> = others.iter().map(|(_, d)| d).collect();
        let ids: Vec<i64> = others.iter().map(|(id, _)| *id).collect();
        let by_did = |sql: &str| pairs::<String, _>(self.conn, sql, &viewer_id, &dids);
        let by_id = |sql: &str| pairs::<i64, _>(self.conn, sql, &viewer_did, &ids);
        // Where several records match, the first in index order wins, as in the single-row
        // look-ups of `relation`.
        for (did, uri) in by_did(&format!(
            "SELECT subject_did, uri FROM follows WHERE author = ?1 AND subject_did IN ({list}) ORDER BY subject_did, rowid"
        ))? {
            if let Some(r) = id_of.get(did.as_str()).and_then(|id| found.get_mut(id)) {
                r.following.get_or_insert(uri);
            }
        }
        for (did, uri) in by_did(&format!(
            "SELECT subject_did, uri FROM blocks WHERE author = ?1 AND subject_did IN ({list}) ORDER BY subject_did, rowid"
        ))? {
            if let Some(r) = id_of.get(did.as_str()).and_then(|id| found.get_mut(id)) {
                r.blocking.get_or_insert(uri);
            }
        }
        for (id, uri) in by_id(&format!(
            "SELECT author, uri FROM follows WHERE subject_did = ?1 AND author IN ({list}) ORDER BY author, rowid"
        ))? {
            if let Some(r) = found.get_mut(&id) {
                r.followed_by.get_or_insert(uri);
            }
        }
        for (id, _) in by_id(&format!(
            "SELECT author, uri FROM blocks WHERE subject_did = ?1 AND author IN ({list})"
        ))? {
            if let Some(r) = found.get_mut(&id) {
                r.blocked_by = true;
            }
        }
        self.relations.extend(found);
        Ok(())
    }

    pub fn actor_id(&self, did: &str) -> ViewResult<Option<i64>> {
        self.conn
            .prepare_cached("SELECT id FROM actor WHERE did = ?1")?
            .query_row([did], |r| r.get(0))
            .optional()
    }

    /// Resolves an at-identifier (DID or handle) to an actor id.
    pub fn resolve_actor(&self, ident: &str) -> ViewResult<Option<i64>> {
        if ident.starts_with("did:") {
            return self.actor_id(ident);
        }
        self.conn
            .prepare_cached("SELECT id FROM actor WHERE handle = ?1")?
            .query_row([ident.to_ascii_lowercase()], |r| r.get(0))
            .optional()
    }

    pub fn actor(&mut self, id: i64) -> ViewResult<Option<ActorRow>> {
        if let Some(a) = self.actors.get(&id) {
            return Ok(a.clone());
        }
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ACTOR_COLUMNS} FROM actor a LEFT JOIN profile p ON p.actor = a.id WHERE a.id = ?1"
            ))?
            .query_row([id], ActorRow::from_row)
            .optional()?;
        self.actors.insert(id, row.clone());
        Ok(row)
    }

    /// Whether the account may be shown (not deactivated, taken down or deleted).
    pub fn visible(&mut self, id: i64) -> ViewResult<bool> {
        Ok(self.actor(id)?.is_some_and(|a| a.status.is_none()))
    }

    /// Whether there is a block in either direction between the viewer and `id`.
    pub fn blocked_with(&self, id: i64) -> ViewResult<bool> {
        let Some((viewer_did, viewer_id)) = &self.viewer else {
            return Ok(false);
        };
        if let Some(r) = self.relations.get(&id) {
            return Ok(r.blocking.is_some() || r.blocked_by);
        }
        let did: Option<String> = match self.actors.get(&id) {
            Some(cached) => cached.as_ref().map(|a| a.did.clone()),
            None => self
                .conn
                .prepare_cached("SELECT did FROM actor WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?,
        };
        let Some(did) = did else { return Ok(false) };
        self.conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM blocks WHERE author = ?1 AND subject_did = ?2)
                     OR EXISTS(SELECT 1 FROM blocks WHERE author = ?3 AND subject_did = ?4)",
            )?
            .query_row(rusqlite::params![viewer_id, did, id, viewer_did], |r| {
                r.get(0)
            })
    }

    /// Whether the account may be shown to the viewer: active, and no block either way.
    pub fn shown(&mut self, id: i64) -> ViewResult<bool> {
        Ok(self.visible(id)? && !self.blocked_with(id)?)
    }

    /// `app.bsky.feed.defs#blockedAuthor`: who is behind a block, and which way it runs.
    pub fn blocked_author(&self, did: &str) -> ViewResult<BlockedAuthor> {
        let Some((viewer_did, viewer_id)) = &self.viewer else {
            return Ok(BlockedAuthor {
                did: did.to_owned(),
                viewer: None,
            });
        };
        let blocking: Option<String> = self
            .conn
            .prepare_cached("SELECT uri FROM blocks WHERE author = ?1 AND subject_did = ?2")?
            .query_row(rusqlite::params![viewer_id, did], |r| r.get(0))
            .optional()?;
        let blocked_by: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM blocks b JOIN actor a ON a.id = b.author
                               WHERE a.did = ?1 AND b.subject_did = ?2)",
            )?
            .query_row([did, viewer_did.as_str()], |r| r.get(0))?;
        Ok(BlockedAuthor {
            did: did.to_owned(),
            viewer: Some(ActorViewerState {
                blocked_by: Some(blocked_by),
                blocking,
                ..ActorViewerState::default()
            }),
        })
    }

    /// `#knownFollowers`: followers of `id` whom the viewer follows (count, and up to five
    /// shown), or `None` when there are none or no viewer.
    pub fn known_followers(&mut self, id: i64) -> ViewResult<Option<KnownFollowers>> {
        let Some(viewer) = self.viewer_id().filter(|v| *v >= 0 && *v != id) else {
            return Ok(None);
        };
        let Some(did) = self.actor(id)?.map(|a| a.did) else {
            return Ok(None);
        };
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(
                // From the viewer's follows (bounded by whom they follow), never from the
                // subject's followers (unbounded for a popular account).
                "SELECT a.id FROM follows v CROSS JOIN actor a ON a.did = v.subject_did
                 CROSS JOIN follows f INDEXED BY follows_author ON f.author = a.id AND f.subject_did = ?2
                 WHERE v.author = ?1 ORDER BY f.indexed_at DESC, f.uri DESC",
            )?
            .query_map(rusqlite::params![viewer, did], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut followers = Vec::new();
        let mut count = 0;
        for f in ids {
            if !self.shown(f)? {
                continue;
            }
            count += 1;
            if followers.len() < 5
                && let Some(p) = self.profile_basic(f)?
            {
                followers.push(p);
            }
        }
        if count == 0 {
            return Ok(None);
        }
        Ok(Some(KnownFollowers { count, followers }))
    }

    /// `#profileView`s of the accounts that may be shown, in order; the rest are left out.
    pub fn profiles_shown(&mut self, ids: &[i64]) -> ViewResult<Vec<ProfileView>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if self.shown(*id)?
                && let Some(p) = self.profile(*id)?
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// `#viewerState`: follows and blocks between the viewer and `a`.
    /// The viewer's relation with `a`: read ahead by [`Self::prefetch_actors`], or here.
    fn relation(&mut self, a: &ActorRow) -> ViewResult<Option<Relation>> {
        let Some((viewer_did, viewer_id)) = &self.viewer else {
            return Ok(None);
        };
        if let Some(r) = self.relations.get(&a.id) {
            return Ok(Some(r.clone()));
        }
        let q = |sql: &str,
                 p: (&dyn rusqlite::ToSql, &dyn rusqlite::ToSql)|
         -> ViewResult<Option<String>> {
            self.conn
                .prepare_cached(sql)?
                .query_row([p.0, p.1], |r| r.get(0))
                .optional()
        };
        let r = Relation {
            following: q(
                "SELECT uri FROM follows WHERE author = ?1 AND subject_did = ?2",
                (viewer_id, &a.did),
            )?,
            followed_by: q(
                "SELECT uri FROM follows WHERE author = ?1 AND subject_did = ?2",
                (&a.id, viewer_did),
            )?,
            blocking: q(
                "SELECT uri FROM blocks WHERE author = ?1 AND subject_did = ?2",
                (viewer_id, &a.did),
            )?,
            blocked_by: q(
                "SELECT uri FROM blocks WHERE author = ?1 AND subject_did = ?2",
                (&a.id, viewer_did),
            )?
            .is_some(),
        };
        self.relations.insert(a.id, r.clone());
        Ok(Some(r))
    }

    fn viewer_state(&mut self, a: &ActorRow) -> ViewResult<Option<ActorViewerState>> {
        if self.viewer_did().is_some_and(|d| d == a.did) {
            return Ok(Some(ActorViewerState {
                muted: Some(false),
                blocked_by: Some(false),
                ..ActorViewerState::default()
            }));
        }
        let Some(r) = self.relation(a)? else {
            return Ok(None);
        };
        // Blocks hide follow relationships, as in the reference.
        let hide = r.blocking.is_some() || r.blocked_by;
        Ok(Some(ActorViewerState {
            muted: Some(false),
            blocked_by: Some(r.blocked_by),
            blocking: r.blocking,
            following: r.following.filter(|_| !hide),
            followed_by: r.followed_by.filter(|_| !hide),
            known_followers: None,
        }))
    }

    fn handle_of(a: &ActorRow) -> String {
        a.handle.clone().unwrap_or_else(|| "handle.invalid".into())
    }

    /// `#profileViewBasic`.
    pub fn profile_basic(&mut self, id: i64) -> ViewResult<Option<ProfileViewBasic>> {
        let Some(a) = self.actor(id)? else {
            return Ok(None);
        };
        let viewer = self.viewer_state(&a)?;
        Ok(Some(ProfileViewBasic {
            handle: Self::handle_of(&a),
            avatar: a.avatar.as_ref().map(|c| self.image("avatar", &a.did, c)),
            did: a.did,
            display_name: a.display_name,
            pronouns: None,
            viewer,
            labels: no_labels(),
            created_at: a.created_at,
        }))
    }

    /// `#profileView`.
    pub fn profile(&mut self, id: i64) -> ViewResult<Option<ProfileView>> {
        let Some(basic) = self.profile_basic(id)? else {
            return Ok(None);
        };
        let Some(a) = self.actor(id)? else {
            return Ok(None);
        };
        Ok(Some(ProfileView::from_basic(
            basic,
            a.description,
            Some(a.indexed_at),
        )))
    }

    /// `#profileViewDetailed`, with counts.
    pub fn profile_detailed(&mut self, id: i64) -> ViewResult<Option<ProfileViewDetailed>> {
        let Some(p) = self.profile(id)? else {
            return Ok(None);
        };
        let Some(a) = self.actor(id)? else {
            return Ok(None);
        };
        let counts: (i64, i64, i64) = self
            .conn
            .prepare_cached("SELECT followers, follows, posts FROM profile_agg WHERE actor = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?
            .unwrap_or((0, 0, 0));
        let pinned_post = a
            .profile_record
            .as_deref()
            .map(record_json)
            .and_then(|mut rec| rec.get_mut("pinnedPost").map(serde_json::Value::take));
        let mut viewer = p.viewer;
        if let Some(known) = self.known_followers(id)?
            && let Some(v) = viewer.as_mut()
        {
            v.known_followers = Some(known);
        }
        Ok(Some(ProfileViewDetailed {
            banner: a.banner.as_ref().map(|b| self.image("banner", &a.did, b)),
            did: p.did,
            handle: p.handle,
            display_name: p.display_name,
            pronouns: p.pronouns,
            description: p.description,
            avatar: p.avatar,
            followers_count: Some(counts.0),
            follows_count: Some(counts.1),
            posts_count: Some(counts.2),
            associated: Some(self.associated(id)?),
            indexed_at: p.indexed_at,
            created_at: p.created_at,
            viewer,
            labels: p.labels,
            pinned_post,
        }))
    }

    /// `#profileAssociated`: what the account has created.
    fn associated(&self, id: i64) -> ViewResult<ProfileAssociated> {
        let count = |sql: &str| -> ViewResult<i64> {
            self.conn.prepare_cached(sql)?.query_row([id], |r| r.get(0))
        };
        let labeler: bool = count("SELECT COUNT(*) FROM labeler WHERE author = ?1")? > 0;
        Ok(ProfileAssociated {
            lists: count("SELECT COUNT(*) FROM list WHERE author = ?1")?,
            feedgens: count("SELECT COUNT(*) FROM feed_generator WHERE author = ?1")?,
            starter_packs: 0,
            labeler,
        })
    }
}
