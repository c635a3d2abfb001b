//! The OAuth HTTP edge: thin handlers that parse, call the flow modules and map their errors
//! once to the OAuth error JSON (`{"error", "error_description"}`), or, on the pages a person
//! sees, to an error page.

use super::ProofError;
use super::authorize::{self, Pending, Signer};
use super::client_auth::{self, Assertion};
use super::error::OAuthError;
use super::pages::{self, ClientView};
use super::par::{self, ParInput};
use super::permission_sets::PermissionSetError;
use super::token::{CodeExchange, Minter};
use crate::clock::now_secs;
use crate::limits;
use crate::state::AppState;
use crate::xrpc::server::client_ip;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Json, Router};
use hearth_oauth::client_metadata::ClientMetadata;
use hearth_oauth::dpop::DpopError;
use hearth_oauth::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// The OAuth routes, merged into the PDS's router.
pub fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(authorization_server),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource),
        )
        .route("/oauth/par", post(par_endpoint))
        .route("/oauth/token", post(token_endpoint))
        .route("/oauth/revoke", post(revoke_endpoint))
        .route("/oauth/authorize", get(authorize_page))
        .route("/oauth/authorize/sign-in", post(sign_in))
        .route("/oauth/authorize/consent", post(consent))
        .route("/oauth/assets/style.css", get(style))
        .route("/account/apps", get(apps_page))
        .route("/account/apps/sign-in", post(apps_sign_in))
        .route("/account/apps/revoke", post(apps_revoke))
}

/// `/.well-known/oauth-authorization-server`: the PDS is its own authorization server, its
/// public URL the issuer.
pub async fn authorization_server(State(state): State<AppState>) -> impl IntoResponse {
    Json(AuthorizationServerMetadata::for_pds(&state.public_url))
}

/// `/.well-known/oauth-protected-resource`.
pub async fn protected_resource(State(state): State<AppState>) -> impl IntoResponse {
    Json(ProtectedResourceMetadata::for_pds(
        &state.public_url,
        &state.public_url,
    ))
}

const DPOP_NONCE: &str = "dpop-nonce";

/// The answer of PAR, token and revoke: never cached, always with the current DPoP nonce.
fn api_response(state: &AppState, status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&state.oauth.nonces.current(now_secs())) {
        h.insert(DPOP_NONCE, v);
    }
    res
}

