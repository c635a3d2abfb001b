//! Signing in with an app password, for accounts whose PDS has no OAuth server: the password
//! goes to the account's own PDS (`com.atproto.server.createSession`, through the guarded
//! client) and never further. A main password is refused: the PDS marks the session it makes
//! with the token's `scope` (`com.atproto.access` for a main password, `com.atproto.appPass…`
//! for an app password). The PDS session is only a proof: it is deleted again at once, and
//! the web app keeps nothing of it.

use crate::identity::Account;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_net::RemoteClient;
use serde::Deserialize;

/// Why an app-password sign-in failed. The messages are shown to the person signing in.
#[derive(Debug, thiserror::Error)]
pub enum AppPasswordError {
    #[error("The handle or app password is wrong")]
    Refused,
    #[error(
        "That is your main password. Create an app password in your account's settings and use it here"
    )]
    MainPassword,
    #[error("Your PDS answered for a different account")]
    WrongAccount,
    #[error("Your PDS could not be reached; try again later")]
    Unreachable,
    #[error("Your PDS gave an answer we could not read")]
    BadAnswer,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    did: String,
    access_jwt: String,
    refresh_jwt: String,
}

#[derive(Deserialize)]
struct Claims {
    scope: Option<String>,
}

/// Most bytes read of the PDS's answer.
const MAX_ANSWER: usize = 64 * 1024;

/// Proves that `password` is an app password of `account` at its PDS.
pub async fn verify(
    remote: &RemoteClient,
    account: &Account,
    password: &str,
) -> Result<(), AppPasswordError> {
    let url = hearth_net::endpoint_url(&account.pds, "/xrpc/com.atproto.server.createSession")
        .map_err(|_| AppPasswordError::Unreachable)?;
    let req = remote
        .request(reqwest::Method::POST, &url)
        .map_err(|_| AppPasswordError::Unreachable)?
        .json(&serde_json::json!({ "identifier": account.did, "password": password }));
    let res = remote
        .send(req)
        .await
        .map_err(|_| AppPasswordError::Unreachable)?;
    let status = res.status();
    if status.is_client_error() {
        return Err(AppPasswordError::Refused);
    }
    if !status.is_success() {
        return Err(AppPasswordError::Unreachable);
    }
    let body = hearth_net::read_capped(res, MAX_ANSWER)
        .await
        .map_err(|_| AppPasswordError::BadAnswer)?;
    let created: Created =
        serde_json::from_slice(&body).map_err(|_| AppPasswordError::BadAnswer)?;
    // Whatever follows, the PDS session is not kept.
    end_session(remote, &account.pds, &created.refresh_jwt).await;
    let scope = token_scope(&created.access_jwt).ok_or(AppPasswordError::BadAnswer)?;
    if !scope.starts_with("com.atproto.appPass") {
        return Err(AppPasswordError::MainPassword);
    }
    if created.did != account.did {
        return Err(AppPasswordError::WrongAccount);
    }
    Ok(())
}

/// The `scope` claim of a JWT, read without checking its signature: the token came straight
/// from the account's PDS over the connection we opened, and is used for nothing else.
fn token_scope(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Claims>(&bytes).ok()?.scope
}

/// Deletes the session the PDS just made (best effort: it expires by itself anyway).
async fn end_session(remote: &RemoteClient, pds: &str, refresh_jwt: &str) {
    let Ok(url) = hearth_net::endpoint_url(pds, "/xrpc/com.atproto.server.deleteSession") else {
        return;
    };
    let Ok(req) = remote.request(reqwest::Method::POST, &url) else {
        return;
    };
    if let Err(e) = remote.send(req.bearer_auth(refresh_jwt)).await {
        tracing::debug!(error = %e, "web sign-in: deleting the PDS session failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        format!(
            "e30.{}.c2ln",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default())
        )
    }

    #[test]
    fn reads_the_scope_of_a_token() {
        assert_eq!(
            token_scope(&jwt(serde_json::json!({"scope": "com.atproto.appPass"}))).as_deref(),
            Some("com.atproto.appPass")
        );
        assert_eq!(
            token_scope(&jwt(serde_json::json!({"scope": "com.atproto.access"}))).as_deref(),
            Some("com.atproto.access")
        );
        assert_eq!(token_scope(&jwt(serde_json::json!({}))), None);
        assert_eq!(token_scope("not a jwt"), None);
    }
}
