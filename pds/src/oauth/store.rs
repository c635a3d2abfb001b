//! Every SQL statement of the authorization server: pushed requests, codes, grants, refresh
//! tokens and browser sign-ins (schema in `db/schema_v4.sql`), and the permission sets resolved
//! over the network (`db/schema_v5.sql`).

use crate::db::DbError;
use rusqlite::{Connection, OptionalExtension, params};

/// A pushed authorization request as stored.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub client_id: String,
    pub params: String,
    pub dpop_jkt: String,
    pub expires_at: i64,
    pub account: Option<i64>,
    pub has_code: bool,
    pub grant_id: Option<String>,
}

fn request_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Request> {
    Ok(Request {
        id: r.get(0)?,
        client_id: r.get(1)?,
        params: r.get(2)?,
        dpop_jkt: r.get(3)?,
        expires_at: r.get(4)?,
        account: r.get(5)?,
        has_code: r.get::<_, Option<Vec<u8>>>(6)?.is_some(),
        grant_id: r.get(7)?,
    })
}

const REQUEST_COLUMNS: &str =
    "id, client_id, params, dpop_jkt, expires_at, account, code_hash, grant_id";

/// Stores a pushed request, dropping the expired ones on the way.
pub fn insert_request(conn: &Connection, r: &Request, now: i64) -> Result<(), DbError> {
    conn.execute("DELETE FROM oauth_request WHERE expires_at < ?1", [now])?;
    conn.execute(
        "INSERT INTO oauth_request (id, client_id, params, dpop_jkt, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![r.id, r.client_id, r.params, r.dpop_jkt, r.expires_at],
    )?;
    Ok(())
}

pub fn request(conn: &Connection, id: &str) -> Result<Option<Request>, DbError> {
    Ok(conn
        .query_row(
            &format!("SELECT {REQUEST_COLUMNS} FROM oauth_request WHERE id = ?1"),
            [id],
            request_row,
        )
        .optional()?)
}

/// The request a code was issued for.
pub fn request_by_code(conn: &Connection, code_hash: &[u8]) -> Result<Option<Request>, DbError> {
    Ok(conn
        .query_row(
            &format!("SELECT {REQUEST_COLUMNS} FROM oauth_request WHERE code_hash = ?1"),
            [code_hash],
            request_row,
        )
        .optional()?)
}

/// Records the person's approval: the account and the code's hash, with the code's own
/// (short) lifetime. Only a request not yet approved changes; returns whether it did.
pub fn approve_request(
    conn: &Connection,
    id: &str,
    account: i64,
    code_hash: &[u8],
    expires_at: i64,
) -> Result<bool, DbError> {
    let n = conn.execute(
        "UPDATE oauth_request SET account = ?2, code_hash = ?3, expires_at = ?4 \
         WHERE id = ?1 AND code_hash IS NULL",
        params![id, account, code_hash, expires_at],
    )?;
    Ok(n == 1)
}

/// Marks a request's code as exchanged for `grant_id`.
pub fn set_request_grant(conn: &Connection, id: &str, grant_id: &str) -> Result<(), DbError> {
    conn.execute(
        "UPDATE oauth_request SET grant_id = ?2 WHERE id = ?1",
        params![id, grant_id],
    )?;
    Ok(())
}

pub fn delete_request(conn: &Connection, id: &str) -> Result<(), DbError> {
    conn.execute("DELETE FROM oauth_request WHERE id = ?1", [id])?;
    Ok(())
}

/// A grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub account: i64,
    pub client_id: String,
    pub client_name: Option<String>,
    pub scope: String,
    pub dpop_jkt: String,
    pub confidential: bool,
    pub created_at: i64,
    pub refreshed_at: i64,
    pub expires_at: i64,
    pub refresh_expires_at: i64,
}

const GRANT_COLUMNS: &str = "id, account, client_id, client_name, scope, dpop_jkt, confidential, \
     created_at, refreshed_at, expires_at, refresh_expires_at";

fn grant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Grant> {
    Ok(Grant {
        id: r.get(0)?,
        account: r.get(1)?,
        client_id: r.get(2)?,
        client_name: r.get(3)?,
        scope: r.get(4)?,
        dpop_jkt: r.get(5)?,
        confidential: r.get(6)?,
        created_at: r.get(7)?,
        refreshed_at: r.get(8)?,
        expires_at: r.get(9)?,
        refresh_expires_at: r.get(10)?,
    })
}

pub fn insert_grant(conn: &Connection, g: &Grant, refresh_hash: &[u8]) -> Result<(), DbError> {
    conn.execute(
        &format!(
            "INSERT INTO oauth_grant ({GRANT_COLUMNS}, refresh_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            g.id,
            g.account,
            g.client_id,
            g.client_name,
            g.scope,
            g.dpop_jkt,
            g.confidential,
            g.created_at,
            g.refreshed_at,
            g.expires_at,
            g.refresh_expires_at,
            refresh_hash
        ],
    )?;
    Ok(())
}

pub fn grant(conn: &Connection, id: &str) -> Result<Option<Grant>, DbError> {
    Ok(conn
        .query_row(
            &format!("SELECT {GRANT_COLUMNS} FROM oauth_grant WHERE id = ?1"),
            [id],
            grant_row,
        )
        .optional()?)
}

