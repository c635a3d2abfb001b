//! The authorization step: the person's browser arrives with a pushed request, signs in (or
//! picks an account this browser signed in to), and accepts or denies; the answer goes back
//! to the client's redirect URI with a single-use code, the `state` and the issuer.

use super::error::OAuthError;
use super::par::{self, AuthParams};
use super::store;
use crate::accounts::{AccountStatus, store as accounts};
use crate::auth::verify_password;
use crate::clock::Clock;
use crate::db::{DbError, Readers, WriteTxn, Writer};
use hearth_oauth::scope::{PermissionSets, RepoAction, Scope, ScopeSet};
use sha2::{Digest, Sha256};

/// How long a code may wait for its exchange.
pub const CODE_TTL: i64 = 2 * 60;
/// How long a browser's sign-in is offered in the account chooser.
pub const DEVICE_SIGN_IN_TTL: i64 = 7 * 24 * 3600;

/// A pushed request waiting for the person.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub client_id: String,
    pub params: AuthParams,
}

/// An account that may approve: (id, DID, handle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub id: i64,
    pub did: String,
    pub handle: Option<String>,
}

/// The hash under which a secret (code, refresh token, browser id) is stored.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The pending request `request_uri` names, for `client_id`: unknown, expired, already
/// answered or another client's are all the same refusal.
pub async fn pending(
    readers: &Readers,
    clock: Clock,
    request_uri: &str,
    client_id: &str,
) -> Result<Pending, OAuthError> {
    let id = par::request_id(request_uri)?.to_owned();
    let row = readers
        .read(move |c| store::request(c, &id))
        .await?
        .filter(|r| r.client_id == client_id && !r.has_code && r.expires_at > clock.now_secs())
        .ok_or_else(|| {
            OAuthError::InvalidRequestUri(
                "This sign-in request is unknown or has expired. Go back to the app and start again."
                    .into(),
            )
        })?;
    let params: AuthParams =
        serde_json::from_str(&row.params).map_err(|e| OAuthError::InvalidRequest(e.to_string()))?;
    Ok(Pending {
        id: row.id,
        client_id: row.client_id,
        params,
    })
}

/// Checks a handle (or email, or DID) and the account's own password: an app password does
/// not sign in to authorize apps. Slow by design (Argon2).
pub async fn sign_in(
    readers: &Readers,
    identifier: &str,
    password: &str,
) -> Result<Option<Signer>, OAuthError> {
    let ident = identifier
        .trim()
        .trim_start_matches('@')
        .to_ascii_lowercase();
    let found = readers
        .read(move |c| accounts::by_identifier(c, &ident))
        .await?;
    let Some(a) = found else {
        return Ok(None);
    };
    if a.status == AccountStatus::Takendown {
        return Ok(None);
    }
    let (password, hash) = (password.to_owned(), a.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| DbError::Task(e.to_string()))?;
    Ok(ok.then_some(Signer {
        id: a.id,
        did: a.did,
        handle: a.handle,
    }))
}

/// Remembers that this browser (by its device cookie) signed in to `account`.
pub async fn remember_device(
    writer: &Writer,
    clock: Clock,
    device: &str,
    account: i64,
) -> Result<(), OAuthError> {
    let (hash, now) = (secret_hash(device), clock.now_secs());
    writer
        .run(move |txn: &mut WriteTxn<'_>| store::add_device_account(txn.conn, &hash, account, now))
        .await?;
    Ok(())
}

/// The active accounts this browser signed in to lately.
pub async fn device_accounts(
    readers: &Readers,
    clock: Clock,
    device: &str,
) -> Result<Vec<Signer>, OAuthError> {
    let (hash, since) = (secret_hash(device), clock.now_secs() - DEVICE_SIGN_IN_TTL);
    let rows = readers
        .read(move |c| store::device_accounts(c, &hash, since))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, did, handle)| Signer { id, did, handle })
        .collect())
}

/// Approves a pending request for `account`: returns the code. A request is answered once.
pub async fn approve(
    writer: &Writer,
    clock: Clock,
    request_id: &str,
    account: i64,
) -> Result<String, OAuthError> {
    let code = format!("cod-{}", par::random_id());
    let (hash, id, now) = (secret_hash(&code), request_id.to_owned(), clock.now_secs());
    let done = writer
        .run(move |txn: &mut WriteTxn<'_>| {
            store::approve_request(txn.conn, &id, account, &hash, now + CODE_TTL)
        })
        .await?;
    if !done {
        return Err(OAuthError::InvalidRequestUri(
            "This sign-in request was already answered".into(),
        ));
    }
    Ok(code)
}

/// Denies a pending request: it is gone.
pub async fn deny(writer: &Writer, request_id: &str) -> Result<(), OAuthError> {
    let id = request_id.to_owned();
    writer
        .run(move |txn: &mut WriteTxn<'_>| store::delete_request(txn.conn, &id))
        .await?;
    Ok(())
}

/// Where the browser goes back to: the redirect URI with the answer in its query or fragment
/// (`code` or `error`, then `state` and `iss`, RFC 9207).
pub fn redirect(params: &AuthParams, issuer: &str, answer: &[(&str, &str)]) -> String {
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (k, v) in answer {
        pairs.append_pair(k, v);
    }
    if let Some(state) = &params.state {
        pairs.append_pair("state", state);
    }
    pairs.append_pair("iss", issuer);
    let encoded = pairs.finish();
    let sep = if params.response_mode == "fragment" {
        '#'
    } else if params.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}{encoded}", params.redirect_uri)
}

