//! Home (`/`): signed in, one inbox across the viewer's spaces and their spaces with unread
//! counts; signed out, what Hearth is and the way in.

use super::{Layout, path_of, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::{MaybeViewer, Viewer};
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::views::{NotificationView, SpaceView};
use serde::Deserialize;

/// Inbox entries on the home page.
const INBOX_PAGE: u32 = 30;
/// Spaces listed on the home page.
const SPACES_PAGE: u32 = 100;

#[derive(Template)]
#[template(path = "welcome.html")]
struct Welcome {
    layout: Layout,
}

/// One inbox line, ready to show.
struct InboxItem {
    href: String,
    space_name: String,
    what: &'static str,
    who: String,
    text: String,
    unread: bool,
    at: String,
}

struct SpaceItem {
    href: String,
    name: String,
    unread: i64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    unread: i64,
    inbox: Vec<InboxItem>,
    spaces: Vec<SpaceItem>,
}

/// What a notification is about, in words.
fn reason_words(reason: &str) -> &'static str {
    match reason {
        "announcement" => "New announcement",
        "question" => "New question",
        "answer" => "Answer to your question",
        "reply" => "Reply to you",
        "mention" => "Mentioned you",
        "post" => "New post",
        "joinRequest" => "Join request",
        "joinApproved" => "You were let in",
        "roleChange" => "Your role changed",
        _ => "Update",
    }
}

fn inbox_item(n: NotificationView) -> InboxItem {
    let href = n
        .subject
        .as_deref()
        .or(n.channel.as_deref())
        .map_or_else(|| path_of(&n.space), path_of);
    let who = n
        .author
        .map(|a| a.profile.handle.map_or(a.did, |h| format!("@{h}")))
        .unwrap_or_default();
    InboxItem {
        href,
        space_name: n.space_name,
        what: reason_words(&n.reason),
        who,
        text: n.text.unwrap_or_default(),
        unread: !n.is_read,
        at: n.created_at,
    }
}

fn space_item(s: SpaceView) -> SpaceItem {
    SpaceItem {
        href: path_of(&s.uri),
        name: s.name,
        unread: s.viewer.and_then(|v| v.unread_count).unwrap_or(0),
    }
}

/// `GET /`.
pub async fn home(
    State(web): State<Web>,
    MaybeViewer(viewer): MaybeViewer,
) -> Result<Response, WebError> {
    let Some(v) = viewer else {
        return Ok(render(&Welcome {
            layout: Layout::bare("Hearth"),
        }));
    };
    let (inbox, unread, mine) = tokio::join!(
        web.spaces
            .list_notifications(&v.did, None, INBOX_PAGE, None),
        web.spaces.unread_count(&v.did, None),
        web.spaces.list_mine(&v.did, SPACES_PAGE, None),
    );
    let mut inbox = inbox?.notifications;
    web.spaces
        .fill_profiles(inbox.iter_mut().filter_map(|n| n.author.as_mut()))
        .await;
    Ok(render(&Home {
        layout: Layout::signed_in("Home", &v),
        unread: unread?.count,
        inbox: inbox.into_iter().map(inbox_item).collect(),
        spaces: mine?.spaces.into_iter().map(space_item).collect(),
    }))
}

#[derive(Deserialize)]
pub struct SeenForm {
    csrf: String,
}

/// `POST /seen`: marks the whole inbox read.
pub async fn mark_seen(
    State(web): State<Web>,
    v: Viewer,
    headers: HeaderMap,
    Form(f): Form<SeenForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    let now = atproto::syntax::Datetime::now().to_string();
    web.spaces.update_seen(&v.did, &now, None).await?;
    Ok(Redirect::to("/").into_response())
}
