//! Calling a service over HTTP, checking that every error it answers is an XRPC error.

use crate::{ADMIN_PASSWORD, PASSWORD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// The HTTP client the suites use: generous timeout, so a stuck server fails the test rather
/// than hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    /// The response headers (empty for [`raw_http`]).
    pub headers: reqwest::header::HeaderMap,
}

impl Res {
    pub async fn read(r: reqwest::Response) -> Res {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Res {
            status,
            body,
            text,
            headers,
        }
    }

    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            self.status.is_success(),
            "expected success, got {}: {}",
            self.status,
            self.text
        );
        self.body
    }

    /// Asserts an XRPC error: the status, the error name, and a string message.
    #[track_caller]
    pub fn err(&self, status: u16, name: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status} {name}, got {}: {}",
            self.status,
            self.text
        );
        assert_xrpc_error(&self.body, &self.text);
        assert_eq!(
            self.body["error"].as_str(),
            Some(name),
            "wrong error name: {}",
            self.text
        );
    }
}

/// Every error body is exactly an object with string `error` and `message`.
#[track_caller]
pub fn assert_xrpc_error(body: &Value, text: &str) {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not a JSON object: {text:?}"));
    assert!(
        obj.get("error").is_some_and(Value::is_string),
        "no error name: {text}"
    );
    assert!(
        obj.get("message").is_some_and(Value::is_string),
        "no message: {text}"
    );
}

/// An account signed in on a PDS.
#[derive(Clone, Debug)]
pub struct Account {
    pub did: String,
    pub handle: String,
    pub access: String,
    pub refresh: String,
}

/// A service reached at `url` (`http://localhost:<port>`).
#[derive(Clone)]
pub struct Xrpc {
    pub url: String,
    pub port: u16,
    pub http: reqwest::Client,
}

impl Xrpc {
    pub fn local(port: u16) -> Xrpc {
        Xrpc {
            url: format!("http://localhost:{port}"),
            port,
            http: client(),
        }
    }

