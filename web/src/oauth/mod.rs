//! Signing in with atproto OAuth, as a client of the account's own authorization server (see
//! `docs/oauth-client.md`). The checks and signed JWTs are `hearth_oauth::client`'s; this module
//! runs the flow over HTTP ([`http`], through the guarded client), keeps pending sign-ins and
//! token sets in `oauth.sqlite` ([`store`]), and serves the routes ([`routes`]).

mod http;
pub mod routes;
mod store;

use crate::identity::{self, Account};
use atproto::crypto::{Algorithm, Keypair};
use atproto::identity::{DidResolver, HandleResolver};
use atproto::syntax::{Datetime, Did};
use hearth_db::{Db, DbError};
use hearth_net::{NetError, RemoteClient};
use hearth_oauth::client::{
    AuthServerMetadata, ClientError, LoginInput, Pkce, ProtectedResourceMetadata, Registration,
    TokenResponse, check_auth_server, check_authority, check_iss, check_protected_resource,
    check_token_response, origin, random_token,
};
use reqwest::Method;
use std::path::Path;
use std::sync::Arc;

/// What a sign-in asks for: identity only.
pub const SIGN_IN_SCOPE: &str = "atproto";
/// What sharing an announcement publicly asks for, the first time: creating posts, nothing else.
pub const POST_SCOPE: &str = "repo:app.bsky.feed.post?action=create";
/// Every scope the client is registered for; each authorization asks for a part of it.
const REGISTERED_SCOPE: &str = "atproto repo:app.bsky.feed.post?action=create";
/// The confidential client's signing key, in the web app's directory.
const KEY_FILE: &str = "oauth-client.key";

/// Who the web app is to authorization servers: in development the loopback client at
/// `origin` (`http://127.0.0.1:<port>`); otherwise the confidential client whose metadata
/// `origin` serves, with an ES256 key generated into `dir` on first start (owner-only).
pub fn registration(
    dir: &Path,
    origin: &str,
    dev: bool,
) -> Result<Registration, atproto::crypto::keyfile::KeyFileError> {
    if dev {
        return Ok(Registration::Loopback {
            origin: origin.to_owned(),
            scope: REGISTERED_SCOPE.to_owned(),
        });
    }
    Ok(Registration::Confidential {
        origin: origin.to_owned(),
        scope: REGISTERED_SCOPE.to_owned(),
        client_name: "Hearth".to_owned(),
        key: atproto::crypto::keyfile::load_or_generate(&dir.join(KEY_FILE), Algorithm::P256)?,
    })
}

/// How long a person has to finish signing in at their server.
pub(crate) const PENDING_SECS: i64 = 600;
/// An access token this close to expiry is refreshed before use.
const REFRESH_MARGIN_SECS: i64 = 30;

