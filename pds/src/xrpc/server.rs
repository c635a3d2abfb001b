//! `com.atproto.server.*`: the server, accounts, sessions, app passwords, service auth.

use crate::accounts::service::{NewAccountInput, did_document};
use crate::accounts::{AccountStatus, store};
use crate::auth::{
    AccessAuth, Need, RefreshAuth, hash_password, new_app_password, verify_password,
};
use crate::clock::{now_iso, now_secs};
use crate::db::{DbError, WriteTxn};
use crate::email::Purpose;
use crate::limits;
use crate::state::AppState;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use hearth_oauth::scope::{AccountAction, AccountAttr, IdentityAttr};
use hearth_xrpc::{XJson, XQuery};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The client's IP: behind a trusted proxy, what the proxy says (see [`forwarded_ip`]), else
/// the socket's peer.
pub fn client_ip(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if state.cfg.trust_proxy
        && let Some(ip) = forwarded_ip(headers, state.cfg.client_ip_header.as_deref())
    {
        return ip;
    }
    peer.map(|p| p.ip().to_string()).unwrap_or_default()
}

/// The client address a trusted proxy reports: the header it sets (`Fly-Client-IP`), or the
/// hop it appended to `X-Forwarded-For`, the rightmost. Earlier hops are whatever the client
/// wrote, so taking the leftmost would let it choose its rate-limit bucket.
pub fn forwarded_ip(headers: &HeaderMap, named: Option<&str>) -> Option<String> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ip = match named {
        Some(name) => value(name)?.trim(),
        None => headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .next_back()?
            .rsplit(',')
            .next()?
            .trim(),
    };
    ip.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
}

