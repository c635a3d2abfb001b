//! The social.hearth XRPC surface: the routes, the extractors every handler takes
//! ([`extract`]), the handlers, and the one mapping of service errors onto XRPC errors
//! ([`error`]). Nothing outside this module knows HTTP.

mod error;
mod extract;
mod handlers;

pub use error::xrpc_error;

use crate::service::Spaces;
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use handlers as h;
use hearth_xrpc::auth::ServiceAuth;

/// What the routes need: the service, and the verifier of the service-auth tokens its
/// callers' PDSes mint.
#[derive(Clone)]
pub struct HttpState {
    pub spaces: Spaces,
    pub auth: ServiceAuth,
}

impl FromRef<HttpState> for ServiceAuth {
    fn from_ref(state: &HttpState) -> ServiceAuth {
        state.auth.clone()
    }
}

/// Every social.hearth method, plus the pages email links open (the invite landing page is
/// the web app's).
pub fn router(spaces: Spaces, auth: ServiceAuth) -> Router {
    let x = |nsid: &str| format!("/xrpc/social.hearth.{nsid}");
    Router::new()
        .route(&x("space.create"), post(h::space_create))
        .route(&x("space.get"), get(h::space_get))
        .route(&x("space.update"), post(h::space_update))
        .route(&x("space.delete"), post(h::space_delete))
        .route(&x("space.listMine"), get(h::space_list_mine))
        .route(&x("space.getAuditLog"), get(h::space_audit))
        .route(&x("space.export"), get(h::space_export))
        .route(&x("channel.create"), post(h::channel_create))
        .route(&x("channel.update"), post(h::channel_update))
        .route(&x("invite.create"), post(h::invite_create))
        .route(&x("invite.list"), get(h::invite_list))
        .route(&x("invite.revoke"), post(h::invite_revoke))
        .route(&x("invite.accept"), post(h::invite_accept))
        .route(&x("invite.preview"), get(h::invite_preview))
        .route(&x("join.request"), post(h::join_request))
        .route(&x("join.list"), get(h::join_list))
        .route(&x("join.decide"), post(h::join_decide))
        .route(&x("join.getMine"), get(h::join_get_mine))
        .route(&x("join.cancel"), post(h::join_cancel))
        .route(&x("member.list"), get(h::member_list))
        .route(&x("member.setRole"), post(h::member_set_role))
        .route(&x("member.remove"), post(h::member_remove))
        .route(&x("member.ban"), post(h::member_ban))
        .route(&x("member.leave"), post(h::member_leave))
        .route(&x("member.unban"), post(h::member_unban))
        .route(&x("member.listBans"), get(h::member_list_bans))
        .route(&x("post.create"), post(h::post_create))
        .route(&x("post.edit"), post(h::post_edit))
        .route(&x("post.delete"), post(h::post_delete))
        .route(&x("post.react"), post(h::post_react))
        .route(&x("post.hide"), post(h::post_hide))
        .route(&x("post.pin"), post(h::post_pin))
        .route(&x("post.markAnswer"), post(h::post_mark_answer))
        .route(&x("post.uploadImage"), post(h::post_upload_image))
        .route(&x("post.getImage"), get(h::post_get_image))
        .route(&x("report.create"), post(h::report_create))
        .route(&x("moderation.listReports"), get(h::moderation_list))
        .route(&x("moderation.resolve"), post(h::moderation_resolve))
        .route(&x("feed.getChannel"), get(h::feed_channel))
        .route(&x("feed.getThread"), get(h::feed_thread))
        .route(&x("notification.list"), get(h::notif_list))
        .route(&x("notification.getUnreadCount"), get(h::notif_unread))
        .route(&x("notification.updateSeen"), post(h::notif_seen))
        .route(&x("notification.setLevel"), post(h::notif_set_level))
        .route(&x("notification.getSettings"), get(h::notif_get_settings))
        .route(&x("notification.putSettings"), post(h::notif_put_settings))
        .route("/email/confirm/{token}", get(h::email_confirm))
        .route(
            "/email/unsubscribe/{token}",
            get(h::email_unsubscribe_page).post(h::email_unsubscribe),
        )
        .with_state(HttpState { spaces, auth })
}
