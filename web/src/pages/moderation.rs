//! Moderation inside a space: a member reports a post (`/s/{skey}/p/{author}/{rkey}/report`,
//! a reason and an optional note); moderators see the queue of reported posts
//! (`/s/{skey}/moderation`) and hide or remove one with a reason, or dismiss its reports. Each
//! decision is in the audit log; nothing goes to public labellers.

use super::organize::{AdminNav, role_of, space_uri};
use super::posts::name_of;
use super::{Layout, path_of, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::Viewer;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::model::{ReportReason, Role};
use hearth_spaces::ops::moderation::{CreateReport, QueueStatus, Resolve};
use hearth_spaces::uri::{Collection, SpaceUri};
use serde::Deserialize;

/// Cases a page of the queue.
const PAGE: u32 = 25;

/// A report reason in words.
pub fn reason_words(r: ReportReason) -> &'static str {
    match r {
        ReportReason::Spam => "Spam or advertising",
        ReportReason::Harassment => "Harassment or a personal attack",
        ReportReason::OffTopic => "Off topic for this space",
        ReportReason::Misleading => "False or misleading",
        ReportReason::Other => "Something else",
    }
}

fn reasons() -> Vec<(&'static str, &'static str)> {
    ReportReason::ALL
        .into_iter()
        .map(|r| (r.as_str(), reason_words(r)))
        .collect()
}

fn post_uri(web: &Web, skey: &str, author: &str, rkey: &str) -> Result<String, WebError> {
    if author.parse::<atproto::syntax::Did>().is_err() {
        return Err(WebError::NotFound);
    }
    Ok(SpaceUri::record(&web.spaces.authority, skey, author, Collection::Post, rkey).to_string())
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    layout: Layout,
    action: String,
    back: String,
    text: String,
    author: String,
    reasons: Vec<(&'static str, &'static str)>,
    done: bool,
}

/// `GET /s/{skey}/p/{author}/{rkey}/report`: the report form, under the post it is about.
pub async fn report_page(
    State(web): State<Web>,
    v: Viewer,
    Path((skey, author, rkey)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let uri = post_uri(&web, &skey, &author, &rkey)?;
    // The thread read is the gate: a post the viewer cannot read has no report form.
    let thread = web
        .spaces
        .thread(
            &v.did,
            &uri,
            hearth_spaces::ops::posts::MAX_THREAD_REPLIES as u32,
            None,
        )
        .await?
        .thread;
    let post = std::iter::once(&thread.root)
        .chain(thread.replies.iter())
        .find(|p| p.uri == uri)
        .ok_or(WebError::NotFound)?;
    Ok(render(&ReportPage {
        layout: Layout::signed_in("Report a post", &v),
        action: format!("/s/{skey}/p/{author}/{rkey}/report"),
        back: path_of(&thread.root.uri),
        text: post.text.clone(),
        author: name_of(&post.author),
        reasons: reasons(),
        done: false,
    }))
}

#[derive(Deserialize)]
pub struct ReportForm {
    csrf: String,
    reason: String,
    #[serde(default)]
    note: String,
}

/// `POST /s/{skey}/p/{author}/{rkey}/report`.
pub async fn report(
    State(web): State<Web>,
    v: Viewer,
    Path((skey, author, rkey)): Path<(String, String, String)>,
    headers: HeaderMap,
    Form(f): Form<ReportForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let uri = post_uri(&web, &skey, &author, &rkey)?;
    let note = Some(f.note.trim().to_owned()).filter(|n| !n.is_empty());
    web.spaces
        .report_post(
            &v.did,
            CreateReport {
                uri: uri.clone(),
                reason: f.reason,
                text: note,
            },
        )
        .await?;
    Ok(render(&ReportPage {
        layout: Layout::signed_in("Report sent", &v),
        action: String::new(),
        back: path_of(&uri),
        text: String::new(),
        author: String::new(),
        reasons: Vec::new(),
        done: true,
    }))
}

struct ReportLine {
    who: String,
    reason: &'static str,
    note: String,
}

struct CaseRow {
    uri: String,
    href: String,
    author: String,
    text: String,
    hidden: bool,
    status: String,
    reports: Vec<ReportLine>,
    decided: String,
}

#[derive(Template)]
#[template(path = "moderation.html")]
struct QueuePage {
    layout: Layout,
    nav: AdminNav,
    open: bool,
    cases: Vec<CaseRow>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct QueueQ {
    status: Option<String>,
    cursor: Option<String>,
}

/// `GET /s/{skey}/moderation`: the queue (moderators), open cases first; `?status=resolved`
/// for the decided ones.
pub async fn queue(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    Query(q): Query<QueueQ>,
) -> Result<Response, WebError> {
    let status = match q.status.as_deref() {
        None | Some("open") => QueueStatus::Open,
        Some("resolved") => QueueStatus::Resolved,
        Some(_) => return Err(WebError::BadRequest("Unknown queue".into())),
    };
    let uri = space_uri(&web, &skey);
    let (space, list) = tokio::join!(
        web.spaces.get_space(&v.did, &uri),
        web.spaces
            .list_reports(&v.did, &uri, status, PAGE, q.cursor)
    );
    let list = list?;
    let space = space?.space;
    let role = role_of(&space);
    let cases = list
        .cases
        .into_iter()
        .map(|c| CaseRow {
            href: path_of(&c.uri),
            author: c
                .post
                .as_ref()
                .map(|p| name_of(&p.author))
                .unwrap_or_default(),
            text: c.post.as_ref().map(|p| p.text.clone()).unwrap_or_default(),
            hidden: c.post.as_ref().is_some_and(|p| p.hidden),
            reports: c
                .reports
                .iter()
                .map(|r| ReportLine {
                    who: name_of(&r.reporter),
                    reason: ReportReason::parse(&r.reason).map_or("Something else", reason_words),
                    note: r.text.clone().unwrap_or_default(),
                })
                .collect(),
            decided: match (&c.resolution_reason, &c.resolved_at) {
                (Some(r), Some(at)) => format!("{r} ({at})"),
                (None, Some(at)) => at.clone(),
                _ => String::new(),
            },
            status: c.status,
            uri: c.uri,
        })
        .collect();
    let status_q = if status == QueueStatus::Open {
        "open"
    } else {
        "resolved"
    };
    Ok(render(&QueuePage {
        layout: Layout::signed_in(&format!("Reports in {}", space.name), &v),
        nav: AdminNav {
            skey: skey.clone(),
            name: space.name,
            admin: role >= Role::Admin,
            moderator: role >= Role::Moderator,
        },
        open: status == QueueStatus::Open,
        cases,
        next: list.cursor.map(|c| {
            format!(
                "/s/{skey}/moderation?status={status_q}&cursor={}",
                form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>()
            )
        }),
    }))
}

#[derive(Deserialize)]
pub struct ResolveForm {
    csrf: String,
    uri: String,
    action: String,
    #[serde(default)]
    reason: String,
}

/// `POST /s/{skey}/moderation/resolve`: hide, remove or dismiss.
pub async fn resolve(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    headers: HeaderMap,
    Form(f): Form<ResolveForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let in_space = f.uri.parse::<SpaceUri>().is_ok_and(|u| u.skey == skey);
    if !in_space {
        return Err(WebError::NotFound);
    }
    let reason = Some(f.reason.trim().to_owned()).filter(|r| !r.is_empty());
    web.spaces
        .resolve_reports(
            &v.did,
            Resolve {
                uri: f.uri,
                action: f.action,
                reason,
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/s/{skey}/moderation")).into_response())
}
