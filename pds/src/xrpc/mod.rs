//! The HTTP surface: one route per XRPC method, thin handlers that parse, call the services and
//! map errors. Anything not served here falls through to the proxy.

mod admin;
mod error;
mod identity;
mod migration;
mod prefs;
mod repo;
pub(crate) mod server;
mod subscribe;
mod sync;
mod unread;
mod well_known;

use crate::proxy;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use hearth_xrpc::XrpcError;

pub fn router(state: AppState) -> Router {
    let x = |nsid: &str| format!("/xrpc/{nsid}");
    Router::new()
        .route("/", get(well_known::root))
        .route("/robots.txt", get(well_known::robots))
        .route("/xrpc/_health", get(well_known::health))
        .route("/.well-known/did.json", get(well_known::did_json))
        .route("/.well-known/atproto-did", get(well_known::atproto_did))
        .merge(crate::oauth::http::routes())
        // com.atproto.server
        .route(
            &x("com.atproto.server.describeServer"),
            get(server::describe_server),
        )
        .route(
            &x("com.atproto.server.createAccount"),
            post(server::create_account),
        )
        .route(
            &x("com.atproto.server.createSession"),
            post(server::create_session),
        )
        .route(
            &x("com.atproto.server.getSession"),
            get(server::get_session),
        )
        .route(
            &x("com.atproto.server.refreshSession"),
            post(server::refresh_session),
        )
        .route(
            &x("com.atproto.server.deleteSession"),
            post(server::delete_session),
        )
        .route(
            &x("com.atproto.server.createAppPassword"),
            post(server::create_app_password),
        )
        .route(
            &x("com.atproto.server.listAppPasswords"),
            get(server::list_app_passwords),
        )
        .route(
            &x("com.atproto.server.revokeAppPassword"),
            post(server::revoke_app_password),
        )
        .route(
            &x("com.atproto.server.getServiceAuth"),
            get(server::get_service_auth),
        )
        .route(
            &x("com.atproto.server.deactivateAccount"),
            post(server::deactivate_account),
        )
        .route(
            &x("com.atproto.server.activateAccount"),
            post(server::activate_account),
        )
        .route(
            &x("com.atproto.server.checkAccountStatus"),
            get(server::check_account_status),
        )
        .route(
            &x("com.atproto.server.requestAccountDelete"),
            post(server::request_account_delete),
        )
        .route(
            &x("com.atproto.server.deleteAccount"),
            post(server::delete_account),
        )
        .route(
            &x("com.atproto.server.requestEmailConfirmation"),
            post(server::request_email_confirmation),
        )
        .route(
            &x("com.atproto.server.confirmEmail"),
            post(server::confirm_email),
        )
        .route(
            &x("com.atproto.server.requestPasswordReset"),
            post(server::request_password_reset),
        )
        .route(
            &x("com.atproto.server.resetPassword"),
            post(server::reset_password),
        )
        .route(
            &x("com.atproto.server.requestEmailUpdate"),
            post(server::request_email_update),
        )
        .route(
            &x("com.atproto.server.updateEmail"),
            post(server::update_email),
        )
        .route(
            &x("com.atproto.server.getAccountInviteCodes"),
            get(server::get_account_invite_codes),
        )
        .route(
            &x("com.atproto.server.createInviteCode"),
            post(admin::create_invite_code),
        )
        .route(
            &x("com.atproto.server.createInviteCodes"),
            post(admin::create_invite_codes),
        )
        // com.atproto.identity
        .route(
            &x("com.atproto.identity.resolveHandle"),
            get(identity::resolve_handle),
        )
        .route(
            &x("com.atproto.identity.updateHandle"),
            post(identity::update_handle),
        )
        .route(
            &x("com.atproto.identity.requestPlcOperationSignature"),
            post(identity::request_plc_operation_signature),
        )
        .route(
            &x("com.atproto.identity.signPlcOperation"),
            post(identity::sign_plc_operation),
        )
        .route(
            &x("com.atproto.identity.getRecommendedDidCredentials"),
            get(migration::get_recommended_did_credentials),
        )
        .route(
            &x("com.atproto.identity.submitPlcOperation"),
            post(migration::submit_plc_operation),
        )
        // com.atproto.repo
        .route(
            &x("com.atproto.repo.importRepo"),
            post(migration::import_repo).layer(DefaultBodyLimit::max(
                crate::repo::import::MAX_IMPORT_BYTES as usize,
            )),
        )
        .route(
            &x("com.atproto.repo.listMissingBlobs"),
            get(migration::list_missing_blobs),
        )
        .route(
            &x("com.atproto.repo.createRecord"),
            post(repo::create_record),
        )
        .route(&x("com.atproto.repo.putRecord"), post(repo::put_record))
        .route(
            &x("com.atproto.repo.deleteRecord"),
            post(repo::delete_record),
        )
        .route(&x("com.atproto.repo.applyWrites"), post(repo::apply_writes))
        .route(&x("com.atproto.repo.getRecord"), get(repo::get_record))
        .route(&x("com.atproto.repo.listRecords"), get(repo::list_records))
        .route(
            &x("com.atproto.repo.describeRepo"),
            get(repo::describe_repo),
        )
        .route(
            &x("com.atproto.repo.uploadBlob"),
            post(repo::upload_blob).layer(DefaultBodyLimit::disable()),
        )
        // com.atproto.sync
        .route(&x("com.atproto.sync.getRepo"), get(sync::get_repo))
        .route(
            &x("com.atproto.sync.getLatestCommit"),
            get(sync::get_latest_commit),
        )
        .route(
            &x("com.atproto.sync.getRepoStatus"),
            get(sync::get_repo_status),
        )
        .route(&x("com.atproto.sync.getRecord"), get(sync::get_record))
        .route(&x("com.atproto.sync.getBlocks"), get(sync::get_blocks))
        .route(&x("com.atproto.sync.listRepos"), get(sync::list_repos))
        .route(&x("com.atproto.sync.getBlob"), get(sync::get_blob))
        .route(&x("com.atproto.sync.listBlobs"), get(sync::list_blobs))
        .route(
            &x("com.atproto.sync.subscribeRepos"),
            get(subscribe::subscribe_repos),
        )
        // com.atproto.admin
        .route(
            &x("com.atproto.admin.getAccountInfo"),
            get(admin::get_account_info),
        )
        .route(
            &x("com.atproto.admin.getAccountInfos"),
            get(admin::get_account_infos),
        )
        .route(
            &x("com.atproto.admin.updateSubjectStatus"),
            post(admin::update_subject_status),
        )
        .route(
            &x("com.atproto.admin.getSubjectStatus"),
            get(admin::get_subject_status),
        )
        .route(
            &x("com.atproto.admin.getInviteCodes"),
            get(admin::get_invite_codes),
        )
        .route(
            &x("com.atproto.admin.disableInviteCodes"),
            post(admin::disable_invite_codes),
        )
        .route(
            &x("com.atproto.admin.deleteAccount"),
            post(admin::delete_account),
        )
        .route(
            &x("com.atproto.admin.updateAccountPassword"),
            post(admin::update_account_password),
        )
        .route(
            &x("com.atproto.admin.updateAccountHandle"),
            post(admin::update_account_handle),
        )
        // app.bsky preferences are PDS state
        .route(
            &x("app.bsky.actor.getPreferences"),
            get(prefs::get_preferences),
        )
        .route(
            &x("app.bsky.actor.putPreferences"),
            post(prefs::put_preferences),
        )
        .route("/xrpc/{*nsid}", get(proxy::forward).post(proxy::forward))
        .method_not_allowed_fallback(|| async {
            XrpcError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "InvalidRequest",
                "Wrong HTTP method for this XRPC method",
            )
        })
        .fallback(|| async { XrpcError::not_found("NotFound", "Not found") })
        .layer(axum::middleware::from_fn(unread::close_if_body_unread))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::oauth::resource_server,
        ))
        .with_state(state)
}
