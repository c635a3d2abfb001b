-- Accounts. `id` is the internal key every per-account table uses, so their indexes stay small.
CREATE TABLE account (
    id INTEGER PRIMARY KEY,
    did TEXT NOT NULL UNIQUE,
    handle TEXT UNIQUE,
    email TEXT UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    signing_key BLOB NOT NULL,
    created_at TEXT NOT NULL,
    email_confirmed_at TEXT,
    invite_code TEXT,
    -- NULL (active), 'deactivated', 'takendown', 'deleted'
    status TEXT,
    deactivated_at TEXT,
    delete_after TEXT,
    takedown_ref TEXT
);

CREATE TABLE app_password (
    account INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    privileged INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    PRIMARY KEY (account, name)
);

-- One row per live refresh token (by its jti). A used token keeps a short grace period with the
-- id of its successor, so a client retrying a refresh gets the same new token.
CREATE TABLE refresh_token (
    id TEXT PRIMARY KEY,
    account INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
    app_password TEXT,
    expires_at INTEGER NOT NULL,
    next_id TEXT
);
CREATE INDEX refresh_token_account ON refresh_token(account);

CREATE TABLE invite_code (
    code TEXT PRIMARY KEY,
    available INTEGER NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    for_account TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE invite_code_use (
    code TEXT NOT NULL REFERENCES invite_code(code),
    used_by TEXT NOT NULL,
    used_at TEXT NOT NULL,
    PRIMARY KEY (code, used_by)
);

CREATE TABLE email_token (
    account INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    token TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    PRIMARY KEY (account, purpose)
);

-- The current head of each repository.
CREATE TABLE repo_root (
    account INTEGER PRIMARY KEY REFERENCES account(id) ON DELETE CASCADE,
    cid BLOB NOT NULL,
    rev TEXT NOT NULL,
    data_cid BLOB NOT NULL
);

-- Every block of every repository's current state (commit, tree nodes, records), tagged with
-- the rev that wrote it so getRepo `since` can send only what is newer.
CREATE TABLE repo_block (
    account INTEGER NOT NULL,
    cid BLOB NOT NULL,
    rev TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (account, cid)
) WITHOUT ROWID;
CREATE INDEX repo_block_rev ON repo_block(account, rev);

-- Records by path, for getRecord and listRecords without walking the tree.
CREATE TABLE record (
    account INTEGER NOT NULL,
    collection TEXT NOT NULL,
    rkey TEXT NOT NULL,
    cid BLOB NOT NULL,
    rev TEXT NOT NULL,
    indexed_at TEXT NOT NULL,
    takedown_ref TEXT,
    PRIMARY KEY (account, collection, rkey)
) WITHOUT ROWID;
CREATE INDEX record_cid ON record(account, cid);

-- Blobs an account uploaded. The bytes live on disk by CID; `unreferenced_since` (unix
-- seconds) is set while no record of the account points at the blob, and the collector removes
-- blobs that stay unreferenced past a grace period.
CREATE TABLE blob (
    account INTEGER NOT NULL,
    cid TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    unreferenced_since INTEGER,
    takedown_ref TEXT,
    PRIMARY KEY (account, cid)
) WITHOUT ROWID;
CREATE INDEX blob_unreferenced ON blob(unreferenced_since) WHERE unreferenced_since IS NOT NULL;

CREATE TABLE record_blob (
    account INTEGER NOT NULL,
    blob_cid TEXT NOT NULL,
    record_path TEXT NOT NULL,
    PRIMARY KEY (account, blob_cid, record_path)
) WITHOUT ROWID;
CREATE INDEX record_blob_path ON record_blob(account, record_path);

-- The firehose: every event, already encoded as the frame subscribers receive.
CREATE TABLE repo_seq (
    seq INTEGER PRIMARY KEY,
    did TEXT NOT NULL,
    kind TEXT NOT NULL,
    frame BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX repo_seq_created ON repo_seq(created_at);

-- app.bsky preferences, in the order the client stored them.
CREATE TABLE account_pref (
    id INTEGER PRIMARY KEY,
    account INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL
);
CREATE INDEX account_pref_account ON account_pref(account);
