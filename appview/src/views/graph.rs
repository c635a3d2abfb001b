//! Graph views: lists (`app.bsky.graph.defs#listView`, `#listViewBasic`, `#listItemView`) and
//! relationships (`#relationship`, `#notFoundActor`).

use super::{Hydrator, ViewResult, obj, record_json};
use crate::index::values::blob_cid_at;
use rusqlite::OptionalExtension;
use serde_json::{Value, json};

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

    /// The fields `#listViewBasic` and `#listView` share, or `None` when the list is unknown,
    /// malformed (the lexicon needs a 1 to 64 character name and a purpose) or its creator
    /// may not be shown.
    fn list_common(&mut self, row: &ListRow) -> ViewResult<Option<Vec<(&'static str, Value)>>> {
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
            .map(|c| json!(self.image("avatar", &creator.did, &c)));
        let mut fields = vec![
            ("uri", json!(row.uri)),
            ("cid", json!(row.cid)),
            ("name", json!(row.name)),
            ("purpose", json!(row.purpose)),
            ("listItemCount", json!(items)),
            ("labels", json!([])),
            ("indexedAt", json!(row.indexed_at)),
        ];
        if let Some(a) = avatar {
            fields.push(("avatar", a));
        }
        if self.viewer.is_some() {
            // List mutes and list blocks are not indexed: the viewer has neither.
            fields.push(("viewer", json!({ "muted": false })));
        }
        Ok(Some(fields))
    }

    /// `app.bsky.graph.defs#listViewBasic`.
    pub fn list_basic(&mut self, uri: &str) -> ViewResult<Option<Value>> {
        let Some(row) = self.list_row(uri)? else {
            return Ok(None);
        };
        Ok(self
            .list_common(&row)?
            .map(|f| Value::Object(f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())))
    }

    /// `app.bsky.graph.defs#listView`.
    pub fn list_view(&mut self, uri: &str) -> ViewResult<Option<Value>> {
        let Some(row) = self.list_row(uri)? else {
            return Ok(None);
        };
        self.list_view_of(&row)
    }

    pub fn list_view_of(&mut self, row: &ListRow) -> ViewResult<Option<Value>> {
        let Some(fields) = self.list_common(row)? else {
            return Ok(None);
        };
        let Some(creator) = self.profile(row.author)? else {
            return Ok(None);
        };
        let rec = record_json(&row.record);
        let mut v: serde_json::Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        v.insert("creator".into(), creator);
        if let Some(d) = rec.get("description").filter(|d| d.is_string()) {
            v.insert("description".into(), d.clone());
        }
        if let Some(f) = rec.get("descriptionFacets").filter(|f| f.is_array()) {
            v.insert("descriptionFacets".into(), f.clone());
        }
        Ok(Some(Value::Object(v)))
    }

    /// `app.bsky.graph.defs#relationship` between the account `did` and `other`, or
    /// `#notFoundActor` when `other` is unknown.
    pub fn relationship(&self, did: &str, other: &str) -> ViewResult<Value> {
        let ident = other.trim_start_matches('@');
        let other_id = self.resolve_actor(ident)?;
        let Some(other_id) = other_id else {
            return Ok(json!({
                "$type": "app.bsky.graph.defs#notFoundActor",
                "actor": other,
                "notFound": true,
            }));
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
        Ok(obj(vec![
            ("$type", Some(json!("app.bsky.graph.defs#relationship"))),
            ("did", Some(json!(other_did))),
            (
                "following",
                record("follows", me, &other_did)?.map(Value::from),
            ),
            (
                "followedBy",
                record("follows", Some(other_id), did)?.map(Value::from),
            ),
            (
                "blocking",
                record("blocks", me, &other_did)?.map(Value::from),
            ),
            (
                "blockedBy",
                record("blocks", Some(other_id), did)?.map(Value::from),
            ),
        ]))
    }
}
