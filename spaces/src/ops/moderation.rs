//! Moderation inside a space: members report posts they can read; moderators see the queue
//! of reported posts (in the channels they read) and hide or remove a post with a reason, or
//! dismiss its reports. Every decision goes to the audit log; nothing leaves the space.

use crate::model::*;
use crate::permissions::{member_access, parse_uri, readable_post};
use crate::service::Spaces;
use crate::store::{self, ReportRow, ViewCtx};
use crate::views::*;
use serde::{Deserialize, Serialize};

/// Longest note a reporter or a moderator adds, in bytes (the lexicons' `maxLength`).
pub const MAX_REPORT_TEXT: usize = 2000;

#[derive(Debug, Deserialize)]
pub struct CreateReport {
    pub uri: String,
    pub reason: String,
    pub text: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ReportOut {
    pub report: ReportView,
}

#[derive(Debug, Deserialize)]
pub struct Resolve {
    pub uri: String,
    pub action: String,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Resolved {
    pub closed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post: Option<PostView>,
}

#[derive(Debug, Serialize)]
pub struct ReportQueue {
    pub cases: Vec<ReportCaseView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Which part of the queue to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStatus {
    Open,
    Resolved,
}

impl QueueStatus {
    pub fn parse(s: &str) -> Option<QueueStatus> {
        match s {
            "open" => Some(QueueStatus::Open),
            "resolved" => Some(QueueStatus::Resolved),
            _ => None,
        }
    }
}

/// A note: trimmed, blank is none, at most [`MAX_REPORT_TEXT`] bytes.
fn note(s: Option<String>, field: &str) -> SpaceResult<Option<String>> {
    let s = s.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if s.as_ref().is_some_and(|t| t.len() > MAX_REPORT_TEXT) {
        return Err(SpaceError::invalid(format!(
            "{field} is at most {MAX_REPORT_TEXT} bytes"
        )));
    }
    Ok(s)
}

fn report_view(ctx: &mut ViewCtx<'_>, r: &ReportRow) -> SpaceResult<ReportView> {
    Ok(ReportView {
        id: r.id.to_string(),
        uri: r.post_uri.clone(),
        reporter: ctx.member(&r.reporter)?,
        reason: r.reason.clone(),
        text: r.text.clone(),
        created_at: fmt_time(r.created_at),
    })
}

impl Spaces {
    /// Files the caller's report of a post they can read (not their own). A second open
    /// report of the same post by the same member is refused (`AlreadyReported`).
    pub async fn report_post(&self, did: &str, input: CreateReport) -> SpaceResult<ReportOut> {
        let uri = parse_uri(&input.uri)?;
        let reason = known(&input.reason, ReportReason::parse, "reason")?;
        let text = note(input.text, "text")?;
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            let (post, channel) = readable_post(conn, &acc, &uri)?;
            if post.author == did {
                return Err(SpaceError::invalid("You cannot report your own post"));
            }
            let post_uri = uri.to_string();
            let id = store::insert_report(
                conn,
                &store::NewReport {
                    space: acc.space.id,
                    channel: channel.id,
                    post: post.id,
                    post_uri: &post_uri,
                    reporter: &did,
                    reason,
                    text: text.as_deref(),
                    now: now_ms(),
                },
            )?
            .ok_or(SpaceError::Named(
                "AlreadyReported",
                "You already reported this post; the moderators will look at it",
            ))?;
            let row =
                store::report_by_id(conn, id)?.ok_or(SpaceError::NotFound("Report not found"))?;
            let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
            Ok(ReportOut {
                report: report_view(&mut ctx, &row)?,
            })
        })
        .await
    }

