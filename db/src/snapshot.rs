//! Consistent copies of a live database, for backups. `VACUUM INTO` reads the source in one
//! read transaction, so the copy is the database as of one commit, whatever the writer does
//! meanwhile (WAL readers never block it), and writes a compact file that needs no WAL beside it.

use crate::DbError;
use std::path::Path;

/// Copies the database at `src` into a new file at `dest` (owner-only, like every database
/// file), as of one commit. `dest` must not exist yet.
pub fn snapshot(src: &Path, dest: &Path) -> Result<(), DbError> {
    if dest.exists() {
        return Err(DbError::File(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists", dest.display()),
        )));
    }
    // SQLite would create the file with the process's umask; create it owner-only first
    // (VACUUM INTO accepts an empty file).
    crate::files::create_private_file(dest).map_err(DbError::File)?;
    let conn = rusqlite::Connection::open_with_flags(
        src,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let dest_str = dest
        .to_str()
        .ok_or_else(|| DbError::Task(format!("{} is not UTF-8", dest.display())))?;
    conn.execute("VACUUM INTO ?1", [dest_str])?;
    Ok(())
}

/// Runs SQLite's `integrity_check` on the database at `path`, read-only: `Ok(())` when it
/// reports nothing wrong, else the problems it lists.
pub fn integrity_check(path: &Path) -> Result<Result<(), Vec<String>>, DbError> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(rows)
    })
}

/// Rows in every table of the database at `path` (its own tables, not the ones SQLite keeps
/// for itself or behind a virtual table), read-only, by table name.
pub fn table_counts(path: &Path) -> Result<Vec<(String, i64)>, DbError> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let tables: Vec<String> = conn
        // Virtual tables count, the shadow tables behind them (full-text indexes) do not.
        .prepare(
            "SELECT name FROM pragma_table_list
             WHERE schema = 'main' AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        // The name comes from the schema, quoted as an identifier.
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM \"{}\"", t.replace('"', "\"\"")),
            [],
            |r| r.get(0),
        )?;
        out.push((t, n));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_snapshot_taken_under_writes_is_one_commit_and_owner_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let src = tmp.path().join("live.sqlite");
        let db: crate::Db<()> = crate::Db::open(
            &src,
            &["CREATE TABLE t (batch INTEGER, x INTEGER); CREATE VIRTUAL TABLE f USING fts5(x);"],
            1,
            |_| Ok(()),
        )
        .expect("open");
        // Every transaction writes 50 rows of one batch: a copy holding part of a batch was
        // not taken as of one commit.
        let writer = db.writer.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let load = std::thread::spawn(move || {
            let mut batch = 0i64;
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                batch += 1;
                writer
                    .run_blocking(move |txn| {
                        for x in 0..50 {
                            txn.conn
                                .execute("INSERT INTO t VALUES (?1, ?2)", [batch, x])?;
                        }
                        Ok::<_, DbError>(())
                    })
                    .expect("write");
            }
            batch
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut copies = Vec::new();
        for i in 0..3 {
            let dest = tmp.path().join(format!("copy{i}.sqlite"));
            snapshot(&src, &dest).expect("snapshot");
            copies.push(dest);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let batches = load.join().expect("load");
        assert!(batches > 0);
        for dest in &copies {
            assert_eq!(
                std::fs::metadata(dest).expect("meta").permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(integrity_check(dest).expect("check"), Ok(()));
            let conn = rusqlite::Connection::open(dest).expect("open copy");
            let partial: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM (SELECT batch FROM t GROUP BY batch HAVING COUNT(*) != 50)",
                    [],
                    |r| r.get(0),
                )
                .expect("count");
            assert_eq!(partial, 0, "a batch was copied in part");
        }
        let counts = table_counts(&copies[0]).expect("counts");
        let names: Vec<&str> = counts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["f", "t"], "no shadow tables");
        assert_eq!(counts[0].1, 0);
        assert!(counts[1].1 > 0 && counts[1].1 % 50 == 0, "{counts:?}");
        // A copy never replaces a file.
        assert!(matches!(snapshot(&src, &copies[0]), Err(DbError::File(_))));
    }
}
