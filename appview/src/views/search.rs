//! Search: turning what a user typed into an FTS5 query that can only match terms, and the
//! search operators the official client's search box uses (`from:`, `to:`, `since:` ...).

use super::{Hydrator, ViewResult};
use crate::index::post::mentions;
use crate::index::values::{at, normalize_datetime, str_at, type_of};
use atproto::data::Ipld;

/// Most terms a query may have; the rest are ignored.
const MAX_TERMS: usize = 16;
/// Longest term kept, in bytes.
const MAX_TERM_BYTES: usize = 128;

/// A post search, parsed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PostQuery {
    /// Words and quoted phrases, each matched as a term (never as FTS syntax).
    pub terms: Vec<String>,
    /// `from:` — an at-identifier, or `me`.
    pub from: Option<String>,
    /// `to:` / `mentions:` — an at-identifier, or `me`.
    pub mentions: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub lang: Option<String>,
    pub domain: Option<String>,
}

/// Splits a query into words and `"quoted phrases"`.
fn words(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in q.chars() {
        match ch {
            '"' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a post search query: operators are taken out, everything else is a term.
pub fn parse_post_query(q: &str) -> PostQuery {
    let mut out = PostQuery::default();
    for w in words(q) {
        let op = w.split_once(':').filter(|(k, v)| {
            !v.is_empty()
                && matches!(
                    *k,
                    "from" | "to" | "mentions" | "since" | "until" | "lang" | "domain"
                )
        });
        match op {
            Some(("from", v)) => out.from = Some(v.trim_start_matches('@').to_owned()),
            Some(("to" | "mentions", v)) => {
                out.mentions = Some(v.trim_start_matches('@').to_owned())
            }
            Some(("since", v)) => out.since = Some(v.to_owned()),
            Some(("until", v)) => out.until = Some(v.to_owned()),
            Some(("lang", v)) => out.lang = Some(v.to_owned()),
            Some(("domain", v)) => out.domain = Some(v.to_ascii_lowercase()),
            _ => out.terms.push(w),
        }
    }
    out
}

/// An FTS5 query matching every term (as a string, so no FTS syntax gets through), each as a
/// prefix when `prefix` is set; `None` if nothing searchable remains.
pub fn fts_match(terms: &[String], prefix: bool) -> Option<String> {
    let mut parts = Vec::new();
    for t in terms {
        // Only letters and digits produce tokens; a term of punctuation alone would be an
        // empty phrase.
        if !t.chars().any(char::is_alphanumeric) {
            continue;
        }
        let mut t = t.as_str();
        if t.len() > MAX_TERM_BYTES {
            let mut end = MAX_TERM_BYTES;
            while !t.is_char_boundary(end) {
                end -= 1;
            }
            t = &t[..end];
        }
        let escaped = t.replace('"', "\"\"");
        parts.push(if prefix {
            format!("\"{escaped}\"*")
        } else {
            format!("\"{escaped}\"")
        });
        if parts.len() >= MAX_TERMS {
            break;
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// A `since`/`until` bound as the index writes times: a datetime, or a plain `YYYY-MM-DD`
/// date (midnight UTC).
pub fn time_bound(s: &str) -> Option<String> {
    if let Some(t) = normalize_datetime(s) {
        return Some(t);
    }
    let b = s.as_bytes();
    let is_date = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if is_date {
        normalize_datetime(&format!("{s}T00:00:00.000Z"))
    } else {
        None
    }
}

/// Whether a post record mentions `did` through a rich-text facet.
pub fn record_mentions(record: &Ipld, did: &str) -> bool {
    mentions(record).contains(&did)
}

/// Whether a post record declares language `lang` (or a subtag of it: `en` matches `en-US`).
pub fn record_in_lang(record: &Ipld, lang: &str) -> bool {
    let Some(Ipld::List(langs)) = at(record, &["langs"]) else {
        return false;
    };
    langs.iter().any(|l| match l {
        Ipld::String(s) => {
            s.eq_ignore_ascii_case(lang)
                || s.get(..lang.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(lang))
                    && s.get(lang.len()..)
                        .is_some_and(|rest| rest.starts_with('-'))
        }
        _ => false,
    })
}

/// The host of a URL, lowercased, without `www.`.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_ascii_lowercase();
    Some(host.strip_prefix("www.").map(str::to_owned).unwrap_or(host))
}

/// Whether a post links (facet link or external embed) to `domain` or a subdomain of it.
pub fn record_links_domain(record: &Ipld, domain: &str) -> bool {
    let domain = domain.trim_start_matches("www.");
    let matches =
        |url: &str| host_of(url).is_some_and(|h| h == domain || h.ends_with(&format!(".{domain}")));
    let mut urls: Vec<&str> = Vec::new();
    if let Some(Ipld::List(facets)) = at(record, &["facets"]) {
        for f in facets {
            if let Some(Ipld::List(features)) = at(f, &["features"]) {
                for feat in features {
                    if type_of(feat) == Some("app.bsky.richtext.facet#link")
                        && let Some(u) = str_at(feat, &["uri"])
                    {
                        urls.push(u);
                    }
                }
            }
        }
    }
    for path in [
        &["embed", "external", "uri"][..],
        &["embed", "media", "external", "uri"],
    ] {
        if let Some(u) = str_at(record, path) {
            urls.push(u);
        }
    }
    urls.into_iter().any(matches)
}

/// A page of ranked results: actor ids, and the offset to continue from if there may be more.
pub type RankedPage = (Vec<i64>, Option<usize>);

impl<'c> Hydrator<'c> {
    /// Accounts matching `q` (handle, display name, description; each word as a prefix), best
    /// first, leaving out those that may not be shown. An exact handle or DID leads the first
    /// page. Offsets count raw matches, so pages stay stable as accounts are filtered.
    pub fn search_actors(
        &mut self,
        q: &str,
        offset: usize,
        limit: usize,
    ) -> ViewResult<RankedPage> {
        let q = q.trim().trim_start_matches('@');
        let mut out = Vec::new();
        let exact = match q {
            "" => None,
            q => self
                .resolve_actor(q)?
                .filter(|_| !q.contains(char::is_whitespace)),
        };
        if offset == 0
            && let Some(id) = exact
            && self.shown(id)?
        {
            out.push(id);
        }
        let terms: Vec<String> = q.split_whitespace().map(str::to_owned).collect();
        let Some(m) = fts_match(&terms, true) else {
            return Ok((out, None));
        };
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT rowid FROM actor_fts WHERE actor_fts MATCH ?1 ORDER BY rank, rowid
                 LIMIT ?2 OFFSET ?3",
            )?
            // One more than needed per page tells whether another page exists; filtering may
            // drop some, so read a generous window.
            .query_map(
                rusqlite::params![m, (limit * 4 + 1) as i64, offset as i64],
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?;
        let mut consumed = 0;
        for id in &ids {
            if out.len() >= limit {
                break;
            }
            consumed += 1;
            if Some(*id) == exact || !self.shown(*id)? {
                continue;
            }
            if self.actor(*id)?.is_some_and(|a| a.handle.is_some()) {
                out.push(*id);
            }
        }
        let more = consumed < ids.len();
        Ok((out, more.then_some(offset + consumed)))
    }

    /// Accounts to suggest following: the most followed accounts that may be shown, have a
    /// verified handle, and that the viewer (if any) neither is nor follows.
    pub fn suggested_actors(&mut self, offset: usize, limit: usize) -> ViewResult<RankedPage> {
        let viewer = self.viewer_id();
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT actor FROM profile_agg INDEXED BY profile_agg_followers
                 ORDER BY followers DESC, actor LIMIT ?1 OFFSET ?2",
            )?
            .query_map(
                rusqlite::params![(limit * 4 + 1) as i64, offset as i64],
                |r| r.get(0),
            )?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        let mut consumed = 0;
        for id in &ids {
            if out.len() >= limit {
                break;
            }
            consumed += 1;
            if Some(*id) == viewer || !self.shown(*id)? {
                continue;
            }
            let Some(a) = self.actor(*id)? else { continue };
            if a.handle.is_none() {
                continue;
            }
            if let Some(v) = viewer
                && self.follows_id(v, &a.did)?
            {
                continue;
            }
            out.push(*id);
        }
        let more = consumed < ids.len();
        Ok((out, more.then_some(offset + consumed)))
    }

    /// Whether actor `author` follows `subject_did`.
    pub fn follows_id(&self, author: i64, subject_did: &str) -> ViewResult<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM follows WHERE author = ?1 AND subject_did = ?2)",
            )?
            .query_row(rusqlite::params![author, subject_did], |r| r.get(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_quoted_and_escaped() {
        let q = parse_post_query(r#"hello "big world" NEAR(a b) OR -z* from:@alice.test"#);
        assert_eq!(q.from.as_deref(), Some("alice.test"));
        let m = fts_match(&q.terms, false).unwrap();
        assert_eq!(m, r#""hello" "big world" "NEAR(a" "b)" "OR" "-z*""#);
        // An unbalanced quote makes the rest one phrase, still a plain string.
        let q = parse_post_query(r#"say "hi there"#);
        assert_eq!(q.terms, vec!["say".to_owned(), "hi there".to_owned()]);
        assert_eq!(fts_match(&["!!".into(), "()".into()], true), None);
        assert_eq!(
            fts_match(&["al\"ice".into()], true).as_deref(),
            Some(r#""al""ice"*"#)
        );
    }

    #[test]
    fn time_bounds() {
        assert_eq!(
            time_bound("2024-05-01").as_deref(),
            Some("2024-05-01T00:00:00.000Z")
        );
        assert_eq!(
            time_bound("2024-05-01T10:00:00+02:00").as_deref(),
            Some("2024-05-01T08:00:00.000Z")
        );
        assert_eq!(time_bound("yesterday"), None);
    }

    #[test]
    fn languages() {
        let rec = atproto::data::json::from_json(&serde_json::json!({ "langs": ["en-US", "é"] }))
            .expect("record");
        assert!(record_in_lang(&rec, "en"));
        assert!(record_in_lang(&rec, "EN-us"));
        assert!(!record_in_lang(&rec, "e"));
        assert!(!record_in_lang(&rec, "fr"));
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("https://www.Example.com:8080/x").as_deref(),
            Some("example.com")
        );
        assert_eq!(host_of("nope"), None);
    }
}
