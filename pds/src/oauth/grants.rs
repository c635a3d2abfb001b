//! The grants a person gave apps: whether one is still live (every OAuth request asks), the
//! list on the authorized-apps page, and revoking one from there.

use super::error::OAuthError;
use super::store::{self, Grant};
use super::token::grant_of_jti;
use crate::clock::Clock;
use crate::db::{DbError, Readers, WriteTxn, Writer};

/// Whether the grant an access token's `jti` names is still live: one primary-key lookup.
pub async fn is_live(readers: &Readers, clock: Clock, jti: &str) -> Result<bool, DbError> {
    let (id, now) = (grant_of_jti(jti).to_owned(), clock.now_secs());
    readers.read(move |c| store::grant_live(c, &id, now)).await
}

/// An account's live grants, newest first.
pub async fn list(readers: &Readers, clock: Clock, account: i64) -> Result<Vec<Grant>, OAuthError> {
    let now = clock.now_secs();
    Ok(readers
        .read(move |c| store::grants_of(c, account, now))
        .await?)
}

/// Revokes one of an account's grants; false when it has no such grant.
pub async fn revoke(writer: &Writer, account: i64, grant_id: &str) -> Result<bool, OAuthError> {
    let id = grant_id.to_owned();
    Ok(writer
        .run(move |txn: &mut WriteTxn<'_>| store::delete_grant_of(txn.conn, account, &id))
        .await?)
}
