//! `app.bsky.actor.getPreferences` / `putPreferences`: private account state the PDS keeps.

use crate::accounts::store;
use crate::auth::AccessAuth;
use crate::db::WriteTxn;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use hearth_xrpc::XJson;
use hearth_xrpc::{XrpcError, XrpcResult};
use serde::Deserialize;
use serde_json::{Value, json};

/// The reference's cap on stored preferences.
const MAX_PREFS: usize = 500;

/// The audience an OAuth grant must name for the preferences, which the reference PDS treats
/// as the Bluesky AppView's (where they would otherwise be proxied).
fn prefs_aud(state: &AppState) -> String {
    format!("{}#bsky_appview", state.cfg.appview_did)
}

pub async fn get_preferences(
    State(state): State<AppState>,
    auth: AccessAuth,
) -> XrpcResult<Json<Value>> {
    auth.require_rpc("app.bsky.actor.getPreferences", &prefs_aud(&state))?;
    let account = auth.account;
    let prefs: Vec<Value> = state
        .db
        .readers
        .read(move |c| store::bsky_preferences(c, account))
        .await?
        .into_iter()
        .filter_map(|s| serde_json::from_str(&s).ok())
        .collect();
    Ok(Json(json!({ "preferences": prefs })))
}

#[derive(Deserialize)]
pub struct PutInput {
    preferences: Vec<Value>,
}

pub async fn put_preferences(
    State(state): State<AppState>,
    auth: AccessAuth,
    XJson(input): XJson<PutInput>,
) -> XrpcResult<Json<Value>> {
    auth.require_rpc("app.bsky.actor.putPreferences", &prefs_aud(&state))?;
    if input.preferences.len() > MAX_PREFS {
        return Err(XrpcError::invalid_request(format!(
            "At most {MAX_PREFS} preferences"
        )));
    }
    let mut rows = Vec::with_capacity(input.preferences.len());
    for p in &input.preferences {
        let t = p
            .get("$type")
            .and_then(Value::as_str)
            .ok_or_else(|| XrpcError::invalid_request("Preference is missing a $type"))?;
        if !t.starts_with("app.bsky.") {
            return Err(XrpcError::invalid_request(format!(
                "Some preferences are not in the app.bsky namespace: {t}"
            )));
        }
        // Only full sessions may change the personal-details preference, as in the reference.
        if t == "app.bsky.actor.defs#personalDetailsPref" && !auth.is_full() {
            return Err(XrpcError::invalid_request(
                "Insufficient scope for personalDetailsPref",
            ));
        }
        rows.push((t.to_owned(), p.to_string()));
    }
    let account = auth.account;
    state
        .db
        .writer
        .run(move |txn: &mut WriteTxn<'_>| {
            store::replace_bsky_preferences(txn.conn, account, &rows)
        })
        .await?;
    Ok(Json(json!({})))
}
