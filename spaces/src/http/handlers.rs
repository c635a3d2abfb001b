//! Thin handlers: parse (the extractors) → the service → the one error mapping.

use super::HttpState;
use super::error::xrpc_error;
use super::extract::{Caller, Input, Params};
use crate::images;
use crate::model::SpaceError;
use crate::ops::{members, moderation, notifications, posts, spaces};
use crate::service::Spaces;
use crate::views::Settings;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde::Deserialize;
use serde_json::{Value, json};

type Out<T> = XrpcResult<Json<T>>;

fn done<T>(r: Result<T, SpaceError>) -> Out<T> {
    r.map(Json).map_err(xrpc_error)
}

fn empty(r: Result<(), SpaceError>) -> Out<Value> {
    r.map(|()| Json(json!({}))).map_err(xrpc_error)
}

fn sp(state: &HttpState) -> &Spaces {
    &state.spaces
}

#[derive(Deserialize)]
pub struct SpaceQ {
    space: String,
}

#[derive(Deserialize)]
pub struct PageQ {
    space: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct SpacePageQ {
    space: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct ChannelQ {
    channel: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct ThreadQ {
    uri: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct JoinListQ {
    space: String,
    status: Option<String>,
}

#[derive(Deserialize)]
pub struct ReportsQ {
    space: String,
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct ImageQ {
    space: String,
    cid: String,
}

#[derive(Deserialize)]
pub struct SpaceIn {
    space: String,
}

#[derive(Deserialize)]
pub struct IdIn {
    space: String,
    id: String,
}

#[derive(Deserialize)]
pub struct TokenIn {
    token: String,
}

#[derive(Deserialize)]
pub struct JoinIn {
    space: String,
    answer: Option<String>,
}

#[derive(Deserialize)]
pub struct DecideIn {
    space: String,
    id: String,
    approve: bool,
}

#[derive(Deserialize)]
pub struct DidIn {
    space: String,
    did: String,
}

#[derive(Deserialize)]
pub struct BanIn {
    space: String,
    did: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
pub struct RoleIn {
    space: String,
    did: String,
    role: String,
}

#[derive(Deserialize)]
pub struct UriIn {
    uri: String,
}

#[derive(Deserialize)]
pub struct ReactIn {
    uri: String,
    emoji: String,
    remove: Option<bool>,
}

#[derive(Deserialize)]
pub struct HideIn {
    uri: String,
    hidden: bool,
    reason: Option<String>,
}

#[derive(Deserialize)]
pub struct PinIn {
    uri: String,
    pinned: bool,
}

#[derive(Deserialize)]
pub struct AnswerIn {
    uri: String,
    accepted: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeenIn {
    seen_at: String,
    space: Option<String>,
}

const PAGE: u32 = 50;

// ---- space ----

pub(super) async fn space_create(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<spaces::CreateSpace>,
) -> Out<spaces::SpaceWithChannels> {
    done(sp(&st).create_space(&did, i).await)
}

pub(super) async fn space_get(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
) -> Out<spaces::SpaceWithChannels> {
    done(sp(&st).get_space(&did, &q.space).await)
}

pub(super) async fn space_update(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<spaces::UpdateSpace>,
) -> Out<Value> {
    let space = sp(&st).update_space(&did, i).await.map_err(xrpc_error)?;
    Ok(Json(json!({ "space": space })))
}

pub(super) async fn space_delete(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<SpaceIn>,
) -> Out<Value> {
    empty(sp(&st).delete_space(&did, &i.space).await)
}

pub(super) async fn space_list_mine(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<PageQ>,
) -> Out<spaces::SpaceList> {
    done(
        sp(&st)
            .list_mine(&did, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

pub(super) async fn space_audit(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpacePageQ>,
) -> Out<spaces::AuditLog> {
    done(
        sp(&st)
            .audit_log(&did, &q.space, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

pub(super) async fn space_export(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpacePageQ>,
) -> Out<spaces::Export> {
    let limit = q.limit.unwrap_or(spaces::MAX_EXPORT_PAGE);
    done(sp(&st).export(&did, &q.space, limit, q.cursor).await)
}

// ---- channel ----

pub(super) async fn channel_create(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<spaces::CreateChannel>,
) -> Out<Value> {
    let channel = sp(&st).create_channel(&did, i).await.map_err(xrpc_error)?;
    Ok(Json(json!({ "channel": channel })))
}

pub(super) async fn channel_update(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<spaces::UpdateChannel>,
) -> Out<Value> {
    let channel = sp(&st).update_channel(&did, i).await.map_err(xrpc_error)?;
    Ok(Json(json!({ "channel": channel })))
}

// ---- invites and joining ----

pub(super) async fn invite_create(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<members::CreateInvite>,
) -> Out<members::CreatedInvite> {
    done(sp(&st).create_invite(&did, i).await)
}

pub(super) async fn invite_list(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
) -> Out<members::InviteList> {
    done(sp(&st).list_invites(&did, &q.space).await)
}

pub(super) async fn invite_revoke(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<IdIn>,
) -> Out<Value> {
    empty(sp(&st).revoke_invite(&did, &i.space, &i.id).await)
}

pub(super) async fn invite_accept(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<TokenIn>,
) -> Out<members::Joined> {
    done(sp(&st).accept_invite(&did, &i.token).await)
}

pub(super) async fn invite_preview(
    State(st): State<HttpState>,
    Caller(_): Caller,
    Params(q): Params<TokenIn>,
) -> Out<members::InvitePreview> {
    done(sp(&st).preview_invite(&q.token).await)
}

pub(super) async fn join_request(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<JoinIn>,
) -> Out<members::JoinOutcome> {
    done(sp(&st).request_join(&did, &i.space, i.answer).await)
}

pub(super) async fn join_list(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<JoinListQ>,
) -> Out<members::JoinRequestList> {
    done(sp(&st).list_requests(&did, &q.space, q.status).await)
}

pub(super) async fn join_decide(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<DecideIn>,
) -> Out<members::Decided> {
    done(
        sp(&st)
            .decide_request(&did, &i.space, &i.id, i.approve)
            .await,
    )
}

// ---- members ----

pub(super) async fn member_list(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpacePageQ>,
) -> Out<members::MemberList> {
    done(
        sp(&st)
            .list_members(&did, &q.space, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

pub(super) async fn member_set_role(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<RoleIn>,
) -> Out<members::MemberOut> {
    done(sp(&st).set_role(&did, &i.space, &i.did, &i.role).await)
}

pub(super) async fn member_remove(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<DidIn>,
) -> Out<Value> {
    empty(sp(&st).remove_member(&did, &i.space, &i.did).await)
}

pub(super) async fn member_ban(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<BanIn>,
) -> Out<Value> {
    empty(sp(&st).ban_member(&did, &i.space, &i.did, i.reason).await)
}

pub(super) async fn join_get_mine(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
) -> Out<members::Decided> {
    done(sp(&st).my_request(&did, &q.space).await)
}

pub(super) async fn join_cancel(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<SpaceIn>,
) -> Out<Value> {
    empty(sp(&st).cancel_request(&did, &i.space).await)
}

pub(super) async fn member_unban(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<DidIn>,
) -> Out<Value> {
    empty(sp(&st).unban_member(&did, &i.space, &i.did).await)
}

pub(super) async fn member_list_bans(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpacePageQ>,
) -> Out<members::BanList> {
    done(
        sp(&st)
            .list_bans(&did, &q.space, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

pub(super) async fn member_leave(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<SpaceIn>,
) -> Out<Value> {
    empty(sp(&st).leave(&did, &i.space).await)
}

// ---- posts ----

pub(super) async fn post_create(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<posts::CreatePost>,
) -> Out<posts::PostOut> {
    done(sp(&st).create_post(&did, i).await)
}

pub(super) async fn post_edit(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<posts::EditPost>,
) -> Out<posts::PostOut> {
    done(sp(&st).edit_post(&did, i).await)
}

pub(super) async fn post_delete(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<UriIn>,
) -> Out<Value> {
    empty(sp(&st).delete_post(&did, &i.uri).await)
}

pub(super) async fn post_react(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<ReactIn>,
) -> Out<posts::Reactions> {
    done(
        sp(&st)
            .react(&did, &i.uri, &i.emoji, i.remove.unwrap_or(false))
            .await,
    )
}

pub(super) async fn post_hide(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<HideIn>,
) -> Out<posts::PostOut> {
    done(sp(&st).hide_post(&did, &i.uri, i.hidden, i.reason).await)
}

pub(super) async fn post_pin(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<PinIn>,
) -> Out<posts::PostOut> {
    done(sp(&st).pin_post(&did, &i.uri, i.pinned).await)
}

pub(super) async fn post_mark_answer(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<AnswerIn>,
) -> Out<posts::PostOut> {
    done(sp(&st).mark_answer(&did, &i.uri, i.accepted).await)
}

/// Raw image bytes in, a blob reference out. The type is sniffed from the bytes.
pub(super) async fn post_upload_image(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
    body: axum::body::Body,
) -> Out<posts::Uploaded> {
    let bytes = axum::body::to_bytes(body, images::MAX_IMAGE_BYTES)
        .await
        .map_err(|_| XrpcError::payload_too_large("Images are limited to 5 MB"))?;
    done(sp(&st).upload_image(&did, &q.space, bytes.to_vec()).await)
}

/// The image bytes, only to members who may see them, never cached by shared caches.
pub(super) async fn post_get_image(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<ImageQ>,
) -> XrpcResult<Response> {
    let img = sp(&st)
        .get_image(&did, &q.space, &q.cid)
        .await
        .map_err(xrpc_error)?;
    Ok((
        [
            (header::CONTENT_TYPE, img.mime),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        img.bytes,
    )
        .into_response())
}

// ---- moderation ----

pub(super) async fn report_create(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<moderation::CreateReport>,
) -> Out<moderation::ReportOut> {
    done(sp(&st).report_post(&did, i).await)
}

pub(super) async fn moderation_list(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<ReportsQ>,
) -> Out<moderation::ReportQueue> {
    let status = match q.status.as_deref() {
        None => moderation::QueueStatus::Open,
        Some(s) => moderation::QueueStatus::parse(s)
            .ok_or_else(|| XrpcError::invalid_request("Unknown value for status"))?,
    };
    done(
        sp(&st)
            .list_reports(&did, &q.space, status, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

pub(super) async fn moderation_resolve(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<moderation::Resolve>,
) -> Out<moderation::Resolved> {
    done(sp(&st).resolve_reports(&did, i).await)
}

// ---- feeds ----

pub(super) async fn feed_channel(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<ChannelQ>,
) -> Out<posts::Feed> {
    done(
        sp(&st)
            .channel_feed(&did, &q.channel, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

pub(super) async fn feed_thread(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<ThreadQ>,
) -> Out<posts::Thread> {
    let limit = q.limit.unwrap_or(posts::MAX_THREAD_REPLIES as u32);
    done(sp(&st).thread(&did, &q.uri, limit, q.cursor).await)
}

// ---- notifications ----

pub(super) async fn notif_list(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<PageQ>,
) -> Out<notifications::NotificationList> {
    done(
        sp(&st)
            .list_notifications(&did, q.space, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

pub(super) async fn notif_unread(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Params(q): Params<PageQ>,
) -> Out<notifications::UnreadCount> {
    done(sp(&st).unread_count(&did, q.space).await)
}

pub(super) async fn notif_seen(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<SeenIn>,
) -> Out<Value> {
    empty(sp(&st).update_seen(&did, &i.seen_at, i.space).await)
}

pub(super) async fn notif_set_level(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<notifications::SetLevel>,
) -> Out<notifications::LevelOut> {
    done(sp(&st).set_level(&did, i).await)
}

pub(super) async fn notif_get_settings(
    State(st): State<HttpState>,
    Caller(did): Caller,
) -> Out<Settings> {
    done(sp(&st).get_settings(&did).await)
}

pub(super) async fn notif_put_settings(
    State(st): State<HttpState>,
    Caller(did): Caller,
    Input(i): Input<notifications::PutSettings>,
) -> Out<Settings> {
    done(sp(&st).put_settings(&did, i).await)
}

/// A small private page (the email links' answers).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em\">\
         <h1>{title}</h1>{body}</body></html>"
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(html),
    )
        .into_response()
}

/// A link token as the email carried it: base64url, short. Anything else is not ours.
fn link_token(token: &str) -> Option<&str> {
    (!token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(token)
}

fn link_answer(r: Result<(), SpaceError>, ok_title: &str, ok_body: &str) -> Response {
    match r {
        Ok(()) => page(StatusCode::OK, ok_title, ok_body),
        Err(SpaceError::Named(_, m)) => page(
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            &format!("<p>{m}.</p>"),
        ),
        Err(e) => xrpc_error(e).into_response(),
    }
}

/// The address confirmation link.
pub(super) async fn email_confirm(
    State(st): State<HttpState>,
    Path(token): Path<String>,
) -> Response {
    let r = match link_token(&token) {
        Some(t) => st.spaces.confirm_email(t, crate::model::now_ms()).await,
        None => Err(SpaceError::Named(
            "InvalidToken",
            "This confirmation link is not valid",
        )),
    };
    link_answer(
        r,
        "Email address confirmed",
        "<p>Hearth will now send the emails you chose in your notification settings.</p>",
    )
}

/// The unsubscribe link opened in a browser: a button, so that a link scanner fetching the
/// URL unsubscribes no one.
pub(super) async fn email_unsubscribe_page(Path(token): Path<String>) -> Response {
    if link_token(&token).is_none() {
        return link_answer(
            Err(SpaceError::Named(
                "InvalidToken",
                "This unsubscribe link is not valid",
            )),
            "",
            "",
        );
    }
    page(
        StatusCode::OK,
        "Stop email from Hearth",
        &format!(
            "<form method=\"post\" action=\"/email/unsubscribe/{token}\">\
             <button type=\"submit\">Stop all email from Hearth</button></form>"
        ),
    )
}

/// One-click unsubscribe (RFC 8058: a POST with `List-Unsubscribe=One-Click`, or the
/// button of the page above).
pub(super) async fn email_unsubscribe(
    State(st): State<HttpState>,
    Path(token): Path<String>,
) -> Response {
    let r = match link_token(&token) {
        Some(t) => st.spaces.unsubscribe(t).await,
        None => Err(SpaceError::Named(
            "InvalidToken",
            "This unsubscribe link is not valid",
        )),
    };
    link_answer(
        r,
        "Unsubscribed",
        "<p>Hearth will send no more email to this address. You can turn email on again in \
         your notification settings.</p>",
    )
}
