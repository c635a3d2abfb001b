//! The organizer pages' shared pieces: the space a `/s/{skey}/…` path names, the viewer's role
//! there, and the routes of the organizer and moderation pages (merged into the app's
//! router). Every page calls the spaces service with the viewer's DID; the service's gate
//! decides, and these pages only choose which forms to show.

use super::{invites, members, moderation, new_space, settings};
use crate::Web;
use axum::Router;
use axum::routing::{get, post};
use hearth_spaces::model::Role;
use hearth_spaces::uri::SpaceUri;

/// The organizer, moderation and settings pages.
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/spaces/new", get(new_space::page).post(new_space::create))
        .route("/s/{skey}/invite", get(invites::page).post(invites::create))
        .route("/s/{skey}/invite/revoke", post(invites::revoke))
        .route("/s/{skey}/members", get(members::page))
        .route("/s/{skey}/members/role", post(members::set_role))
        .route("/s/{skey}/members/remove", post(members::remove))
        .route("/s/{skey}/members/ban", post(members::ban))
        .route("/s/{skey}/requests", get(members::requests))
        .route("/s/{skey}/requests/decide", post(members::decide))
        .route("/s/{skey}/audit", get(members::audit))
        .route("/s/{skey}/export", get(members::export))
        .route("/s/{skey}/moderation", get(moderation::queue))
        .route("/s/{skey}/moderation/resolve", post(moderation::resolve))
        .route(
            "/s/{skey}/p/{author}/{rkey}/report",
            get(moderation::report_page).post(moderation::report),
        )
        .route("/settings", get(settings::page).post(settings::save))
        .route("/settings/level", post(settings::set_level))
}

/// The URI of the space a path's `skey` names (the service checks it is one).
pub fn space_uri(web: &Web, skey: &str) -> String {
    SpaceUri::space(&web.spaces.authority, skey).to_string()
}

/// The viewer's role in a space as the space's own view says it (the gate answers for
/// non-members).
pub fn role_of(view: &hearth_spaces::views::SpaceView) -> Role {
    view.viewer
        .as_ref()
        .and_then(|v| v.role.as_deref())
        .and_then(Role::parse)
        .unwrap_or(Role::Member)
}

/// A member's name as pages show it: `@handle`, else the DID.
pub fn who(m: &hearth_spaces::views::MemberView) -> String {
    m.profile
        .handle
        .as_ref()
        .map_or_else(|| m.did.clone(), |h| format!("@{h}"))
}

/// The administration links of a space, for the pages' sub-navigation.
pub struct AdminNav {
    pub skey: String,
    pub name: String,
    pub admin: bool,
    pub moderator: bool,
}
