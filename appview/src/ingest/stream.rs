//! Reading one firehose: connect with the stored cursor, decode frames, route events to
//! workers, reconnect with backoff, and give up on a socket that has gone quiet.

use super::watermark::Watermark;
use super::{HostInfo, Incoming, Work, partition};
use crate::state::AppState;
use atproto::firehose::{Event, Frame, MAX_FRAME_BYTES, decode_frame};
use atproto::identity::did_web_url;
use atproto::syntax::Did;
use futures::{SinkExt, StreamExt};
use hearth_db::{DbError, WriteTxn};
use rusqlite::OptionalExtension;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Sender;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A socket with no traffic for this long (pings included) is considered stalled.
const STALL: Duration = Duration::from_secs(90);
const PING_EVERY: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The largest WebSocket message read. Above the decoder's own ceiling (`MAX_FRAME_BYTES`) on
/// purpose: a frame somewhat over it is read, refused by the decoder and counted, and the
/// stream goes on. A message over the socket's limit ends the connection instead, and the
/// reconnection would ask for the same frame again.
const MAX_WS_MESSAGE: usize = 4 * MAX_FRAME_BYTES;

fn http_base(ws: &str) -> String {
    ws.replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1)
}

/// A host that answers describeServer is a PDS; a relay does not. Asks until the host answers
/// at all, so a host that is still starting is not mistaken for a relay: neither by a refused
/// connection nor by the gateway error a TLS proxy in front answers for it meanwhile.
///
/// A PDS reached over loopback (the one `hearth up` or `hearth serve` runs beside the AppView)
/// is also known by the URL of the service DID it names: that is how its accounts' DID
/// documents refer to it. A remote host's claim is not taken: it could name someone else's.
async fn describe(state: &AppState, url: &str) -> (bool, Vec<String>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match state
            .http
            .get(format!(
                "{}/xrpc/com.atproto.server.describeServer",
                http_base(url)
            ))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                let alias = body["did"]
                    .as_str()
                    .and_then(|d| d.parse::<Did>().ok())
                    .filter(|d| d.method() == "web")
                    .and_then(|d| did_web_url(&d, false).ok())
                    .filter(|_| is_loopback(url));
                return (true, alias.into_iter().collect());
            }
            Ok(r) if not_yet_up(r.status()) => {
                tracing::debug!(host = %url, status = %r.status(), "host not answering yet");
            }
            Ok(_) => return (false, Vec::new()),
            Err(e) => tracing::debug!(host = %url, error = %e, "host not answering yet"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A proxy's answer while the service behind it is down or starting (502, 503, 504). Any other
/// answer is the host's own; a relay says it has no describeServer with 404 or 501.
fn not_yet_up(status: reqwest::StatusCode) -> bool {
    use reqwest::StatusCode;
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
    )
}

fn is_loopback(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| {
        matches!(
            u.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        )
    })
}

