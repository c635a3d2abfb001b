//! The HTTP client the resolvers share, and a body reader that stops at a size cap.

use super::IdentityError;
use std::time::Duration;

pub(super) fn client(timeout: Duration) -> Result<reqwest::Client, IdentityError> {
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        // Documents live at fixed well-known paths; a long redirect chain is a misconfiguration
        // or an attempt to make us fetch elsewhere.
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("hearth-atproto/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| IdentityError::Setup(e.to_string()))
}

/// GETs `url` and returns the status and at most `max` bytes of body (more is an error, so
/// a hostile server cannot make us buffer without bound).
pub(super) async fn get_capped(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
    max: usize,
) -> Result<(u16, Vec<u8>), IdentityError> {
    let net = |e: reqwest::Error| IdentityError::Network(e.to_string());
    let mut resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .map_err(net)?;
    let status = resp.status().as_u16();
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(IdentityError::TooLarge(url.to_owned()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(net)? {
        if body.len() + chunk.len() > max {
            return Err(IdentityError::TooLarge(url.to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}
