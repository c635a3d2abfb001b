-- The OAuth client's state, beside the sessions (web.sqlite) in the AppView's directory.

-- Sign-ins sent to an authorization server and not yet back: found by `state`, taken once.
CREATE TABLE pending (
    state TEXT PRIMARY KEY,
    -- The session the authorization is for, when a signed-in person asks for more scope
    -- (sharing publicly); NULL for a sign-in.
    session_key BLOB,
    -- The account the person named, when they named one: the answer's `sub` must be it.
    expected_did TEXT,
    issuer TEXT NOT NULL,
    -- The authorization server's metadata as checked at the start (JSON).
    metadata TEXT NOT NULL,
    dpop_key BLOB NOT NULL,
    verifier TEXT NOT NULL,
    -- Where to go afterwards (a path on this site).
    next TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pending_expiry ON pending (expires_at);

-- The token set of a signed-in web session (one per session: the key is the session's id hash).
CREATE TABLE grant_tokens (
    session_key BLOB PRIMARY KEY,
    did TEXT NOT NULL,
    issuer TEXT NOT NULL,
    metadata TEXT NOT NULL,
    pds TEXT NOT NULL,
    dpop_key BLOB NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    scope TEXT NOT NULL,
    -- When the access token expires.
    access_expires_at INTEGER NOT NULL,
    -- When the web session does: the row goes with it.
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX grant_tokens_expiry ON grant_tokens (expires_at);
