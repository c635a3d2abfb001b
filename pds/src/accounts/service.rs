//! Account flows that span PLC, the database, the repository and the firehose.

use super::{AccountError, invites, store};
use crate::auth::hash_password;
use crate::blobs::BlobStore;
use crate::clock::Clock;
use crate::db::{Db, DbError, WriteTxn};
use crate::email::Mailroom;
use crate::keys::KeyCache;
use crate::plc_client::PlcClient;
use crate::repo::Committer;
use crate::repo::store as repo_store;
use crate::sequencer::{self, Sequencer, emit_account, emit_identity};
use atproto::crypto::{Algorithm, Keypair, PublicKey};
use atproto::syntax::Handle;
use serde_json::{Value, json};

/// A unique column refused the row: the handle (or email) is someone else's.
fn taken(e: DbError, message: &'static str) -> AccountError {
    match e {
        DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            AccountError::HandleNotAvailable(message)
        }
        other => AccountError::Db(other),
    }
}

/// Names no one may take on this server.
const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "api",
    "app",
    "bsky",
    "help",
    "hearth",
    "mod",
    "moderator",
    "root",
    "security",
    "staff",
    "support",
    "system",
    "www",
];

/// The DID document of a local account, exactly as the PLC directory renders it.
pub fn did_document(public_url: &str, did: &str, handle: Option<&str>, key: &PublicKey) -> Value {
    json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            "https://w3id.org/security/suites/secp256k1-2019/v1"
        ],
        "id": did,
        "alsoKnownAs": handle.map(|h| vec![format!("at://{h}")]).unwrap_or_default(),
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": public_url,
        }]
    })
}

/// Checks a handle for an account of this server: valid syntax, under one of the service
/// domains, a single label of 3 to 18 characters, not reserved. Returns it lowercased.
pub fn check_service_handle(domains: &[String], handle: &str) -> Result<String, AccountError> {
    let parsed: Handle = handle
        .parse()
        .map_err(|_| AccountError::InvalidHandle("Input/handle must be a valid handle"))?;
    let h = parsed.normalize().to_string();
    let Some(front) = domains.iter().find_map(|d| h.strip_suffix(d.as_str())) else {
        return Err(AccountError::UnsupportedDomain(domains.join(", ")));
    };
    if front.contains('.') {
        return Err(AccountError::InvalidHandle(
            "Handle may not contain a dot before the service domain",
        ));
    }
    if front.len() < 3 {
        return Err(AccountError::InvalidHandle("Handle too short"));
    }
    if front.len() > 18 {
        return Err(AccountError::InvalidHandle("Handle too long"));
    }
    if RESERVED.contains(&front) {
        return Err(AccountError::HandleNotAvailable("Reserved handle"));
    }
    Ok(h)
}

/// The rules a new password must meet.
pub(super) fn check_password(password: &str) -> Result<(), AccountError> {
    if password.is_empty() {
        return Err(AccountError::InvalidInput("Password is required"));
    }
    if password.len() > 256 {
        return Err(AccountError::InvalidInput("Password is too long"));
    }
    Ok(())
}

/// Hashes a password on a blocking thread (Argon2 takes its time and memory on purpose).
pub(super) async fn hash_new_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountError::Password(e.to_string()))?
        .map_err(|e| AccountError::Password(e.to_string()))
}

pub(super) fn check_email(email: &str) -> Result<(), AccountError> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(AccountError::InvalidEmail(
            "This email address is not supported",
        ))
    }
}

pub struct NewAccountInput {
    pub handle: String,
    pub email: Option<String>,
    pub password: Option<String>,
    pub invite_code: Option<String>,
    pub recovery_key: Option<String>,
}

pub struct Created {
    pub id: i64,
    pub did: String,
    pub handle: String,
    pub key: PublicKey,
}