/// The one mapping of the flows' errors to OAuth error responses.
fn oauth_error(state: &AppState, e: OAuthError) -> Response {
    let status = match &e {
        OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        OAuthError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        OAuthError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let description = match &e {
        OAuthError::Db(cause) => {
            tracing::error!(error = %cause, "OAuth: database");
            "Internal server error".to_owned()
        }
        other => other.to_string(),
    };
    api_response(
        state,
        status,
        json!({ "error": e.code(), "error_description": description }),
    )
}

fn form_error(state: &AppState, e: FormRejection) -> Response {
    oauth_error(state, OAuthError::InvalidRequest(e.body_text()))
}

/// Verifies the request's DPoP proof for `POST <issuer><path>` with a current nonce and an
/// unseen `jti`; returns the key's thumbprint.
fn check_proof(state: &AppState, headers: &HeaderMap, path: &str) -> Result<String, OAuthError> {
    let htu = format!("{}{path}", state.public_url);
    let p = state
        .oauth
        .check_proof(headers, "POST", &htu, None, now_secs())
        .map_err(|e| match e {
            ProofError::Invalid(DpopError::MissingNonce | DpopError::BadNonce) => {
                OAuthError::UseDpopNonce
            }
            other => OAuthError::InvalidDpopProof(other.to_string()),
        })?;
    Ok(p.jkt)
}

/// Resolves and authenticates the client a request names.
async fn client_of(
    state: &AppState,
    client_id: &str,
    assertion: Assertion<'_>,
) -> Result<Arc<ClientMetadata>, OAuthError> {
    let client = state.oauth.clients.resolve(client_id).await?;
    client_auth::authenticate(
        &state.oauth.clients,
        &state.oauth.replay,
        &client,
        assertion,
        &state.public_url,
        now_secs(),
    )
    .await?;
    Ok(client)
}

/// `POST /oauth/par`.
pub async fn par_endpoint(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<ParInput>, FormRejection>,
) -> Response {
    // Before anything is parsed or fetched.
    let ip = client_ip(&state, &headers, Some(peer));
    if !state.limits.check("oauthPar", &ip, limits::OAUTH_PAR, 1.0) {
        return oauth_error(&state, OAuthError::RateLimited);
    }
    let input = match form {
        Ok(Form(i)) => i,
        Err(e) => return form_error(&state, e),
    };
    match push(&state, &headers, &input).await {
        Ok(uri) => api_response(
            &state,
            StatusCode::CREATED,
            json!({ "request_uri": uri, "expires_in": par::REQUEST_TTL }),
        ),
        Err(e) => oauth_error(&state, e),
    }
}

async fn push(
    state: &AppState,
    headers: &HeaderMap,
    input: &ParInput,
) -> Result<String, OAuthError> {
    let jkt = check_proof(state, headers, "/oauth/par")?;
    let client = client_of(
        state,
        &input.client_id,
        Assertion {
            assertion_type: input.client_assertion_type.as_deref(),
            assertion: input.client_assertion.as_deref(),
        },
    )
    .await?;
    let params = par::validate(&client, input)?;
    state
        .oauth
        .permission_sets
        .resolve_scope(&params.scope, &state.db.writer, state.clock.now_secs())
        .await
        .map_err(|e| match e {
            PermissionSetError::Db(e) => OAuthError::Db(e),
            other => OAuthError::InvalidScope(other.to_string()),
        })?;
    par::push(
        &state.db.writer,
        state.clock,
        &client.client_id,
        &params,
        &jkt,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct TokenInput {
    grant_type: String,
    client_id: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    client_assertion_type: Option<String>,
    #[serde(default)]
    client_assertion: Option<String>,
}

fn minter(state: &AppState) -> Minter<'_> {
    Minter {
        writer: &state.db.writer,
        jwt_key: &state.secrets.jwt_key,
        issuer: &state.public_url,
        service_did: &state.service_did,
        clock: state.clock,
    }
}

/// `POST /oauth/token`.
pub async fn token_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenInput>, FormRejection>,
) -> Response {
    let input = match form {
        Ok(Form(i)) => i,
        Err(e) => return form_error(&state, e),
    };
    match token(&state, &headers, &input).await {
        Ok(t) => api_response(
            &state,
            StatusCode::OK,
            serde_json::to_value(t).unwrap_or_default(),
        ),
        Err(e) => oauth_error(&state, e),
    }
}

async fn token(
    state: &AppState,
    headers: &HeaderMap,
    input: &TokenInput,
) -> Result<super::token::TokenResponse, OAuthError> {
    if !matches!(
        input.grant_type.as_str(),
        "authorization_code" | "refresh_token"
    ) {
        return Err(OAuthError::UnsupportedGrantType(
            "grant_type must be authorization_code or refresh_token".into(),
        ));
    }
    let jkt = check_proof(state, headers, "/oauth/token")?;
    let client = client_of(
        state,
        &input.client_id,
        Assertion {
            assertion_type: input.client_assertion_type.as_deref(),
            assertion: input.client_assertion.as_deref(),
        },
    )
    .await?;
    let m = minter(state);
    if input.grant_type == "authorization_code" {
        let code = input
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
        m.exchange_code(
            &client,
            CodeExchange {
                code,
                redirect_uri: input.redirect_uri.as_deref(),
                code_verifier: input.code_verifier.as_deref(),
                dpop_jkt: &jkt,
            },
        )
        .await
    } else {
        let refresh = input
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
        m.refresh(&client, refresh, &jkt).await
    }
}

#[derive(Debug, Deserialize)]
pub struct RevokeInput {
    token: String,
}

/// `POST /oauth/revoke` (RFC 7009): the grant the token belongs to ends; an unknown token is
/// not an error.
pub async fn revoke_endpoint(
    State(state): State<AppState>,
    form: Result<Form<RevokeInput>, FormRejection>,
) -> Response {
    let input = match form {
        Ok(Form(i)) => i,
        Err(e) => return form_error(&state, e),
    };
    match minter(&state).revoke(&input.token).await {
        Ok(()) => api_response(&state, StatusCode::OK, json!({})),
        Err(e) => oauth_error(&state, e),
    }
}

// ---- The pages a person sees.

const CSRF_COOKIE: &str = "hearth-oauth-csrf";
const DEVICE_COOKIE: &str = "hearth-oauth-device";

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A page: no caching, no framing, nothing but our own style sheet (and an https logo).
fn page(status: StatusCode, html: String, cookies: Vec<HeaderValue>) -> Response {
    let mut res = (status, Html(html)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    for c in cookies {
        h.append(header::SET_COOKIE, c);
    }
    res
}

fn render(t: &impl Template) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "OAuth page did not render");
        "Internal server error".into()
    })
}

