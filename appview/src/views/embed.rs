//! Embed views: images, external links, video, quoted records, and records with media.

use super::{Hydrator, ViewResult, record_json};
use crate::index::values::{at, blob_cid_at, str_at, type_of, uri_did};
use atproto::data::Ipld;
use hearth_lexicons::bsky::{
    EmbedView, ExternalView, GeneratorView, GeneratorViewerState, ImagesView, LabelerServiceView,
    MediaView, RecordView, RecordViewRecord, RecordWithMediaView, TaggedRecordView, VideoView,
    ViewExternal, ViewImage, ViewRecord, no_labels,
};
use rusqlite::OptionalExtension;
use serde_json::Value;

struct GeneratorRow {
    cid: String,
    author: i64,
    service_did: String,
    name: String,
    description: Option<String>,
    avatar: Option<String>,
    record: Vec<u8>,
    indexed_at: String,
}

impl<'c> Hydrator<'c> {
    /// The view of a post's `embed`, for a post by `did`.
    pub fn embed_view(
        &mut self,
        did: &str,
        embed: &Ipld,
        depth: usize,
    ) -> ViewResult<Option<EmbedView>> {
        Ok(match type_of(embed) {
            Some("app.bsky.embed.record") => match str_at(embed, &["record", "uri"]) {
                Some(uri) => Some(EmbedView::Record(RecordView {
                    record: self.record_view(uri, depth)?,
                })),
                None => None,
            },
            Some("app.bsky.embed.recordWithMedia") => {
                let media = at(embed, &["media"]).and_then(|m| self.media_view(did, m));
                match str_at(embed, &["record", "record", "uri"]) {
                    Some(uri) => Some(EmbedView::RecordWithMedia(RecordWithMediaView {
                        record: TaggedRecordView::View(RecordView {
                            record: self.record_view(uri, depth)?,
                        }),
                        media,
                    })),
                    None => None,
                }
            }
            _ => self.media_view(did, embed).map(EmbedView::from),
        })
    }

    /// Images, an external link or a video, the embeds that need nothing from the index.
    fn media_view(&self, did: &str, embed: &Ipld) -> Option<MediaView> {
        match type_of(embed) {
            Some("app.bsky.embed.images") => Some(MediaView::Images(self.images_view(did, embed))),
            Some("app.bsky.embed.external") => {
                Some(MediaView::External(self.external_view(did, embed)))
            }
            Some("app.bsky.embed.video") => Some(MediaView::Video(self.video_view(did, embed))),
            _ => None,
        }
    }

    fn images_view(&self, did: &str, embed: &Ipld) -> ImagesView {
        let mut images = Vec::new();
        if let Some(Ipld::List(list)) = at(embed, &["images"]) {
            for img in list {
                let Some(cid) = blob_cid_at(img, &["image"]) else {
                    continue;
                };
                images.push(ViewImage {
                    thumb: self.image("feed_thumbnail", did, &cid),
                    fullsize: self.image("feed_fullsize", did, &cid),
                    alt: str_at(img, &["alt"]).unwrap_or_default().to_owned(),
                    aspect_ratio: at(img, &["aspectRatio"]).map(atproto::data::json::to_json),
                });
            }
        }
        ImagesView { images }
    }

    fn external_view(&self, did: &str, embed: &Ipld) -> ExternalView {
        let field = |name: &str| {
            str_at(embed, &["external", name])
                .unwrap_or_default()
                .to_owned()
        };
        ExternalView {
            external: ViewExternal {
                uri: field("uri"),
                title: field("title"),
                description: field("description"),
                thumb: blob_cid_at(embed, &["external", "thumb"])
                    .map(|c| self.image("feed_thumbnail", did, &c)),
            },
        }
    }

    fn video_view(&self, did: &str, embed: &Ipld) -> VideoView {
        let cid = blob_cid_at(embed, &["video"]).unwrap_or_default();
        VideoView {
            playlist: self.image("video", did, &cid),
            cid,
            alt: str_at(embed, &["alt"]).map(str::to_owned),
            aspect_ratio: at(embed, &["aspectRatio"]).map(atproto::data::json::to_json),
        }
    }

