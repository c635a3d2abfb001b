//! `app.bsky.notification.*`: the notification list, unread count and seen marker, and the
//! per-account notification preferences.

use super::{db, desc_cursor, hydrate, limit, make_cursor};
use crate::auth::Viewer;
use crate::state::{AppState, now_iso};
use crate::views::notification::{NOTIFICATION_COLUMNS, NotificationRow};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hearth_lexicons::bsky::{
    ActivitySubscriptionsOutput, ListNotificationsOutput, PreferencesOutput, UnreadCountOutput,
};
use hearth_xrpc::{XJson, XQuery, XrpcError, XrpcResult, repeated};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Checks a procedure's input against its lexicon.
fn check_input(nsid: &str, body: &Value) -> XrpcResult<()> {
    let ipld = atproto::data::json::from_json(body)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid input: {e}")))?;
    atproto::lexicon::Catalog::official()
        .validate_input(nsid, &ipld)
        .map_err(|e| XrpcError::invalid_request(format!("Invalid input: {e}")))
}

fn seen_at(conn: &rusqlite::Connection, actor: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT seen_at FROM notification_seen WHERE actor = ?1")?
        .query_row([actor], |r| r.get(0))
        .optional()
}

fn stored_prefs(
    conn: &rusqlite::Connection,
    did: &str,
) -> rusqlite::Result<(Map<String, Value>, bool)> {
    let row: Option<(String, bool)> = conn
        .prepare_cached("SELECT prefs, priority FROM notification_pref WHERE did = ?1")?
        .query_row([did], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match row {
        Some((prefs, priority)) => (
            serde_json::from_str::<Value>(&prefs)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default(),
            priority,
        ),
        None => (Map::new(), false),
    })
}

#[derive(Deserialize)]
pub struct ListParams {
    limit: Option<u32>,
    cursor: Option<String>,
    #[allow(dead_code)]
    priority: Option<bool>,
    #[serde(rename = "seenAt")]
    #[allow(dead_code)]
    seen_at: Option<String>,
}

pub async fn list_notifications(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: axum::http::Uri,
    XQuery(p): XQuery<ListParams>,
) -> XrpcResult<Json<ListNotificationsOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let (time, key) = desc_cursor(p.cursor.as_deref())?;
    let key: i64 = if p.cursor.as_deref().is_some_and(|c| !c.is_empty()) {
        key.parse()
            .map_err(|_| XrpcError::invalid_request("Malformed cursor"))?
    } else {
        i64::MAX
    };
    let reasons = repeated(uri.query(), "reasons");
    let filter = if reasons.is_empty() {
        String::new()
    } else {
        format!(",{},", reasons.join(","))
    };
    let did = viewer.did.clone();
    let out = hydrate(&state, Some(&viewer.did), move |h| {
        let Some(me) = h.viewer_id().filter(|i| *i >= 0) else {
            return Ok(ListNotificationsOutput::default());
        };
        let seen = db(seen_at(h.conn, me))?;
        let (_, priority) = db(stored_prefs(h.conn, &did))?;
        // Rows of blocked or inactive authors are skipped, so read a wider window than needed.
        let window = limit as i64 * 3 + 1;
        let rows: Vec<NotificationRow> = db(h
            .conn
            .prepare_cached(&format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notification
                 WHERE recipient = ?1 AND (?2 = '' OR instr(?2, ',' || reason || ',') > 0)
                   AND (sort_at, id) < (?3, ?4)
                 ORDER BY sort_at DESC, id DESC LIMIT ?5"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![me, filter, time, key, window],
                    NotificationRow::from_row,
                )?
                .collect()
            }))?;
        let mut notifications = Vec::new();
        let mut consumed = 0;
        for row in &rows {
            if notifications.len() as u32 >= limit {
                break;
            }
            consumed += 1;
            if let Some(v) = db(h.notification_view(row, seen.as_deref()))? {
                notifications.push(v);
            }
        }
        let more = consumed < rows.len() || rows.len() as i64 == window;
        let next = more
            .then(|| rows.get(consumed.saturating_sub(1)))
            .flatten()
            .map(|r| make_cursor(&r.sort_at, &r.id.to_string()));
        Ok(ListNotificationsOutput {
            cursor: next,
            notifications,
            priority: Some(priority),
            seen_at: seen,
        })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct UnreadParams {
    #[allow(dead_code)]
    priority: Option<bool>,
    #[serde(rename = "seenAt")]
    seen_at: Option<String>,
}

pub async fn get_unread_count(
    State(state): State<AppState>,
    viewer: Viewer,
    XQuery(p): XQuery<UnreadParams>,
) -> XrpcResult<Json<UnreadCountOutput>> {
    let given = match p.seen_at {
        Some(s) => Some(
            crate::index::values::normalize_datetime(&s)
                .ok_or_else(|| XrpcError::invalid_request("seenAt must be a datetime"))?,
        ),
        None => None,
    };
    let out = hydrate(&state, Some(&viewer.did), move |h| {
        let Some(me) = h.viewer_id().filter(|i| *i >= 0) else {
            return Ok(UnreadCountOutput { count: 0 });
        };
        let since = match given {
            Some(s) => s,
            None => db(seen_at(h.conn, me))?.unwrap_or_default(),
        };
        let did = h.viewer_did().unwrap_or_default().to_owned();
        let count: i64 = db(h
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM notification n JOIN actor a ON a.id = n.author
                 WHERE n.recipient = ?1 AND n.sort_at > ?2 AND a.status IS NULL
                   AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.author = ?1 AND b.subject_did = a.did)
                   AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.author = n.author AND b.subject_did = ?3)",
            )
            .and_then(|mut s| s.query_row(params![me, since, did], |r| r.get(0))))?;
        Ok(UnreadCountOutput { count })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct SeenInput {
    #[serde(rename = "seenAt")]
    seen_at: String,
}

