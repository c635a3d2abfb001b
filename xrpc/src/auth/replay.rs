//! Token ids already used on write methods, kept until the token expires: in memory for the
//! check, and in the service's database so that a restart forgets none of them.

use super::{KEEP_AFTER_EXP, Viewer, outlives_write_limit};
use atproto::syntax::Datetime;
use hearth_db::{Db, DbError, WriteTxn, Writer};
use std::collections::HashMap;
use std::sync::Mutex;

/// The table the cache keeps its ids in, as a migration of the service's database (the
/// AppView's index has it as its version 4: the text must not change).
pub const REPLAY_SCHEMA: &str = include_str!("used_token.sql");

/// Token ids held in memory before the expired ones are swept (at most once a minute).
const SWEEP_ABOVE: usize = 10_000;

pub struct ReplayCache {
    seen: Mutex<Seen>,
    store: Writer<()>,
}

struct Seen {
    /// Token key (`iss:jti`) → the token's `exp`.
    tokens: HashMap<String, i64>,
    /// When expired ids were last swept (unix seconds).
    swept_at: i64,
}

impl ReplayCache {
    /// The cache, holding the unexpired token ids recorded before this start. `db` has
    /// [`REPLAY_SCHEMA`] among its migrations.
    pub fn load(db: &Db<()>) -> Result<ReplayCache, DbError> {
        let now = Datetime::unix_now_secs();
        let seen = db.writer.run_blocking(move |txn: &mut WriteTxn<'_, ()>| {
            txn.conn.execute(
                "DELETE FROM used_token WHERE exp < ?1",
                [now - KEEP_AFTER_EXP],
            )?;
            let mut stmt = txn.conn.prepare("SELECT key, exp FROM used_token")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<HashMap<_, _>, _>>()?;
            Ok::<_, DbError>(rows)
        })?;
        Ok(ReplayCache {
            seen: Mutex::new(Seen {
                tokens: seen,
                swept_at: now,
            }),
            store: db.writer.clone(),
        })
    }

    /// Records a token id, or says why the token may not be used for a write: it has no id,
    /// is valid for longer than [`super::MAX_WRITE_TOKEN_SECS`], or was seen before (a
    /// replay). The record reaches the database with the writer's next commit (milliseconds),
    /// without holding up the request.
    pub fn first_use(&self, viewer: &Viewer) -> Result<(), NotFresh> {
        let Some(jti) = &viewer.jti else {
            return Err(NotFresh::NoId);
        };
        let now = Datetime::unix_now_secs();
        if outlives_write_limit(viewer.exp, now) {
            return Err(NotFresh::TooLong);
        }
        // A poisoned lock means a panic mid-insert: the map itself is intact.
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let sweep = seen.tokens.len() > SWEEP_ABOVE && now - seen.swept_at >= 60;
        if sweep {
            seen.tokens
                .retain(|_, exp| exp.saturating_add(KEEP_AFTER_EXP) > now);
            seen.swept_at = now;
        }
        let key = format!("{}:{jti}", viewer.did);
        if seen.tokens.contains_key(&key) {
            return Err(NotFresh::Replayed);
        }
        seen.tokens.insert(key.clone(), viewer.exp);
        let exp = viewer.exp;
        self.store.submit(
            move |txn: &mut WriteTxn<'_, ()>| {
                txn.conn
                    .prepare_cached("INSERT OR IGNORE INTO used_token (key, exp) VALUES (?1, ?2)")?
                    .execute(rusqlite::params![key, exp])?;
                if sweep {
                    txn.conn.execute(
                        "DELETE FROM used_token WHERE exp < ?1",
                        [now - KEEP_AFTER_EXP],
                    )?;
                }
                Ok::<_, DbError>(())
            },
            |r: Result<(), DbError>| {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "recording a used service token failed");
                }
            },
        );
        Ok(())
    }
}

/// Why a token may not be used for a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFresh {
    /// It carries no `jti`, so a replay could not be told apart.
    NoId,
    /// It is valid for longer than a write token may be.
    TooLong,
    /// Its id was used before.
    Replayed,
}

#[cfg(test)]
mod tests {
    use super::{NotFresh, REPLAY_SCHEMA, ReplayCache, Viewer};
    use atproto::syntax::Datetime;
    use hearth_db::{Db, DbError, WriteTxn};

    fn viewer(jti: &str, exp: i64) -> Viewer {
        Viewer {
            did: "did:plc:ewvi7nxzyoun6zhxrhs64oiz".into(),
            jti: Some(jti.into()),
            exp,
        }
    }

    /// A token used before a restart is still refused after it; expired ones are forgotten.
    #[test]
    fn used_tokens_survive_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("index.sqlite");
        let now = Datetime::unix_now_secs();
        let db: Db<()> = Db::open(&path, &[REPLAY_SCHEMA], 1, |_| Ok(())).expect("db");
        let cache = ReplayCache::load(&db).expect("load");
        assert_eq!(cache.first_use(&viewer("a", now + 60)), Ok(()));
        assert_eq!(
            cache.first_use(&viewer("a", now + 60)),
            Err(NotFresh::Replayed)
        );
        assert_eq!(cache.first_use(&viewer("old", now - 600)), Ok(()));
        assert_eq!(
            cache.first_use(&viewer("long", now + 24 * 60 * 60)),
            Err(NotFresh::TooLong),
            "a write token valid for a day"
        );
        assert_eq!(
            cache.first_use(&viewer("max", i64::MAX)),
            Err(NotFresh::TooLong),
            "no overflow"
        );
        assert_eq!(
            cache.first_use(&Viewer {
                jti: None,
                ..viewer("x", now + 60)
            }),
            Err(NotFresh::NoId),
            "a write token needs an id"
        );
        // The writer runs jobs in order: once this one is done, the records are committed.
        db.writer
            .run_blocking(|_: &mut WriteTxn<'_, ()>| Ok::<_, DbError>(()))
            .expect("barrier");
        drop(cache);

        let reopened: Db<()> = Db::open(&path, &[REPLAY_SCHEMA], 1, |_| Ok(())).expect("db");
        let cache = ReplayCache::load(&reopened).expect("load");
        assert_eq!(
            cache.first_use(&viewer("a", now + 60)),
            Err(NotFresh::Replayed),
            "replayed after a restart"
        );
        assert_eq!(
            cache.first_use(&viewer("b", now + 60)),
            Ok(()),
            "a fresh token"
        );
        let kept: i64 = reopened
            .writer
            .run_blocking(|txn: &mut WriteTxn<'_, ()>| {
                txn.conn
                    .query_row(
                        "SELECT COUNT(*) FROM used_token WHERE key LIKE '%:old'",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(DbError::from)
            })
            .expect("count");
        assert_eq!(kept, 0, "an expired token id is swept at start");
    }
}
