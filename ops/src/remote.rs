//! The admin commands sent to a running server: `com.atproto.admin.*` and the admin's invite
//! methods with the admin password (HTTP Basic, user `admin`), `com.atproto.sync.listRepos` and
//! `com.atproto.server.createAccount`.

use crate::rows::{AccountRow, InviteRow, NewAccount};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot reach {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    #[error("{url} refused the admin password (is HEARTH_ADMIN_PASSWORD the server's?): {message}")]
    Refused { url: String, message: String },
    #[error("{url} answered {status} {error}: {message}")]
    Xrpc {
        url: String,
        status: u16,
        error: String,
        message: String,
    },
    #[error("{url} answered something that is not what the method returns: {detail}")]
    Unexpected { url: String, detail: String },
}

/// A running server, reached at its public or local URL.
pub struct Remote {
    base: String,
    password: String,
    http: reqwest::Client,
}

impl Remote {
    /// `http` is built by the caller from the server's settings, so a server behind the
    /// operator's own CA (HEARTH_CA_CERTS) is reached like the server reaches its peers.
    pub fn new(url: &str, password: &str, http: reqwest::Client) -> Remote {
        Remote {
            base: url.trim_end_matches('/').to_owned(),
            password: password.to_owned(),
            http,
        }
    }

    async fn call(&self, req: reqwest::RequestBuilder, nsid: &str) -> Result<Value, RemoteError> {
        let url = format!("{}/xrpc/{nsid}", self.base);
        let res = req
            .send()
            .await
            .map_err(|source| RemoteError::Unreachable {
                url: self.base.clone(),
                source,
            })?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let error = body["error"].as_str().unwrap_or("").to_owned();
        let message = body["message"].as_str().unwrap_or("").to_owned();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(RemoteError::Refused { url, message });
        }
        Err(RemoteError::Xrpc {
            url,
            status: status.as_u16(),
            error,
            message,
        })
    }

    async fn get(&self, nsid_and_query: &str) -> Result<Value, RemoteError> {
        let nsid = nsid_and_query.split('?').next().unwrap_or(nsid_and_query);
        let req = self
            .http
            .get(format!("{}/xrpc/{nsid_and_query}", self.base))
            .basic_auth("admin", Some(&self.password));
        self.call(req, nsid).await
    }

    async fn post(&self, nsid: &str, body: &Value) -> Result<Value, RemoteError> {
        let req = self
            .http
            .post(format!("{}/xrpc/{nsid}", self.base))
            .basic_auth("admin", Some(&self.password))
            .json(body);
        self.call(req, nsid).await
    }

    fn unexpected(&self, detail: &str) -> RemoteError {
        RemoteError::Unexpected {
            url: self.base.clone(),
            detail: detail.to_owned(),
        }
    }

    /// Checks the admin password before a listing that may need no admin call (no accounts):
    /// an account no one has is not found to the admin, refused to anyone else.
    async fn authenticate(&self) -> Result<(), RemoteError> {
        match self
            .get("com.atproto.admin.getAccountInfo?did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
            .await
        {
            Ok(_) => Ok(()),
            Err(RemoteError::Xrpc { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn list_accounts(&self) -> Result<Vec<AccountRow>, RemoteError> {
        self.authenticate().await?;
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("com.atproto.sync.listRepos?limit=500&cursor={c}"),
                None => "com.atproto.sync.listRepos?limit=500".to_owned(),
            };
            let page = self.get(&q).await?;
            let repos = page["repos"]
                .as_array()
                .ok_or_else(|| self.unexpected("listRepos without repos"))?;
            let dids: Vec<(String, String)> = repos
                .iter()
                .filter_map(|r| {
                    let did = r["did"].as_str()?.to_owned();
                    let status = r["status"].as_str().unwrap_or("active").to_owned();
                    Some((did, status))
                })
                .collect();
            for chunk in dids.chunks(100) {
                let q: Vec<String> = chunk.iter().map(|(d, _)| format!("dids={d}")).collect();
                let infos = self
                    .get(&format!(
                        "com.atproto.admin.getAccountInfos?{}",
                        q.join("&")
                    ))
                    .await?;
                let infos = infos["infos"].as_array().cloned().unwrap_or_default();
                for (did, status) in chunk {
                    let info = infos.iter().find(|i| i["did"] == did.as_str());
                    out.push(AccountRow {
                        did: did.clone(),
                        handle: info.and_then(|i| i["handle"].as_str()).map(str::to_owned),
                        email: info.and_then(|i| i["email"].as_str()).map(str::to_owned),
                        status: status.clone(),
                    });
                }
            }
            cursor = page["cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                return Ok(out);
            }
        }
    }

    /// Creates an account with a one-use invite code made for it, so it works whether or not
    /// the server requires invites.
    pub async fn create_account(&self, n: NewAccount) -> Result<AccountRow, RemoteError> {
        let code = self
            .post(
                "com.atproto.server.createInviteCode",
                &json!({ "useCount": 1 }),
            )
            .await?;
        let code = code["code"]
            .as_str()
            .ok_or_else(|| self.unexpected("createInviteCode without code"))?;
        let req = self
            .http
            .post(format!("{}/xrpc/com.atproto.server.createAccount", self.base))
            .json(&json!({ "handle": n.handle, "email": n.email, "password": n.password, "inviteCode": code }));
        let made = self.call(req, "com.atproto.server.createAccount").await?;
        Ok(AccountRow {
            did: made["did"]
                .as_str()
                .ok_or_else(|| self.unexpected("createAccount without did"))?
                .to_owned(),
            handle: made["handle"].as_str().map(str::to_owned),
            email: Some(n.email),
            status: "active".into(),
        })
    }

    /// Takes an account down (`Some(reference)`) or reverses it (`None`).
    pub async fn set_takedown(
        &self,
        did: &str,
        reference: Option<String>,
    ) -> Result<(), RemoteError> {
        let mut takedown = json!({ "applied": reference.is_some() });
        if let Some(r) = reference {
            takedown["ref"] = json!(r);
        }
        self.post(
            "com.atproto.admin.updateSubjectStatus",
            &json!({ "subject": { "$type": "com.atproto.admin.defs#repoRef", "did": did }, "takedown": takedown }),
        )
        .await?;
        Ok(())
    }

    pub async fn reset_password(&self, did: &str, password: &str) -> Result<(), RemoteError> {
        self.post(
            "com.atproto.admin.updateAccountPassword",
            &json!({ "did": did, "password": password }),
        )
        .await?;
        Ok(())
    }

    pub async fn delete_account(&self, did: &str) -> Result<(), RemoteError> {
        self.post("com.atproto.admin.deleteAccount", &json!({ "did": did }))
            .await?;
        Ok(())
    }

    pub async fn create_invites(&self, count: i64, uses: i64) -> Result<Vec<String>, RemoteError> {
        let v = self
            .post(
                "com.atproto.server.createInviteCodes",
                &json!({ "codeCount": count, "useCount": uses }),
            )
            .await?;
        Ok(v["codes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["codes"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect())
    }

    pub async fn list_invites(&self) -> Result<Vec<InviteRow>, RemoteError> {
        let v = self.get("com.atproto.admin.getInviteCodes").await?;
        let codes = v["codes"]
            .as_array()
            .ok_or_else(|| self.unexpected("getInviteCodes without codes"))?;
        Ok(codes
            .iter()
            .filter_map(|c| {
                Some(InviteRow {
                    code: c["code"].as_str()?.to_owned(),
                    available: c["available"].as_i64()?,
                    used: c["uses"].as_array().map_or(0, Vec::len),
                    disabled: c["disabled"].as_bool().unwrap_or(false),
                    for_account: c["forAccount"].as_str().unwrap_or("").to_owned(),
                })
            })
            .collect())
    }
}
