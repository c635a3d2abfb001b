//! Reports of posts and the moderation queue (schema_v7.sql).

use crate::model::{ReportReason, Role, SpaceResult};
use rusqlite::{Connection, OptionalExtension, params};

/// A report about to be filed.
pub struct NewReport<'a> {
    pub space: i64,
    pub channel: i64,
    pub post: i64,
    pub post_uri: &'a str,
    pub reporter: &'a str,
    pub reason: ReportReason,
    pub text: Option<&'a str>,
    pub now: i64,
}

/// Files a report; `None` if the reporter already has an open report of the post.
pub fn insert_report(conn: &Connection, r: &NewReport<'_>) -> SpaceResult<Option<i64>> {
    let n = conn
        .prepare_cached(
            "INSERT INTO report (space, channel, post, post_uri, reporter, reason, text, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            r.space,
            r.channel,
            r.post,
            r.post_uri,
            r.reporter,
            r.reason.as_str(),
            r.text,
            r.now
        ])?;
    Ok((n > 0).then(|| conn.last_insert_rowid()))
}

/// One report, as its reporter and the moderators see it.
#[derive(Debug, Clone)]
pub struct ReportRow {
    pub id: i64,
    pub post_uri: String,
    pub reporter: String,
    pub reason: String,
    pub text: Option<String>,
    pub created_at: i64,
}

const REPORT_COLS: &str = "id, post_uri, reporter, reason, text, created_at";

fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportRow> {
    Ok(ReportRow {
        id: r.get(0)?,
        post_uri: r.get(1)?,
        reporter: r.get(2)?,
        reason: r.get(3)?,
        text: r.get(4)?,
        created_at: r.get(5)?,
    })
}

pub fn report_by_id(conn: &Connection, id: i64) -> SpaceResult<Option<ReportRow>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {REPORT_COLS} FROM report WHERE id = ?1"))?
        .query_row([id], report_row)
        .optional()?)
}

/// An open case of the queue: a reported post, keyed by its first open report's id.
pub struct OpenCase {
    pub first: i64,
    pub post: i64,
}

/// A page of the space's open cases in the channels a member with `role` reads, oldest first
/// report first, after the case keyed `after`.
pub fn open_cases(
    conn: &Connection,
    space: i64,
    role: Role,
    after: i64,
    limit: i64,
) -> SpaceResult<Vec<OpenCase>> {
    let mut stmt = conn.prepare_cached(
        "SELECT min(r.id) AS first, r.post FROM report r INDEXED BY report_queue
         JOIN channel c ON c.id = r.channel
         WHERE r.space = ?1 AND r.resolution IS NULL AND c.read_role <= ?2
         GROUP BY r.post HAVING first > ?3 ORDER BY first LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![space, role.as_i64(), after, limit], |r| {
        Ok(OpenCase {
            first: r.get(0)?,
            post: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A post's open reports, oldest first.
pub fn open_reports(conn: &Connection, post: i64) -> SpaceResult<Vec<ReportRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REPORT_COLS} FROM report WHERE post = ?1 AND resolution IS NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([post], report_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A closed case: the reports of one post that one decision closed.
pub struct ClosedCase {
    pub resolved_at: i64,
    pub post_uri: String,
    pub post: Option<i64>,
    pub resolution: String,
    pub resolved_by: Option<String>,
    pub reason: Option<String>,
}

/// A page of the space's closed cases in the channels a member with `role` reads, newest
/// decision first, before (`resolved_at`, post URI).
pub fn closed_cases(
    conn: &Connection,
    space: i64,
    role: Role,
    before: (i64, &str),
    limit: i64,
) -> SpaceResult<Vec<ClosedCase>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.resolved_at, r.post_uri, max(r.post), max(r.resolution), max(r.resolved_by),
                max(r.resolution_reason)
         FROM report r INDEXED BY report_closed JOIN channel c ON c.id = r.channel
         WHERE r.space = ?1 AND r.resolution IS NOT NULL AND c.read_role <= ?2
           AND (r.resolved_at, r.post_uri) < (?3, ?4)
         GROUP BY r.resolved_at, r.post_uri
         ORDER BY r.resolved_at DESC, r.post_uri DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![space, role.as_i64(), before.0, before.1, limit],
        |r| {
            Ok(ClosedCase {
                resolved_at: r.get(0)?,
                post_uri: r.get(1)?,
                post: r.get(2)?,
                resolution: r.get(3)?,
                resolved_by: r.get(4)?,
                reason: r.get(5)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The reports one decision closed.
pub fn closed_reports(
    conn: &Connection,
    space: i64,
    resolved_at: i64,
    post_uri: &str,
) -> SpaceResult<Vec<ReportRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REPORT_COLS} FROM report INDEXED BY report_closed
         WHERE space = ?1 AND resolved_at = ?2 AND post_uri = ?3 AND resolution IS NOT NULL
         ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![space, resolved_at, post_uri], report_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The channel a reported post was in (it outlives the post).
pub fn reported_post_channel(
    conn: &Connection,
    space: i64,
    post_uri: &str,
) -> SpaceResult<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT channel FROM report INDEXED BY report_closed
             WHERE space = ?1 AND post_uri = ?2 LIMIT 1",
        )?
        .query_row(params![space, post_uri], |r| r.get(0))
        .optional()?)
}

/// A moderator's decision on a post's open reports.
pub struct Decision<'a> {
    pub post: i64,
    /// The case status: `hidden`, `removed`, `dismissed`, or `deleted`.
    pub status: &'a str,
    pub by: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub now: i64,
}

/// Closes the post's open reports; returns how many.
pub fn close_reports(conn: &Connection, d: &Decision<'_>) -> SpaceResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE report SET resolution = ?2, resolved_by = ?3, resolution_reason = ?4,
                               resolved_at = ?5
             WHERE post = ?1 AND resolution IS NULL",
        )?
        .execute(params![d.post, d.status, d.by, d.reason, d.now])?)
}

/// Closes the open reports of a post about to be deleted, and of the replies that go with
/// it (a thread root takes its thread), as `deleted`.
pub fn close_reports_of_thread(conn: &Connection, post: i64, now: i64) -> SpaceResult<()> {
    conn.prepare_cached(
        "UPDATE report SET resolution = 'deleted', resolved_at = ?2
         WHERE resolution IS NULL AND post IN (SELECT ?1 UNION ALL SELECT id FROM post WHERE root = ?1)",
    )?
    .execute(params![post, now])?;
    Ok(())
}
