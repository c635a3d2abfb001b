//! The one error page: every failure of a page becomes [`WebError`], and this is where it gets
//! its status and its words.

use crate::pages::{Layout, render};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_spaces::model::SpaceError;

/// Why a page could not be shown or a form not acted on. Messages are shown to the person.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No such page, or nothing the viewer may see: one answer, so a refusal does not reveal
    /// whether a space exists.
    #[error("There is nothing here, or it is not yours to see")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "This form has expired or came from another site. Go back, reload the page and try again"
    )]
    Csrf,
    #[error("Too many attempts. Wait a minute and try again")]
    RateLimited,
    #[error("Something went wrong on our side. Try again in a moment")]
    Internal,
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden(_) | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            WebError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<SpaceError> for WebError {
    fn from(e: SpaceError) -> WebError {
        match e {
            SpaceError::NotMember | SpaceError::NotFound(_) => WebError::NotFound,
            SpaceError::Forbidden(m) => WebError::Forbidden(m.into()),
            SpaceError::Invalid(m) => WebError::BadRequest(m),
            SpaceError::Named(_, m) => WebError::BadRequest(m.into()),
            SpaceError::RateLimited => WebError::RateLimited,
            e @ (SpaceError::Db(_) | SpaceError::Sqlite(_) | SpaceError::Io(_)) => {
                tracing::error!(error = %e, "web: spaces service failed");
                WebError::Internal
            }
        }
    }
}

impl From<hearth_db::DbError> for WebError {
    fn from(e: hearth_db::DbError) -> WebError {
        tracing::error!(error = %e, "web: sessions database failed");
        WebError::Internal
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        let page = ErrorPage {
            layout: Layout::bare("Something is not right"),
            status: status.as_u16(),
            message: &message,
        };
        let mut res = render(&page);
        *res.status_mut() = status;
        res
    }
}
