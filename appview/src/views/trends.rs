//! Trending topics: the hashtags the most accounts used in recent posts.

use super::{Hydrator, ViewResult};
use crate::index::values::{at, str_at, type_of};
use atproto::data::Ipld;
use std::collections::{HashMap, HashSet};

/// A hashtag in use.
#[derive(Debug, Clone)]
pub struct Trend {
    /// As first written.
    pub tag: String,
    pub posts: i64,
    /// When the earliest post in the window used it.
    pub started_at: String,
    /// Accounts that used it, most recent first.
    pub authors: Vec<i64>,
}

/// The hashtags of a post: facet tags and the record's `tags`.
pub fn tags_of(record: &Ipld) -> Vec<&str> {
    let mut out = Vec::new();
    if let Some(Ipld::List(facets)) = at(record, &["facets"]) {
        for f in facets {
            if let Some(Ipld::List(features)) = at(f, &["features"]) {
                for feat in features {
                    if type_of(feat) == Some("app.bsky.richtext.facet#tag")
                        && let Some(t) = str_at(feat, &["tag"])
                    {
                        out.push(t);
                    }
                }
            }
        }
    }
    if let Some(Ipld::List(tags)) = at(record, &["tags"]) {
        out.extend(tags.iter().filter_map(|t| match t {
            Ipld::String(s) => Some(s.as_str()),
            _ => None,
        }));
    }
    out
}

impl<'c> Hydrator<'c> {
    /// Hashtags of the `scan` most recent posts since `since`, by how many accounts used them
    /// (then how many posts), from accounts that may be shown.
    pub fn trending_tags(&mut self, since: &str, scan: usize) -> ViewResult<Vec<Trend>> {
        let rows: Vec<(i64, String, Vec<u8>)> = self
            .conn
            .prepare_cached(
                "SELECT author, sort_at, record FROM post INDEXED BY post_sort
                 WHERE sort_at >= ?1 ORDER BY sort_at DESC LIMIT ?2",
            )?
            .query_map(rusqlite::params![since, scan as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut by_tag: HashMap<String, Trend> = HashMap::new();
        let mut authors: HashMap<String, HashSet<i64>> = HashMap::new();
        for (author, sort_at, bytes) in rows {
            let Ok(record) = atproto::data::cbor::decode(&bytes) else {
                continue;
            };
            let tags = tags_of(&record);
            if tags.is_empty() || !self.shown(author)? {
                continue;
            }
            let mut seen_here = HashSet::new();
            for tag in tags {
                let tag = tag.trim().trim_start_matches('#');
                if tag.is_empty() || tag.len() > 640 {
                    continue;
                }
                let key = tag.to_lowercase();
                if !seen_here.insert(key.clone()) {
                    continue;
                }
                let t = by_tag.entry(key.clone()).or_insert_with(|| Trend {
                    tag: tag.to_owned(),
                    posts: 0,
                    started_at: sort_at.clone(),
                    authors: Vec::new(),
                });
                t.posts += 1;
                // Rows come newest first: the last one seen is the earliest.
                t.started_at = sort_at.clone();
                if authors.entry(key).or_default().insert(author) {
                    t.authors.push(author);
                }
            }
        }
        let mut out: Vec<Trend> = by_tag.into_values().collect();
        out.sort_by(|a, b| {
            b.authors
                .len()
                .cmp(&a.authors.len())
                .then(b.posts.cmp(&a.posts))
                .then(a.tag.to_lowercase().cmp(&b.tag.to_lowercase()))
        });
        Ok(out)
    }
}