pub async fn describe_server(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "did": state.service_did,
        "availableUserDomains": state.handle_domains,
        "inviteCodeRequired": state.cfg.invite_required,
        "phoneVerificationRequired": false,
        "links": {},
        "contact": {},
        // Not in the lexicon (objects are open): without it, clients learn that this server
        // sends no email only when a request for a code is refused.
        "emailAvailable": state.mail.is_some(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAccountInput {
    handle: String,
    email: Option<String>,
    password: Option<String>,
    invite_code: Option<String>,
    did: Option<String>,
    recovery_key: Option<String>,
}

pub async fn create_account(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    XJson(input): XJson<CreateAccountInput>,
) -> XrpcResult<Json<Value>> {
    if !state.limits.check(
        "createAccount",
        &client_ip(&state, &headers, Some(peer)),
        limits::CREATE_ACCOUNT,
        1.0,
    ) {
        return Err(XrpcError::rate_limited());
    }
    let new = NewAccountInput {
        handle: input.handle,
        email: input.email,
        password: input.password,
        invite_code: input.invite_code,
        recovery_key: input.recovery_key,
    };
    if let Some(did) = input.did {
        return create_migrated_account(&state, &headers, new, &did).await;
    }
    let created = state.accounts().create_account(new).await?;
    let tokens = state
        .sessions()
        .create(created.id, &created.did, None)
        .await?;
    Ok(Json(json!({
        "accessJwt": tokens.access,
        "refreshJwt": tokens.refresh,
        "handle": created.handle,
        "did": created.did,
        "didDoc": did_document(&state.public_url, &created.did, Some(&created.handle), &created.key),
    })))
}

/// createAccount for a DID that exists elsewhere: its current server vouches for the request
/// with a service token (issuer the DID, audience us, method createAccount), and the account
/// starts deactivated until the migration completes.
async fn create_migrated_account(
    state: &AppState,
    headers: &HeaderMap,
    input: NewAccountInput,
    did: &str,
) -> XrpcResult<Json<Value>> {
    const METHOD: &str = "com.atproto.server.createAccount";
    if did.parse::<atproto::syntax::Did>().is_err() {
        return Err(XrpcError::invalid_request("did must be a DID"));
    }
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            XrpcError::auth_required(
                "Bringing an existing DID needs a service token from its current server",
            )
        })?;
    let viewer = state
        .service_auth
        .authenticate(token.trim(), METHOD)
        .await?;
    if viewer.did != did {
        return Err(XrpcError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "The service token was issued for another DID",
        ));
    }
    state.service_auth.first_use(&viewer)?;
    let created = state.accounts().create_migrated_account(input, did).await?;
    let tokens = state
        .sessions()
        .create(created.id, &created.did, None)
        .await?;
    Ok(Json(json!({
        "accessJwt": tokens.access,
        "refreshJwt": tokens.refresh,
        "handle": created.handle,
        "did": created.did,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionInput {
    identifier: String,
    password: String,
}

/// The parts of a session response describing the account.
async fn session_view(state: &AppState, account: i64) -> XrpcResult<Value> {
    let st = state.clone();
    let (acct, key) = state
        .db
        .readers
        .read(move |c| {
            let a = store::by_id(c, account)?
                .ok_or_else(|| XrpcError::invalid_token("Account not found"))?;
            let k = st.keys.get(c, account).map_err(XrpcError::internal)?;
            Ok::<_, XrpcError>((a, k))
        })
        .await?;
    let mut v = json!({
        "handle": acct.handle.clone().unwrap_or_else(|| "handle.invalid".into()),
        "did": acct.did,
        "didDoc": did_document(&state.public_url, &acct.did, acct.handle.as_deref(), &key.public()),
        "email": acct.email,
        "emailConfirmed": acct.email_confirmed_at.is_some(),
        "emailAuthFactor": false,
        "active": acct.status == AccountStatus::Active,
    });
    if let (Some(s), Some(obj)) = (acct.status.as_status(), v.as_object_mut()) {
        obj.insert("status".into(), json!(s));
    }
    Ok(v)
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

pub async fn create_session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    XJson(input): XJson<CreateSessionInput>,
) -> XrpcResult<Json<Value>> {
    if !state.limits.check(
        "createSession",
        &client_ip(&state, &headers, Some(peer)),
        limits::LOGIN,
        1.0,
    ) {
        return Err(XrpcError::rate_limited());
    }
    let ident = input.identifier.clone();
    let found = state
        .db
        .readers
        .read(move |c| {
            let Some(a) = store::by_identifier(c, &ident)? else {
                return Ok::<_, DbError>(None);
            };
            let apps = store::app_passwords(c, a.id)?;
            Ok(Some((a, apps)))
        })
        .await?;
    let invalid = || {
        XrpcError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Invalid identifier or password",
        )
    };
    let Some((acct, apps)) = found else {
        return Err(invalid());
    };
    let password = input.password;
    let hash = acct.password_hash.clone();
    // Password hashing is deliberately slow: keep it off the async runtime.
    let matched = tokio::task::spawn_blocking(move || {
        if verify_password(&password, &hash) {
            return Some(None);
        }
        apps.into_iter()
            .find(|(_, h, _)| verify_password(&password, h))
            .map(|(name, _, privileged)| Some((name, privileged)))
    })
    .await
    .map_err(XrpcError::internal)?;
    let Some(app_password) = matched else {
        return Err(invalid());
    };
    if acct.status == AccountStatus::Takendown {
        return Err(XrpcError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "AccountTakedown",
            "Account has been taken down",
        ));
    }
    let tokens = state
        .sessions()
        .create(acct.id, &acct.did, app_password)
        .await?;
    let view = session_view(&state, acct.id).await?;
    Ok(Json(merge(
        view,
        json!({ "accessJwt": tokens.access, "refreshJwt": tokens.refresh }),
    )))
}

pub async fn get_session(
    State(state): State<AppState>,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    let mut view = session_view(&state, auth.account).await?;
    // The address is the account's, not the app's: an OAuth session sees it only when
    // granted (`account:email`), as on the reference PDS.
    if auth
        .require_permission(Need::Account(AccountAttr::Email, AccountAction::Read))
        .is_err()
        && let Some(o) = view.as_object_mut()
    {
        o.remove("email");
        o.remove("emailConfirmed");
        o.remove("emailAuthFactor");
    }
    Ok(Json(view))
}

pub async fn refresh_session(
    State(state): State<AppState>,
    auth: RefreshAuth,
) -> XrpcResult<Json<Value>> {
    let tokens = state
        .sessions()
        .refresh(auth.account, &auth.did, &auth.jti)
        .await?;
    let view = session_view(&state, auth.account).await?;
    Ok(Json(merge(
        view,
        json!({ "accessJwt": tokens.access, "refreshJwt": tokens.refresh }),
    )))
}

pub async fn delete_session(
    State(state): State<AppState>,
    auth: RefreshAuth,
) -> XrpcResult<Json<Value>> {
    state.sessions().revoke(&auth.jti).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct CreateAppPasswordInput {
    name: String,
    #[serde(default)]
    privileged: bool,
}

pub async fn create_app_password(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<CreateAppPasswordInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::PasswordSession)?;
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(XrpcError::invalid_request(
            "App password name must be 1 to 100 characters",
        ));
    }
    let password = new_app_password();
    let p = password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&p))
        .await
        .map_err(XrpcError::internal)?
        .map_err(XrpcError::internal)?;
    let created_at = now_iso();
    let (n, c, account, privileged) = (
        name.clone(),
        created_at.clone(),
        auth.account,
        input.privileged,
    );
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            if store::app_password_privileged(txn.conn, account, &n)?.is_some() {
                return Err(XrpcError::named(
                    "DuplicateName",
                    "An app password with that name already exists",
                ));
            }
            store::insert_app_password(txn.conn, account, &n, &hash, privileged, &c)?;
            Ok(())
        })
        .await?;
    Ok(Json(
        json!({ "name": name, "password": password, "createdAt": created_at, "privileged": input.privileged }),
    ))
}

