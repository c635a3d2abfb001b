//! `Connection: close` on responses to requests whose body was not read to the end.
//!
//! A handler may answer before it has read the body: a blob over the size limit, a JSON body
//! over the limit, an unauthenticated upload, an unknown method. The client may still have
//! bytes of that body in flight, so hyper cannot reuse the connection and closes it after the
//! response; but unless the response says so, a keep-alive client returns the connection to
//! its pool and its *next* request fails on the closed socket (`IncompleteMessage`), a
//! spurious error on a request that did nothing wrong. Saying `Connection: close` makes the
//! client open a fresh connection instead.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the request announces a body (a non-zero length, or a chunked one).
fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

pub async fn close_if_body_unread(req: Request, next: Next) -> Response {
    if !has_body(&req) {
        return next.run(req).await;
    }
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    let (parts, body) = req.into_parts();
    // The body as a stream that notes when it reaches its end.
    let tracked = futures::stream::unfold(
        (body.into_data_stream(), Some(flag)),
        |(mut data, flag)| async move {
            match data.next().await {
                Some(chunk) => Some((chunk, (data, flag))),
                None => {
                    if let Some(f) = flag {
                        f.store(true, Ordering::Release);
                    }
                    None
                }
            }
        },
    );
    let mut res = next
        .run(Request::from_parts(parts, Body::from_stream(tracked)))
        .await;
    if !finished.load(Ordering::Acquire) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}
