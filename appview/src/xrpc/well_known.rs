//! Health, the AppView's DID document, and image links.

use crate::state::AppState;
use atproto::syntax::Did;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_xrpc::{XrpcError, XrpcResult};
use serde_json::{Value, json};

/// 200 while the index and the spaces database take writes, 503 otherwise, with the ingest
/// counters.
pub async fn health(State(state): State<AppState>) -> XrpcResult<Json<Value>> {
    crate::check_health(&state).await.map_err(|e| {
        XrpcError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            e.to_string(),
        )
    })?;
    Ok(Json(
        json!({ "version": env!("CARGO_PKG_VERSION"), "ingest": state.stats.snapshot() }),
    ))
}

/// `#atproto` is the AppView's key; `#bsky_appview` and `#hearth_appview` are where clients
/// (through their PDS) reach it.
pub async fn did_json(State(state): State<AppState>) -> Json<Value> {
    Json(hearth_xrpc::did_web_document(
        &state.service_did,
        &state.key.public().multikey(),
        &state.public_url,
        &[
            ("bsky_notif", "BskyNotificationService"),
            ("bsky_appview", "BskyAppView"),
            (hearth_lexicons::SERVICE_ID, hearth_lexicons::SERVICE_TYPE),
        ],
    ))
}

/// Public images are the owner's PDS blobs; this redirects to them so view JSON needs no
/// DID resolution.
pub async fn image(
    State(state): State<AppState>,
    Path((_kind, did, cid)): Path<(String, String, String)>,
) -> XrpcResult<Response> {
    let cid = cid.split('@').next().unwrap_or_default();
    let cid =
        atproto::data::parse_cid(cid).map_err(|_| XrpcError::invalid_request("Invalid CID"))?;
    let did: Did = did
        .parse()
        .map_err(|_| XrpcError::invalid_request("Invalid DID"))?;
    let doc = state
        .dids
        .resolve(&did)
        .await
        .map_err(|_| XrpcError::not_found("NotFound", "Unknown account"))?;
    let url = doc
        .pds_endpoint()
        .and_then(|pds| blob_url(&state.remote, pds, &did, &cid.to_string()))
        .ok_or_else(|| XrpcError::not_found("NotFound", "Account has no usable PDS"))?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "public, max-age=3600".into()),
        ],
    )
        .into_response())
}

/// Where a blob lives on the account's PDS. Anyone can write any endpoint into their DID
/// document, so this AppView only redirects to a bare PDS origin the guarded client would
/// accept (https outside development, no private literal address, no path, query, fragment
/// or credentials): never to an arbitrary URL under its own name.
fn blob_url(remote: &hearth_net::RemoteClient, pds: &str, did: &Did, cid: &str) -> Option<String> {
    let origin = remote.check(pds).ok()?;
    if !matches!(origin.path(), "" | "/") || origin.query().is_some() || origin.fragment().is_some()
    {
        return None;
    }
    let mut url = hearth_net::endpoint_url(pds, "/xrpc/com.atproto.sync.getBlob").ok()?;
    url.query_pairs_mut()
        .append_pair("did", did.as_str())
        .append_pair("cid", cid);
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::blob_url;
    use atproto::syntax::Did;

    #[test]
    fn image_redirect_is_not_open() {
        let production =
            hearth_net::RemoteClient::new(&hearth_net::Config::new(false, "test")).expect("client");
        let dev =
            hearth_net::RemoteClient::new(&hearth_net::Config::new(true, "test")).expect("client");
        let did: Did = "did:plc:ewvi7nxzyoun6zhxrhs64oiz".parse().expect("did");
        let cid = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";
        assert_eq!(
            blob_url(&production, "https://pds.example.com/", &did, cid).as_deref(),
            Some(
                "https://pds.example.com/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3Aewvi7nxzyoun6zhxrhs64oiz&cid=bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"
            )
        );
        for pds in [
            "https://evil.example/phish",
            "https://evil.example/login?next=",
            "https://evil.example#",
            "https://user:pw@evil.example",
            "javascript:alert(1)",
            "//evil.example",
            "http://plain.example",
            "https://127.0.0.1",
            "https://169.254.169.254",
            "https://[fd00::1]",
            "",
        ] {
            assert_eq!(blob_url(&production, pds, &did, cid), None, "{pds}");
        }
        // Development keeps local PDSes on plain http working.
        assert!(blob_url(&dev, "http://localhost:2583", &did, cid).is_some());
    }
}
