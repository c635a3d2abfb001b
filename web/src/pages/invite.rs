//! An invite link (`/i/{token}`): signed out, what the space is and the handle field that signs
//! in at the person's own server and comes back; signed in, "Join" with the one question about
//! notifications on the same form, then the space. (`/s/{skey}/welcome` asks the question again
//! for anyone who joined elsewhere.)

use super::posts::name_of;
use super::{Layout, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::{MaybeViewer, Viewer, signin_url};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
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
    /// Where the sign-in comes back to (this page).
    here: String,
    action: String,
    choices: Vec<Choice>,
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
        here: here.clone(),
        choices: choices(Level::DEFAULT.as_str()),
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
    } else if !page.signed_in {
        // The handle form's answer redirects to the person's own authorization server.
        res.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(crate::http::csp::SIGNIN_CSP),
        );
    }
    Ok(res)
}

#[derive(Deserialize)]
pub struct JoinForm {
    csrf: String,
    /// The answer to the one question, asked on the same form.
    level: Option<String>,
}

/// `POST /i/{token}/join`.
pub async fn join(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<JoinForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    if !token_ok(&token) {
        return Err(WebError::NotFound);
    }
    // A wrong answer is refused before anything is joined.
    let level = f.level.as_deref().map(level_of).transpose()?;
    let joined = web.spaces.accept_invite(&v.did, &token).await?;
    let space = joined.space.uri;
    let skey = space
        .parse::<SpaceUri>()
        .map(|u| u.skey)
        .map_err(|_| WebError::Internal)?;
    let Some(level) = level else {
        return Ok(Redirect::to(&format!("/s/{skey}/welcome")).into_response());
    };
    answered(&web, &v, space, &skey, level).await
}

/// Keeps the answer to the one question as the space's level, and opens the space.
async fn answered(
    web: &Web,
    v: &Viewer,
    space: String,
    skey: &str,
    level: Level,
) -> Result<Response, WebError> {
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

/// The level an answer to the one question sets.
fn level_of(answer: &str) -> Result<Level, WebError> {
    CHOICES
        .iter()
        .find(|(value, ..)| *value == answer)
        .map(|(.., level)| *level)
        .ok_or_else(|| WebError::BadRequest("Choose one of the answers".into()))
}

/// The answers, with `current` chosen.
fn choices(current: &str) -> Vec<Choice> {
    CHOICES
        .iter()
        .map(|(value, label, hint, _)| Choice {
            value,
            label,
            hint,
            checked: *value == current,
        })
        .collect()
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
        choices: choices(&current),
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
    let level = level_of(&f.level)?;
    let space = SpaceUri::space(&web.spaces.authority, &skey).to_string();
    answered(&web, &v, space, &skey, level).await
}
