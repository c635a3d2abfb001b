//! Pages that update while they are open, over server-sent events: every signed-in page's
//! inbox badge (`GET /events`), and an open channel's "new posts" nudge
//! (`GET /s/{skey}/c/{rkey}/events`, which carries the badge too: one connection per page).
//!
//! Only a count and a nudge go out, never content: the page is fetched again, through the gate.
//! The gate is asked again before every nudge, so a member removed while the page is open
//! hears nothing more. A stream ends after [`STREAM_LIFETIME`] and the browser reconnects,
//! which checks the session again (a signed-out session gets no second stream). Without
//! JavaScript nothing here is used, and every page works as before.

use crate::Web;
use crate::http::error::WebError;
use crate::session::Viewer;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use hearth_spaces::live::Change;
use hearth_spaces::uri::SpaceUri;
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, broadcast};

/// How long one stream lives before the browser has to reconnect (and show its session again).
pub const STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Streams open at once, across everyone: each holds a task and a subscription.
pub const MAX_STREAMS: usize = 10_000;

/// `GET /events`: the inbox badge.
pub async fn events(State(web): State<Web>, v: Viewer) -> Result<Response, WebError> {
    open(web, v.did.clone(), None).await
}

/// `GET /s/{skey}/c/{rkey}/events`: the badge, and a nudge when the channel has a new post.
pub async fn channel_events(
    State(web): State<Web>,
    v: Viewer,
    Path((skey, rkey)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (_, channel, _) = super::space::member_channel(&web, &v.did, &skey, &rkey).await?;
    open(web, v.did.clone(), Some((skey, rkey, channel.uri))).await
}

struct Stream {
    web: Web,
    did: String,
    changes: broadcast::Receiver<Change>,
    /// The spaces whose changes may move the badge; `None`: too many to list, all may.
    mine: Option<HashSet<String>>,
    /// The open channel: its space key, record key and URI.
    channel: Option<(String, String, String)>,
    unread: Option<i64>,
    queued: VecDeque<Event>,
    ends: tokio::time::Instant,
    _permit: OwnedSemaphorePermit,
}

async fn open(
    web: Web,
    did: String,
    channel: Option<(String, String, String)>,
) -> Result<Response, WebError> {
    let permit = web
        .live
        .clone()
        .try_acquire_owned()
        .map_err(|_| WebError::RateLimited)?;
    // Subscribed before the first count, so no post falls between the two.
    let changes = web.spaces.changes();
    let listed = web
        .spaces
        .list_mine(&did, hearth_spaces::model::MAX_PAGE, None)
        .await?;
    let mine = listed.cursor.is_none().then(|| {
        listed
            .spaces
            .iter()
            .filter_map(|s| s.uri.parse::<SpaceUri>().ok())
            .map(|u| u.skey)
            .collect()
    });
    let mut s = Stream {
        web,
        did,
        changes,
        mine,
        channel,
        unread: None,
        queued: VecDeque::new(),
        ends: tokio::time::Instant::now() + STREAM_LIFETIME,
        _permit: permit,
    };
    s.recount().await;
    let stream = futures::stream::unfold(s, |mut s| async move {
        loop {
            if let Some(e) = s.queued.pop_front() {
                return Some((Ok::<Event, Infallible>(e), s));
            }
            let change = match tokio::time::timeout_at(s.ends, s.changes.recv()).await {
                Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Ok(Ok(c)) => Some(c),
                // Fell behind: anything may have changed.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => None,
            };
            s.changed(change.as_ref()).await;
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(25)))
        .into_response())
}

impl Stream {
    /// What a change (or, with `None`, an unknown number of them) means for this page.
    async fn changed(&mut self, change: Option<&Change>) {
        let in_channel = match (&self.channel, change) {
            (Some(_), None) => true,
            (Some((skey, rkey, _)), Some(c)) => c.skey == *skey && c.channel == *rkey,
            (None, _) => false,
        };
        if in_channel && self.still_reads_channel().await {
            self.queued
                .push_back(Event::default().event("post").data("new"));
        }
        let mine = match (&self.mine, change) {
            (Some(m), Some(c)) => m.contains(&c.skey),
            _ => true,
        };
        if mine {
            self.recount().await;
        }
    }

    /// The gate, asked again: removed, banned or demoted since the page opened hears nothing.
    async fn still_reads_channel(&self) -> bool {
        let Some((_, _, uri)) = &self.channel else {
            return false;
        };
        self.web
            .spaces
            .channel_feed(&self.did, uri, 1, None)
            .await
            .is_ok()
    }

    /// Queues the badge's count if it moved.
    async fn recount(&mut self) {
        let Ok(n) = self.web.spaces.unread_count(&self.did, None).await else {
            return;
        };
        if self.unread != Some(n.count) {
            self.unread = Some(n.count);
            self.queued
                .push_back(Event::default().event("unread").data(n.count.to_string()));
        }
    }
}