    /// The moderation queue (moderators and up), limited to the channels the caller reads:
    /// open cases oldest first, or resolved ones newest first.
    pub async fn list_reports(
        &self,
        did: &str,
        space: &str,
        status: QueueStatus,
        limit: u32,
        cursor: Option<String>,
    ) -> SpaceResult<ReportQueue> {
        let limit = i64::from(page_size(limit));
        let uri = parse_uri(space)?;
        if uri.record.is_some() {
            return Err(SpaceError::invalid("Expected a space URI"));
        }
        let did = did.to_owned();
        let mut queue = self
            .read(move |conn, s| {
                let acc = member_access(conn, &s.authority, &uri, &did)?;
                acc.require(Role::Moderator, "Only moderators see the reports")?;
                let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
                let mut cases = Vec::new();
                let cursor = match status {
                    QueueStatus::Open => {
                        let after = match cursor.as_deref() {
                            None | Some("") => 0,
                            Some(c) => c
                                .parse()
                                .map_err(|_| SpaceError::invalid("Malformed cursor"))?,
                        };
                        let rows = store::open_cases(conn, acc.space.id, acc.role, after, limit)?;
                        for c in &rows {
                            let post = store::post_by_id(conn, c.post)?
                                .ok_or(SpaceError::NotFound("Post not found"))?;
                            let reports = store::open_reports(conn, c.post)?;
                            cases.push(ReportCaseView {
                                uri: ctx.post_uri(&post.author, &post.rkey),
                                post: Some(ctx.post(&post)?),
                                status: "open".into(),
                                reports: reports
                                    .iter()
                                    .map(|r| report_view(&mut ctx, r))
                                    .collect::<SpaceResult<_>>()?,
                                resolved_by: None,
                                resolved_at: None,
                                resolution_reason: None,
                            });
                        }
                        (rows.len() as i64 == limit)
                            .then(|| rows.last().map(|c| c.first.to_string()))
                            .flatten()
                    }
                    QueueStatus::Resolved => {
                        // No cursor: (newest possible time, "") is after every case.
                        let (t, u): (i64, String) =
                            time_cursor(cursor.as_deref(), (i64::MAX, String::new()))?;
                        let rows =
                            store::closed_cases(conn, acc.space.id, acc.role, (t, &u), limit)?;
                        for c in &rows {
                            let post = match c.post {
                                Some(id) => store::post_by_id(conn, id)?,
                                None => None,
                            };
                            let reports = store::closed_reports(
                                conn,
                                acc.space.id,
                                c.resolved_at,
                                &c.post_uri,
                            )?;
                            cases.push(ReportCaseView {
                                uri: c.post_uri.clone(),
                                post: post.as_ref().map(|p| ctx.post(p)).transpose()?,
                                status: c.resolution.clone(),
                                reports: reports
                                    .iter()
                                    .map(|r| report_view(&mut ctx, r))
                                    .collect::<SpaceResult<_>>()?,
                                resolved_by: c.resolved_by.clone(),
                                resolved_at: Some(fmt_time(c.resolved_at)),
                                resolution_reason: c.reason.clone(),
                            });
                        }
                        (rows.len() as i64 == limit)
                            .then(|| {
                                rows.last()
                                    .map(|c| format!("{}_{}", c.resolved_at, c.post_uri))
                            })
                            .flatten()
                    }
                };
                Ok(ReportQueue { cases, cursor })
            })
            .await?;
        self.fill_case_profiles(&mut queue.cases).await;
        Ok(queue)
    }

    /// Reporters' and authors' handles and names, from the profile index (one look-up).
    async fn fill_case_profiles(&self, cases: &mut [ReportCaseView]) {
        let mut people: Vec<&mut MemberView> = Vec::new();
        for c in cases.iter_mut() {
            if let Some(p) = c.post.as_mut() {
                people.push(&mut p.author);
            }
            for r in c.reports.iter_mut() {
                people.push(&mut r.reporter);
            }
        }
        self.fill_profiles(people).await;
    }

    /// A moderator's decision on a reported post: hide it or remove it (a reason is
    /// required), or dismiss its reports. Closes the post's open reports and audits the
    /// decision (`report.resolve`, plus `post.hide` or `post.delete`) in the same write.
    pub async fn resolve_reports(&self, did: &str, input: Resolve) -> SpaceResult<Resolved> {
        let uri = parse_uri(&input.uri)?;
        let action = known(&input.action, Resolution::parse, "action")?;
        let reason = note(input.reason, "reason")?;
        if action != Resolution::Dismiss && reason.is_none() {
            return Err(SpaceError::invalid(
                "A reason is required to hide or remove a post",
            ));
        }
        let did = did.to_owned();
        self.write(move |txn, s| {
            let conn = txn.conn;
            let acc = member_access(conn, &s.authority, &uri, &did)?;
            s.space_limit(&uri, 1.0)?;
            acc.require(Role::Moderator, "Only moderators resolve reports")?;
            let (post, _) = readable_post(conn, &acc, &uri)?;
            let now = now_ms();
            let closed = store::close_reports(
                conn,
                &store::Decision {
                    post: post.id,
                    status: action.case_status(),
                    by: Some(&did),
                    reason: reason.as_deref(),
                    now,
                },
            )?;
            if closed == 0 {
                return Err(SpaceError::Named(
                    "NoOpenReports",
                    "This post has no open reports",
                ));
            }
            let subject = uri.to_string();
            let detail = match &reason {
                Some(r) => format!("{}: {r}", action.as_str()),
                None => action.as_str().to_owned(),
            };
            store::audit(
                conn,
                acc.space.id,
                &did,
                "report.resolve",
                Some(&subject),
                Some(&detail),
                now,
            )?;
            let post_view = match action {
                Resolution::Dismiss | Resolution::Hide => {
                    if action == Resolution::Hide {
                        store::set_hidden(conn, post.id, true)?;
                        store::audit(
                            conn,
                            acc.space.id,
                            &did,
                            "post.hide",
                            Some(&subject),
                            reason.as_deref(),
                            now,
                        )?;
                    }
                    let row = store::post_by_id(conn, post.id)?
                        .ok_or(SpaceError::NotFound("Post not found"))?;
                    let mut ctx = s.ctx(conn, &acc.space, &did, acc.role);
                    Some(ctx.post(&row)?)
                }
                Resolution::Remove => {
                    super::posts::delete_in(txn, s, &acc, &post, &uri, &did)?;
                    None
                }
            };
            Ok(Resolved {
                closed,
                post: post_view,
            })
        })
        .await
    }
}