fn error_page(state: &AppState, status: StatusCode, message: &str) -> Response {
    let html = render(&pages::ErrorPage {
        host: &state.cfg.hostname,
        message,
    });
    page(status, html, Vec::new())
}

/// The message a person sees for a flow error on a page.
fn page_error(state: &AppState, e: OAuthError) -> Response {
    match e {
        OAuthError::Db(cause) => {
            tracing::error!(error = %cause, "OAuth page: database");
            error_page(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on this server.",
            )
        }
        other => error_page(state, StatusCode::BAD_REQUEST, &other.to_string()),
    }
}

/// The CSRF token for this browser: the cookie's, or a new one to set.
fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE) {
        Some(t) => (t.to_owned(), false),
        None => (par::random_id(), true),
    }
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    client_id: Option<String>,
    request_uri: Option<String>,
    account: Option<String>,
}

/// What every page of one pending request shows.
struct Flow {
    pending: Pending,
    client: Arc<ClientMetadata>,
}

async fn flow(state: &AppState, client_id: &str, request_uri: &str) -> Result<Flow, OAuthError> {
    let pending =
        authorize::pending(&state.db.readers, state.clock, request_uri, client_id).await?;
    let client = state.oauth.clients.resolve(&pending.client_id).await?;
    Ok(Flow { pending, client })
}

/// `GET /oauth/authorize?client_id&request_uri`: the account chooser, the sign-in form, or
/// (with `account=<did>` of this browser) the consent page.
pub async fn authorize_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "The sign-in link is malformed.",
        );
    };
    let (Some(client_id), Some(request_uri)) = (q.client_id, q.request_uri) else {
        return error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "The sign-in link is missing its client or request.",
        );
    };
    let f = match flow(&state, &client_id, &request_uri).await {
        Ok(f) => f,
        Err(e) => return page_error(&state, e),
    };
    let (csrf, new_csrf) = csrf_token(&headers);
    let mut cookies = Vec::new();
    if new_csrf {
        cookies.push(set_cookie(&state, CSRF_COOKIE, &csrf, 3600));
    }
    let known = match cookie(&headers, DEVICE_COOKIE) {
        Some(device) => authorize::device_accounts(&state.db.readers, state.clock, device)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let wants_login = f.pending.params.prompt.as_deref() == Some("login");
    let html = match q.account.as_deref() {
        Some(did) if did != "new" => match known.iter().find(|a| a.did == did) {
            Some(a) => consent_html(&state, &f, &csrf, a),
            None => sign_in_html(&state, &f, &csrf, "", None),
        },
        Some(_) => sign_in_html(&state, &f, &csrf, "", None),
        None if !known.is_empty() && !wants_login => render(&pages::Chooser {
            host: &state.cfg.hostname,
            client: ClientView::of(&f.client),
            client_id_q: pages::q(&f.pending.client_id),
            request_uri_q: pages::q(&request_uri),
            accounts: known
                .iter()
                .map(|a| pages::ChooserAccount {
                    label: a.handle.clone().unwrap_or_else(|| a.did.clone()),
                    did_q: pages::q(&a.did),
                })
                .collect(),
        }),
        None => {
            let hint = f.pending.params.login_hint.clone().unwrap_or_default();
            sign_in_html(&state, &f, &csrf, &hint, None)
        }
    };
    page(StatusCode::OK, html, cookies)
}

