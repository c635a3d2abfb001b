//! The social.hearth XRPC surface: thin handlers (parse → service → map errors).
//!
//! Extractors do the common work, in order: the service-auth token (`Caller`: signature,
//! `aud`, `lxm`, `exp`; a fresh `jti` on every write; the per-DID rate limit), then the input,
//! validated against the method's lexicon before any field is read. Validation and parse errors
//! name the field and the rule, never the value, so no private text comes back in an error.

use super::lexicons;
use super::model::SpaceError;
use super::service::Spaces;
use super::{members, notify, posts, service};
use crate::auth::Viewer;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Largest JSON input (a post is at most 30 KB of text plus facets).
const MAX_INPUT_BYTES: usize = 256 * 1024;

/// Maps the service's refusals onto XRPC errors. Internal failures are logged by
/// `XrpcError::internal` and answered generically.
pub fn xrpc_error(e: SpaceError) -> XrpcError {
    match e {
        SpaceError::NotMember => XrpcError::forbidden(SpaceError::NotMember.to_string()),
        SpaceError::NotFound(m) => XrpcError::not_found("NotFound", m),
        SpaceError::Forbidden(m) => XrpcError::forbidden(m),
        SpaceError::Invalid(m) => XrpcError::invalid_request(m),
        SpaceError::Named(name, m) => XrpcError::named(name, m),
        SpaceError::RateLimited => XrpcError::rate_limited(),
        e @ (SpaceError::Db(_) | SpaceError::Sqlite(_) | SpaceError::Io(_)) => {
            XrpcError::internal(e)
        }
    }
}

fn nsid_of(path: &str) -> &str {
    path.strip_prefix("/xrpc/").unwrap_or_default()
}

/// The authenticated caller of a social.hearth method.
pub struct Caller(pub String);

impl FromRequestParts<AppState> for Caller {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, XrpcError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        // Service tokens are short-lived: a PDS proxying mints one per call (60 s), and
        // getServiceAuth allows at most an hour. A token valid for longer would be a standing
        // credential if it leaked.
        if crate::auth::outlives_write_limit(viewer.exp, crate::state::now_secs()) {
            return Err(XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "BadJwtExpiration",
                "Service tokens for social.hearth methods may be valid for at most an hour",
            ));
        }
        let write = parts.method == Method::POST;
        // A write needs a token never seen before: a captured token cannot be replayed.
        if write && !state.replay.first_use(&viewer) {
            return Err(XrpcError::new(
                StatusCode::UNAUTHORIZED,
                "TokenReplayed",
                "This service token was already used; every write needs a fresh one",
            ));
        }
        if !state.spaces.limits.did(&viewer.did, write) {
            return Err(XrpcError::rate_limited());
        }
        Ok(Caller(viewer.did))
    }
}

/// A JSON input, validated against the method's lexicon.
pub struct Input<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Input<T> {
    type Rejection = XrpcError;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, XrpcError> {
        let nsid = nsid_of(req.uri().path()).to_owned();
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !is_json {
            return Err(XrpcError::invalid_request(
                "Expected a JSON body (Content-Type: application/json)",
            ));
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_INPUT_BYTES)
            .await
            .map_err(|_| XrpcError::payload_too_large("Input is too large"))?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|_| XrpcError::invalid_request("Input is not valid JSON"))?;
        let data = atproto::data::json::from_json(&json)
            .map_err(|_| XrpcError::invalid_request("Input is not valid atproto data"))?;
        lexicons::catalog()
            .validate_input(&nsid, &data)
            .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
        serde_json::from_value(json)
            .map(Input)
            .map_err(|_| XrpcError::invalid_request("Input does not match the method's schema"))
    }
}

/// Query parameters, validated against the method's lexicon.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for Params<T> {
    type Rejection = XrpcError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, XrpcError> {
        let nsid = nsid_of(parts.uri.path());
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        lexicons::catalog()
            .validate_params(nsid, &pairs)
            .map_err(|e| XrpcError::invalid_request(e.to_string()))?;
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(v)| Params(v))
            .map_err(|_| XrpcError::invalid_request("Parameters do not match the method's schema"))
    }
}

type Out<T> = XrpcResult<Json<T>>;

fn done<T>(r: Result<T, SpaceError>) -> Out<T> {
    r.map(Json).map_err(xrpc_error)
}

fn empty(r: Result<(), SpaceError>) -> Out<Value> {
    r.map(|()| Json(json!({}))).map_err(xrpc_error)
}

