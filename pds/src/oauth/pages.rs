//! The authorization pages' templates (askama: checked at compile time, every value escaped).

use askama::Template;
use hearth_oauth::client_metadata::ClientMetadata;

/// How a page shows the app asking.
pub struct ClientView {
    pub name: String,
    pub uri: Option<String>,
    pub logo: Option<String>,
}

impl ClientView {
    pub fn of(md: &ClientMetadata) -> ClientView {
        ClientView {
            name: md
                .client_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| {
                    // Unnamed (the loopback form): the host the id names says most.
                    reqwest::Url::parse(&md.client_id)
                        .ok()
                        .and_then(|u| u.host_str().map(str::to_owned))
                        .unwrap_or_else(|| "An app".into())
                }),
            uri: md.client_uri.clone(),
            logo: md.logo_uri.clone().filter(|l| l.starts_with("https://")),
        }
    }
}

#[derive(Template)]
#[template(path = "oauth/sign_in.html")]
pub struct SignIn<'a> {
    pub host: &'a str,
    pub client: ClientView,
    pub client_id: &'a str,
    pub request_uri: &'a str,
    pub csrf: &'a str,
    pub identifier: &'a str,
    pub error: Option<&'a str>,
}

pub struct ChooserAccount {
    pub label: String,
    pub did_q: String,
}

#[derive(Template)]
#[template(path = "oauth/chooser.html")]
pub struct Chooser<'a> {
    pub host: &'a str,
    pub client: ClientView,
    pub client_id_q: String,
    pub request_uri_q: String,
    pub accounts: Vec<ChooserAccount>,
}

#[derive(Template)]
#[template(path = "oauth/consent.html")]
pub struct Consent<'a> {
    pub host: &'a str,
    pub client: ClientView,
    pub client_id: &'a str,
    pub request_uri: &'a str,
    pub csrf: &'a str,
    pub account: &'a str,
    pub did: &'a str,
    pub permissions: Vec<String>,
}

#[derive(Template)]
#[template(path = "oauth/error.html")]
pub struct ErrorPage<'a> {
    pub host: &'a str,
    pub message: &'a str,
}

/// The pages' one style sheet.
pub const STYLE: &str = include_str!("../../templates/oauth/style.css");

/// A query-string component.
pub fn q(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_supplied_text_is_escaped() {
        let page = SignIn {
            host: "pds.example",
            client: ClientView {
                name: "<script>alert(1)</script>".into(),
                uri: Some("https://app.example/\"onmouseover=x".into()),
                logo: None,
            },
            client_id: "https://app.example/m.json",
            request_uri: "urn:x",
            csrf: "c",
            identifier: "\"><b>",
            error: None,
        }
        .render()
        .unwrap_or_default();
        assert!(page.contains("&#60;script&#62;"), "{page}");
        assert!(!page.contains("<script>"));
        assert!(!page.contains("\"onmouseover"));
        assert!(!page.contains("\"><b>"));
        assert!(page.contains("<label for=\"password\">Password</label>"));
        assert!(page.contains(">Sign in</button>"));
    }
}