pub async fn update_seen(
    State(state): State<AppState>,
    viewer: Viewer,
    XJson(input): XJson<SeenInput>,
) -> XrpcResult<StatusCode> {
    let seen = crate::index::values::normalize_datetime(&input.seen_at)
        .ok_or_else(|| XrpcError::invalid_request("seenAt must be a datetime"))?;
    state.auth.first_use(&viewer)?;
    let did = viewer.did.clone();
    state
        .db
        .writer
        .run(move |txn| {
            let me = db(crate::index::actor_id(txn.conn, &did, &now_iso()))?;
            db(txn
                .conn
                .prepare_cached(
                    "INSERT INTO notification_seen (actor, seen_at) VALUES (?1, ?2)
                     ON CONFLICT (actor) DO UPDATE SET seen_at = excluded.seen_at",
                )
                .and_then(|mut s| s.execute(params![me, seen])))?;
            Ok::<_, XrpcError>(())
        })
        .await?;
    Ok(StatusCode::OK)
}

/// The reference AppView's defaults: everything listed and pushed, from everyone.
fn default_preferences() -> Map<String, Value> {
    let filterable = json!({ "include": "all", "list": true, "push": true });
    let plain = json!({ "list": true, "push": true });
    let mut m = Map::new();
    m.insert("chat".into(), json!({ "include": "all", "push": true }));
    for k in [
        "follow",
        "like",
        "likeViaRepost",
        "mention",
        "quote",
        "reply",
        "repost",
        "repostViaRepost",
    ] {
        m.insert(k.into(), filterable.clone());
    }
    for k in [
        "starterpackJoined",
        "subscribedPost",
        "unverified",
        "verified",
    ] {
        m.insert(k.into(), plain.clone());
    }
    m
}

fn effective_preferences(stored: &Map<String, Value>) -> Value {
    let mut prefs = default_preferences();
    for (k, v) in stored {
        // `chat` is deprecated: the default always stands.
        if k != "chat" && prefs.contains_key(k) {
            prefs.insert(k.clone(), v.clone());
        }
    }
    Value::Object(prefs)
}

pub async fn get_preferences(
    State(state): State<AppState>,
    viewer: Viewer,
) -> XrpcResult<Json<PreferencesOutput>> {
    let did = viewer.did.clone();
    let out = hydrate(&state, Some(&viewer.did), move |h| {
        let (stored, _) = db(stored_prefs(h.conn, &did))?;
        Ok(PreferencesOutput {
            preferences: effective_preferences(&stored),
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn put_preferences_v2(
    State(state): State<AppState>,
    viewer: Viewer,
    XJson(input): XJson<Value>,
) -> XrpcResult<Json<PreferencesOutput>> {
    check_input("app.bsky.notification.putPreferencesV2", &input)?;
    state.auth.first_use(&viewer)?;
    let changes: Map<String, Value> = input
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| *k != "chat" && default_preferences().contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let did = viewer.did.clone();
    let prefs = state
        .db
        .writer
        .run(move |txn| {
            let (mut stored, _) = db(stored_prefs(txn.conn, &did))?;
            stored.extend(changes);
            let text = Value::Object(stored.clone()).to_string();
            db(txn
                .conn
                .prepare_cached(
                    "INSERT INTO notification_pref (did, prefs, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (did) DO UPDATE SET prefs = excluded.prefs, updated_at = excluded.updated_at",
                )
                .and_then(|mut s| s.execute(params![did, text, now_iso()])))?;
            Ok::<_, XrpcError>(effective_preferences(&stored))
        })
        .await?;
    Ok(Json(PreferencesOutput { preferences: prefs }))
}

#[derive(Deserialize)]
pub struct PriorityInput {
    priority: bool,
}

pub async fn put_preferences(
    State(state): State<AppState>,
    viewer: Viewer,
    XJson(input): XJson<PriorityInput>,
) -> XrpcResult<StatusCode> {
    state.auth.first_use(&viewer)?;
    let did = viewer.did.clone();
    state
        .db
        .writer
        .run(move |txn| {
            db(txn
                .conn
                .prepare_cached(
                    "INSERT INTO notification_pref (did, priority, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (did) DO UPDATE SET priority = excluded.priority, updated_at = excluded.updated_at",
                )
                .and_then(|mut s| s.execute(params![did, input.priority, now_iso()])))?;
            Ok::<_, XrpcError>(())
        })
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PageParams {
    limit: Option<u32>,
    #[allow(dead_code)]
    cursor: Option<String>,
}

/// Activity subscriptions (`putActivitySubscription`) are not offered here, so there are none.
pub async fn list_activity_subscriptions(
    _viewer: Viewer,
    XQuery(p): XQuery<PageParams>,
) -> XrpcResult<Json<ActivitySubscriptionsOutput>> {
    limit(p.limit, 50, 100)?;
    Ok(Json(ActivitySubscriptionsOutput {
        cursor: None,
        subscriptions: Vec::new(),
    }))
}

/// Hearth sends no push notifications. Registering a device is accepted, so clients carry on,
/// and the token is not kept (there is nothing to use it for).
pub async fn register_push(
    _viewer: Viewer,
    uri: axum::http::Uri,
    XJson(input): XJson<Value>,
) -> XrpcResult<StatusCode> {
    let nsid = uri.path().trim_start_matches("/xrpc/").to_owned();
    check_input(&nsid, &input)?;
    Ok(StatusCode::OK)
}
