//! Labeler views (`app.bsky.labeler.defs#labelerView`, `#labelerViewDetailed`).

use super::{Hydrator, ViewResult, record_json};
use hearth_lexicons::bsky::{
    LabelerServiceView, LabelerView, LabelerViewDetailed, LabelerViewerState, no_labels,
};
use rusqlite::OptionalExtension;
use serde_json::Value;

impl<'c> Hydrator<'c> {
    /// The labeler service an account declared, with its `$type` (the views appear in unions).
    /// `None` when the account has none, may not be shown, or (detailed) the declaration has no
    /// `policies`.
    pub fn labeler_view(
        &mut self,
        actor: i64,
        detailed: bool,
    ) -> ViewResult<Option<LabelerServiceView>> {
        let row: Option<(String, String, Vec<u8>, String)> = self
            .conn
            .prepare_cached(
                "SELECT uri, cid, record, indexed_at FROM labeler WHERE author = ?1
                 ORDER BY indexed_at DESC LIMIT 1",
            )?
            .query_row([actor], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((uri, cid, record, indexed_at)) = row else {
            return Ok(None);
        };
        if !self.visible(actor)? {
            return Ok(None);
        }
        let Some(creator) = self.profile(actor)? else {
            return Ok(None);
        };
        let likes: i64 = self
            .conn
            .prepare_cached("SELECT likes FROM post_agg WHERE post_uri = ?1")?
            .query_row([&uri], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let viewer = match self.viewer_id() {
            Some(v) => {
                let like: Option<String> = self
                    .conn
                    .prepare_cached("SELECT uri FROM likes WHERE author = ?1 AND subject_uri = ?2")?
                    .query_row(rusqlite::params![v, uri], |r| r.get(0))
                    .optional()?;
                Some(LabelerViewerState { like })
            }
            None => None,
        };
        let mut rec = record_json(&record);
        let view = LabelerView {
            uri,
            cid,
            creator,
            like_count: Some(likes),
            viewer,
            indexed_at,
            labels: no_labels(),
        };
        if !detailed {
            return Ok(Some(LabelerServiceView::View(Box::new(view))));
        }
        let Some(policies) = rec
            .get_mut("policies")
            .filter(|p| p.get("labelValues").is_some_and(Value::is_array))
            .map(Value::take)
        else {
            return Ok(None);
        };
        let mut list = |key: &str| rec.get_mut(key).filter(|v| v.is_array()).map(Value::take);
        Ok(Some(LabelerServiceView::Detailed(Box::new(
            LabelerViewDetailed {
                view,
                policies,
                reason_types: list("reasonTypes"),
                subject_types: list("subjectTypes"),
                subject_collections: list("subjectCollections"),
            },
        ))))
    }
}