    pub fn xrpc(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.url)
    }

    /// Sends `call` and reads the answer.
    pub async fn send(&self, call: &Call) -> Res {
        let (req, headers) = match call {
            Call::Raw(head) => return raw_http(self.port, head).await,
            Call::Get { nsid, headers } => (self.http.get(self.xrpc(nsid)), headers),
            Call::Post {
                nsid,
                headers,
                content_type,
                body,
            } => {
                let mut req = self.http.post(self.xrpc(nsid)).body(body.clone());
                if let Some(ct) = content_type {
                    req = req.header("content-type", ct);
                }
                (req, headers)
            }
        };
        let req = headers
            .iter()
            .fold(req, |req, (name, value)| req.header(*name, value));
        Res::read(req.send().await.expect("request sent")).await
    }

    pub async fn get(&self, nsid_and_query: &str, token: Option<&str>) -> Res {
        self.send(&Call::get(nsid_and_query).bearer(token)).await
    }

    pub async fn post(&self, nsid: &str, token: Option<&str>, body: &Value) -> Res {
        self.send(&Call::post(nsid, body).bearer(token)).await
    }

    /// POST with raw bytes and a chosen content type (None: no header).
    pub async fn post_raw(
        &self,
        nsid: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Res {
        self.send(&Call::post_bytes(nsid, content_type, body).bearer(token))
            .await
    }

    pub async fn admin_post(&self, nsid: &str, body: &Value) -> Res {
        let req = self
            .http
            .post(self.xrpc(nsid))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(body);
        Res::read(req.send().await.expect("POST")).await
    }

    /// The server still answers: no handler panic or stuck writer took it down.
    pub async fn assert_healthy(&self) {
        let r = self.get("_health", None).await;
        assert_eq!(r.status, StatusCode::OK, "health: {}", r.text);
    }

    /// Creates `<name>.test` with [`PASSWORD`], expecting success.
    pub async fn create_account(&self, name: &str) -> Account {
        let handle = format!("{name}.test");
        let v = self
            .post(
                "com.atproto.server.createAccount",
                None,
                &json!({ "handle": handle, "email": format!("{name}@example.com"), "password": PASSWORD }),
            )
            .await
            .ok();
        Account {
            did: v["did"].as_str().expect("did").to_owned(),
            handle,
            access: v["accessJwt"].as_str().expect("accessJwt").to_owned(),
            refresh: v["refreshJwt"].as_str().expect("refreshJwt").to_owned(),
        }
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Res {
        self.post(
            "com.atproto.server.createSession",
            None,
            &json!({ "identifier": identifier, "password": password }),
        )
        .await
    }

    /// Creates a record, expecting success; returns the response body.
    pub async fn create_record(&self, a: &Account, collection: &str, record: Value) -> Value {
        self.post(
            "com.atproto.repo.createRecord",
            Some(&a.access),
            &json!({ "repo": a.did, "collection": collection, "record": record }),
        )
        .await
        .ok()
    }

    /// A raw HTTP/1.1 request, bytes as given (no client-side path normalisation).
    pub async fn raw(&self, request_line_and_headers: &str) -> Res {
        raw_http(self.port, request_line_and_headers).await
    }
}

/// A request as a value, so a suite can write its cases as a table.
#[derive(Clone, Debug)]
pub enum Call {
    /// `GET /xrpc/<nsid and query>`.
    Get {
        nsid: String,
        headers: Vec<(&'static str, String)>,
    },
    /// `POST /xrpc/<nsid>` with these bytes (no content type if `None`).
    Post {
        nsid: String,
        headers: Vec<(&'static str, String)>,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// An HTTP/1.1 request written out byte for byte (see [`raw_http`]).
    Raw(String),
}

impl Call {
    pub fn get(nsid_and_query: &str) -> Call {
        Call::Get {
            nsid: nsid_and_query.to_owned(),
            headers: Vec::new(),
        }
    }

    /// A JSON body.
    pub fn post(nsid: &str, body: &Value) -> Call {
        Call::post_bytes(
            nsid,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
    }

    pub fn post_bytes(nsid: &str, content_type: Option<&str>, body: Vec<u8>) -> Call {
        Call::Post {
            nsid: nsid.to_owned(),
            headers: Vec::new(),
            content_type: content_type.map(str::to_owned),
            body,
        }
    }

    pub fn raw(request_line_and_headers: &str) -> Call {
        Call::Raw(request_line_and_headers.to_owned())
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Call {
        if let Call::Get { headers, .. } | Call::Post { headers, .. } = &mut self {
            headers.push((name, value.to_owned()));
        }
        self
    }

    /// `Authorization: Bearer <token>`, if there is a token.
    pub fn bearer(self, token: Option<&str>) -> Call {
        match token {
            Some(t) => self.header("authorization", &format!("Bearer {t}")),
            None => self,
        }
    }
}

/// A row of a table of refusals: the request, and the status and XRPC error it must get.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub what: String,
    pub status: u16,
    pub error: &'static str,
    pub call: Call,
}

impl Refusal {
    pub fn new(what: impl Into<String>, status: u16, error: &'static str, call: Call) -> Refusal {
        Refusal {
            what: what.into(),
            status,
            error,
            call,
        }
    }
}

/// Sends a request over a plain TCP connection and parses the response (status and body;
/// chunked bodies are de-chunked).
pub async fn raw_http(port: u16, head: &str) -> Res {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Res {
        status: StatusCode::from_u16(status).expect("status"),
        body: serde_json::from_str(&body).unwrap_or(Value::Null),
        text: body,
        headers: reqwest::header::HeaderMap::new(),
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_a_chunked_body() {
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }

    #[test]
    #[should_panic(expected = "no message")]
    fn an_error_without_message_is_refused() {
        let body = json!({ "error": "InvalidRequest" });
        assert_xrpc_error(&body, &body.to_string());
    }

    #[test]
    fn an_xrpc_error_passes() {
        let body = json!({ "error": "InvalidRequest", "message": "bad" });
        assert_xrpc_error(&body, &body.to_string());
    }
}
