//! Invites (`/s/{skey}/invite`, admins): make a link with an expiry and a use limit, see it as
//! text and as a QR code, list the space's invites and revoke one. A link's token is shown
//! once, on the page that made it; the service keeps only its hash.

use super::organize::{AdminNav, role_of, space_uri};
use super::{Layout, render};
use crate::Web;
use crate::http::error::WebError;
use crate::http::extract::Form;
use crate::session::Viewer;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_spaces::model::Role;
use hearth_spaces::ops::members::CreateInvite;
use hearth_spaces::views::InviteView;
use serde::Deserialize;

/// How long a new link may last, as the form offers it: (hours, words).
pub const EXPIRY_CHOICES: &[(i64, &str)] = &[
    (24, "1 day"),
    (7 * 24, "7 days"),
    (30 * 24, "30 days"),
    (365 * 24, "1 year"),
];

/// A link just made, shown once.
struct NewLink {
    link: String,
    qr: String,
}

struct InviteRow {
    id: String,
    role: String,
    uses: String,
    expires: String,
    live: bool,
}

#[derive(Template)]
#[template(path = "invites.html")]
struct InvitesPage {
    layout: Layout,
    nav: AdminNav,
    new_link: Option<NewLink>,
    invites: Vec<InviteRow>,
    expiry_choices: &'static [(i64, &'static str)],
    owner: bool,
}

fn invite_row(i: InviteView) -> InviteRow {
    let now = atproto::syntax::Datetime::now().to_string();
    let expired = i.expires_at.as_deref().is_some_and(|e| e <= now.as_str());
    let used_up = i.max_uses.is_some_and(|m| i.uses >= m);
    InviteRow {
        uses: match i.max_uses {
            Some(m) => format!("{} of {m}", i.uses),
            None => i.uses.to_string(),
        },
        expires: i.expires_at.unwrap_or_else(|| "never".into()),
        live: !(i.revoked || expired || used_up),
        id: i.id,
        role: i.role,
    }
}

async fn show(
    web: &Web,
    v: &Viewer,
    skey: &str,
    new_link: Option<NewLink>,
) -> Result<Response, WebError> {
    let uri = space_uri(web, skey);
    let (space, list) = tokio::join!(
        web.spaces.get_space(&v.did, &uri),
        web.spaces.list_invites(&v.did, &uri)
    );
    let space = space?.space;
    let role = role_of(&space);
    Ok(render(&InvitesPage {
        layout: Layout::signed_in(&format!("Invite to {}", space.name), v),
        nav: AdminNav {
            skey: skey.to_owned(),
            name: space.name,
            admin: role >= Role::Admin,
            moderator: role >= Role::Moderator,
        },
        new_link,
        invites: list?.invites.into_iter().map(invite_row).collect(),
        expiry_choices: EXPIRY_CHOICES,
        owner: role == Role::Owner,
    }))
}

/// `GET /s/{skey}/invite`.
pub async fn page(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
) -> Result<Response, WebError> {
    show(&web, &v, &skey, None).await
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: String,
    expires_in_hours: i64,
    max_uses: i64,
    role: String,
}

/// `POST /s/{skey}/invite`: makes a link and shows it (and its QR code) once.
pub async fn create(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    headers: HeaderMap,
    Form(f): Form<CreateForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    if !(1..=10_000).contains(&f.max_uses) || !(1..=8760).contains(&f.expires_in_hours) {
        return Err(WebError::BadRequest(
            "Choose 1 to 10,000 uses and an expiry from the list".into(),
        ));
    }
    let made = web
        .spaces
        .create_invite(
            &v.did,
            CreateInvite {
                space: space_uri(&web, &skey),
                role: Some(f.role),
                max_uses: Some(f.max_uses),
                expires_in_hours: Some(f.expires_in_hours),
                invitee: None,
            },
        )
        .await?;
    let qr = crate::qr::svg(&made.link, "QR code of the invite link").map_err(|e| {
        tracing::error!(error = %e, "web: invite QR code");
        WebError::Internal
    })?;
    show(
        &web,
        &v,
        &skey,
        Some(NewLink {
            link: made.link,
            qr,
        }),
    )
    .await
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: String,
    id: String,
}

/// `POST /s/{skey}/invite/revoke`.
pub async fn revoke(
    State(web): State<Web>,
    v: Viewer,
    Path(skey): Path<String>,
    headers: HeaderMap,
    Form(f): Form<RevokeForm>,
) -> Result<Response, WebError> {
    crate::csrf::check(&headers, &web.origin, &v.csrf, &f.csrf)?;
    web.spaces
        .revoke_invite(&v.did, &space_uri(&web, &skey), &f.id)
        .await?;
    Ok(Redirect::to(&format!("/s/{skey}/invite")).into_response())
}
