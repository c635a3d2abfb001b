//! Building the `app.bsky.*` views: a [`Hydrator`] reads what a response needs from the index
//! (one connection, per-request caches) and renders the lexicon shapes, with the viewer's state
//! and blocks applied.
//!
//! Every view is one of the typed views of [`hearth_lexicons::bsky`], one
//! `#[derive(Serialize)]` type per lexicon def, shared with the PDS (which renders the same
//! shapes for read-after-write); only records pass through as JSON.
//!
//! **Why our own types and not `atrium-api`.** atrium-api 0.26 (`namespace-appbsky` only)
//! serializes what clients expect: a 50-post page deserialized into its `FeedViewPost` and
//! serialized back is the same JSON (unions tagged with `$type`, datetimes as strings, `None`
//! left out). It was not adopted because:
//! - every view is an `Object<T>` with two `#[serde(flatten)]` fields, records are its own
//!   `Unknown` data model (each record block would be converted into `ipld-core` values), and
//!   CIDs, DIDs, handles and datetimes are parsed newtypes, so each indexed string would be
//!   parsed again on every render and need an error path of its own;
//! - it is about 34,000 lines of generated code with ~80 crates under it (`atrium-xrpc`,
//!   `atrium-common`, `moka`, `ipld-core`, `cid`, `multihash`, `chrono`, `regex`...), about
//!   35 CPU-seconds more per release build of the crate on the 2-core CI;
//! - serializing a page is no faster than with our types (same figure within noise).
//!
//! The figures and the commands that produced them are in `docs/benchmarks.md` ("Typed views").

pub mod actor;
pub mod embed;
pub mod feed;
pub mod graph;
pub mod labeler;
pub mod notification;
pub mod post;
pub mod search;
pub mod thread;
pub mod trends;

use rusqlite::Connection;
use serde_json::Value;
use std::collections::HashMap;

pub type ViewResult<T> = Result<T, rusqlite::Error>;

/// Per-request view builder.
pub struct Hydrator<'c> {
    pub conn: &'c Connection,
    /// The signed-in viewer's DID and actor id, if any.
    pub viewer: Option<(String, i64)>,
    /// Base URL for image links (`{base}/img/...`).
    pub img_base: String,
    actors: HashMap<i64, Option<actor::ActorRow>>,
    /// The viewer's follows and blocks with each actor met so far (or read ahead for a page).
    relations: HashMap<i64, actor::Relation>,
    /// Post rows and per-post state read in batches ahead of rendering a page of posts.
    prefetched: post::Prefetched,
}

impl<'c> Hydrator<'c> {
    pub fn new(conn: &'c Connection, viewer: Option<&str>, img_base: &str) -> ViewResult<Self> {
        let viewer = match viewer {
            Some(did) => {
                let id: Option<i64> = rusqlite::OptionalExtension::optional(
                    conn.prepare_cached("SELECT id FROM actor WHERE did = ?1")?
                        .query_row([did], |r| r.get(0)),
                )?;
                // A viewer the index has never seen still has a DID; -1 matches no rows.
                Some((did.to_owned(), id.unwrap_or(-1)))
            }
            None => None,
        };
        Ok(Hydrator {
            conn,
            viewer,
            img_base: img_base.trim_end_matches('/').to_owned(),
            actors: HashMap::new(),
            relations: HashMap::new(),
            prefetched: post::Prefetched::default(),
        })
    }

    pub fn viewer_did(&self) -> Option<&str> {
        self.viewer.as_ref().map(|(d, _)| d.as_str())
    }

    pub fn viewer_id(&self) -> Option<i64> {
        self.viewer.as_ref().map(|(_, i)| *i)
    }

    /// An image URL served (and redirected to the owner's PDS) by this AppView.
    pub fn image(&self, kind: &str, did: &str, cid: &str) -> String {
        format!("{}/img/{kind}/plain/{did}/{cid}@jpeg", self.img_base)
    }
}

/// A record block rendered as JSON (`$link`/`$bytes` forms), or null if it does not decode.
pub fn record_json(bytes: &[u8]) -> Value {
    atproto::data::cbor::decode(bytes)
        .map(|v| atproto::data::json::to_json(&v))
        .unwrap_or(Value::Null)
}