/// What the account flows need of the server: the database, the PLC directory and the key
/// that controls the accounts' identities there, the firehose, the repositories (through the
/// [`Committer`]), the blob store and key cache an account's deletion clears, the clock, and the
/// mailroom (codes and outgoing email).
pub struct Accounts<'a> {
    pub db: &'a Db,
    pub plc: &'a PlcClient,
    pub rotation_key: &'a Keypair,
    /// The PDS's URL, which every account's DID document names.
    pub public_url: &'a str,
    pub handle_domains: &'a [String],
    pub invite_required: bool,
    pub sequencer: &'a Sequencer,
    pub committer: Committer,
    pub blobs: &'a BlobStore,
    pub keys: &'a KeyCache,
    pub clock: Clock,
    /// Codes and the outbox, for the flows that email the account.
    pub mail: Mailroom<'a>,
}

impl Accounts<'_> {
    /// Checks a new account's handle, email, password and invite code; returns the handle and
    /// email normalised and the password's hash.
    async fn check_new(
        &self,
        input: &NewAccountInput,
    ) -> Result<(String, Option<String>, String), AccountError> {
        let handle = check_service_handle(self.handle_domains, &input.handle)?;
        let email = input
            .email
            .as_deref()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty());
        match &email {
            Some(e) => check_email(e)?,
            None => return Err(AccountError::InvalidInput("Email is required")),
        }
        let password = input.password.clone().unwrap_or_default();
        check_password(&password)?;
        if self.invite_required && input.invite_code.is_none() {
            return Err(AccountError::InvalidInviteCode("No invite code provided"));
        }
        {
            let (h, e) = (handle.clone(), email.clone());
            let (handle_taken, email_taken) = self
                .db
                .readers
                .read(move |c| {
                    Ok::<_, DbError>((
                        store::handle_taken(c, &h)?,
                        e.as_deref().map(|e| store::email_taken(c, e)).transpose()?,
                    ))
                })
                .await?;
            if handle_taken {
                return Err(AccountError::HandleNotAvailable("Handle already taken"));
            }
            if email_taken == Some(true) {
                return Err(AccountError::InvalidEmail("Email already taken"));
            }
        }
        Ok((handle, email, hash_new_password(password).await?))
    }

    /// Creates an account: a did:plc at the PLC directory, the account row, an empty repository,
    /// and the `#identity`, `#account` and `#commit` events, in the reference's order.
    pub async fn create_account(&self, input: NewAccountInput) -> Result<Created, AccountError> {
        let (handle, email, pw_hash) = self.check_new(&input).await?;
        let recovery = match input.recovery_key.as_deref() {
            Some(k) => Some(
                atproto::crypto::parse_did_key(k)
                    .map_err(|_| AccountError::InvalidInput("recoveryKey must be a did:key"))?,
            ),
            None => None,
        };
        let signing = Keypair::generate(Algorithm::K256);
        let public = signing.public();
        let did = self
            .plc
            .create_did(
                self.rotation_key,
                self.public_url,
                &signing.public(),
                &handle,
                recovery.as_ref(),
            )
            .await?;

        let (sequencer, committer, clock) =
            (self.sequencer.clone(), self.committer.clone(), self.clock);
        let (d, h) = (did.clone(), handle.clone());
        let key_bytes = signing.to_bytes().to_vec();
        let id = self
            .db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let now = clock.now_iso();
                let id = store::insert(
                    txn.conn,
                    &store::NewAccount {
                        did: &d,
                        handle: &h,
                        email: email.as_deref(),
                        password_hash: &pw_hash,
                        signing_key: &key_bytes,
                        created_at: &now,
                        invite_code: input.invite_code.as_deref(),
                    },
                )
                .map_err(|e| taken(e, "Handle or email already taken"))?;
                if let Some(code) = input.invite_code.as_deref() {
                    invites::spend(txn.conn, code, &d, &now)?;
                }
                emit_identity(txn, &sequencer, &d, Some(&h))?;
                emit_account(txn, &sequencer, &d, true, None)?;
                committer.create_repo(txn, id, &d)?;
                Ok::<_, AccountError>(id)
            })
            .await?;
        tracing::info!(did = %did, handle = %handle, "account created");
        Ok(Created {
            id,
            did,
            handle,
            key: public,
        })
    }

    /// Creates the account of a DID migrating in from another server (the caller has checked
    /// that server's service token for it): deactivated, with a fresh signing key for the DID
    /// document to name, no PLC operation and an empty repository until one is imported. Nothing is
    /// sequenced: the DID's events still come from its old server until it activates here.
    pub async fn create_migrated_account(
        &self,
        input: NewAccountInput,
        did: &str,
    ) -> Result<Created, AccountError> {
        let (handle, email, pw_hash) = self.check_new(&input).await?;
        let exists = {
            let d = did.to_owned();
            self.db
                .readers
                .read(move |c| store::by_did(c, &d))
                .await?
                .is_some()
        };
        if exists {
            return Err(AccountError::AlreadyExists);
        }
        let signing = Keypair::generate(Algorithm::K256);
        let public = signing.public();
        let (clock, committer) = (self.clock, self.committer.clone());
        let (d, h) = (did.to_owned(), handle.clone());
        let key_bytes = signing.to_bytes().to_vec();
        let id = self
            .db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let now = clock.now_iso();
                let id = store::insert(
                    txn.conn,
                    &store::NewAccount {
                        did: &d,
                        handle: &h,
                        email: email.as_deref(),
                        password_hash: &pw_hash,
                        signing_key: &key_bytes,
                        created_at: &now,
                        invite_code: input.invite_code.as_deref(),
                    },
                )
                .map_err(|e| taken(e, "Handle, email or DID already taken"))?;
                store::set_status(txn.conn, id, Some("deactivated"), Some(&now))?;
                if let Some(code) = input.invite_code.as_deref() {
                    invites::spend(txn.conn, code, &d, &now)?;
                }
                committer.create_unannounced_repo(txn, id, &d)?;
                Ok::<_, AccountError>(id)
            })
            .await?;
        tracing::info!(did = %did, handle = %handle, "account migrating in");
        Ok(Created {
            id,
            did: did.to_owned(),
            handle,
            key: public,
        })
    }

    /// Sets an account's hosting status and tells the firehose.
    pub async fn set_status(
        &self,
        account: i64,
        did: &str,
        status: Option<&'static str>,
    ) -> Result<(), AccountError> {
        let (sequencer, clock) = (self.sequencer.clone(), self.clock);
        let did = did.to_owned();
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let deactivated_at = (status == Some("deactivated")).then(|| clock.now_iso());
                store::set_status(txn.conn, account, status, deactivated_at.as_deref())?;
                // Legacy sessions of a deactivated account may still sign in (to migrate);
                // the apps it authorized lose their access.
                if status.is_some() {
                    store::end_oauth_grants(txn.conn, account)?;
                }
                emit_account(txn, &sequencer, &did, status.is_none(), status)?;
                Ok::<_, AccountError>(())
            })
            .await
    }

    /// Activates a deactivated account (one that migrated in, or came back): `#identity` so
    /// consumers look up where it is hosted now, `#account`, and `#sync` with its current commit
    /// so relays resynchronise its repository from here.
    pub async fn activate(&self, account: i64, did: &str) -> Result<(), AccountError> {
        let sequencer = self.sequencer.clone();
        let did = did.to_owned();
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let a = store::by_id(txn.conn, account)?.ok_or(AccountError::NotFound)?;
                store::set_status(txn.conn, account, None, None)?;
                emit_identity(txn, &sequencer, &did, a.handle.as_deref())?;
                emit_account(txn, &sequencer, &did, true, None)?;
                if let Some((cid, rev, _)) = repo_store::head(txn.conn, account)?
                    && let Some(block) = repo_store::block(txn.conn, account, &cid)?
                {
                    sequencer::emit_sync(txn, &sequencer, &did, &cid, &block, &rev)?;
                }
                Ok::<_, AccountError>(())
            })
            .await
    }

    /// Removes an account and everything it stored; the firehose says it is deleted.
    pub async fn delete_account(&self, account: i64, did: &str) -> Result<(), AccountError> {
        let (sequencer, blob_store) = (self.sequencer.clone(), self.blobs.clone());
        let did_owned = did.to_owned();
        let orphaned = self
            .db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let c = txn.conn;
                let blobs = repo_store::account_blobs(c, account)?;
                // The firehose keeps no history of a deleted account (its past commits carry its
                // records), as the reference drops all of an account's events but the deletion's.
                sequencer::store::delete_events_of(c, &did_owned)?;
                repo_store::delete_repo(c, account)?;
                store::delete(c, account)?;
                emit_account(txn, &sequencer, &did_owned, false, Some("deleted"))?;
                // Blob bytes are shared by CID; only those no other account holds may go. They
                // go here, last in the job, not after it: see `blobs` on ordering with uploads.
                let mut orphaned = Vec::new();
                for cid in blobs {
                    if !repo_store::blob_held(c, &cid)?
                        && let Ok(cid) = atproto::data::parse_cid(&cid)
                    {
                        blob_store.remove(&cid);
                        orphaned.push(cid);
                    }
                }
                Ok::<_, AccountError>(orphaned)
            })
            .await?;
        self.blobs.release_unheld(self.db, orphaned).await;
        self.keys.forget(account);
        tracing::info!(did = %did, "account deleted");
        Ok(())
    }

    /// Changes a handle: PLC first (the handle lives in the DID document), then the account row and
    /// an `#identity` event.
    pub async fn update_handle(
        &self,
        account: i64,
        did: &str,
        handle: &str,
    ) -> Result<(), AccountError> {
        let sequencer = self.sequencer.clone();
        let (d, h) = (did.to_owned(), handle.to_owned());
        self.plc
            .update_handle(self.rotation_key, did, handle)
            .await?;
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                store::set_handle(txn.conn, account, &h)
                    .map_err(|e| taken(e, "Handle already taken"))?;
                emit_identity(txn, &sequencer, &d, Some(&h))?;
                Ok::<_, AccountError>(())
            })
            .await
    }

    /// Takes an account down (`reference` set: its sessions end, requests are refused) or
    /// reverses that (`None`: back to active, or deactivated if it was), and tells the firehose.
    pub async fn set_takedown(
        &self,
        did: &str,
        reference: Option<String>,
    ) -> Result<(), AccountError> {
        let sequencer = self.sequencer.clone();
        let did = did.to_owned();
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let c = txn.conn;
                let a = store::by_did(c, &did)?.ok_or(AccountError::NotFound)?;
                let (status, active) = if reference.is_some() {
                    (Some("takendown"), false)
                } else {
                    (
                        a.deactivated_at.as_ref().map(|_| "deactivated"),
                        a.deactivated_at.is_none(),
                    )
                };
                store::set_takedown(c, a.id, status, reference.as_deref())?;
                if reference.is_some() {
                    store::delete_refresh_tokens(c, a.id)?;
                }
                emit_account(txn, &sequencer, &did, active, status)?;
                Ok::<_, AccountError>(())
            })
            .await
    }

    /// Sets an account's password (the admin's reset) and ends its sessions.
    pub async fn reset_password(&self, did: &str, password: &str) -> Result<(), AccountError> {
        check_password(password)?;
        let hash = hash_new_password(password.to_owned()).await?;
        let did = did.to_owned();
        let changed = self
            .db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| store::set_password_by_did(txn.conn, &did, &hash))
            .await?;
        if changed == 0 {
            return Err(AccountError::NotFound);
        }
        Ok(())
    }

    /// Deletes the account with this DID (the admin's deletion).
    pub async fn delete_by_did(&self, did: &str) -> Result<(), AccountError> {
        let d = did.to_owned();
        let a = self
            .db
            .readers
            .read(move |c| store::by_did(c, &d))
            .await?
            .ok_or(AccountError::NotFound)?;
        self.delete_account(a.id, &a.did).await
    }
}
