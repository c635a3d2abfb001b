//! The organizer pages' shared pieces: the space a `/s/{skey}/…` path names, the viewer's role
//! there, and the links to the pages that role may use. Every page calls the spaces service with
//! the viewer's DID; the service's gate decides, and these pages only choose which forms to show.

use crate::Web;
use hearth_spaces::model::Role;
use hearth_spaces::uri::SpaceUri;

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

/// The administration links of a space, for the pages' sub-navigation.
pub struct AdminNav {
    pub skey: String,
    pub name: String,
    pub admin: bool,
    pub moderator: bool,
}