/// The grant whose current refresh token has this hash.
pub fn grant_by_refresh(conn: &Connection, hash: &[u8]) -> Result<Option<Grant>, DbError> {
    Ok(conn
        .query_row(
            &format!("SELECT {GRANT_COLUMNS} FROM oauth_grant WHERE refresh_hash = ?1"),
            [hash],
            grant_row,
        )
        .optional()?)
}

/// The grant a rotated-away refresh token belonged to.
pub fn spent_refresh_grant(conn: &Connection, hash: &[u8]) -> Result<Option<String>, DbError> {
    Ok(conn
        .query_row(
            "SELECT grant_id FROM oauth_spent_refresh WHERE hash = ?1",
            [hash],
            |r| r.get(0),
        )
        .optional()?)
}

/// Replaces a grant's refresh token, keeping the old one's hash to recognise its reuse.
pub fn rotate_refresh(
    conn: &Connection,
    grant_id: &str,
    old_hash: &[u8],
    new_hash: &[u8],
    now: i64,
    refresh_expires_at: i64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT OR IGNORE INTO oauth_spent_refresh (hash, grant_id) VALUES (?1, ?2)",
        params![old_hash, grant_id],
    )?;
    conn.execute(
        "UPDATE oauth_grant SET refresh_hash = ?2, refreshed_at = ?3, refresh_expires_at = ?4 \
         WHERE id = ?1",
        params![grant_id, new_hash, now, refresh_expires_at],
    )?;
    Ok(())
}

/// Whether the grant named by an access token's id is still live: present and not past its
/// session's end.
pub fn grant_live(conn: &Connection, id: &str, now: i64) -> Result<bool, DbError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM oauth_grant WHERE id = ?1 AND expires_at > ?2",
            params![id, now],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// An account's id and status column, and whether `grant` is one of its grants still live at
/// `now`: the one read an OAuth-authenticated request makes (revocation, sign-out from the app,
/// takedown and deactivation delete the grant before its tokens expire).
pub fn account_with_grant(
    conn: &Connection,
    did: &str,
    grant: &str,
    now: i64,
) -> Result<Option<(i64, Option<String>, bool)>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.status, EXISTS (SELECT 1 FROM oauth_grant g
                 WHERE g.id = ?2 AND g.account = a.id AND g.expires_at > ?3)
             FROM account a WHERE a.did = ?1",
        )?
        .query_row(params![did, grant, now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?)
}

/// Revokes a grant (its refresh tokens, spent ones included, go with it).
pub fn delete_grant(conn: &Connection, id: &str) -> Result<usize, DbError> {
    Ok(conn.execute("DELETE FROM oauth_grant WHERE id = ?1", [id])?)
}

/// Revokes one of an account's grants; returns whether it was there.
pub fn delete_grant_of(conn: &Connection, account: i64, id: &str) -> Result<bool, DbError> {
    Ok(conn.execute(
        "DELETE FROM oauth_grant WHERE id = ?1 AND account = ?2",
        params![id, account],
    )? == 1)
}

/// An account's live grants, newest first.
pub fn grants_of(conn: &Connection, account: i64, now: i64) -> Result<Vec<Grant>, DbError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {GRANT_COLUMNS} FROM oauth_grant WHERE account = ?1 AND expires_at > ?2 \
         ORDER BY created_at DESC, id"
    ))?;
    Ok(stmt
        .query_map(params![account, now], grant_row)?
        .collect::<Result<_, _>>()?)
}

/// Remembers that a browser signed in to an account.
pub fn add_device_account(
    conn: &Connection,
    device_hash: &[u8],
    account: i64,
    now: i64,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO oauth_device_account (device_hash, account, signed_in_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (device_hash, account) DO UPDATE SET signed_in_at = excluded.signed_in_at",
        params![device_hash, account, now],
    )?;
    Ok(())
}

/// The accounts a browser signed in to since `since`: (account id, DID, handle).
pub fn device_accounts(
    conn: &Connection,
    device_hash: &[u8],
    since: i64,
) -> Result<Vec<(i64, String, Option<String>)>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT a.id, a.did, a.handle FROM oauth_device_account d JOIN account a ON a.id = d.account \
         WHERE d.device_hash = ?1 AND d.signed_in_at > ?2 AND a.status IS NULL \
         ORDER BY d.signed_in_at DESC",
    )?;
    Ok(stmt
        .query_map(params![device_hash, since], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?)
}

/// A permission set resolved over the network, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionSetRow {
    pub nsid: String,
    pub authority: String,
    /// The `permission-set` definition, JSON.
    pub def: String,
    pub resolved_at: i64,
}

/// Stores (or replaces) a resolved permission set.
pub fn put_permission_set(conn: &Connection, row: &PermissionSetRow) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO oauth_permission_set (nsid, authority, def, resolved_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (nsid) DO UPDATE SET authority = excluded.authority, def = excluded.def, \
         resolved_at = excluded.resolved_at",
        params![row.nsid, row.authority, row.def, row.resolved_at],
    )?;
    Ok(())
}

/// Every resolved permission set: the resource server loads them at start.
pub fn permission_sets(conn: &Connection) -> Result<Vec<PermissionSetRow>, DbError> {
    let mut stmt =
        conn.prepare("SELECT nsid, authority, def, resolved_at FROM oauth_permission_set")?;
    Ok(stmt
        .query_map([], |r| {
            Ok(PermissionSetRow {
                nsid: r.get(0)?,
                authority: r.get(1)?,
                def: r.get(2)?,
                resolved_at: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}
