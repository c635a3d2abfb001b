-- Signed-in browsers. The cookie holds a random 256-bit id; only its SHA-256 is stored, so a
-- copy of this file signs no one in.
CREATE TABLE session (
    id_hash BLOB PRIMARY KEY,
    did TEXT NOT NULL,
    handle TEXT NOT NULL,
    -- The CSRF token every state-changing form of this session carries.
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Signing out everywhere, and the sweep of expired rows.
CREATE INDEX session_did ON session (did);
CREATE INDEX session_expiry ON session (expires_at);