async fn stored_cursor(state: &AppState, url: &str) -> Option<i64> {
    let url = url.to_owned();
    state
        .db
        .readers
        .read(move |c| {
            c.query_row(
                "SELECT seq FROM firehose_cursor WHERE host = ?1",
                [&url],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map_err(DbError::from)
        })
        .await
        .ok()
        .flatten()
}

pub async fn run(state: AppState, url: String, workers: Arc<Vec<Sender<Work>>>) {
    let (pds, aliases) = describe(&state, &url).await;
    let stored = stored_cursor(&state, &url).await;
    tracing::info!(host = %url, is_pds = pds, aliases = ?aliases, cursor = ?stored, "subscribing to firehose");
    let host = Arc::new(HostInfo {
        url: url.clone(),
        is_pds: pds,
        aliases,
        watermark: Watermark::new(stored.unwrap_or(0)),
    });
    persist_cursor(state.clone(), host.clone());
    if pds {
        let (st, base) = (state.clone(), http_base(&url));
        tokio::spawn(async move { super::backfill::discover(st, base).await });
    }
    // A PDS replays its retained history to a new subscriber; a relay is followed live.
    let mut cursor = stored.or(pds.then_some(0));
    let mut backoff = Duration::from_secs(1);
    loop {
        let endpoint = match cursor {
            Some(c) => format!("{url}/xrpc/com.atproto.sync.subscribeRepos?cursor={c}"),
            None => format!("{url}/xrpc/com.atproto.sync.subscribeRepos"),
        };
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(MAX_WS_MESSAGE);
        config.max_frame_size = Some(MAX_WS_MESSAGE);
        let tls = Some(state.websocket_tls.clone());
        match tokio_tungstenite::connect_async_tls_with_config(&endpoint, Some(config), false, tls)
            .await
        {
            Ok((socket, _)) => {
                backoff = Duration::from_secs(1);
                let last = read(&state, &host, socket, &workers).await;
                cursor = Some(last.max(cursor.unwrap_or(0)));
            }
            Err(e) => tracing::warn!(host = %url, error = %e, "firehose connection failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads until the socket closes, fails or stalls; returns the last sequence number routed.
async fn read(
    state: &AppState,
    host: &Arc<HostInfo>,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    workers: &Arc<Vec<Sender<Work>>>,
) -> i64 {
    let (mut sink, mut stream) = socket.split();
    let mut last = host.watermark.cursor();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        let msg = tokio::select! {
            _ = ping.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return last;
                }
                continue;
            }
            m = tokio::time::timeout(STALL, stream.next()) => m,
        };
        let bytes = match msg {
            Err(_) => {
                tracing::warn!(host = %host.url, "firehose stalled; reconnecting");
                return last;
            }
            Ok(None) => return last,
            Ok(Some(Err(e))) => {
                tracing::warn!(host = %host.url, error = %e, "firehose read failed; reconnecting");
                return last;
            }
            Ok(Some(Ok(Message::Binary(b)))) => b,
            Ok(Some(Ok(Message::Close(_)))) => return last,
            Ok(Some(Ok(_))) => continue,
        };
        state
            .stats
            .events
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match decode_frame(&bytes) {
            Ok(Frame::Event(Event::Info(info))) => {
                tracing::info!(host = %host.url, name = %info.name, message = ?info.message, "firehose info");
            }
            Ok(Frame::Event(event)) => {
                let (Some(seq), Some(did)) = (event.seq(), event.did().map(str::to_owned)) else {
                    continue;
                };
                // Sequence numbers only go up; a repeated or older one is a replay.
                if seq <= last {
                    state.stats.drop_event("stale_seq");
                    continue;
                }
                last = seq;
                host.watermark.begin(seq);
                let w = &workers[partition(&did, workers.len())];
                if w.send(Work::Event(Incoming {
                    event,
                    host: host.clone(),
                    seq,
                }))
                .await
                .is_err()
                {
                    return last;
                }
            }
            Ok(Frame::Error(e)) => {
                tracing::warn!(host = %host.url, error = %e.error, message = ?e.message, "firehose error frame");
                state.stats.drop_event("error_frame");
                return last;
            }
            Ok(Frame::Unknown(t)) => {
                // Skipped, as the spec asks of consumers, but counted: a host sending many is
                // worth noticing.
                tracing::debug!(host = %host.url, kind = %t, "unknown firehose event skipped");
                state.stats.drop_event("unknown_type");
            }
            Err(e) => {
                tracing::debug!(host = %host.url, error = %e, "malformed frame dropped");
                state.stats.drop_event("malformed_frame");
            }
        }
    }
}

/// Stores the host's cursor every second while it moves.
fn persist_cursor(state: AppState, host: Arc<HostInfo>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut stored = -1;
        loop {
            tick.tick().await;
            let c = host.watermark.cursor();
            if c == stored {
                continue;
            }
            let url = host.url.clone();
            let res = state
                .db
                .writer
                .run(move |txn: &mut WriteTxn<'_, ()>| {
                    txn.conn.execute(
                        "INSERT INTO firehose_cursor (host, seq) VALUES (?1, ?2) ON CONFLICT (host) DO UPDATE SET seq = ?2",
                        rusqlite::params![url, c],
                    )?;
                    Ok::<_, DbError>(())
                })
                .await;
            if res.is_ok() {
                stored = c;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::not_yet_up;
    use reqwest::StatusCode;

    #[test]
    fn a_gateway_error_is_not_a_relay_answer() {
        for (status, waiting) in [
            (StatusCode::BAD_GATEWAY, true),
            (StatusCode::SERVICE_UNAVAILABLE, true),
            (StatusCode::GATEWAY_TIMEOUT, true),
            (StatusCode::NOT_FOUND, false),
            (StatusCode::NOT_IMPLEMENTED, false),
            (StatusCode::BAD_REQUEST, false),
            (StatusCode::INTERNAL_SERVER_ERROR, false),
        ] {
            assert_eq!(not_yet_up(status), waiting, "{status}");
        }
    }
}
