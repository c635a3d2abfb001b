//! Every statement on `oauth.sqlite`: pending sign-ins and the token sets of web sessions.

use hearth_db::DbError;
use rusqlite::{Connection, OptionalExtension, params};

pub const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql")];

/// A sign-in on its way through the authorization server.
#[derive(Debug, Clone)]
pub struct Pending {
    pub state: String,
    pub session_key: Option<Vec<u8>>,
    pub expected_did: Option<String>,
    pub issuer: String,
    pub metadata: String,
    pub dpop_key: Vec<u8>,
    pub verifier: String,
    pub next: String,
    pub expires_at: i64,
}

/// A web session's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub session_key: Vec<u8>,
    pub did: String,
    pub issuer: String,
    pub metadata: String,
    pub pds: String,
    pub dpop_key: Vec<u8>,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub scope: String,
    pub access_expires_at: i64,
    pub expires_at: i64,
}

pub fn insert_pending(conn: &Connection, p: &Pending, now: i64) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM pending WHERE expires_at <= ?1")?
        .execute([now])?;
    conn.prepare_cached(
        "INSERT INTO pending (state, session_key, expected_did, issuer, metadata, dpop_key, verifier, next, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        p.state,
        p.session_key,
        p.expected_did,
        p.issuer,
        p.metadata,
        p.dpop_key,
        p.verifier,
        p.next,
        p.expires_at
    ])?;
    Ok(())
}

/// Takes the live pending sign-in for `state`: it is deleted whatever happens next, so a
/// redirect can be used once.
pub fn take_pending(conn: &Connection, state: &str, now: i64) -> Result<Option<Pending>, DbError> {
    let row = conn
        .prepare_cached(
            "DELETE FROM pending WHERE state = ?1 RETURNING session_key, expected_did, issuer, metadata, dpop_key, verifier, next, expires_at",
        )?
        .query_row([state], |r| {
            Ok(Pending {
                state: state.to_owned(),
                session_key: r.get(0)?,
                expected_did: r.get(1)?,
                issuer: r.get(2)?,
                metadata: r.get(3)?,
                dpop_key: r.get(4)?,
                verifier: r.get(5)?,
                next: r.get(6)?,
                expires_at: r.get(7)?,
            })
        })
        .optional()?;
    Ok(row.filter(|p| p.expires_at > now))
}

/// Stores (or replaces, after a refresh or a new authorization) a session's tokens.
pub fn put_tokens(conn: &Connection, t: &Tokens, now: i64) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM grant_tokens WHERE expires_at <= ?1")?
        .execute([now])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO grant_tokens (session_key, did, issuer, metadata, pds, dpop_key, access_token, refresh_token, scope, access_expires_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        t.session_key,
        t.did,
        t.issuer,
        t.metadata,
        t.pds,
        t.dpop_key,
        t.access_token,
        t.refresh_token,
        t.scope,
        t.access_expires_at,
        t.expires_at
    ])?;
    Ok(())
}

pub fn get_tokens(
    conn: &Connection,
    session_key: &[u8],
    now: i64,
) -> Result<Option<Tokens>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT did, issuer, metadata, pds, dpop_key, access_token, refresh_token, scope, access_expires_at, expires_at \
             FROM grant_tokens WHERE session_key = ?1 AND expires_at > ?2",
        )?
        .query_row(params![session_key, now], |r| {
            Ok(Tokens {
                session_key: session_key.to_vec(),
                did: r.get(0)?,
                issuer: r.get(1)?,
                metadata: r.get(2)?,
                pds: r.get(3)?,
                dpop_key: r.get(4)?,
                access_token: r.get(5)?,
                refresh_token: r.get(6)?,
                scope: r.get(7)?,
                access_expires_at: r.get(8)?,
                expires_at: r.get(9)?,
            })
        })
        .optional()?)
}

/// Forgets a session's tokens; returns them, for revocation.
pub fn take_tokens(
    conn: &Connection,
    session_key: &[u8],
    now: i64,
) -> Result<Option<Tokens>, DbError> {
    let t = get_tokens(conn, session_key, now)?;
    conn.prepare_cached("DELETE FROM grant_tokens WHERE session_key = ?1")?
        .execute([session_key])?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c
    }

    fn pending(state: &str, expires_at: i64) -> Pending {
        Pending {
            state: state.into(),
            session_key: None,
            expected_did: Some("did:plc:x".into()),
            issuer: "https://a.example".into(),
            metadata: "{}".into(),
            dpop_key: vec![1; 32],
            verifier: "v".into(),
            next: "/".into(),
            expires_at,
        }
    }

    #[test]
    fn pending_is_taken_once_and_only_while_live() {
        let c = db();
        insert_pending(&c, &pending("s1", 100), 0).unwrap();
        insert_pending(&c, &pending("s2", 10), 0).unwrap();
        let got = take_pending(&c, "s1", 50).unwrap().unwrap();
        assert_eq!(
            (got.issuer.as_str(), got.verifier.as_str()),
            ("https://a.example", "v")
        );
        assert!(
            take_pending(&c, "s1", 50).unwrap().is_none(),
            "a state works once"
        );
        assert!(
            take_pending(&c, "s2", 50).unwrap().is_none(),
            "an expired state is refused"
        );
        assert!(take_pending(&c, "nope", 50).unwrap().is_none());
    }

    #[test]
    fn tokens_replace_and_go() {
        let c = db();
        let mut t = Tokens {
            session_key: vec![7; 32],
            did: "did:plc:x".into(),
            issuer: "https://a.example".into(),
            metadata: "{}".into(),
            pds: "https://pds.example".into(),
            dpop_key: vec![1; 32],
            access_token: "a1".into(),
            refresh_token: Some("r1".into()),
            scope: "atproto".into(),
            access_expires_at: 10,
            expires_at: 100,
        };
        put_tokens(&c, &t, 0).unwrap();
        t.access_token = "a2".into();
        put_tokens(&c, &t, 0).unwrap();
        assert_eq!(
            get_tokens(&c, &[7; 32], 5).unwrap().unwrap().access_token,
            "a2"
        );
        assert!(
            get_tokens(&c, &[7; 32], 100).unwrap().is_none(),
            "gone with the session"
        );
        assert_eq!(
            take_tokens(&c, &[7; 32], 5)
                .unwrap()
                .unwrap()
                .refresh_token
                .as_deref(),
            Some("r1")
        );
        assert!(get_tokens(&c, &[7; 32], 5).unwrap().is_none());
    }
}
