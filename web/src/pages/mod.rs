//! The pages, one module per family. Each handler takes the viewer's session ([`Viewer`]) and
//! calls the spaces service with the viewer's DID; the service checks the gate.
//!
//! [`Viewer`]: crate::session::Viewer

pub mod home;
pub mod invite;
pub mod invites;
pub mod live;
pub mod members;
pub mod moderation;
pub mod new_space;
pub mod organize;
pub mod posts;
pub mod settings;
pub mod signin;
pub mod space;

use crate::session::Session;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use hearth_spaces::uri::SpaceUri;

/// What the frame of every page shows: the title, who is signed in (and the sign-out form's
/// token), the asset paths.
pub struct Layout {
    pub title: String,
    pub handle: Option<String>,
    pub csrf: String,
    pub css: &'static str,
    pub js: &'static str,
    /// Where the header's "Sign in" goes: a page that knows where to come back to says so.
    pub signin: String,
    /// The page's live-update stream, for the script ([`live`]); none when signed out.
    pub live: Option<String>,
}

impl Layout {
    /// The frame for someone signed out (or unknown, as on the error page).
    pub fn bare(title: &str) -> Layout {
        Layout {
            title: title.to_owned(),
            handle: None,
            csrf: String::new(),
            css: crate::assets::css(),
            js: crate::assets::js(),
            signin: "/signin".to_owned(),
            live: None,
        }
    }

    /// The frame for someone signed out on a page they should come back to after signing in.
    pub fn returning_to(title: &str, here: &str) -> Layout {
        Layout {
            signin: crate::session::signin_url(here),
            ..Layout::bare(title)
        }
    }

    /// The frame for a signed-in viewer.
    pub fn signed_in(title: &str, s: &Session) -> Layout {
        Layout {
            handle: Some(s.handle.clone()),
            csrf: s.csrf.clone(),
            live: Some("/events".to_owned()),
            ..Layout::bare(title)
        }
    }
}

/// Renders a page as HTML.
pub fn render<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "web: template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// The web path of a space URI (`/s/{skey}`), a channel (`/s/{skey}/c/{rkey}`) or a post
/// (`/s/{skey}/p/{author}/{rkey}`); `/` for anything else.
pub fn path_of(uri: &str) -> String {
    let Ok(u) = uri.parse::<SpaceUri>() else {
        return "/".into();
    };
    match &u.record {
        None => format!("/s/{}", u.skey),
        Some(r) => match r.collection {
            hearth_spaces::uri::Collection::Channel => format!("/s/{}/c/{}", u.skey, r.rkey),
            hearth_spaces::uri::Collection::Post => {
                format!("/s/{}/p/{}/{}", u.skey, r.author, r.rkey)
            }
        },
    }
}