fn request_uri_of(f: &Flow) -> String {
    format!("{}{}", par::REQUEST_URI_PREFIX, f.pending.id)
}

fn sign_in_html(
    state: &AppState,
    f: &Flow,
    csrf: &str,
    identifier: &str,
    error: Option<&str>,
) -> String {
    render(&pages::SignIn {
        host: &state.cfg.hostname,
        client: ClientView::of(&f.client),
        client_id: &f.pending.client_id,
        request_uri: &request_uri_of(f),
        csrf,
        identifier,
        error,
    })
}

fn consent_html(state: &AppState, f: &Flow, csrf: &str, a: &Signer) -> String {
    render(&pages::Consent {
        host: &state.cfg.hostname,
        client: ClientView::of(&f.client),
        client_id: &f.pending.client_id,
        request_uri: &request_uri_of(f),
        csrf,
        account: a.handle.as_deref().unwrap_or(&a.did),
        did: &a.did,
        permissions: authorize::describe_scope(
            &f.pending.params.scope,
            &state.oauth.permission_sets,
        ),
    })
}

/// A form post must come from our own pages: the CSRF cookie and field agree, and the
/// browser says the post comes from our origin.
fn check_form(state: &AppState, headers: &HeaderMap, csrf: &str) -> bool {
    let origin_ok = headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o == state.public_url);
    let token_ok = cookie(headers, CSRF_COOKIE).is_some_and(|c| {
        c.len() == csrf.len()
            && c.bytes()
                .zip(csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    origin_ok && token_ok
}

/// Why a password sign-in on these pages did not go through.
enum SignInRefused {
    TooMany,
    NoMatch,
    Page(OAuthError),
}

impl SignInRefused {
    /// The status and the sentence the sign-in form shows again.
    fn said(&self) -> (StatusCode, &'static str) {
        match self {
            SignInRefused::TooMany => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts. Wait a few minutes, then try again.",
            ),
            _ => (
                StatusCode::UNAUTHORIZED,
                "That handle or email and password don't match an account here.",
            ),
        }
    }
}

/// A password sign-in from the authorization or the apps page: limited by address and by
/// identifier before the password is checked, then this browser remembered as a device the
/// account signed in on (with its cookie, when it is new).
async fn password_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    identifier: &str,
    password: &str,
) -> Result<(authorize::Signer, Vec<HeaderValue>), SignInRefused> {
    let ip = client_ip(state, headers, Some(peer));
    let ident = identifier.trim().to_ascii_lowercase();
    if !state.limits.check("oauthSignIn", &ip, limits::LOGIN, 1.0)
        || !state
            .limits
            .check("oauthSignInAccount", &ident, limits::LOGIN, 1.0)
    {
        return Err(SignInRefused::TooMany);
    }
    let signer = authorize::sign_in(&state.db.readers, identifier, password)
        .await
        .map_err(SignInRefused::Page)?
        .ok_or(SignInRefused::NoMatch)?;
    let (device, new_device) = match cookie(headers, DEVICE_COOKIE) {
        Some(d) => (d.to_owned(), false),
        None => (par::random_id(), true),
    };
    authorize::remember_device(&state.db.writer, state.clock, &device, signer.id)
        .await
        .map_err(SignInRefused::Page)?;
    let cookies = if new_device {
        vec![set_cookie(
            state,
            DEVICE_COOKIE,
            &device,
            authorize::DEVICE_SIGN_IN_TTL,
        )]
    } else {
        Vec::new()
    };
    Ok((signer, cookies))
}

