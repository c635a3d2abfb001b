//! `app.bsky.graph.*`: follows, followers, blocks, lists, relationships, suggestions.

use super::actor::visible_actor;
use super::{at_uri, db, desc_cursor, hydrate, limit, make_cursor};
use crate::auth::{OptionalViewer, Viewer};
use crate::state::AppState;
use crate::views::Hydrator;
use crate::views::graph::{LIST_COLUMNS, ListRow};
use axum::Json;
use axum::extract::State;
use hearth_lexicons::bsky::{
    GetBlocksOutput, GetFollowersOutput, GetFollowsOutput, GetListOutput,
    GetListsWithMembershipOutput, GetMutesOutput, GetRelationshipsOutput, ListItemView,
    ListWithMembership, ListsOutput, ProfileView, StarterPacksOutput,
    StarterPacksWithMembershipOutput, SuggestionsOutput,
};
use hearth_xrpc::{XQuery, XrpcError, XrpcResult, repeated};
use rusqlite::params;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ActorPageParams {
    actor: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct PageParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// (record uri, actor id, time) rows of a page, and the cursor after them.
type Page = (Vec<(String, i64, String)>, Option<String>);

fn page(
    h: &Hydrator<'_>,
    sql: &str,
    key: &dyn rusqlite::ToSql,
    cursor: &(String, String),
    limit: u32,
) -> XrpcResult<Page> {
    let rows: Vec<(String, i64, String)> = db(h.conn.prepare_cached(sql).and_then(|mut s| {
        s.query_map(params![key, cursor.0, cursor.1, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect()
    }))?;
    let next = (rows.len() as u32 >= limit)
        .then(|| rows.last().map(|(u, _, t)| make_cursor(t, u)))
        .flatten();
    Ok((rows, next))
}

fn subject_profile(h: &mut Hydrator<'_>, id: i64) -> XrpcResult<ProfileView> {
    db(h.profile(id))?.ok_or_else(|| XrpcError::invalid_request("Profile not found"))
}

pub async fn get_follows(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<GetFollowsOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        let subject = subject_profile(h, id)?;
        let (rows, next) = page(
            h,
            "SELECT f.uri, COALESCE(a.id, -1), f.indexed_at FROM follows f
             LEFT JOIN actor a ON a.did = f.subject_did
             WHERE f.author = ?1 AND (f.indexed_at, f.uri) < (?2, ?3)
             ORDER BY f.indexed_at DESC, f.uri DESC LIMIT ?4",
            &id,
            &cursor,
            limit,
        )?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).filter(|i| *i >= 0).collect();
        let follows = db(h.profiles_shown(&ids))?;
        Ok(GetFollowsOutput {
            subject,
            cursor: next,
            follows,
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_followers(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<GetFollowersOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        let subject = subject_profile(h, id)?;
        let did = db(h.actor(id))?.map(|a| a.did).unwrap_or_default();
        let (rows, next) = page(
            h,
            "SELECT uri, author, indexed_at FROM follows
             WHERE subject_did = ?1 AND (indexed_at, uri) < (?2, ?3)
             ORDER BY indexed_at DESC, uri DESC LIMIT ?4",
            &did,
            &cursor,
            limit,
        )?;
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let followers = db(h.profiles_shown(&ids))?;
        Ok(GetFollowersOutput {
            subject,
            cursor: next,
            followers,
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_known_followers(
    State(state): State<AppState>,
    viewer: Viewer,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<GetFollowersOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, Some(&viewer.did), move |h| {
        let id = visible_actor(h, &p.actor)?;
        let subject = subject_profile(h, id)?;
        let did = db(h.actor(id))?.map(|a| a.did).unwrap_or_default();
        let me = h.viewer_id().unwrap_or(-1);
        let rows: Vec<(String, i64, String)> = db(h
            .conn
            .prepare_cached(
                // Driven by the viewer's follows, not the subject's followers.
                "SELECT f.uri, f.author, f.indexed_at FROM follows v
                 CROSS JOIN actor a ON a.did = v.subject_did
                 CROSS JOIN follows f INDEXED BY follows_author ON f.author = a.id AND f.subject_did = ?2
                 WHERE v.author = ?1 AND (f.indexed_at, f.uri) < (?3, ?4)
                 ORDER BY f.indexed_at DESC, f.uri DESC LIMIT ?5",
            )
            .and_then(|mut s| {
                s.query_map(params![me, did, cursor.0, cursor.1, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            }))?;
        let next = (rows.len() as u32 >= limit)
            .then(|| rows.last().map(|(u, _, t)| make_cursor(t, u)))
            .flatten();
        let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let followers = db(h.profiles_shown(&ids))?;
        Ok(GetFollowersOutput {
            subject,
            cursor: next,
            followers,
        })
    })
    .await?;
    Ok(Json(out))
}

pub async fn get_blocks(
    State(state): State<AppState>,
    viewer: Viewer,
    XQuery(p): XQuery<PageParams>,
) -> XrpcResult<Json<GetBlocksOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let out = hydrate(&state, Some(&viewer.did), move |h| {
        let me = h.viewer_id().unwrap_or(-1);
        let (rows, next) = page(
            h,
            "SELECT b.uri, COALESCE(a.id, -1), b.created_at FROM blocks b
             LEFT JOIN actor a ON a.did = b.subject_did
             WHERE b.author = ?1 AND (b.created_at, b.uri) < (?2, ?3)
             ORDER BY b.created_at DESC, b.uri DESC LIMIT ?4",
            &me,
            &cursor,
            limit,
        )?;
        let mut blocks = Vec::new();
        for (_, id, _) in &rows {
            // Blocked accounts are listed (that is the point), inactive ones are not.
            if *id >= 0
                && db(h.visible(*id))?
                && let Some(p) = db(h.profile(*id))?
            {
                blocks.push(p);
            }
        }
        Ok(GetBlocksOutput {
            cursor: next,
            blocks,
        })
    })
    .await?;
    Ok(Json(out))
}

/// Mutes live in the AppView, and this one does not offer muting yet: nobody is muted.
pub async fn get_mutes(
    _viewer: Viewer,
    XQuery(p): XQuery<PageParams>,
) -> XrpcResult<Json<GetMutesOutput>> {
    limit(p.limit, 50, 100)?;
    Ok(Json(GetMutesOutput {
        cursor: None,
        mutes: Vec::new(),
    }))
}

/// List mutes are AppView state (not offered); list blocks (`app.bsky.graph.listblock`) are
/// not indexed: the viewer has none of either.
pub async fn get_list_mutes(
    _viewer: Viewer,
    XQuery(p): XQuery<PageParams>,
) -> XrpcResult<Json<ListsOutput>> {
    limit(p.limit, 50, 100)?;
    Ok(Json(ListsOutput {
        cursor: None,
        lists: Vec::new(),
    }))
}

pub async fn get_list_blocks(
    _viewer: Viewer,
    XQuery(p): XQuery<PageParams>,
) -> XrpcResult<Json<ListsOutput>> {
    limit(p.limit, 50, 100)?;
    Ok(Json(ListsOutput {
        cursor: None,
        lists: Vec::new(),
    }))
}

/// `purposes` values as stored (`app.bsky.graph.defs#modlist`); the lexicon's short forms are
/// accepted. No filter means moderation and curation lists.
fn purposes(raw: Vec<String>) -> Vec<String> {
    if raw.is_empty() {
        return vec![
            "app.bsky.graph.defs#modlist".into(),
            "app.bsky.graph.defs#curatelist".into(),
        ];
    }
    raw.into_iter()
        .map(|p| {
            if p.contains('#') {
                p
            } else {
                format!("app.bsky.graph.defs#{p}")
            }
        })
        .collect()
}

pub async fn get_lists(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<ListsOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let wanted = purposes(repeated(uri.query(), "purposes"));
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        if db(h.blocked_with(id))? {
            return Ok(ListsOutput {
                cursor: None,
                lists: Vec::new(),
            });
        }
        let rows: Vec<ListRow> = db(h
            .conn
            .prepare_cached(&format!(
                "SELECT {LIST_COLUMNS} FROM list WHERE author = ?1 AND (indexed_at, uri) < (?2, ?3)
                 ORDER BY indexed_at DESC, uri DESC LIMIT ?4"
            ))
            .and_then(|mut s| {
                s.query_map(params![id, cursor.0, cursor.1, limit], ListRow::from_row)?
                    .collect()
            }))?;
        let mut lists = Vec::new();
        for row in &rows {
            if wanted.contains(&row.purpose)
                && let Some(v) = db(h.list_view_of(row))?
            {
                lists.push(v);
            }
        }
        let next = (rows.len() as u32 >= limit)
            .then(|| rows.last().map(|r| make_cursor(&r.indexed_at, &r.uri)))
            .flatten();
        Ok(ListsOutput {
            cursor: next,
            lists,
        })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct ListParams {
    list: String,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn get_list(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ListParams>,
) -> XrpcResult<Json<GetListOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    at_uri(&p.list)?;
    // Items page by their record URI (TID keys: newest first).
    let cursor = p.cursor.clone().filter(|c| !c.is_empty());
    if let Some(c) = &cursor {
        at_uri(c).map_err(|_| XrpcError::invalid_request("Malformed cursor"))?;
    }
    let out = hydrate(&state, viewer.did(), move |h| {
        let not_found = || XrpcError::invalid_request("List not found");
        let row = db(h.list_row(&p.list))?.ok_or_else(not_found)?;
        let list = db(h.list_view_of(&row))?.ok_or_else(not_found)?;
        let rows: Vec<(String, Option<i64>)> = db(h
            .conn
            .prepare_cached(
                "SELECT li.uri, a.id FROM list_item li LEFT JOIN actor a ON a.did = li.subject_did
                 WHERE li.list_uri = ?1 AND li.uri < ?2 ORDER BY li.uri DESC LIMIT ?3",
            )
            .and_then(|mut s| {
                s.query_map(
                    params![p.list, cursor.as_deref().unwrap_or("at://~"), limit],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect()
            }))?;
        let mut items = Vec::new();
        for (uri, id) in &rows {
            let Some(id) = id else { continue };
            if db(h.shown(*id))?
                && let Some(subject) = db(h.profile(*id))?
            {
                items.push(ListItemView {
                    uri: uri.clone(),
                    subject,
                });
            }
        }
        let next = (rows.len() as u32 >= limit)
            .then(|| rows.last().map(|r| r.0.clone()))
            .flatten();
        Ok(GetListOutput {
            cursor: next,
            list,
            items,
        })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct RelationshipsParams {
    actor: String,
}

pub async fn get_relationships(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    uri: axum::http::Uri,
    XQuery(p): XQuery<RelationshipsParams>,
) -> XrpcResult<Json<GetRelationshipsOutput>> {
    let others = repeated(uri.query(), "others");
    if others.len() > 30 {
        return Err(XrpcError::invalid_request(
            "others may list at most 30 accounts",
        ));
    }
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = db(h.resolve_actor(p.actor.trim_start_matches('@')))?.ok_or_else(|| {
            XrpcError::named("ActorNotFound", "the primary actor could not be resolved")
        })?;
        let did = db(h.actor(id))?.map(|a| a.did).unwrap_or_default();
        let mut relationships = Vec::new();
        for o in &others {
            relationships.push(db(h.relationship(&did, o))?);
        }
        Ok(GetRelationshipsOutput {
            actor: Some(did),
            relationships,
        })
    })
    .await?;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub struct ActorParams {
    actor: String,
}

/// How many suggestions getSuggestedFollowsByActor returns.
const SUGGESTIONS_BY_ACTOR: usize = 25;

pub async fn get_suggested_follows_by_actor(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ActorParams>,
) -> XrpcResult<Json<SuggestionsOutput>> {
    let out = hydrate(&state, viewer.did(), move |h| {
        let id = visible_actor(h, &p.actor)?;
        // Whom the account follows, most followed first, that the viewer does not follow yet;
        // filled up with the accounts most followed overall.
        let candidates: Vec<i64> = db(h
            .conn
            .prepare_cached(
                "SELECT a.id FROM follows f JOIN actor a ON a.did = f.subject_did
                 LEFT JOIN profile_agg g ON g.actor = a.id
                 WHERE f.author = ?1 ORDER BY COALESCE(g.followers, 0) DESC, a.id LIMIT 200",
            )
            .and_then(|mut s| s.query_map([id], |r| r.get(0))?.collect()))?;
        let me = h.viewer_id();
        let mut picked: Vec<i64> = Vec::new();
        for c in candidates {
            if picked.len() >= SUGGESTIONS_BY_ACTOR {
                break;
            }
            if c == id || Some(c) == me || picked.contains(&c) || !db(h.shown(c))? {
                continue;
            }
            if let (Some(v), Some(a)) = (me, db(h.actor(c))?)
                && db(h.follows_id(v, &a.did))?
            {
                continue;
            }
            picked.push(c);
        }
        if picked.len() < SUGGESTIONS_BY_ACTOR {
            let (more, _) = db(h.suggested_actors(0, SUGGESTIONS_BY_ACTOR * 2))?;
            for c in more {
                if picked.len() >= SUGGESTIONS_BY_ACTOR {
                    break;
                }
                if c != id && !picked.contains(&c) {
                    picked.push(c);
                }
            }
        }
        let suggestions = db(h.profiles_shown(&picked))?;
        Ok(SuggestionsOutput { suggestions })
    })
    .await?;
    Ok(Json(out))
}

/// Starter packs (`app.bsky.graph.starterpack`) are not indexed: no account has any here.
pub async fn get_actor_starter_packs(
    State(state): State<AppState>,
    viewer: OptionalViewer,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<StarterPacksOutput>> {
    limit(p.limit, 50, 100)?;
    hydrate(&state, viewer.did(), move |h| {
        visible_actor(h, &p.actor).map(|_| ())
    })
    .await?;
    Ok(Json(StarterPacksOutput {
        starter_packs: Vec::new(),
    }))
}

/// The viewer's lists, each with the list item that puts `actor` on it, if any (the official
/// client's "add to list" dialog).
pub async fn get_lists_with_membership(
    State(state): State<AppState>,
    viewer: Viewer,
    uri: axum::http::Uri,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<GetListsWithMembershipOutput>> {
    let limit = limit(p.limit, 50, 100)?;
    let cursor = desc_cursor(p.cursor.as_deref())?;
    let wanted = purposes(repeated(uri.query(), "purposes"));
    let out = hydrate(&state, Some(&viewer.did), move |h| {
        let subject = visible_actor(h, &p.actor)?;
        let subject_did = db(h.actor(subject))?.map(|a| a.did).unwrap_or_default();
        let me = h.viewer_id().unwrap_or(-1);
        let rows: Vec<ListRow> = db(h
            .conn
            .prepare_cached(&format!(
                "SELECT {LIST_COLUMNS} FROM list WHERE author = ?1 AND (indexed_at, uri) < (?2, ?3)
                 ORDER BY indexed_at DESC, uri DESC LIMIT ?4"
            ))
            .and_then(|mut s| {
                s.query_map(params![me, cursor.0, cursor.1, limit], ListRow::from_row)?
                    .collect()
            }))?;
        let subject_view = db(h.profile(subject))?;
        let mut out = Vec::new();
        for row in &rows {
            if !wanted.contains(&row.purpose) {
                continue;
            }
            let Some(list) = db(h.list_view_of(row))? else {
                continue;
            };
            let item: Option<String> = db(h
                .conn
                .prepare_cached(
                    "SELECT uri FROM list_item WHERE list_uri = ?1 AND subject_did = ?2 LIMIT 1",
                )
                .and_then(|mut s| {
                    rusqlite::OptionalExtension::optional(
                        s.query_row(params![row.uri, subject_did], |r| r.get(0)),
                    )
                }))?;
            let list_item = match (item, &subject_view) {
                (Some(uri), Some(subject)) => Some(ListItemView {
                    uri,
                    subject: subject.clone(),
                }),
                _ => None,
            };
            out.push(ListWithMembership { list, list_item });
        }
        let next = (rows.len() as u32 >= limit)
            .then(|| rows.last().map(|r| make_cursor(&r.indexed_at, &r.uri)))
            .flatten();
        Ok(GetListsWithMembershipOutput {
            cursor: next,
            lists_with_membership: out,
        })
    })
    .await?;
    Ok(Json(out))
}

/// Starter packs are not indexed: none of the asked-for packs is known.
pub async fn get_starter_packs(uri: axum::http::Uri) -> XrpcResult<Json<StarterPacksOutput>> {
    let uris = repeated(uri.query(), "uris");
    if uris.len() > 25 {
        return Err(XrpcError::invalid_request(
            "uris may list at most 25 starter packs",
        ));
    }
    for u in &uris {
        at_uri(u)?;
    }
    Ok(Json(StarterPacksOutput {
        starter_packs: Vec::new(),
    }))
}

/// Starter packs are not indexed: the viewer has none.
pub async fn get_starter_packs_with_membership(
    _viewer: Viewer,
    XQuery(p): XQuery<ActorPageParams>,
) -> XrpcResult<Json<StarterPacksWithMembershipOutput>> {
    limit(p.limit, 50, 100)?;
    Ok(Json(StarterPacksWithMembershipOutput {
        starter_packs_with_membership: Vec::new(),
    }))
}