/// The requested permissions in plain words, for the consent page and the apps page. An
/// `include:` is shown as the permissions its set grants here (the set's own namespace only),
/// from `sets`: bundled, or resolved at PAR.
pub fn describe_scope(scope: &str, sets: &impl PermissionSets) -> Vec<String> {
    let mut out = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        let lines = match s {
            "atproto" => vec!["Know your account's identity (your handle and DID)".to_owned()],
            "transition:generic" => vec![
                "Read and write everything an app password can: posts, likes, follows, profile, \
                 images, and calls to other services as you"
                    .to_owned(),
            ],
            "transition:chat.bsky" => vec!["Read and send your Bluesky direct messages".to_owned()],
            other if other.starts_with("include:") => describe_include(other, sets),
            other => vec![describe_granular(other)],
        };
        for line in lines {
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

fn describe_include(s: &str, sets: &impl PermissionSets) -> Vec<String> {
    let (Ok(Scope::Include { nsid, .. }), Ok(set)) =
        (Scope::parse(s), ScopeSet::parse_with(s, sets))
    else {
        return vec![format!("Permission {s}")];
    };
    if !set.unresolved().is_empty() {
        return vec![format!("Nothing: {nsid} is unknown to this server")];
    }
    let lines: Vec<String> = set.included().iter().map(describe_permission).collect();
    if lines.is_empty() {
        return vec![format!("Nothing: {nsid} grants nothing here")];
    }
    lines
}

/// One permission a set expanded to (several collections or methods in one line).
fn describe_permission(p: &Scope) -> String {
    let list = |v: &[String]| {
        if v.iter().any(|x| x == "*") {
            "any kind".to_owned()
        } else {
            v.join(", ")
        }
    };
    match p {
        Scope::Repo {
            collections,
            actions,
        } => {
            let verbs = if actions.len() == RepoAction::ALL.len() {
                "Create, change and delete".to_owned()
            } else {
                actions
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!(
                "{verbs} records of {} in your repository",
                list(collections)
            )
        }
        Scope::Rpc { lxm, .. } => format!("Call {} on other services as you", list(lxm)),
        Scope::Blob { accept } => format!("Upload files of type {}", accept.join(", ")),
        other => describe_granular(&other.to_string()),
    }
}

fn describe_granular(s: &str) -> String {
    let (resource, rest) = s.split_once(':').unwrap_or((s, ""));
    let (what, query) = rest.split_once('?').unwrap_or((rest, ""));
    let what = if what.is_empty() || what == "*" {
        "any kind".to_owned()
    } else {
        what.to_owned()
    };
    match resource {
        "repo" => {
            let actions: Vec<&str> = query
                .split('&')
                .filter_map(|p| p.strip_prefix("action="))
                .collect();
            let verbs = if actions.is_empty() {
                "Create, change and delete".to_owned()
            } else {
                actions.join(", ")
            };
            format!("{verbs} records of {what} in your repository")
        }
        "blob" => format!("Upload files of type {what}"),
        "rpc" => format!("Call {what} on other services as you"),
        "account" => format!("See or manage your account's {what}"),
        "identity" => format!("Change your identity ({what})"),
        _ => format!("Permission {s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(mode: &str, state: Option<&str>) -> AuthParams {
        AuthParams {
            redirect_uri: "http://127.0.0.1:5555/cb".into(),
            scope: "atproto".into(),
            state: state.map(str::to_owned),
            code_challenge: "x".into(),
            login_hint: None,
            response_mode: mode.into(),
            prompt: None,
        }
    }

    #[test]
    fn the_redirect_carries_code_state_and_issuer() {
        let url = redirect(
            &params("query", Some("a b&c")),
            "https://pds.example",
            &[("code", "cod-1")],
        );
        assert_eq!(
            url,
            "http://127.0.0.1:5555/cb?code=cod-1&state=a+b%26c&iss=https%3A%2F%2Fpds.example"
        );
        let url = redirect(
            &params("fragment", None),
            "https://pds.example",
            &[("error", "access_denied")],
        );
        assert_eq!(
            url,
            "http://127.0.0.1:5555/cb#error=access_denied&iss=https%3A%2F%2Fpds.example"
        );
    }

    #[test]
    fn scopes_are_described_in_plain_words() {
        let lines = describe_scope(
            "atproto transition:generic repo:app.bsky.feed.post?action=create",
            hearth_lexicons::catalog(),
        );
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("identity"));
        assert!(
            lines[2].contains("create records of app.bsky.feed.post"),
            "{lines:?}"
        );
    }

    #[test]
    fn included_sets_are_described_by_what_they_grant() {
        let lines = describe_scope(
            "atproto include:app.bsky.authCreatePosts include:com.example.unknownSet",
            hearth_lexicons::catalog(),
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("records of app.bsky.feed.post")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "Nothing: com.example.unknownSet is unknown to this server"),
            "{lines:?}"
        );
    }
}