const FORBIDDEN_FORM: &str =
    "This form was not sent from this server's own page. Go back to the app and start again.";

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    csrf: String,
    client_id: String,
    request_uri: String,
    identifier: String,
    password: String,
}

/// `POST /oauth/authorize/sign-in`: the password form; on success, the consent page.
pub async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(&state, StatusCode::BAD_REQUEST, "The form is incomplete.");
    };
    if !check_form(&state, &headers, &form.csrf) {
        return error_page(&state, StatusCode::FORBIDDEN, FORBIDDEN_FORM);
    }
    let f = match flow(&state, &form.client_id, &form.request_uri).await {
        Ok(f) => f,
        Err(e) => return page_error(&state, e),
    };
    let (signer, cookies) =
        match password_sign_in(&state, &headers, peer, &form.identifier, &form.password).await {
            Ok(done) => done,
            Err(SignInRefused::Page(e)) => return page_error(&state, e),
            Err(refused) => {
                let (status, message) = refused.said();
                let html = sign_in_html(&state, &f, &form.csrf, &form.identifier, Some(message));
                return page(status, html, Vec::new());
            }
        };
    page(
        StatusCode::OK,
        consent_html(&state, &f, &form.csrf, &signer),
        cookies,
    )
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    csrf: String,
    client_id: String,
    request_uri: String,
    #[serde(default)]
    account: Option<String>,
    decision: String,
}

/// `POST /oauth/authorize/consent`: Accept or Deny; the browser goes back to the client.
pub async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(&state, StatusCode::BAD_REQUEST, "The form is incomplete.");
    };
    if !check_form(&state, &headers, &form.csrf) {
        return error_page(&state, StatusCode::FORBIDDEN, FORBIDDEN_FORM);
    }
    let f = match flow(&state, &form.client_id, &form.request_uri).await {
        Ok(f) => f,
        Err(e) => return page_error(&state, e),
    };
    let params = &f.pending.params;
    let location = if form.decision == "accept" {
        // Only an account this browser signed in to may approve.
        let known = match cookie(&headers, DEVICE_COOKIE) {
            Some(device) => authorize::device_accounts(&state.db.readers, state.clock, device)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let Some(signer) = known
            .iter()
            .find(|a| Some(a.did.as_str()) == form.account.as_deref())
        else {
            return error_page(
                &state,
                StatusCode::FORBIDDEN,
                "You are not signed in to that account here. Go back to the app and start again.",
            );
        };
        match authorize::approve(&state.db.writer, state.clock, &f.pending.id, signer.id).await {
            Ok(code) => authorize::redirect(params, &state.public_url, &[("code", &code)]),
            Err(e) => return page_error(&state, e),
        }
    } else {
        if let Err(e) = authorize::deny(&state.db.writer, &f.pending.id).await {
            return page_error(&state, e);
        }
        authorize::redirect(
            params,
            &state.public_url,
            &[
                ("error", "access_denied"),
                ("error_description", "The person declined"),
            ],
        )
    };
    let mut res = page(StatusCode::SEE_OTHER, String::new(), Vec::new());
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            res.headers_mut().insert(header::LOCATION, v);
            res
        }
        Err(_) => error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "The app's address is invalid.",
        ),
    }
}

pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::STYLE,
    )
        .into_response()
}

// ---- Authorized apps: the account's grants, each with "Revoke".

#[derive(Debug, Deserialize)]
pub struct AppsQuery {
    account: Option<String>,
}

