//! `com.atproto.sync.subscribeRepos`: replay from a cursor out of the database, then follow
//! the live stream. Frames are sent as stored (`Bytes` clones share one buffer).

use crate::db::DbError;
use crate::sequencer::{SeqFrame, store};
use crate::state::AppState;
use atproto::firehose::{Event, Info, encode_error, encode_event};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use hearth_xrpc::XQuery;
use hearth_xrpc::XrpcError;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

/// Subscribers send us nothing but pings and a close, so their read buffer can be small.
const READ_BUFFER: usize = 4 * 1024;
/// A subscriber this far behind the head is disconnected (`ConsumerTooSlow`) instead of
/// replaying without end.
const MAX_LAG: i64 = 500_000;

#[derive(Deserialize)]
pub struct Params {
    cursor: Option<String>,
}

/// The upgrade is taken as a `Result` so that a request that is not a WebSocket handshake (a
/// plain GET, a wrong method) gets an XRPC error body, not axum's plain-text rejection; the
/// cursor is checked first, so a bad cursor is the same 400 either way.
pub async fn subscribe_repos(
    State(state): State<AppState>,
    XQuery(params): XQuery<Params>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, XrpcError> {
    let cursor = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| XrpcError::invalid_request("cursor must be an integer"))?,
        ),
    };
    let ws = ws.map_err(|r| XrpcError::new(r.status(), "InvalidRequest", r.body_text()))?;
    Ok(ws
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            if let Err(e) = run(state, cursor, socket).await {
                tracing::debug!(error = %e, "firehose subscriber ended");
            }
        })
        .into_response())
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, frame: Bytes) -> Result<(), axum::Error> {
    sink.send(Message::Binary(frame)).await
}

/// Tells the subscriber the server is going away (close code 1001), so it reconnects with its
/// cursor rather than treating the stream as broken.
async fn close_going_away(sink: &mut Sink) {
    let frame = axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: "server shutting down".into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
    let _ = sink.close().await;
}

/// Completes once the server asks subscribers to go.
async fn stopping(closing: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

async fn send_error_and_close(sink: &mut Sink, error: &str, message: &str) {
    if let Ok(frame) = encode_error(error, Some(message)) {
        let _ = send(sink, frame.into()).await;
    }
    let _ = sink.close().await;
}

async fn page(state: &AppState, after: i64) -> Result<Vec<SeqFrame>, DbError> {
    state
        .db
        .readers
        .read(move |conn| store::page(conn, after))
        .await
}

async fn oldest(state: &AppState) -> Result<Option<i64>, DbError> {
    state.db.readers.read(store::oldest).await
}

async fn run(state: AppState, cursor: Option<i64>, socket: WebSocket) -> Result<(), String> {
    let counted = state.sequencer.track(state.sequencer.head());
    let mut closing = state.sequencer.closing();
    let (mut sink, mut stream) = socket.split();
    // Notice the client going away even while we only write.
    let (closed_tx, mut closed) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
        let _ = closed_tx.send(());
    });

    // Subscribe before reading the head, so nothing published in between is missed.
    let mut live = state.sequencer.subscribe();
    let head = state.sequencer.head();
    let mut last = match cursor {
        None => head,
        Some(c) if c > head => {
            send_error_and_close(&mut sink, "FutureCursor", "Cursor in the future.").await;
            return Ok(());
        }
        Some(c) => {
            // A negative cursor asks for everything, like 0: it is not "older than what is
            // retained" unless 0 would be.
            let c = c.max(0);
            let oldest = oldest(&state).await.map_err(|e| e.to_string())?;
            match oldest {
                Some(o) if c < o - 1 => {
                    let info = Event::Info(Info {
                        name: "OutdatedCursor".into(),
                        message: Some(
                            "Requested cursor exceeded limit. Possibly missing events".into(),
                        ),
                    });
                    let frame = encode_event(&info).map_err(|e| e.to_string())?;
                    send(&mut sink, frame.into())
                        .await
                        .map_err(|e| e.to_string())?;
                    o - 1
                }
                _ => c,
            }
        }
    };
    counted.sent(last);

    loop {
        // Replay from storage until caught up with what is committed.
        while last < state.sequencer.head() {
            let stopping = *closing.borrow();
            if stopping {
                close_going_away(&mut sink).await;
                return Ok(());
            }
            if state.sequencer.head() - last > MAX_LAG {
                send_error_and_close(&mut sink, "ConsumerTooSlow", "Stream consumer too slow")
                    .await;
                return Ok(());
            }
            let frames = page(&state, last).await.map_err(|e| e.to_string())?;
            if frames.is_empty() {
                break;
            }
            // A page goes out in as few writes as the socket buffer allows: sent one by one,
            // each small frame was its own write and, with TCP_NODELAY, its own segment.
            for f in frames {
                last = f.seq;
                sink.feed(Message::Binary(f.frame))
                    .await
                    .map_err(|e| e.to_string())?;
                counted.sent(last);
            }
            sink.flush().await.map_err(|e| e.to_string())?;
        }
        // Follow live. Falling behind the shared buffer sends us back to storage.
        loop {
            tokio::select! {
                _ = &mut closed => return Ok(()),
                _ = stopping(&mut closing) => {
                    close_going_away(&mut sink).await;
                    return Ok(());
                }
                msg = live.recv() => match msg {
                    Ok(f) if f.seq <= last => continue,
                    Ok(f) if f.seq == last + 1 => {
                        last = f.seq;
                        send(&mut sink, f.frame).await.map_err(|e| e.to_string())?;
                        counted.sent(last);
                    }
                    // A gap (frames published while we replayed): fill it from storage.
                    Ok(_) | Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return Ok(()),
                }
            }
        }
    }
}
