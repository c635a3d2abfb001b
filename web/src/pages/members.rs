//! Running a space's membership: the members list with roles (admins also promote, demote,
//! remove and ban from it), the join requests queue with approve and deny, the audit log, and
//! the export as a JSON download. The service decides who may do what; a member who is not an
//! admin gets its refusal, and the list without the forms.

use super::organize::{AdminNav, role_of, space_uri};
use super::posts::name_of;
use super::{Layout, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::Viewer;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::model::Role;
use hearth_spaces::ops::spaces::MAX_EXPORT_PAGE;
use serde::Deserialize;

/// Members and audit entries a page.
const PAGE: u32 = 100;
/// Most export pages one download gathers (each up to `MAX_EXPORT_PAGE` posts).
const MAX_EXPORT_PAGES: usize = 200;

#[derive(Deserialize)]
pub struct PageQ {
    cursor: Option<String>,
}

async fn nav(web: &Web, v: &Viewer, skey: &str) -> Result<(AdminNav, Role), WebError> {
    let space = web
        .spaces
        .get_space(&v.did, &space_uri(web, skey))
        .await?
        .space;
    let role = role_of(&space);
    if space
        .viewer
        .as_ref()
        .and_then(|x| x.role.as_ref())
        .is_none()
    {
        // A listed space's public face: not a member, nothing to manage.
        return Err(WebError::NotFound);
    }
    Ok((
        AdminNav {
            skey: skey.to_owned(),
            name: space.name,
            admin: role >= Role::Admin,
            moderator: role >= Role::Moderator,
        },
        role,
    ))
}

struct MemberRow {
    did: String,
    name: String,
    role: String,
    /// The viewer may change this member's standing (and to which roles).
    manage: bool,
    roles: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    layout: Layout,
    nav: AdminNav,
    members: Vec<MemberRow>,
    next: Option<String>,
}

/// `GET /s/{skey}/members`.
pub async fn page(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    Query(q): Query<PageQ>,
) -> Result<Response, WebError> {
    let (nav, role) = nav(&web, &v, &skey).await?;
    let list = web
        .spaces
        .list_members(&v.did, &space_uri(&web, &skey), PAGE, q.cursor)
        .await?;
    let members = list
        .members
        .into_iter()
        .map(|m| {
            let their = m
                .role
                .as_deref()
                .and_then(Role::parse)
                .unwrap_or(Role::Member);
            let manage =
                m.did != v.did && hearth_spaces::permissions::may_manage(role, their).is_ok();
            let roles = ["member", "moderator", "admin"]
                .into_iter()
                .filter(|r| *r != "admin" || role == Role::Owner)
                .collect();
            MemberRow {
                name: name_of(&m),
                role: their.as_str().into(),
                did: m.did,
                manage,
                roles,
            }
        })
        .collect();
    Ok(render(&MembersPage {
        layout: Layout::signed_in(&format!("Members of {}", nav.name), &v),
        nav,
        members,
        next: list
            .cursor
            .map(|c| format!("/s/{skey}/members?cursor={}", urlencode(&c))),
    }))
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: String,
    did: String,
    role: String,
}

/// `POST /s/{skey}/members/role`: promote or demote.
pub async fn set_role(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    headers: HeaderMap,
    Form(f): Form<RoleForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    web.spaces
        .set_role(&v.did, &space_uri(&web, &skey), &f.did, &f.role)
        .await?;
    Ok(Redirect::to(&format!("/s/{skey}/members")).into_response())
}

#[derive(Deserialize)]
pub struct DidForm {
    csrf: String,
    did: String,
    #[serde(default)]
    reason: String,
}

/// `POST /s/{skey}/members/remove`.
pub async fn remove(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    headers: HeaderMap,
    Form(f): Form<DidForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    web.spaces
        .remove_member(&v.did, &space_uri(&web, &skey), &f.did)
        .await?;
    Ok(Redirect::to(&format!("/s/{skey}/members")).into_response())
}

/// `POST /s/{skey}/members/ban`: removes the member and keeps them out.
pub async fn ban(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    headers: HeaderMap,
    Form(f): Form<DidForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let reason = Some(f.reason.trim().to_owned()).filter(|r| !r.is_empty());
    web.spaces
        .ban_member(&v.did, &space_uri(&web, &skey), &f.did, reason)
        .await?;
    Ok(Redirect::to(&format!("/s/{skey}/members")).into_response())
}

struct RequestRow {
    id: String,
    name: String,
    answer: String,
    at: String,
}

#[derive(Template)]
#[template(path = "join_requests.html")]
struct RequestsPage {
    layout: Layout,
    nav: AdminNav,
    requests: Vec<RequestRow>,
}

/// `GET /s/{skey}/requests`: the pending join requests (admins).
pub async fn requests(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
) -> Result<Response, WebError> {
    let (nav, _) = nav(&web, &v, &skey).await?;
    let list = web
        .spaces
        .list_requests(&v.did, &space_uri(&web, &skey), Some("pending".into()))
        .await?;
    Ok(render(&RequestsPage {
        layout: Layout::signed_in(&format!("Join requests for {}", nav.name), &v),
        nav,
        requests: list
            .requests
            .into_iter()
            .map(|r| RequestRow {
                name: name_of(&r.member),
                answer: r.answer.unwrap_or_default(),
                at: r.created_at,
                id: r.id,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
pub struct DecideForm {
    csrf: String,
    id: String,
    decision: String,
}

/// `POST /s/{skey}/requests/decide`: approve or deny.
pub async fn decide(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    headers: HeaderMap,
    Form(f): Form<DecideForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(WebError::BadRequest("Approve or deny".into())),
    };
    web.spaces
        .decide_request(&v.did, &space_uri(&web, &skey), &f.id, approve)
        .await?;
    Ok(Redirect::to(&format!("/s/{skey}/requests")).into_response())
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    nav: AdminNav,
    entries: Vec<AuditRow>,
    next: Option<String>,
}

/// `GET /s/{skey}/audit`: the audit log (admins), newest first.
pub async fn audit(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    Query(q): Query<PageQ>,
) -> Result<Response, WebError> {
    let (nav, _) = nav(&web, &v, &skey).await?;
    let log = web
        .spaces
        .audit_log(&v.did, &space_uri(&web, &skey), PAGE, q.cursor)
        .await?;
    Ok(render(&AuditPage {
        layout: Layout::signed_in(&format!("Audit log of {}", nav.name), &v),
        nav,
        entries: log
            .entries
            .into_iter()
            .map(|e| AuditRow {
                at: e.created_at,
                actor: e.actor,
                action: e.action,
                subject: e.subject.unwrap_or_default(),
                detail: e.detail.unwrap_or_default(),
            })
            .collect(),
        next: log
            .cursor
            .map(|c| format!("/s/{skey}/audit?cursor={}", urlencode(&c))),
    }))
}

/// `GET /s/{skey}/export`: the space as one JSON file, as far as the viewer may read it (the
/// whole space for admins, one's own posts for members); the service's pages, joined.
pub async fn export(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
) -> Result<Response, WebError> {
    let uri = space_uri(&web, &skey);
    let first = web
        .spaces
        .export(&v.did, &uri, MAX_EXPORT_PAGE, None)
        .await?;
    let mut cursor = first.cursor.clone();
    let mut doc = serde_json::to_value(&first).map_err(|_| WebError::Internal)?;
    let mut pages = 1;
    while let Some(c) = cursor.take() {
        if pages >= MAX_EXPORT_PAGES {
            break;
        }
        let next = web
            .spaces
            .export(&v.did, &uri, MAX_EXPORT_PAGE, Some(c))
            .await?;
        let posts = serde_json::to_value(&next.posts).map_err(|_| WebError::Internal)?;
        if let (Some(all), serde_json::Value::Array(more)) =
            (doc.get_mut("posts").and_then(|p| p.as_array_mut()), posts)
        {
            all.extend(more);
        }
        cursor = next.cursor;
        pages += 1;
    }
    if let Some(o) = doc.as_object_mut() {
        o.remove("cursor");
    }
    let body = serde_json::to_vec_pretty(&doc).map_err(|_| WebError::Internal)?;
    let disposition = format!("attachment; filename=\"hearth-space-{skey}.json\"");
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(|_| WebError::NotFound)?,
            ),
        ],
        body,
    )
        .into_response())
}
