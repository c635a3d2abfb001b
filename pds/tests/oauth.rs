//! The PDS as an OAuth authorization server, over HTTP: the metadata documents, pushed
//! authorization requests, the authorization pages and the token endpoint, with the refusals
//! the atproto profile requires. The official client's end-to-end run is in
//! `tests/interop/oauth.test.mjs`.

mod common;

use common::*;

#[tokio::test]
async fn metadata_documents() {
    let cases = Cases::new("pds_oauth metadata");
    let w = World::new(Options::default());
    let pds = &w.pds;
    let issuer = format!("http://localhost:{}", pds.port);
    let http = hearth_testkit::http::client();

    cases.case("oauth-protected-resource names the PDS and its issuer");
    let res = http
        .get(format!("{}/.well-known/oauth-protected-resource", pds.url))
        .send()
        .await
        .expect("get");
    let doc: serde_json::Value = res.json().await.expect("json");
    assert_eq!(doc["resource"], issuer.as_str());
    assert_eq!(doc["authorization_servers"], serde_json::json!([issuer]));

    cases.case("oauth-authorization-server passes the atproto checks");
    let res = http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            pds.url
        ))
        .send()
        .await
        .expect("get");
    let doc: hearth_oauth::metadata::AuthorizationServerMetadata =
        res.json().await.expect("metadata");
    assert_eq!(doc.check_atproto(&issuer), Ok(()));
    assert_eq!(
        doc.pushed_authorization_request_endpoint,
        format!("{issuer}/oauth/par")
    );
    assert_eq!(
        doc.token_endpoint_auth_methods_supported,
        ["none", "private_key_jwt"]
    );
}