pub async fn list_app_passwords(
    State(state): State<AppState>,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    auth.require_permission(Need::PasswordSession)?;
    let account = auth.account;
    let rows: Vec<Value> = state
        .db
        .readers
        .read(move |c| store::list_app_passwords(c, account))
        .await?
        .into_iter()
        .map(|(name, created_at, privileged)| {
            json!({ "name": name, "createdAt": created_at, "privileged": privileged })
        })
        .collect();
    Ok(Json(json!({ "passwords": rows })))
}

#[derive(Deserialize)]
pub struct RevokeAppPasswordInput {
    name: String,
}

pub async fn revoke_app_password(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<RevokeAppPasswordInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::PasswordSession)?;
    let account = auth.account;
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            store::revoke_app_password(txn.conn, account, &input.name)
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct ServiceAuthParams {
    aud: String,
    exp: Option<i64>,
    lxm: Option<String>,
}

/// Methods a service token must never be minted for from an app-password session: they manage
/// the account.
const PROTECTED_METHODS: &[&str] = &[
    "com.atproto.admin.sendEmail",
    "com.atproto.identity.requestPlcOperationSignature",
    "com.atproto.identity.signPlcOperation",
    "com.atproto.identity.updateHandle",
    "com.atproto.server.activateAccount",
    "com.atproto.server.confirmEmail",
    "com.atproto.server.createAppPassword",
    "com.atproto.server.deactivateAccount",
    "com.atproto.server.getAccountInviteCodes",
    "com.atproto.server.getSession",
    "com.atproto.server.listAppPasswords",
    "com.atproto.server.requestAccountDelete",
    "com.atproto.server.requestEmailConfirmation",
    "com.atproto.server.requestEmailUpdate",
    "com.atproto.server.revokeAppPassword",
    "com.atproto.server.updateEmail",
];

