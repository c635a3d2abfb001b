//! Graph views: lists (`app.bsky.graph.defs#listView`, `#listViewBasic`, `#listItemView`) and
//! relationships (`#relationship`, `#notFoundActor`).

use super::{Hydrator, ViewResult, record_json};
use crate::index::values::blob_cid_at;
use hearth_lexicons::bsky::{
    ListView, ListViewBasic, ListViewerState, Relationship, RelationshipOrNotFound, no_labels,
};
use rusqlite::OptionalExtension;

/// A list as the index holds it.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub uri: String,
    pub cid: String,
    pub author: i64,
    pub name: String,
    pub purpose: String,
    pub record: Vec<u8>,
    pub indexed_at: String,
}

/// The columns [`ListRow::from_row`] reads, in order.
pub const LIST_COLUMNS: &str = "uri, cid, author, name, purpose, record, indexed_at";

impl ListRow {
    pub fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListRow> {
        Ok(ListRow {
            uri: r.get(0)?,
            cid: r.get(1)?,
            author: r.get(2)?,
            name: r.get(3)?,
            purpose: r.get(4)?,
            record: r.get(5)?,
            indexed_at: r.get(6)?,
        })
    }
}

impl<'c> Hydrator<'c> {
    pub fn list_row(&self, uri: &str) -> ViewResult<Option<ListRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {LIST_COLUMNS} FROM list WHERE uri = ?1"))?
            .query_row([uri], ListRow::from_row)
            .optional()
    }

    /// `app.bsky.graph.defs#listViewBasic`, or `None` when the list is malformed (the lexicon
    /// needs a 1 to 64 character name and a purpose) or its creator may not be shown.
    fn list_basic_of(&mut self, row: &ListRow) -> ViewResult<Option<ListViewBasic>> {
        if row.name.is_empty() || row.name.len() > 64 || row.purpose.is_empty() {
            return Ok(None);
        }
        let Some(creator) = self.actor(row.author)? else {
            return Ok(None);
        };
        if creator.status.is_some() {
            return Ok(None);
        }
        let items: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM list_item WHERE list_uri = ?1")?
            .query_row([&row.uri], |r| r.get(0))?;
        let avatar = atproto::data::cbor::decode(&row.record)
            .ok()
            .and_then(|rec| blob_cid_at(&rec, &["avatar"]))
            .map(|c| self.image("avatar", &creator.did, &c));
        Ok(Some(ListViewBasic {
            uri: row.uri.clone(),
            cid: row.cid.clone(),
            name: row.name.clone(),
            purpose: row.purpose.clone(),
            avatar,
            list_item_count: Some(items),
            labels: no_labels(),
            // List mutes and list blocks are not indexed: the viewer has neither.
            viewer: self.viewer.as_ref().map(|_| ListViewerState {
                muted: Some(false),
                blocked: None,
            }),
            indexed_at: Some(row.indexed_at.clone()),
        }))
    }

    /// `app.bsky.graph.defs#listViewBasic`; `None` when the list is unknown or not shown.
    pub fn list_basic(&mut self, uri: &str) -> ViewResult<Option<ListViewBasic>> {
        let Some(row) = self.list_row(uri)? else {
            return Ok(None);
        };
        self.list_basic_of(&row)
    }

    /// `app.bsky.graph.defs#listView`.
    pub fn list_view(&mut self, uri: &str) -> ViewResult<Option<ListView>> {
        let Some(row) = self.list_row(uri)? else {
            return Ok(None);
        };
        self.list_view_of(&row)
    }

    pub fn list_view_of(&mut self, row: &ListRow) -> ViewResult<Option<ListView>> {
        let Some(basic) = self.list_basic_of(row)? else {
            return Ok(None);
        };
        let Some(creator) = self.profile(row.author)? else {
            return Ok(None);
        };
        let mut rec = record_json(&row.record);
        let description = rec
            .get("description")
            .and_then(|d| d.as_str())
            .map(str::to_owned);
        let facets = rec
            .get_mut("descriptionFacets")
            .filter(|f| f.is_array())
            .map(serde_json::Value::take);
        Ok(Some(ListView::from_basic(
            basic,
            creator,
            description,
            facets,
        )))
    }

    /// `app.bsky.graph.defs#relationship` between the account `did` and `other`, or
    /// `#notFoundActor` when `other` is unknown.
    pub fn relationship(&self, did: &str, other: &str) -> ViewResult<RelationshipOrNotFound> {
        let ident = other.trim_start_matches('@');
        let other_id = self.resolve_actor(ident)?;
        let Some(other_id) = other_id else {
            return Ok(RelationshipOrNotFound::NotFound {
                actor: other.to_owned(),
                not_found: true,
            });
        };
        let other_did: String = self
            .conn
            .prepare_cached("SELECT did FROM actor WHERE id = ?1")?
            .query_row([other_id], |r| r.get(0))?;
        let me: Option<i64> = self.actor_id(did)?;
        let record =
            |table: &str, author: Option<i64>, subject: &str| -> ViewResult<Option<String>> {
                let Some(author) = author else {
                    return Ok(None);
                };
                self.conn
                    .prepare_cached(&format!(
                        "SELECT uri FROM {table} WHERE author = ?1 AND subject_did = ?2"
                    ))?
                    .query_row(rusqlite::params![author, subject], |r| r.get(0))
                    .optional()
            };
        Ok(RelationshipOrNotFound::Relationship(Relationship {
            following: record("follows", me, &other_did)?,
            followed_by: record("follows", Some(other_id), did)?,
            blocking: record("blocks", me, &other_did)?,
            blocked_by: record("blocks", Some(other_id), did)?,
            did: other_did,
        }))
    }
}