/// Why a step failed. The messages are shown to the person signing in.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{0}")]
    Resolve(#[from] identity::ResolveError),
    #[error("The server could not be reached: {0}")]
    Net(#[from] NetError),
    #[error("The server gave an answer that could not be used")]
    BadAnswer,
    #[error("The server refused: {0}")]
    Refused(String),
    #[error("This sign-in has expired or was already used; please sign in again")]
    UnknownState,
    #[error("Signing in with this account needs its permission for posting first")]
    NeedsScope,
    #[error("This session was not signed in with OAuth")]
    NoGrant,
    #[error("key error")]
    Key,
    #[error("storage error: {0}")]
    Db(#[from] DbError),
}

/// The redirect's query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A sign-in sent to the authorization server: where to send the browser, and the `state`
/// the browser's cookie must hold when it comes back.
pub struct Started {
    pub redirect: String,
    pub state: String,
}

/// A finished authorization: who signed in, where to go, and the tokens to keep with the web
/// session (`session_key` is set when it was for a session that already exists).
pub struct Finished {
    pub account: Account,
    pub next: String,
    pub session_key: Option<Vec<u8>>,
    grant: store::Tokens,
}

/// The web app's OAuth client.
pub struct OAuth {
    reg: Registration,
    http: http::Http,
    dids: Arc<DidResolver>,
    handles: Arc<HandleResolver>,
    db: Db<()>,
    dev: bool,
    /// One refresh at a time: two concurrent refreshes of one grant would present the same
    /// refresh token twice, which servers treat as theft and answer by revoking the grant.
    refreshing: tokio::sync::Mutex<()>,
}

fn now() -> i64 {
    Datetime::unix_now_secs()
}

fn key_from(bytes: &[u8]) -> Result<Keypair, OAuthError> {
    Keypair::from_bytes(Algorithm::P256, bytes).map_err(|_| OAuthError::Key)
}

impl OAuth {
    /// Opens `oauth.sqlite` in `dir`. `reg` says which kind of client this is.
    pub fn open(
        dir: &Path,
        reg: Registration,
        dev: bool,
        remote: RemoteClient,
        dids: Arc<DidResolver>,
        handles: Arc<HandleResolver>,
    ) -> Result<OAuth, DbError> {
        let db = Db::open(&dir.join("oauth.sqlite"), store::MIGRATIONS, 2, |_| Ok(()))?;
        Ok(OAuth {
            reg,
            http: http::Http::new(remote),
            dids,
            handles,
            db,
            dev,
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn registration(&self) -> &Registration {
        &self.reg
    }

    /// The issuer that protects the PDS at `pds`.
    async fn issuer_of_pds(&self, pds: &str) -> Result<String, OAuthError> {
        let pds = origin(pds, self.dev)?;
        let doc: ProtectedResourceMetadata = self
            .http
            .get_json(&format!("{pds}/.well-known/oauth-protected-resource"))
            .await?;
        Ok(check_protected_resource(&pds, &doc, self.dev)?)
    }

    async fn auth_server(&self, issuer: &str) -> Result<AuthServerMetadata, OAuthError> {
        let doc: AuthServerMetadata = self
            .http
            .get_json(&format!("{issuer}/.well-known/oauth-authorization-server"))
            .await?;
        check_auth_server(issuer, &doc, self.dev)?;
        Ok(doc)
    }

    /// Begins an authorization for what the person typed: resolves it to an authorization
    /// server, pushes the request (PAR) and keeps what the callback needs. `session_key` is
    /// set when a signed-in session asks for more scope.
    pub async fn start(
        &self,
        input: &str,
        next: &str,
        scope: &str,
        session_key: Option<Vec<u8>>,
    ) -> Result<Started, OAuthError> {
        let input = LoginInput::parse(input, self.dev)?;
        let (issuer, expected_did) = match &input {
            LoginInput::Server(url) => {
                // A PDS names its authorization server; an authorization server is its own.
                match self.issuer_of_pds(url).await {
                    Ok(issuer) => (issuer, None),
                    Err(_) => (url.clone(), None),
                }
            }
            LoginInput::Handle(_) | LoginInput::Did(_) => {
                let typed = input.login_hint().unwrap_or_default();
                let account = identity::resolve(&self.dids, &self.handles, typed).await?;
                (self.issuer_of_pds(&account.pds).await?, Some(account.did))
            }
        };
        let meta = self.auth_server(&issuer).await?;
        let par = meta.pushed_authorization_request_endpoint.clone();
        let key = Keypair::generate(Algorithm::P256);
        let pkce = Pkce::new();
        let state = random_token();
        let login_hint = input.login_hint().map(str::to_owned);
        let answer = self
            .http
            .as_post(&par, &key, || {
                let mut f = vec![
                    ("response_type", "code".to_owned()),
                    ("code_challenge", pkce.challenge.clone()),
                    ("code_challenge_method", "S256".to_owned()),
                    ("state", state.clone()),
                    ("redirect_uri", self.reg.redirect_uri()),
                    ("scope", scope.to_owned()),
                ];
                if let Some(h) = &login_hint {
                    f.push(("login_hint", h.clone()));
                }
                f.extend(self.reg.auth_fields(&issuer, now()));
                f
            })
            .await?;
        if answer.status != 201 && answer.status != 200 {
            return Err(OAuthError::Refused(answer.error_name()));
        }
        #[derive(serde::Deserialize)]
        struct ParAnswer {
            request_uri: String,
        }
        let request_uri = answer.json::<ParAnswer>()?.request_uri;
        let pending = store::Pending {
            state: state.clone(),
            session_key,
            expected_did,
            issuer: issuer.clone(),
            metadata: serde_json::to_string(&meta).map_err(|_| OAuthError::BadAnswer)?,
            dpop_key: key.to_bytes().to_vec(),
            verifier: pkce.verifier,
            next: next.to_owned(),
            expires_at: now() + PENDING_SECS,
        };
        self.db
            .writer
            .run(move |txn| store::insert_pending(txn.conn, &pending, now()))
            .await?;
        let mut redirect = url::Url::parse(&meta.authorization_endpoint)
            .map_err(|_| ClientError::BadMetadata("the authorization endpoint is not a URL"))?;
        redirect
            .query_pairs_mut()
            .append_pair("client_id", &self.reg.client_id())
            .append_pair("request_uri", &request_uri);
        Ok(Started {
            redirect: redirect.into(),
            state,
        })
    }

    /// Finishes an authorization from the redirect: the pending sign-in for its `state` (taken
    /// once), `iss`, the code exchange, and the `sub` checks.
    pub async fn finish(&self, params: &CallbackParams) -> Result<Finished, OAuthError> {
        let state = params.state.clone().ok_or(OAuthError::UnknownState)?;
        let pending = self
            .db
            .writer
            .run(move |txn| store::take_pending(txn.conn, &state, now()))
            .await?
            .ok_or(OAuthError::UnknownState)?;
        check_iss(&pending.issuer, params.iss.as_deref())?;
        if let Some(e) = &params.error {
            return Err(OAuthError::Refused(e.clone()));
        }
        let code = params.code.clone().ok_or(OAuthError::BadAnswer)?;
        let meta: AuthServerMetadata =
            serde_json::from_str(&pending.metadata).map_err(|_| OAuthError::BadAnswer)?;
        let key = key_from(&pending.dpop_key)?;
        let answer = self
            .http
            .as_post(&meta.token_endpoint, &key, || {
                let mut f = vec![
                    ("grant_type", "authorization_code".to_owned()),
                    ("code", code.clone()),
                    ("redirect_uri", self.reg.redirect_uri()),
                    ("code_verifier", pending.verifier.clone()),
                ];
                f.extend(self.reg.auth_fields(&pending.issuer, now()));
                f
            })
            .await?;
        if answer.status != 200 {
            return Err(OAuthError::Refused(answer.error_name()));
        }
        let tokens: TokenResponse = answer.json()?;
        let expected: Option<Did> = pending.expected_did.as_deref().and_then(|d| d.parse().ok());
        let sub = check_token_response(&tokens, expected.as_ref())?;
        // The answer's `sub` is only believed once its own PDS names this issuer.
        let account = identity::resolve(&self.dids, &self.handles, sub.as_str()).await?;
        check_authority(&pending.issuer, &self.issuer_of_pds(&account.pds).await?)?;
        let grant = store::Tokens {
            session_key: Vec::new(),
            did: account.did.clone(),
            issuer: pending.issuer,
            metadata: pending.metadata,
            pds: account.pds.clone(),
            dpop_key: pending.dpop_key,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            scope: tokens.scope,
            access_expires_at: now() + tokens.expires_in.unwrap_or(60),
            expires_at: 0,
        };
        Ok(Finished {
            account,
            next: pending.next,
            session_key: pending.session_key,
            grant,
        })
    }

    /// Keeps a finished authorization's tokens with the web session `session_key`, until
    /// `expires_at` (the session's end).
    pub async fn keep(
        &self,
        finished: Finished,
        session_key: Vec<u8>,
        expires_at: i64,
    ) -> Result<(), OAuthError> {
        let t = store::Tokens {
            session_key,
            expires_at,
            ..finished.grant
        };
        Ok(self
            .db
            .writer
            .run(move |txn| store::put_tokens(txn.conn, &t, now()))
            .await?)
    }

    /// Whether the session's grant includes `scope`.
    pub async fn has_scope(&self, session_key: &[u8], scope: &str) -> Result<bool, OAuthError> {
        let key = session_key.to_vec();
        let t = self
            .db
            .readers
            .read(move |c| store::get_tokens(c, &key, now()))
            .await?;
        Ok(t.is_some_and(|t| t.scope.split(' ').any(|s| s == scope)))
    }

    /// The session's tokens, refreshed first if the access token is (nearly) expired.
    async fn fresh_tokens(&self, session_key: &[u8]) -> Result<store::Tokens, OAuthError> {
        let _one = self.refreshing.lock().await;
        let key = session_key.to_vec();
        let t = self
            .db
            .readers
            .read(move |c| store::get_tokens(c, &key, now()))
            .await?
            .ok_or(OAuthError::NoGrant)?;
        if t.access_expires_at > now() + REFRESH_MARGIN_SECS {
            return Ok(t);
        }
        self.refresh(t).await
    }

    /// Trades the refresh token for a new token set (the old refresh token is spent).
    async fn refresh(&self, t: store::Tokens) -> Result<store::Tokens, OAuthError> {
        let refresh_token = t.refresh_token.clone().ok_or(OAuthError::NoGrant)?;
        let meta: AuthServerMetadata =
            serde_json::from_str(&t.metadata).map_err(|_| OAuthError::BadAnswer)?;
        let key = key_from(&t.dpop_key)?;
        let answer = self
            .http
            .as_post(&meta.token_endpoint, &key, || {
                let mut f = vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", refresh_token.clone()),
                ];
                f.extend(self.reg.auth_fields(&t.issuer, now()));
                f
            })
            .await?;
        if answer.status != 200 {
            return Err(OAuthError::Refused(answer.error_name()));
        }
        let tokens: TokenResponse = answer.json()?;
        let did: Did = t.did.parse().map_err(|_| OAuthError::BadAnswer)?;
        check_token_response(&tokens, Some(&did))?;
        let fresh = store::Tokens {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token.or(t.refresh_token.clone()),
            scope: tokens.scope,
            access_expires_at: now() + tokens.expires_in.unwrap_or(60),
            ..t
        };
        let row = fresh.clone();
        self.db
            .writer
            .run(move |txn| store::put_tokens(txn.conn, &row, now()))
            .await?;
        Ok(fresh)
    }

    /// Signing out: forgets the session's tokens and revokes the grant at its authorization
    /// server (best effort: the session ends here whatever the server answers).
    pub async fn sign_out(&self, session_key: &[u8]) -> Result<(), OAuthError> {
        let key = session_key.to_vec();
        let Some(t) = self
            .db
            .writer
            .run(move |txn| store::take_tokens(txn.conn, &key, now()))
            .await?
        else {
            return Ok(());
        };
        let meta: AuthServerMetadata =
            serde_json::from_str(&t.metadata).map_err(|_| OAuthError::BadAnswer)?;
        let Some(endpoint) = meta.revocation_endpoint.as_deref() else {
            return Ok(());
        };
        let dpop = key_from(&t.dpop_key)?;
        // Revoking the refresh token ends the grant; the access token too, for servers that
        // keep them apart.
        for token in t.refresh_token.iter().chain([&t.access_token]) {
            let answer = self
                .http
                .as_post(endpoint, &dpop, || {
                    let mut f = vec![("token", token.clone())];
                    f.extend(self.reg.auth_fields(&t.issuer, now()));
                    f
                })
                .await?;
            if answer.status != 200 {
                tracing::info!(error = %answer.error_name(), "web oauth: revocation refused");
            }
        }
        Ok(())
    }

    /// Creates a public post with `text` in the signed-in account's own repository; returns
    /// its AT-URI.
    pub async fn create_post(&self, session_key: &[u8], text: &str) -> Result<String, OAuthError> {
        let t = self.fresh_tokens(session_key).await?;
        if !t.scope.split(' ').any(|s| s == POST_SCOPE) {
            return Err(OAuthError::NeedsScope);
        }
        let key = key_from(&t.dpop_key)?;
        let body = serde_json::json!({
            "repo": t.did,
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": Datetime::now().to_string(),
            },
        });
        let url = hearth_net::endpoint_url(&t.pds, "/xrpc/com.atproto.repo.createRecord")?;
        let answer = self
            .http
            .resource(
                Method::POST,
                url.as_str(),
                &key,
                &t.access_token,
                Some(&body),
            )
            .await?;
        if answer.status != 200 {
            return Err(OAuthError::Refused(answer.error_name()));
        }
        #[derive(serde::Deserialize)]
        struct Created {
            uri: String,
        }
        Ok(answer.json::<Created>()?.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(dir: &Path, dev: bool) -> OAuth {
        let remote = RemoteClient::new(&hearth_net::Config::new(dev, "hearth-test")).unwrap();
        let dids = DidResolver::new(atproto::identity::DidResolverConfig {
            plc_url: "http://127.0.0.1:9".into(),
            web_client: Some(remote.reqwest().clone()),
            ..Default::default()
        })
        .unwrap();
        let handles = HandleResolver::new(std::time::Duration::from_secs(2))
            .unwrap()
            .without_dns()
            .with_client(remote.reqwest().clone());
        let reg = registration(dir, "http://127.0.0.1:2584", true).unwrap();
        OAuth::open(dir, reg, dev, remote, Arc::new(dids), Arc::new(handles)).unwrap()
    }

    #[tokio::test]
    async fn outside_development_a_private_server_is_never_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let oauth = client(dir.path(), false);
        for input in [
            "https://127.0.0.1:2583",
            "https://10.0.0.1",
            "https://[::1]:443",
        ] {
            let err = oauth.start(input, "/", SIGN_IN_SCOPE, None).await.err();
            assert!(
                matches!(err, Some(OAuthError::Net(NetError::Forbidden))),
                "{input}: {err:?}"
            );
        }
        // Plain http is not even parsed as a server outside development.
        let err = oauth
            .start("http://127.0.0.1:2583", "/", SIGN_IN_SCOPE, None)
            .await
            .err();
        assert!(
            matches!(err, Some(OAuthError::Client(ClientError::BadInput))),
            "{err:?}"
        );
    }

    async fn pending(oauth: &OAuth, state: &str) {
        let p = store::Pending {
            state: state.into(),
            session_key: None,
            expected_did: None,
            issuer: "http://127.0.0.1:9".into(),
            metadata: serde_json::to_string(&AuthServerMetadata::for_pds("http://127.0.0.1:9"))
                .unwrap(),
            dpop_key: Keypair::generate(Algorithm::P256).to_bytes().to_vec(),
            verifier: "v".into(),
            next: "/".into(),
            expires_at: now() + 60,
        };
        oauth
            .db
            .writer
            .run(move |txn| store::insert_pending(txn.conn, &p, now()))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn callback_refuses_another_issuer_and_a_used_or_unknown_state() {
        let dir = tempfile::tempdir().unwrap();
        let oauth = client(dir.path(), true);
        pending(&oauth, "s1").await;
        let wrong = CallbackParams {
            code: Some("c".into()),
            state: Some("s1".into()),
            iss: Some("http://evil.example".into()),
            ..Default::default()
        };
        assert!(matches!(
            oauth.finish(&wrong).await,
            Err(OAuthError::Client(ClientError::IssuerMismatch))
        ));
        // The state was spent by the refused attempt: the right issuer cannot use it now.
        let right = CallbackParams {
            iss: Some("http://127.0.0.1:9".into()),
            ..wrong
        };
        assert!(matches!(
            oauth.finish(&right).await,
            Err(OAuthError::UnknownState)
        ));
        let none = CallbackParams::default();
        assert!(matches!(
            oauth.finish(&none).await,
            Err(OAuthError::UnknownState)
        ));
        // No iss at all is refused too.
        pending(&oauth, "s2").await;
        let no_iss = CallbackParams {
            code: Some("c".into()),
            state: Some("s2".into()),
            ..Default::default()
        };
        assert!(matches!(
            oauth.finish(&no_iss).await,
            Err(OAuthError::Client(ClientError::IssuerMismatch))
        ));
    }

    #[test]
    fn production_registers_a_confidential_client_with_a_kept_key() {
        let dir = tempfile::tempdir().unwrap();
        let a = registration(dir.path(), "https://hearth.example", false).unwrap();
        let b = registration(dir.path(), "https://hearth.example", false).unwrap();
        assert_eq!(a.jwks(), b.jwks(), "the key survives a restart");
        assert_eq!(
            a.client_id(),
            "https://hearth.example/oauth/client-metadata.json"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "owner-only key file");
        }
        let dev = registration(dir.path(), "http://127.0.0.1:2584", true).unwrap();
        assert!(
            dev.client_id()
                .starts_with("http://localhost?redirect_uri=")
        );
    }
}