fn sp(state: &AppState) -> &Spaces {
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
pub struct UriQ {
    uri: String,
}

#[derive(Deserialize)]
pub struct JoinListQ {
    space: String,
    status: Option<String>,
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
}

const PAGE: u32 = 50;

// ---- space ----

async fn space_create(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<service::CreateSpace>,
) -> Out<service::SpaceWithChannels> {
    done(sp(&st).create_space(&did, i).await)
}

async fn space_get(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
) -> Out<service::SpaceWithChannels> {
    done(sp(&st).get_space(&did, &q.space).await)
}

async fn space_update(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<service::UpdateSpace>,
) -> Out<Value> {
    let space = sp(&st).update_space(&did, i).await.map_err(xrpc_error)?;
    Ok(Json(json!({ "space": space })))
}

async fn space_delete(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<SpaceIn>,
) -> Out<Value> {
    empty(sp(&st).delete_space(&did, &i.space).await)
}

async fn space_list_mine(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<PageQ>,
) -> Out<service::SpaceList> {
    done(
        sp(&st)
            .list_mine(&did, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

async fn space_audit(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<SpacePageQ>,
) -> Out<service::AuditLog> {
    done(
        sp(&st)
            .audit_log(&did, &q.space, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

async fn space_export(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
) -> Out<service::Export> {
    done(sp(&st).export(&did, &q.space).await)
}

// ---- channel ----

async fn channel_create(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<service::CreateChannel>,
) -> Out<Value> {
    let channel = sp(&st).create_channel(&did, i).await.map_err(xrpc_error)?;
    Ok(Json(json!({ "channel": channel })))
}

async fn channel_update(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<service::UpdateChannel>,
) -> Out<Value> {
    let channel = sp(&st).update_channel(&did, i).await.map_err(xrpc_error)?;
    Ok(Json(json!({ "channel": channel })))
}

// ---- invites and joining ----

async fn invite_create(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<members::CreateInvite>,
) -> Out<members::CreatedInvite> {
    done(sp(&st).create_invite(&did, i).await)
}

async fn invite_list(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
) -> Out<members::InviteList> {
    done(sp(&st).list_invites(&did, &q.space).await)
}

async fn invite_revoke(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<IdIn>,
) -> Out<Value> {
    empty(sp(&st).revoke_invite(&did, &i.space, &i.id).await)
}

async fn invite_accept(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<TokenIn>,
) -> Out<members::Joined> {
    done(sp(&st).accept_invite(&did, &i.token).await)
}

async fn join_request(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<JoinIn>,
) -> Out<members::JoinOutcome> {
    done(sp(&st).request_join(&did, &i.space, i.answer).await)
}

async fn join_list(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<JoinListQ>,
) -> Out<members::JoinRequestList> {
    done(sp(&st).list_requests(&did, &q.space, q.status).await)
}

async fn join_decide(
    State(st): State<AppState>,
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

async fn member_list(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<SpacePageQ>,
) -> Out<members::MemberList> {
    done(
        sp(&st)
            .list_members(&did, &q.space, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

async fn member_set_role(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<RoleIn>,
) -> Out<members::MemberOut> {
    done(sp(&st).set_role(&did, &i.space, &i.did, &i.role).await)
}

async fn member_remove(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<DidIn>,
) -> Out<Value> {
    empty(sp(&st).remove_member(&did, &i.space, &i.did).await)
}

async fn member_ban(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<BanIn>,
) -> Out<Value> {
    empty(sp(&st).ban_member(&did, &i.space, &i.did, i.reason).await)
}

async fn member_leave(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<SpaceIn>,
) -> Out<Value> {
    empty(sp(&st).leave(&did, &i.space).await)
}

// ---- posts ----

async fn post_create(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<posts::CreatePost>,
) -> Out<posts::PostOut> {
    done(sp(&st).create_post(&did, i).await)
}

async fn post_edit(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<posts::EditPost>,
) -> Out<posts::PostOut> {
    done(sp(&st).edit_post(&did, i).await)
}

async fn post_delete(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<UriIn>,
) -> Out<Value> {
    empty(sp(&st).delete_post(&did, &i.uri).await)
}

async fn post_react(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<ReactIn>,
) -> Out<posts::Reactions> {
    done(
        sp(&st)
            .react(&did, &i.uri, &i.emoji, i.remove.unwrap_or(false))
            .await,
    )
}

async fn post_hide(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<HideIn>,
) -> Out<posts::PostOut> {
    done(sp(&st).hide_post(&did, &i.uri, i.hidden, i.reason).await)
}

async fn post_pin(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<PinIn>,
) -> Out<posts::PostOut> {
    done(sp(&st).pin_post(&did, &i.uri, i.pinned).await)
}

async fn post_mark_answer(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<AnswerIn>,
) -> Out<posts::PostOut> {
    done(sp(&st).mark_answer(&did, &i.uri, i.accepted).await)
}

/// Raw image bytes in, a blob reference out. The type is sniffed from the bytes.
async fn post_upload_image(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<SpaceQ>,
    body: axum::body::Body,
) -> Out<posts::Uploaded> {
    let bytes = axum::body::to_bytes(body, super::images::MAX_IMAGE_BYTES)
        .await
        .map_err(|_| XrpcError::payload_too_large("Images are limited to 5 MB"))?;
    done(sp(&st).upload_image(&did, &q.space, bytes.to_vec()).await)
}

/// The image bytes, only to members who may see them, never cached by shared caches.
async fn post_get_image(
    State(st): State<AppState>,
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

// ---- feeds ----

async fn feed_channel(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<ChannelQ>,
) -> Out<posts::Feed> {
    done(
        sp(&st)
            .channel_feed(&did, &q.channel, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

async fn feed_thread(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<UriQ>,
) -> Out<posts::Thread> {
    done(sp(&st).thread(&did, &q.uri).await)
}

// ---- notifications ----

async fn notif_list(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<PageQ>,
) -> Out<notify::NotificationList> {
    done(
        sp(&st)
            .list_notifications(&did, q.space, q.limit.unwrap_or(PAGE), q.cursor)
            .await,
    )
}

async fn notif_unread(
    State(st): State<AppState>,
    Caller(did): Caller,
    Params(q): Params<PageQ>,
) -> Out<notify::UnreadCount> {
    done(sp(&st).unread_count(&did, q.space).await)
}

async fn notif_seen(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<SeenIn>,
) -> Out<Value> {
    empty(sp(&st).update_seen(&did, &i.seen_at).await)
}

async fn notif_set_level(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<notify::SetLevel>,
) -> Out<notify::LevelOut> {
    done(sp(&st).set_level(&did, i).await)
}

async fn notif_get_settings(
    State(st): State<AppState>,
    Caller(did): Caller,
) -> Out<super::views::Settings> {
    done(sp(&st).get_settings(&did).await)
}

async fn notif_put_settings(
    State(st): State<AppState>,
    Caller(did): Caller,
    Input(i): Input<notify::PutSettings>,
) -> Out<super::views::Settings> {
    done(sp(&st).put_settings(&did, i).await)
}

/// The page an invite link opens. It shows nothing of the space (not even its name: the link
/// may have been forwarded); joining happens in the Hearth web app, signed in.
async fn join_page(State(st): State<AppState>, Path(token): Path<String>) -> Response {
    let token_ok = !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let token_line = if token_ok {
        format!("<p>Your invite code: <code>{token}</code></p>")
    } else {
        String::new()
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>Hearth invite</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em\">\
         <h1>You have been invited to a space on Hearth</h1>\
         <p>Open this link in the Hearth web app and sign in with your Bluesky (atproto) account \
         to join. No new account is needed.</p>{token_line}\
         <p>Developers: call <code>social.hearth.invite.accept</code> with this code through your \
         PDS (<code>atproto-proxy: {}#hearth_appview</code>).</p></body></html>",
        st.service_did
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(page),
    )
        .into_response()
}

/// Every social.hearth method, plus the invite landing page.
pub fn router(state: AppState) -> Router {
    let x = |nsid: &str| format!("/xrpc/social.hearth.{nsid}");
    Router::new()
        .route(&x("space.create"), post(space_create))
        .route(&x("space.get"), get(space_get))
        .route(&x("space.update"), post(space_update))
        .route(&x("space.delete"), post(space_delete))
        .route(&x("space.listMine"), get(space_list_mine))
        .route(&x("space.getAuditLog"), get(space_audit))
        .route(&x("space.export"), get(space_export))
        .route(&x("channel.create"), post(channel_create))
        .route(&x("channel.update"), post(channel_update))
        .route(&x("invite.create"), post(invite_create))
        .route(&x("invite.list"), get(invite_list))
        .route(&x("invite.revoke"), post(invite_revoke))
        .route(&x("invite.accept"), post(invite_accept))
        .route(&x("join.request"), post(join_request))
        .route(&x("join.list"), get(join_list))
        .route(&x("join.decide"), post(join_decide))
        .route(&x("member.list"), get(member_list))
        .route(&x("member.setRole"), post(member_set_role))
        .route(&x("member.remove"), post(member_remove))
        .route(&x("member.ban"), post(member_ban))
        .route(&x("member.leave"), post(member_leave))
        .route(&x("post.create"), post(post_create))
        .route(&x("post.edit"), post(post_edit))
        .route(&x("post.delete"), post(post_delete))
        .route(&x("post.react"), post(post_react))
        .route(&x("post.hide"), post(post_hide))
        .route(&x("post.pin"), post(post_pin))
        .route(&x("post.markAnswer"), post(post_mark_answer))
        .route(&x("post.uploadImage"), post(post_upload_image))
        .route(&x("post.getImage"), get(post_get_image))
        .route(&x("feed.getChannel"), get(feed_channel))
        .route(&x("feed.getThread"), get(feed_thread))
        .route(&x("notification.list"), get(notif_list))
        .route(&x("notification.getUnreadCount"), get(notif_unread))
        .route(&x("notification.updateSeen"), post(notif_seen))
        .route(&x("notification.setLevel"), post(notif_set_level))
        .route(&x("notification.getSettings"), get(notif_get_settings))
        .route(&x("notification.putSettings"), post(notif_put_settings))
        .route("/join/{token}", get(join_page))
        .with_state(state)
}
