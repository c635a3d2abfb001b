use crate::{PlcStore, router};
use atproto::crypto::{Algorithm, Keypair};
use atproto::plc::{Operation, PlcOp, create_genesis, update_op};
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

fn genesis(rotation: &Keypair) -> (String, PlcOp) {
    let signing = Keypair::generate(Algorithm::K256);
    let op = Operation::atproto(
        &signing.public(),
        "alice.test",
        "https://pds.alice.test",
        vec![rotation.public().did_key()],
        None,
    );
    create_genesis(op, rotation).unwrap()
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, String, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, ctype, String::from_utf8(body.to_vec()).unwrap())
}

fn post(did: &str, op: &PlcOp) -> Request<Body> {
    Request::post(format!("/{did}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(op.to_json_string()))
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn operations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plc.sqlite");
    let key = Keypair::generate(Algorithm::P256);
    let (did, op) = genesis(&key);
    {
        let store = PlcStore::open(&path).unwrap();
        store
            .submit(did.clone(), op.to_json_string().into_bytes())
            .await
            .unwrap();
    }
    let store = PlcStore::open(&path).unwrap();
    assert_eq!(store.last_op(did.clone()).await.unwrap(), Some(op));
    let audit = store.audit_log(did.clone()).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert!(
        atproto::plc::verify_audit_log(&did, &audit)
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn serves_documents_logs_and_errors() {
    let app = router(PlcStore::open_in_memory().unwrap());
    let key = Keypair::generate(Algorithm::K256);
    let (did, op) = genesis(&key);

    let (status, _, body) = call(&app, get(&format!("/{did}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        format!(r#"{{"message":"DID not registered: {did}"}}"#)
    );

    let (status, _, body) = call(&app, post(&did, &op)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));

    let (status, ctype, body) = call(&app, get(&format!("/{did}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/did+ld+json"));
    let doc: atproto::identity::DidDocument = serde_json::from_str(&body).unwrap();
    assert_eq!(doc.pds_endpoint(), Some("https://pds.alice.test"));
    assert_eq!(doc.handle().unwrap().as_str(), "alice.test");

    let (status, _, body) = call(&app, get(&format!("/{did}/data"))).await;
    assert_eq!(status, StatusCode::OK);
    let data: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(data["rotationKeys"][0], key.public().did_key());

    // Signed by a key that is not a rotation key: 400 with the reason.
    let stranger = Keypair::generate(Algorithm::K256);
    let bad = update_op(&op, &stranger, |_| {}).unwrap();
    let (status, _, body) = call(&app, post(&did, &bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Invalid signature"), "{body}");

    let update = update_op(&op, &key, |o| {
        o.also_known_as = vec!["at://bob.test".into()]
    })
    .unwrap();
    assert_eq!(call(&app, post(&did, &update)).await.0, StatusCode::OK);
    let (_, _, body) = call(&app, get(&format!("/{did}/log"))).await;
    let log: Vec<PlcOp> = serde_json::from_str(&body).unwrap();
    assert_eq!(log, vec![op.clone(), update.clone()]);
    let (_, _, body) = call(&app, get(&format!("/{did}/log/last"))).await;
    assert_eq!(serde_json::from_str::<PlcOp>(&body).unwrap(), update);
    let (_, _, body) = call(&app, get(&format!("/{did}/log/audit"))).await;
    let audit: Vec<atproto::plc::LogEntry> = serde_json::from_str(&body).unwrap();
    assert_eq!(audit.len(), 2);

    let (status, _, body) = call(&app, get("/_health")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("version"));
}

#[tokio::test]
async fn rate_limit_can_be_turned_off() {
    let store = PlcStore::open_in_memory().unwrap();
    let key = Keypair::generate(Algorithm::K256);
    let (did, mut last) = genesis(&key);
    let submit = |op: &PlcOp| store.submit(did.clone(), op.to_json_string().into_bytes());
    submit(&last).await.unwrap();
    for i in 0..9 {
        last = update_op(&last, &key, |o| {
            o.also_known_as = vec![format!("at://a{i}.test")]
        })
        .unwrap();
        submit(&last).await.unwrap();
    }
    let eleventh = update_op(&last, &key, |_| {}).unwrap();
    let err = submit(&eleventh).await.unwrap_err();
    assert!(err.to_string().contains("within last hour"), "{err}");
    store.set_rate_limits(false);
    submit(&eleventh).await.unwrap();
}