    /// What a quote shows: the quoted post (with its own embeds one level deep), a feed
    /// generator or list, or why it cannot be shown.
    pub fn record_view(&mut self, uri: &str, depth: usize) -> ViewResult<RecordViewRecord> {
        let not_found = || RecordViewRecord::NotFound {
            uri: uri.to_owned(),
            not_found: true,
        };
        let Some(did) = uri_did(uri) else {
            return Ok(not_found());
        };
        if uri.contains("/app.bsky.feed.generator/") {
            return Ok(match self.generator_view(uri)? {
                Some(g) => RecordViewRecord::Generator(Box::new(g)),
                None => not_found(),
            });
        }
        if uri.contains("/app.bsky.graph.list/") {
            return Ok(match self.list_view(uri)? {
                Some(l) => RecordViewRecord::List(Box::new(l)),
                None => not_found(),
            });
        }
        if uri.contains("/app.bsky.labeler.service/") {
            let labeler = match self.actor_id(did)? {
                Some(id) => self.labeler_view(id, false)?,
                None => None,
            };
            return Ok(match labeler {
                Some(LabelerServiceView::View(v)) => RecordViewRecord::Labeler(v),
                _ => not_found(),
            });
        }
        if !uri.contains("/app.bsky.feed.post/") {
            return Ok(not_found());
        }
        let Some(row) = self.post_row(uri)? else {
            return Ok(not_found());
        };
        if !self.visible(row.author)? {
            return Ok(not_found());
        }
        if self.blocked_with(row.author)? {
            return Ok(RecordViewRecord::Blocked(self.blocked_post_view(uri)?));
        }
        let Some(author) = self.profile_basic(row.author)? else {
            return Ok(not_found());
        };
        let counts: (i64, i64, i64, i64) = self
            .conn
            .prepare_cached(
                "SELECT replies, reposts, likes, quotes FROM post_agg WHERE post_uri = ?1",
            )?
            .query_row([uri], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?
            .unwrap_or((0, 0, 0, 0));
        let embeds = if depth == 0 {
            match atproto::data::cbor::decode(&row.record)
                .ok()
                .as_ref()
                .and_then(|r| at(r, &["embed"]))
            {
                Some(e) => self.embed_view(did, e, depth + 1)?.map(|v| vec![v]),
                None => None,
            }
        } else {
            None
        };
        Ok(RecordViewRecord::Record(Box::new(ViewRecord {
            uri: uri.to_owned(),
            cid: row.cid,
            author,
            value: record_json(&row.record),
            labels: no_labels(),
            reply_count: Some(counts.0),
            repost_count: Some(counts.1),
            like_count: Some(counts.2),
            quote_count: Some(counts.3),
            embeds,
            indexed_at: row.indexed_at,
        })))
    }

    /// `app.bsky.feed.defs#generatorView`.
    pub fn generator_view(&mut self, uri: &str) -> ViewResult<Option<GeneratorView>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT cid, author, service_did, display_name, description, avatar, record, indexed_at FROM feed_generator WHERE uri = ?1",
            )?
            .query_row([uri], |r| {
                Ok(GeneratorRow {
                    cid: r.get(0)?,
                    author: r.get(1)?,
                    service_did: r.get(2)?,
                    name: r.get(3)?,
                    description: r.get(4)?,
                    avatar: r.get(5)?,
                    record: r.get(6)?,
                    indexed_at: r.get(7)?,
                })
            })
            .optional()?;
        let Some(GeneratorRow {
            cid,
            author,
            service_did,
            name,
            description,
            avatar,
            record,
            indexed_at,
        }) = row
        else {
            return Ok(None);
        };
        let Some(creator) = self.profile(author)? else {
            return Ok(None);
        };
        let likes: i64 = self
            .conn
            .prepare_cached("SELECT likes FROM post_agg WHERE post_uri = ?1")?
            .query_row([uri], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let viewer_like: Option<String> = match self.viewer_id() {
            Some(v) => self
                .conn
                .prepare_cached("SELECT uri FROM likes WHERE author = ?1 AND subject_uri = ?2")?
                .query_row(rusqlite::params![v, uri], |r| r.get(0))
                .optional()?,
            None => None,
        };
        let mut rec = record_json(&record);
        let mut field = |key: &str| rec.get_mut(key).map(Value::take);
        Ok(Some(GeneratorView {
            uri: uri.to_owned(),
            cid,
            did: service_did,
            avatar: avatar.map(|c| self.image("avatar", &creator.did, &c)),
            creator,
            display_name: name,
            description,
            description_facets: field("descriptionFacets"),
            like_count: Some(likes),
            accepts_interactions: field("acceptsInteractions"),
            labels: no_labels(),
            viewer: self
                .viewer
                .as_ref()
                .map(|_| GeneratorViewerState { like: viewer_like }),
            content_mode: field("contentMode"),
            indexed_at,
        }))
    }
}
