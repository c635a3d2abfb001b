//! Notification settings (`/settings`): how much each space (and, for one space at a time,
//! each channel) notifies the viewer, the email address with its confirmation status, and the
//! digest. Over the service's notification operations.

use super::organize::space_uri;
use super::{Layout, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::Viewer;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::model::Level;
use hearth_spaces::ops::notifications::{PutSettings, SetLevel};
use hearth_spaces::uri::SpaceUri;
use serde::Deserialize;

/// Spaces the page lists.
const SPACES: u32 = 100;

/// The levels in words, most first: (value, words).
pub const LEVELS: &[(&str, &str)] = &[
    ("all", "Everything"),
    (
        "mentionsAndReplies",
        "Announcements, replies and mentions of me",
    ),
    ("announcementsOnly", "Announcements only"),
    ("muted", "Nothing (muted)"),
];

struct LevelRow {
    /// The space's skey (and the channel's URI for a channel row).
    skey: String,
    channel: String,
    name: String,
    level: String,
    href: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    email_available: bool,
    email: String,
    email_verified: bool,
    digest: String,
    announcement_emails: bool,
    spaces: Vec<LevelRow>,
    /// One space's channels, when the page is opened for it.
    channels_of: Option<String>,
    channels: Vec<LevelRow>,
    levels: &'static [(&'static str, &'static str)],
    saved: bool,
}

#[derive(Deserialize)]
pub struct SettingsQ {
    space: Option<String>,
    saved: Option<String>,
}

/// `GET /settings` (`?space={skey}` adds that space's channels).
pub async fn page(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<SettingsQ>,
) -> Result<Response, WebError> {
    let (settings, mine) = tokio::join!(
        web.spaces.get_settings(&v.did),
        web.spaces.list_mine(&v.did, SPACES, None)
    );
    let settings = settings?;
    let spaces = mine?
        .spaces
        .into_iter()
        .map(|s| {
            let skey = s
                .uri
                .parse::<SpaceUri>()
                .map(|u| u.skey)
                .unwrap_or_default();
            LevelRow {
                href: format!("/settings?space={skey}#channels"),
                channel: String::new(),
                level: s
                    .viewer
                    .and_then(|x| x.notification_level)
                    .unwrap_or_else(|| Level::DEFAULT.as_str().into()),
                name: s.name,
                skey,
            }
        })
        .collect();
    let (channels_of, channels) = match q.space {
        Some(skey) => {
            let got = web
                .spaces
                .get_space(&v.did, &space_uri(&web, &skey))
                .await?;
            let space_level = got
                .space
                .viewer
                .and_then(|x| x.notification_level)
                .unwrap_or_else(|| Level::DEFAULT.as_str().into());
            let overrides = settings.levels.clone().unwrap_or_default();
            let rows = got
                .channels
                .into_iter()
                .map(|c| LevelRow {
                    level: overrides
                        .iter()
                        .find(|l| l.channel.as_deref() == Some(c.uri.as_str()))
                        .map_or_else(|| space_level.clone(), |l| l.level.clone()),
                    skey: skey.clone(),
                    href: String::new(),
                    name: c.name,
                    channel: c.uri,
                })
                .collect();
            (Some(got.space.name), rows)
        }
        None => (None, Vec::new()),
    };
    Ok(render(&SettingsPage {
        layout: Layout::signed_in("Notification settings", &v),
        email_available: settings.email_available,
        email: settings.email.unwrap_or_default(),
        email_verified: settings.email_verified,
        digest: settings.digest,
        announcement_emails: settings.announcement_emails,
        spaces,
        channels_of,
        channels,
        levels: LEVELS,
        saved: q.saved.is_some(),
    }))
}

#[derive(Deserialize)]
pub struct SettingsForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    digest: String,
    /// A checkbox: present when ticked.
    announcement_emails: Option<String>,
}

/// `POST /settings`: email address, digest and announcement emails.
pub async fn save(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<SettingsForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let current = web.spaces.get_settings(&v.did).await?;
    let email = f.email.trim().to_owned();
    // Only a changed address is sent: saving the form again must not re-send a confirmation.
    let email = (email != current.email.unwrap_or_default()).then_some(email);
    web.spaces
        .put_settings(
            &v.did,
            PutSettings {
                email,
                digest: Some(f.digest),
                announcement_emails: Some(f.announcement_emails.is_some()),
            },
        )
        .await?;
    Ok(Redirect::to("/settings?saved=1").into_response())
}

#[derive(Deserialize)]
pub struct LevelForm {
    csrf: String,
    space: String,
    #[serde(default)]
    channel: String,
    level: String,
}

/// `POST /settings/level`: one space's (or one channel's) level.
pub async fn set_level(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<LevelForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let channel = Some(f.channel).filter(|c| !c.is_empty());
    let back = if channel.is_some() {
        format!("/settings?space={}&saved=1#channels", f.space)
    } else {
        "/settings?saved=1".to_owned()
    };
    web.spaces
        .set_level(
            &v.did,
            SetLevel {
                space: space_uri(&web, &f.space),
                channel,
                level: f.level,
            },
        )
        .await?;
    Ok(Redirect::to(&back).into_response())
}
