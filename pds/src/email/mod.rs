//! Account email: the single-use codes that confirm an address, reset a password, change an
//! address, delete an account or sign a PLC operation, and the outbox that carries them to the
//! SMTP server (`hearth_mail`). A code is stored only as a keyed hash, expires after
//! [`CODE_TTL_SECS`], is compared in constant time, and is deleted when used. The flows that use
//! codes are the accounts' (`accounts::email`).

pub mod messages;
mod outbox;
pub mod store;

pub use outbox::PdsOutbox;

use crate::db::DbError;
use hmac::{Hmac, Mac};
use rand::Rng;
use rusqlite::Connection;
use sha2::Sha256;
use std::sync::Arc;
use tokio::sync::Notify;

/// How long a code works: the reference PDS's 15 minutes.
pub const CODE_TTL_SECS: i64 = 15 * 60;

/// What a code is for; each account holds at most one code per purpose (a new request replaces
/// the old code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    ConfirmEmail,
    UpdateEmail,
    ResetPassword,
    DeleteAccount,
    PlcOperation,
}

impl Purpose {
    /// The stored name, the reference's.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::ConfirmEmail => "confirm_email",
            Purpose::UpdateEmail => "update_email",
            Purpose::ResetPassword => "reset_password",
            Purpose::DeleteAccount => "delete_account",
            Purpose::PlcOperation => "plc_operation",
        }
    }
}

/// Why a code was refused.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    #[error("Token is invalid")]
    Invalid,
    #[error("Token is expired")]
    Expired,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What sending account email needs of the server.
#[derive(Clone, Copy)]
pub struct Mailroom<'a> {
    /// Whether an SMTP server is configured.
    pub enabled: bool,
    /// Keys the stored hashes of codes (the server's session secret).
    pub code_key: &'a [u8; 32],
    /// Woken when a commit queued mail.
    pub outbox: &'a Arc<Notify>,
    /// The server's hostname, named in every email.
    pub hostname: &'a str,
}

/// A fresh code in the reference's format: ten base32 characters, `XXXXX-XXXXX`.
pub fn new_code() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        code.push(char::from(ALPHABET[rng.gen_range(0..32)]));
    }
    code
}

/// The keyed hash a code is stored as. Codes are compared as the reference does, case-blind
/// and without surrounding space.
fn code_mac(key: &[u8; 32], purpose: Purpose, code: &str) -> Hmac<Sha256> {
    // A key of any length is accepted by HMAC; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"hearth email code\0");
    mac.update(purpose.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(code.trim().to_ascii_uppercase().as_bytes());
    mac
}

pub fn code_hash(key: &[u8; 32], purpose: Purpose, code: &str) -> Vec<u8> {
    code_mac(key, purpose, code)
        .finalize()
        .into_bytes()
        .to_vec()
}

impl Mailroom<'_> {
    /// Issues a code for `purpose` to `account`, replacing any earlier one, and queues `email`
    /// built around it; the outbox is woken once the transaction commits.
    pub fn issue(
        &self,
        txn: &mut crate::db::WriteTxn<'_>,
        account: i64,
        purpose: Purpose,
        now_secs: i64,
        email: impl FnOnce(&str) -> hearth_mail::Email,
    ) -> Result<(), DbError> {
        let code = new_code();
        store::put_code(
            txn.conn,
            account,
            purpose,
            &code_hash(self.code_key, purpose, &code),
            now_secs,
        )?;
        store::queue(txn.conn, &email(&code), now_secs.saturating_mul(1000))?;
        let outbox = self.outbox.clone();
        txn.after_commit(move || outbox.notify_one());
        Ok(())
    }

    /// Uses up `account`'s code for `purpose` if `code` is it and it has not expired; a refused
    /// code changes nothing.
    pub fn take(
        &self,
        conn: &Connection,
        account: i64,
        purpose: Purpose,
        code: &str,
        now_secs: i64,
    ) -> Result<(), CodeError> {
        let Some((stored, requested_at)) = store::code_of(conn, account, purpose)? else {
            return Err(CodeError::Invalid);
        };
        // Constant-time: the comparison takes as long wherever the hashes differ.
        if code_mac(self.code_key, purpose, code)
            .verify_slice(&stored)
            .is_err()
        {
            return Err(CodeError::Invalid);
        }
        if now_secs - requested_at > CODE_TTL_SECS {
            return Err(CodeError::Expired);
        }
        store::delete_code(conn, account, purpose)?;
        Ok(())
    }

    /// The account whose code for `purpose` is `code` (the flows that name no account:
    /// resetPassword), and uses the code up. The lookup is by keyed hash, so how long it takes
    /// says nothing about the codes stored.
    pub fn take_any(
        &self,
        conn: &Connection,
        purpose: Purpose,
        code: &str,
        now_secs: i64,
    ) -> Result<i64, CodeError> {
        let hash = code_hash(self.code_key, purpose, code);
        let Some((account, requested_at)) = store::account_of_code(conn, purpose, &hash)? else {
            return Err(CodeError::Invalid);
        };
        if now_secs - requested_at > CODE_TTL_SECS {
            return Err(CodeError::Expired);
        }
        store::delete_code(conn, account, purpose)?;
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_reference_format_and_differ() {
        let a = new_code();
        assert_eq!(a.len(), 11);
        assert_eq!(&a[5..6], "-");
        assert!(
            a.chars()
                .all(|c| c == '-' || c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
            "{a}"
        );
        assert_ne!(a, new_code());
    }

    #[test]
    fn hashes_are_keyed_bound_to_the_purpose_and_case_blind() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let h = code_hash(&k1, Purpose::ResetPassword, "ABCDE-FGHIJ");
        assert_eq!(h, code_hash(&k1, Purpose::ResetPassword, " abcde-fghij\n"));
        assert_ne!(h, code_hash(&k2, Purpose::ResetPassword, "ABCDE-FGHIJ"));
        assert_ne!(h, code_hash(&k1, Purpose::DeleteAccount, "ABCDE-FGHIJ"));
        assert_ne!(h, code_hash(&k1, Purpose::ResetPassword, "ABCDE-FGHIK"));
    }
}
