//! The stylesheet and the script, served under names that carry a hash of their content, so
//! browsers may keep them for a year and a new build is fetched at once.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = include_str!("hearth.css");
const JS: &str = include_str!("hearth.js");

struct Asset {
    path: String,
    body: &'static str,
    mime: &'static str,
}

fn hashed(stem: &str, ext: &str, body: &'static str, mime: &'static str) -> Asset {
    let h = Sha256::digest(body.as_bytes());
    let short: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Asset {
        path: format!("/assets/{stem}-{short}.{ext}"),
        body,
        mime,
    }
}

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        hashed("hearth", "css", CSS, "text/css; charset=utf-8"),
        hashed("hearth", "js", JS, "text/javascript; charset=utf-8"),
    ]
});

/// The stylesheet's URL path.
pub fn css() -> &'static str {
    &ASSETS[0].path
}

/// The script's URL path.
pub fn js() -> &'static str {
    &ASSETS[1].path
}

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let wanted = format!("/assets/{name}");
    match ASSETS.iter().find(|a| a.path == wanted) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.mime),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
