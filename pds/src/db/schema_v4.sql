-- OAuth (the PDS as the atproto profile's authorization server). Times are Unix seconds;
-- secrets (codes, refresh tokens, browser sign-in ids) are kept as SHA-256 hashes, so a copy of
-- the database alone gives no usable credential.

-- Pushed authorization requests, from PAR until the code they end in is exchanged (and a while
-- after, to recognise a code presented twice).
CREATE TABLE oauth_request (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    -- The validated parameters (JSON): redirect_uri, scope, state, code_challenge, login_hint...
    params TEXT NOT NULL,
    -- Thumbprint of the DPoP key the request was pushed with: the code is bound to it.
    dpop_jkt TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    -- Set once the person approved: who, and the code's hash.
    account INTEGER REFERENCES account(id) ON DELETE CASCADE,
    code_hash BLOB UNIQUE,
    -- The grant the code was exchanged for: a second exchange revokes it.
    grant_id TEXT
);
CREATE INDEX oauth_request_expiry ON oauth_request(expires_at);

-- What a person allowed a client: one row per sign-in, until it is revoked or expires.
CREATE TABLE oauth_grant (
    id TEXT PRIMARY KEY,
    account INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    client_name TEXT,
    scope TEXT NOT NULL,
    dpop_jkt TEXT NOT NULL,
    confidential INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    refreshed_at INTEGER NOT NULL,
    -- No refresh after this: the session's total lifetime.
    expires_at INTEGER NOT NULL,
    -- The current refresh token's hash and when it stops being accepted.
    refresh_hash BLOB NOT NULL UNIQUE,
    refresh_expires_at INTEGER NOT NULL
);
CREATE INDEX oauth_grant_account ON oauth_grant(account);

-- Refresh tokens rotated away: presenting one again revokes its grant.
CREATE TABLE oauth_spent_refresh (
    hash BLOB PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oauth_grant(id) ON DELETE CASCADE
);
CREATE INDEX oauth_spent_refresh_grant ON oauth_spent_refresh(grant_id);

-- Browsers signed in on the authorization pages (the account chooser), by a cookie's hash.
CREATE TABLE oauth_device_account (
    device_hash BLOB NOT NULL,
    account INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
    signed_in_at INTEGER NOT NULL,
    PRIMARY KEY (device_hash, account)
);
CREATE INDEX oauth_device_account_account ON oauth_device_account(account);
