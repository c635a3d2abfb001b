//! An invite link (`/i/{token}`): signed out, what the space is and one button to sign in and
//! join; signed in, "Join". After joining, the one question about notifications
//! (`/s/{skey}/welcome`), then the space.

use super::posts::name_of;
use super::{Layout, render};
use crate::Web;
use crate::http::{Form, WebError};
use crate::session::{MaybeViewer, Viewer, signin_url};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::model::{Level, SpaceError};
use hearth_spaces::ops::notifications::SetLevel;
use hearth_spaces::uri::SpaceUri;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    layout: Layout,
    valid: bool,
    name: String,
    description: String,
    member_count: i64,
    invited_by: String,
    signed_in: bool,
    signin: String,
    action: String,
}

/// An invite token as links carry it (base64url); anything else names no invite.
fn token_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /i/{token}`.
pub async fn landing(
    State(web): State<Web>,
    MaybeViewer(viewer): MaybeViewer,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let preview = if token_ok(&token) {
        match web.spaces.preview_invite(&token).await {
            Ok(p) => Some(p),
            Err(SpaceError::Named(..)) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let here = format!("/i/{token}");
    let layout = match &viewer {
        Some(v) => Layout::signed_in("You are invited", v),
        None => Layout::returning_to("You are invited", &here),
    };
    let mut page = InvitePage {
        layout,
        valid: preview.is_some(),
        name: String::new(),
        description: String::new(),
        member_count: 0,
        invited_by: String::new(),
        signed_in: viewer.is_some(),
        signin: signin_url(&here),
        action: format!("{here}/join"),
    };
    if let Some(p) = preview {
        page.name = p.space.name;
        page.description = p.space.description.unwrap_or_default();
        page.member_count = p.space.member_count;
        page.invited_by = name_of(&p.invited_by);
    }
    let mut res = render(&page);
    if !page.valid {
        *res.status_mut() = StatusCode::NOT_FOUND;
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /i/{token}/join`.
pub async fn join(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    if !token_ok(&token) {
        return Err(WebError::NotFound);
    }
    let joined = web.spaces.accept_invite(&v.did, &token).await?;
    let skey = joined
        .space
        .uri
        .parse::<SpaceUri>()
        .map(|u| u.skey)
        .map_err(|_| WebError::Internal)?;
    Ok(Redirect::to(&format!("/s/{skey}/welcome")).into_response())
}

/// The answers to "How often do you want to hear from this group?", and the level each sets.
const CHOICES: &[(&str, &str, &str, Level)] = &[
    (
        "all",
        "Everything",
        "Every new thread, announcement, reply and mention.",
        Level::All,
    ),
    (
        "mentionsAndReplies",
        "Announcements and replies to me",
        "Announcements, replies to what you wrote, and mentions of you.",
        Level::MentionsAndReplies,
    ),
    (
        "announcementsOnly",
        "Only a digest",
        "Only announcements reach your inbox; the rest waits in the space, and your digest email (if you set one up) sums it up.",
        Level::AnnouncementsOnly,
    ),
];

struct Choice {
    value: &'static str,
    label: &'static str,
    hint: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "welcome_question.html")]
struct Question {
    layout: Layout,
    name: String,
    choices: Vec<Choice>,
    action: String,
}

/// `GET /s/{skey}/welcome`: the one question after joining.
pub async fn question(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
) -> Result<Response, WebError> {
    let uri = SpaceUri::space(&web.spaces.authority, &skey).to_string();
    let got = web.spaces.get_space(&v.did, &uri).await?;
    let current = got
        .space
        .viewer
        .as_ref()
        .filter(|s| s.role.is_some())
        .ok_or(WebError::NotFound)?
        .notification_level
        .clone()
        .unwrap_or_else(|| Level::DEFAULT.as_str().to_owned());
    Ok(render(&Question {
        layout: Layout::signed_in("How often do you want to hear from this group?", &v),
        name: got.space.name,
        choices: CHOICES
            .iter()
            .map(|(value, label, hint, _)| Choice {
                value,
                label,
                hint,
                checked: *value == current,
            })
            .collect(),
        action: format!("/s/{skey}/welcome"),
    }))
}

#[derive(Deserialize)]
pub struct QuestionForm {
    csrf: String,
    level: String,
}

/// `POST /s/{skey}/welcome`.
pub async fn answer_question(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path(skey): Path<String>,
    Form(f): Form<QuestionForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let level = CHOICES
        .iter()
        .find(|(value, ..)| *value == f.level)
        .map(|(.., level)| *level)
        .ok_or_else(|| WebError::BadRequest("Choose one of the answers".into()))?;
    let space = SpaceUri::space(&web.spaces.authority, &skey).to_string();
    web.spaces
        .set_level(
            &v.did,
            SetLevel {
                space,
                channel: None,
                level: level.as_str().to_owned(),
            },
        )
        .await?;
    Ok(Redirect::to(&format!("/s/{skey}")).into_response())
}
