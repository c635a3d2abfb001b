//! The account flows that email a code and take it back: confirming the address, resetting the
//! password, changing the address, deleting the account, and signing a PLC operation.

use super::service::{Accounts, check_email, check_password, hash_new_password};
use super::{Account, AccountError, store};
use crate::db::{DbError, WriteTxn};
use crate::email::messages::{Recipient, code_email};
use crate::email::{Mailroom, Purpose};

/// Queues the email carrying a fresh code for `purpose` to the account's address.
fn send_code(
    mail: &Mailroom<'_>,
    txn: &mut WriteTxn<'_>,
    a: &Account,
    purpose: Purpose,
    now_secs: i64,
) -> Result<(), AccountError> {
    let Some(to) = a.email.as_deref() else {
        return Err(AccountError::InvalidInput(
            "The account has no email address",
        ));
    };
    let server = mail.hostname;
    mail.issue(txn, a.id, purpose, now_secs, |code| {
        code_email(
            purpose,
            &Recipient {
                to,
                handle: a.handle.as_deref(),
                did: &a.did,
                server,
            },
            code,
        )
    })?;
    Ok(())
}

fn same_address(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Accounts<'_> {
    fn need_email(&self) -> Result<(), AccountError> {
        if self.mail.enabled {
            Ok(())
        } else {
            Err(AccountError::EmailUnavailable)
        }
    }

    /// Emails the account a code for `purpose` (confirming the address, deleting the account,
    /// signing a PLC operation).
    pub async fn request_code(&self, account: i64, purpose: Purpose) -> Result<(), AccountError> {
        self.need_email()?;
        let (mail, clock) = (self.mail_parts(), self.clock);
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let a = store::by_id(txn.conn, account)?.ok_or(AccountError::NotFound)?;
                send_code(&mail.as_room(), txn, &a, purpose, clock.now_secs())
            })
            .await
    }

    /// Uses up the account's code for `purpose` (what `deleteAccount` and `signPlcOperation`
    /// require); a refused code changes nothing.
    pub async fn take_code(
        &self,
        account: i64,
        purpose: Purpose,
        code: &str,
    ) -> Result<(), AccountError> {
        let (mail, clock, code) = (self.mail_parts(), self.clock, code.to_owned());
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                mail.as_room()
                    .take(txn.conn, account, purpose, &code, clock.now_secs())?;
                Ok::<_, AccountError>(())
            })
            .await
    }

    /// Confirms the account's address with the code mailed to it.
    pub async fn confirm_email(
        &self,
        account: i64,
        email: &str,
        code: &str,
    ) -> Result<(), AccountError> {
        let (mail, clock) = (self.mail_parts(), self.clock);
        let (email, code) = (email.to_owned(), code.to_owned());
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let c = txn.conn;
                let a = store::by_id(c, account)?.ok_or(AccountError::NotFound)?;
                if !a.email.as_deref().is_some_and(|e| same_address(e, &email)) {
                    return Err(AccountError::InvalidEmail("Invalid email"));
                }
                let now = clock.now_secs();
                mail.as_room()
                    .take(c, account, Purpose::ConfirmEmail, &code, now)?;
                store::set_email_confirmed(c, account, &clock.now_iso())?;
                Ok(())
            })
            .await
    }

    /// Emails a password-reset code to the account with this address, if there is one. The
    /// answer, and the work done, are the same either way: the caller must not learn whether
    /// the address has an account.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), AccountError> {
        self.need_email()?;
        let (mail, clock, email) = (self.mail_parts(), self.clock, email.to_owned());
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                if let Some(a) = store::by_email(txn.conn, &email)? {
                    send_code(
                        &mail.as_room(),
                        txn,
                        &a,
                        Purpose::ResetPassword,
                        clock.now_secs(),
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// Sets a new password with a reset code, and signs every session of the account out.
    pub async fn reset_password_with_code(
        &self,
        code: &str,
        password: &str,
    ) -> Result<(), AccountError> {
        check_password(password)?;
        let (mail, clock, c) = (self.mail_parts(), self.clock, code.to_owned());
        // A wrong code is refused before the (slow) password hash is computed; the code is
        // checked again, and used up, in the transaction that sets the password.
        let room_key = *self.mail.code_key;
        self.db
            .readers
            .read(move |conn| {
                let hash = crate::email::code_hash(&room_key, Purpose::ResetPassword, &c);
                match crate::email::store::account_of_code(conn, Purpose::ResetPassword, &hash)? {
                    None => Ok(Err(AccountError::InvalidToken)),
                    Some(_) => Ok::<_, DbError>(Ok(())),
                }
            })
            .await??;
        let hash = hash_new_password(password.to_owned()).await?;
        let code = code.to_owned();
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let c = txn.conn;
                let account =
                    mail.as_room()
                        .take_any(c, Purpose::ResetPassword, &code, clock.now_secs())?;
                let a = store::by_id(c, account)?.ok_or(AccountError::NotFound)?;
                store::set_password_by_did(c, &a.did, &hash)?;
                Ok(())
            })
            .await
    }

    /// Starts an address change: a code goes to the current address when it is confirmed (and
    /// `update_email` then requires it). Returns whether a code is required.
    pub async fn request_email_update(&self, account: i64) -> Result<bool, AccountError> {
        let (mail, clock, enabled) = (self.mail_parts(), self.clock, self.mail.enabled);
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let a = store::by_id(txn.conn, account)?.ok_or(AccountError::NotFound)?;
                if a.email_confirmed_at.is_none() {
                    return Ok(false);
                }
                if !enabled {
                    return Err(AccountError::EmailUnavailable);
                }
                send_code(
                    &mail.as_room(),
                    txn,
                    &a,
                    Purpose::UpdateEmail,
                    clock.now_secs(),
                )?;
                Ok(true)
            })
            .await
    }

    /// Changes the account's address (the new one starts unconfirmed). When the current address
    /// is confirmed, the code mailed to it is required.
    pub async fn update_email(
        &self,
        account: i64,
        email: &str,
        code: Option<&str>,
    ) -> Result<(), AccountError> {
        let email = email.trim().to_owned();
        check_email(&email)?;
        let (mail, clock, code) = (self.mail_parts(), self.clock, code.map(str::to_owned));
        self.db
            .writer
            .run(move |txn: &mut WriteTxn<'_>| {
                let c = txn.conn;
                let a = store::by_id(c, account)?.ok_or(AccountError::NotFound)?;
                if a.email_confirmed_at.is_some() {
                    let code = code.ok_or(AccountError::TokenRequired)?;
                    mail.as_room().take(
                        c,
                        account,
                        Purpose::UpdateEmail,
                        &code,
                        clock.now_secs(),
                    )?;
                }
                if a.email.as_deref().is_some_and(|e| same_address(e, &email)) {
                    return Ok(());
                }
                // The column is unique regardless of case, and so is this lookup; the writer
                // runs one job at a time, so nothing takes the address in between.
                if store::by_email(c, &email)?.is_some() {
                    return Err(AccountError::InvalidEmail(
                        "This email address is already in use",
                    ));
                }
                store::set_email(c, account, &email)?;
                Ok(())
            })
            .await
    }
}

/// The mailroom's parts, owned, so a writer job can take them.
#[derive(Clone)]
struct MailParts {
    enabled: bool,
    code_key: [u8; 32],
    outbox: std::sync::Arc<tokio::sync::Notify>,
    hostname: String,
}

impl MailParts {
    fn as_room(&self) -> Mailroom<'_> {
        Mailroom {
            enabled: self.enabled,
            code_key: &self.code_key,
            outbox: &self.outbox,
            hostname: &self.hostname,
        }
    }
}

impl Accounts<'_> {
    fn mail_parts(&self) -> MailParts {
        MailParts {
            enabled: self.mail.enabled,
            code_key: *self.mail.code_key,
            outbox: self.mail.outbox.clone(),
            hostname: self.mail.hostname.to_owned(),
        }
    }
}