pub async fn get_service_auth(
    State(state): State<AppState>,
    auth: AccessAuth,
    XQuery(params): XQuery<ServiceAuthParams>,
) -> XrpcResult<Json<Value>> {
    if params.aud.parse::<atproto::syntax::Did>().is_err() {
        return Err(XrpcError::invalid_request("aud must be a DID"));
    }
    // As the reference: a token without a method needs `rpc:*` for that audience.
    auth.require_rpc(params.lxm.as_deref().unwrap_or("*"), &params.aud)?;
    let now = now_secs();
    let ttl = match params.exp {
        Some(exp) if exp <= now => {
            return Err(XrpcError::named("BadExpiration", "expiration is in past"));
        }
        // Without a method binding a token may live one minute; with one, an hour.
        Some(exp) if params.lxm.is_none() && exp - now > 60 => {
            return Err(XrpcError::named(
                "BadExpiration",
                "expiration may not exceed 60s for a token without lxm",
            ));
        }
        Some(exp) if exp - now > 3600 => {
            return Err(XrpcError::named(
                "BadExpiration",
                "expiration may not exceed one hour",
            ));
        }
        Some(exp) => exp - now,
        None => 60,
    };
    if let Some(lxm) = &params.lxm {
        if lxm.parse::<atproto::syntax::Nsid>().is_err() {
            return Err(XrpcError::invalid_request("lxm must be an NSID"));
        }
        if !auth.is_full() && PROTECTED_METHODS.contains(&lxm.as_str()) {
            return Err(XrpcError::named(
                "InvalidToken",
                format!("Bad token method: {lxm}"),
            ));
        }
    }
    let token = crate::proxy::mint_for(
        &state,
        auth.account,
        &auth.did,
        &params.aud,
        params.lxm.as_deref(),
        now,
        ttl,
    )
    .await?;
    Ok(Json(json!({ "token": token })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeactivateInput {
    #[allow(dead_code)]
    delete_after: Option<String>,
}

pub async fn deactivate_account(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(_input): XJson<DeactivateInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Account(AccountAttr::Status, AccountAction::Manage))?;
    state
        .accounts()
        .set_status(auth.account, &auth.did, Some("deactivated"))
        .await?;
    Ok(Json(json!({})))
}

pub async fn activate_account(
    State(state): State<AppState>,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Account(AccountAttr::Status, AccountAction::Manage))?;
    if auth.status == AccountStatus::Active {
        return Ok(Json(json!({})));
    }
    state.accounts().activate(auth.account, &auth.did).await?;
    Ok(Json(json!({})))
}

pub async fn check_account_status(
    State(state): State<AppState>,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    auth.require_permission(Need::Account(AccountAttr::Status, AccountAction::Read))?;
    let (account, st) = (auth.account, state.clone());
    let key = state
        .db
        .readers
        .read(move |c| st.keys.get(c, account).map_err(XrpcError::internal))
        .await?
        .public();
    // Valid: the DID document names this server and the account's key here (what a migration's
    // PLC operation or did:web update must achieve before activating).
    let valid_did = match auth.did.parse::<atproto::syntax::Did>() {
        Ok(did) => state.dids.refresh(&did).await.is_ok_and(|doc| {
            doc.pds_endpoint() == Some(state.public_url.as_str())
                && doc.signing_key().is_ok_and(|k| k == key)
        }),
        Err(_) => false,
    };
    let v = state
        .db
        .readers
        .read(move |c| {
            let head = crate::repo::store::head(c, account)?;
            let n = crate::repo::store::counts(c, account)?;
            Ok::<_, DbError>(json!({
                "activated": auth.status == AccountStatus::Active,
                "validDid": valid_did,
                "repoCommit": head.as_ref().map(|h| h.0.to_string()),
                "repoRev": head.as_ref().map(|h| h.1.clone()),
                "repoBlocks": n.blocks,
                "indexedRecords": n.records,
                "privateStateValues": n.private_state_values,
                "expectedBlobs": n.expected_blobs,
                "importedBlobs": n.imported_blobs,
            }))
        })
        .await?;
    Ok(Json(v))
}

/// Emails the signed-in account (full session only) a code for `purpose`, within the email
/// limits: the whole of every `request*` method that mails the account itself.
pub async fn send_code(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    auth: &AccessAuth,
    purpose: Purpose,
) -> XrpcResult<Json<Value>> {
    // An OAuth session may ask for a code only for what its grant lets it do with the code.
    let need = match purpose {
        Purpose::ConfirmEmail | Purpose::UpdateEmail => {
            Need::Account(AccountAttr::Email, AccountAction::Manage)
        }
        Purpose::PlcOperation => Need::Identity(IdentityAttr::All),
        Purpose::ResetPassword | Purpose::DeleteAccount => Need::PasswordSession,
    };
    auth.require_manage(need)?;
    email_allowed(state, headers, peer, &auth.did)?;
    state.accounts().request_code(auth.account, purpose).await?;
    Ok(Json(json!({})))
}

/// Refuses a request that would email a code once the account (`who`: a DID, or for
/// requestPasswordReset the address) or the client's IP asked too often.
pub fn email_allowed(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    who: &str,
) -> XrpcResult<()> {
    let ip = client_ip(state, headers, Some(peer));
    if state
        .limits
        .check("emailCode:ip", &ip, limits::EMAIL_PER_IP, 1.0)
        && state
            .limits
            .check("emailCode", who, limits::EMAIL_PER_ACCOUNT, 1.0)
    {
        Ok(())
    } else {
        Err(XrpcError::rate_limited())
    }
}

/// Refuses an attempt at a code once the client's IP (and the account, when known) tried too
/// often.
pub fn code_attempt_allowed(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    account: Option<&str>,
) -> XrpcResult<()> {
    let ip = client_ip(state, headers, Some(peer));
    let ok = state
        .limits
        .check("emailCodeAttempt:ip", &ip, limits::CODE_ATTEMPTS, 1.0)
        && account.is_none_or(|a| {
            state
                .limits
                .check("emailCodeAttempt", a, limits::CODE_ATTEMPTS, 1.0)
        });
    if ok {
        Ok(())
    } else {
        Err(XrpcError::rate_limited())
    }
}

pub async fn request_account_delete(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    send_code(&state, &headers, peer, &auth, Purpose::DeleteAccount).await
}

#[derive(Deserialize)]
pub struct DeleteAccountInput {
    did: String,
    password: String,
    token: String,
}

pub async fn delete_account(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    XJson(input): XJson<DeleteAccountInput>,
) -> XrpcResult<Json<Value>> {
    code_attempt_allowed(&state, &headers, peer, Some(&input.did))?;
    let did = input.did.clone();
    let found = state
        .db
        .readers
        .read(move |c| store::by_did(c, &did))
        .await?;
    let Some(acct) = found else {
        return Err(XrpcError::invalid_request("Account not found"));
    };
    let (pw, hash) = (input.password, acct.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(XrpcError::internal)?;
    if !ok {
        return Err(XrpcError::auth_required("Invalid did or password"));
    }
    let accounts = state.accounts();
    accounts
        .take_code(acct.id, Purpose::DeleteAccount, &input.token)
        .await?;
    accounts.delete_account(acct.id, &acct.did).await?;
    Ok(Json(json!({})))
}

pub async fn request_email_confirmation(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    send_code(&state, &headers, peer, &auth, Purpose::ConfirmEmail).await
}

#[derive(Deserialize)]
pub struct ConfirmEmailInput {
    email: String,
    token: String,
}

pub async fn confirm_email(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AccessAuth,
    XJson(input): XJson<ConfirmEmailInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Account(AccountAttr::Email, AccountAction::Manage))?;
    code_attempt_allowed(&state, &headers, peer, Some(&auth.did))?;
    state
        .accounts()
        .confirm_email(auth.account, &input.email, &input.token)
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct RequestPasswordResetInput {
    email: String,
}

pub async fn request_password_reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    XJson(input): XJson<RequestPasswordResetInput>,
) -> XrpcResult<Json<Value>> {
    let email = input.email.trim().to_lowercase();
    email_allowed(&state, &headers, peer, &email)?;
    state.accounts().request_password_reset(&email).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct ResetPasswordInput {
    token: String,
    password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    XJson(input): XJson<ResetPasswordInput>,
) -> XrpcResult<Json<Value>> {
    code_attempt_allowed(&state, &headers, peer, None)?;
    state
        .accounts()
        .reset_password_with_code(&input.token, &input.password)
        .await?;
    Ok(Json(json!({})))
}

pub async fn request_email_update(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Account(AccountAttr::Email, AccountAction::Manage))?;
    email_allowed(&state, &headers, peer, &auth.did)?;
    let required = state.accounts().request_email_update(auth.account).await?;
    Ok(Json(json!({ "tokenRequired": required })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEmailInput {
    email: String,
    email_auth_factor: Option<bool>,
    token: Option<String>,
}

pub async fn update_email(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    auth: AccessAuth,
    XJson(input): XJson<UpdateEmailInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_manage(Need::Account(AccountAttr::Email, AccountAction::Manage))?;
    if input.email_auth_factor == Some(true) {
        return Err(XrpcError::invalid_request(
            "Sign-in codes by email (emailAuthFactor) are not supported by this server",
        ));
    }
    code_attempt_allowed(&state, &headers, peer, Some(&auth.did))?;
    state
        .accounts()
        .update_email(auth.account, &input.email, input.token.as_deref())
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteCodesParams {
    #[allow(dead_code)]
    include_used: Option<bool>,
}

pub async fn get_account_invite_codes(
    State(state): State<AppState>,
    auth: AccessAuth,
    XQuery(_p): XQuery<InviteCodesParams>,
) -> XrpcResult<Json<Value>> {
    auth.require_permission(Need::PasswordSession)?;
    let did = auth.did.clone();
    let codes = state
        .db
        .readers
        .read(move |c| crate::accounts::invites::list(c, Some(&did)))
        .await?;
    Ok(Json(json!({ "codes": codes })))
}

#[cfg(test)]
mod tests {
    use super::forwarded_ip;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn forwarded_for_takes_the_proxy_hop() {
        let mut h = HeaderMap::new();
        // The client wrote the first two hops; the proxy appended the last.
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 5.6.7.8,  203.0.113.9"),
        );
        assert_eq!(forwarded_ip(&h, None).as_deref(), Some("203.0.113.9"));
        // A second header line: the proxy's is the last one.
        h.append("x-forwarded-for", HeaderValue::from_static("198.51.100.2"));
        assert_eq!(forwarded_ip(&h, None).as_deref(), Some("198.51.100.2"));
        // A named header wins over X-Forwarded-For; garbage is no address.
        h.insert("fly-client-ip", HeaderValue::from_static("192.0.2.7"));
        assert_eq!(
            forwarded_ip(&h, Some("Fly-Client-IP")).as_deref(),
            Some("192.0.2.7")
        );
        h.insert("fly-client-ip", HeaderValue::from_static("not-an-ip"));
        assert_eq!(forwarded_ip(&h, Some("Fly-Client-IP")), None);
        assert_eq!(forwarded_ip(&HeaderMap::new(), None), None);
        assert_eq!(forwarded_ip(&HeaderMap::new(), Some("Fly-Client-IP")), None);
    }
}
