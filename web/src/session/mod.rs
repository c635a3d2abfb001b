//! Server-side sessions. The browser holds only a random 256-bit id in an `HttpOnly`,
//! `SameSite=Lax` cookie (`Secure` outside development); the row (DID, handle, CSRF token)
//! lives in `web.sqlite` under the id's SHA-256. Signing in always makes a new id (a planted
//! cookie never becomes a signed-in one) and signing out deletes the row.
//!
//! [`Viewer`] is the extractor of pages that need someone signed in: a request without a live
//! session is sent to the sign-in page, with a path back.

mod store;

use crate::Web;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_db::{Db, DbError};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The session cookie's name.
pub const COOKIE: &str = "hearth_session";
/// How long a session lasts.
pub const LIFETIME_SECS: i64 = 30 * 24 * 3600;

/// The sessions database.
#[derive(Clone)]
pub struct Sessions {
    db: Db<()>,
    /// Whether cookies carry `Secure` (everywhere but development).
    secure: bool,
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub did: String,
    pub handle: String,
    /// The token this session's forms carry.
    pub csrf: String,
    id_hash: Vec<u8>,
}

/// A session just made: the row, and the cookie that names it.
pub struct Created {
    pub session: Session,
    pub set_cookie: HeaderValue,
}

/// 256 random bits, base64url.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

fn now_secs() -> i64 {
    atproto::syntax::Datetime::unix_now_secs()
}

impl Sessions {
    /// Opens (creating and migrating) the sessions database at `path`.
    pub fn open(path: &Path, secure: bool) -> Result<Sessions, DbError> {
        let db = Db::open(path, store::MIGRATIONS, 2, |_| Ok(()))?;
        Ok(Sessions { db, secure })
    }

    /// Makes a new session for `did` (a fresh id, whatever cookie the browser had), and
    /// forgets expired ones.
    pub async fn create(&self, did: &str, handle: &str) -> Result<Created, DbError> {
        let id = random_token();
        let session = Session {
            did: did.to_owned(),
            handle: handle.to_owned(),
            csrf: random_token(),
            id_hash: hash(&id),
        };
        let row = session.clone();
        self.db
            .writer
            .run(move |txn| {
                let now = now_secs();
                store::delete_expired(txn.conn, now)?;
                store::insert(
                    txn.conn,
                    &store::NewRow {
                        id_hash: &row.id_hash,
                        did: &row.did,
                        handle: &row.handle,
                        csrf: &row.csrf,
                        now,
                        expires_at: now + LIFETIME_SECS,
                    },
                )
            })
            .await?;
        Ok(Created {
            session,
            set_cookie: self.cookie(&id, LIFETIME_SECS),
        })
    }

    /// The live session a cookie value names.
    pub async fn get(&self, id: &str) -> Result<Option<Session>, DbError> {
        let id_hash = hash(id);
        self.db
            .readers
            .read(move |conn| {
                Ok(store::get(conn, &id_hash, now_secs())?.map(|r| Session {
                    did: r.did,
                    handle: r.handle,
                    csrf: r.csrf,
                    id_hash,
                }))
            })
            .await
    }

    /// Ends a session (signing out): its row is deleted, so its cookie is worthless even if
    /// the browser keeps it.
    pub async fn end(&self, session: &Session) -> Result<(), DbError> {
        let id_hash = session.id_hash.clone();
        self.db
            .writer
            .run(move |txn| store::delete(txn.conn, &id_hash).map(|_| ()))
            .await
    }

    /// The `Set-Cookie` that clears the session cookie.
    pub fn clear_cookie(&self) -> HeaderValue {
        self.cookie("", 0)
    }

    /// A cookie of this app's attributes (`name=value`), valid for `max_age` seconds.
    pub fn cookie_named(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let s =
            format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}");
        // Names are ours and values base64url: always a valid header value.
        HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn cookie(&self, id: &str, max_age: i64) -> HeaderValue {
        self.cookie_named(COOKIE, id, max_age)
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The session of a request, if it names a live one. A database failure reads as signed out
/// (and is logged): the page then offers to sign in rather than failing.
pub async fn of_request(web: &Web, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(headers, COOKIE)?;
    match web.sessions.get(id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "web: session look-up failed");
            None
        }
    }
}

/// The signed-in viewer of a page. Without a live session the request is redirected to the
/// sign-in page, which comes back here afterwards.
#[derive(Debug, Clone)]
pub struct Viewer(pub Session);

impl std::ops::Deref for Viewer {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl FromRequestParts<Web> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        match of_request(web, &parts.headers).await {
            Some(s) => Ok(Viewer(s)),
            None => {
                let back = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned();
                Err(Redirect::to(&signin_url(&back)).into_response())
            }
        }
    }
}

/// The viewer if someone is signed in (pages that look different signed out).
#[derive(Debug, Clone)]
pub struct MaybeViewer(pub Option<Session>);

impl FromRequestParts<Web> for MaybeViewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Self, Self::Rejection> {
        Ok(MaybeViewer(of_request(web, &parts.headers).await))
    }
}

/// The sign-in page, returning to `back` (a path on this site) afterwards.
pub fn signin_url(back: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("next", back);
    format!("/signin?{}", q.finish())
}

/// A path to return to after signing in: only a path on this site (`/…`, not `//host`), so the
/// sign-in page cannot be made to send someone elsewhere.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(safe_next(Some("/s/abc?x=1")), "/s/abc?x=1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/a\nb")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn reads_a_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; hearth_session=xyz"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_id_and_gone_once_ended() {
        let dir = tempfile::tempdir().expect("dir");
        let s = Sessions::open(&dir.path().join("web.sqlite"), true).expect("open");
        let a = s.create("did:plc:a", "a.test").await.expect("create");
        let b = s.create("did:plc:a", "a.test").await.expect("create");
        let id_of = |c: &HeaderValue| {
            let v = c.to_str().expect("ascii");
            assert!(v.contains("HttpOnly") && v.contains("SameSite=Lax") && v.contains("Secure"));
            v.split(';')
                .next()
                .and_then(|kv| kv.split_once('='))
                .map(|(_, v)| v.to_owned())
                .expect("id")
        };
        let (ia, ib) = (id_of(&a.set_cookie), id_of(&b.set_cookie));
        assert_ne!(ia, ib, "every sign-in gets a new id");
        assert_ne!(a.session.csrf, b.session.csrf);
        let got = s.get(&ia).await.expect("get").expect("live");
        assert_eq!(got.did, "did:plc:a");
        s.end(&got).await.expect("end");
        assert!(s.get(&ia).await.expect("get").is_none(), "ended");
        assert!(
            s.get(&ib).await.expect("get").is_some(),
            "the other session lives"
        );
        assert!(s.get("nonsense").await.expect("get").is_none());
    }
}