/// The accounts this browser signed in to (on the authorization pages or here).
async fn browser_accounts(state: &AppState, headers: &HeaderMap) -> Vec<Signer> {
    match cookie(headers, DEVICE_COOKIE) {
        Some(device) => authorize::device_accounts(&state.db.readers, state.clock, device)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

fn apps_sign_in_page(
    state: &AppState,
    status: StatusCode,
    csrf: &str,
    error: Option<&str>,
    cookies: Vec<HeaderValue>,
) -> Response {
    let html = render(&pages::AppsSignIn {
        host: &state.cfg.hostname,
        csrf,
        error,
    });
    page(status, html, cookies)
}

async fn apps_list(
    state: &AppState,
    csrf: &str,
    a: &Signer,
    cookies: Vec<HeaderValue>,
) -> Response {
    let grants = match super::grants::list(&state.db.readers, state.clock, a.id).await {
        Ok(g) => g,
        Err(e) => return page_error(state, e),
    };
    let apps = grants
        .into_iter()
        .map(|g| pages::AppView {
            name: g.client_name.clone().unwrap_or_else(|| g.client_id.clone()),
            since: atproto::syntax::Datetime::from_unix_millis(g.created_at.saturating_mul(1000))
                .to_string(),
            permissions: authorize::describe_scope(&g.scope, &state.oauth.permission_sets),
            id: g.id,
        })
        .collect();
    let html = render(&pages::Apps {
        host: &state.cfg.hostname,
        account: a.handle.as_deref().unwrap_or(&a.did),
        did: &a.did,
        csrf,
        apps,
    });
    page(StatusCode::OK, html, cookies)
}

/// `GET /account/apps[?account=<did>]`: the grants of an account this browser signed in to,
/// or the sign-in form.
pub async fn apps_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AppsQuery>,
) -> Response {
    let (csrf, new_csrf) = csrf_token(&headers);
    let cookies = if new_csrf {
        vec![set_cookie(&state, CSRF_COOKIE, &csrf, 3600)]
    } else {
        Vec::new()
    };
    let known = browser_accounts(&state, &headers).await;
    let chosen = match q.account.as_deref() {
        Some(did) => known.iter().find(|a| a.did == did),
        None => known.first(),
    };
    match chosen {
        Some(a) => apps_list(&state, &csrf, a, cookies).await,
        None => apps_sign_in_page(&state, StatusCode::OK, &csrf, None, cookies),
    }
}

#[derive(Debug, Deserialize)]
pub struct AppsSignInForm {
    csrf: String,
    identifier: String,
    password: String,
}

/// `POST /account/apps/sign-in`.
pub async fn apps_sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<AppsSignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(&state, StatusCode::BAD_REQUEST, "The form is incomplete.");
    };
    if !check_form(&state, &headers, &form.csrf) {
        return error_page(&state, StatusCode::FORBIDDEN, FORBIDDEN_FORM);
    }
    let (signer, cookies) =
        match password_sign_in(&state, &headers, peer, &form.identifier, &form.password).await {
            Ok(done) => done,
            Err(SignInRefused::Page(e)) => return page_error(&state, e),
            Err(refused) => {
                let (status, message) = refused.said();
                return apps_sign_in_page(&state, status, &form.csrf, Some(message), Vec::new());
            }
        };
    apps_list(&state, &form.csrf, &signer, cookies).await
}

#[derive(Debug, Deserialize)]
pub struct RevokeAppForm {
    csrf: String,
    account: String,
    grant: String,
}

/// `POST /account/apps/revoke`: ends one grant, back to the list.
pub async fn apps_revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<RevokeAppForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(&state, StatusCode::BAD_REQUEST, "The form is incomplete.");
    };
    if !check_form(&state, &headers, &form.csrf) {
        return error_page(&state, StatusCode::FORBIDDEN, FORBIDDEN_FORM);
    }
    let known = browser_accounts(&state, &headers).await;
    let Some(a) = known.iter().find(|a| a.did == form.account) else {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            "You are not signed in to that account here.",
        );
    };
    if let Err(e) = super::grants::revoke(&state.db.writer, a.id, &form.grant).await {
        return page_error(&state, e);
    }
    let mut res = page(StatusCode::SEE_OTHER, String::new(), Vec::new());
    let to = format!("/account/apps?account={}", pages::q(&a.did));
    if let Ok(v) = HeaderValue::from_str(&to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}
