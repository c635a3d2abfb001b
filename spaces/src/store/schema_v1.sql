-- Members-only spaces. This database is its own file (`spaces.sqlite`), never the public index:
-- private text, membership and roles cannot end up in a public table, a public query or a
-- backup of the index by mistake.
--
-- Times are milliseconds since the UNIX epoch (formatted as atproto datetimes in views), so
-- that comparisons (seen markers, digests, expiry) never depend on how a client wrote a date.
-- Roles are integers so that "at least this role" is a comparison:
--   1 member, 2 moderator, 3 admin, 4 owner.
-- Notification levels likewise, in the order of how much they let through:
--   0 muted, 1 announcementsOnly, 2 mentionsAndReplies, 3 all.

CREATE TABLE space (
    id INTEGER PRIMARY KEY,
    skey TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    join_policy TEXT NOT NULL,
    listed INTEGER NOT NULL DEFAULT 0,
    join_question TEXT,
    member_count INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE channel (
    id INTEGER PRIMARY KEY,
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    rkey TEXT NOT NULL,
    -- The DID in the channel's URI (whoever created it).
    author TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    kind TEXT NOT NULL,
    read_role INTEGER NOT NULL,
    post_role INTEGER NOT NULL,
    email_announcements INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (space, rkey)
);

-- A small integer per account that ever joined a space: notification rows key their recipient
-- by it, so the inbox index stays compact (a 2,000-member fan-out touches few pages).
CREATE TABLE account (
    id INTEGER PRIMARY KEY,
    did TEXT NOT NULL UNIQUE
);

-- Current members only: removal, leaving and bans delete the row, so "is a member" is one
-- primary-key lookup on every request.
CREATE TABLE member (
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    did TEXT NOT NULL,
    acct INTEGER NOT NULL,
    role INTEGER NOT NULL,
    -- The member's space-wide notification level.
    level INTEGER NOT NULL DEFAULT 2,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (space, did)
) WITHOUT ROWID;
CREATE INDEX member_by_did ON member (did, joined_at);
CREATE INDEX member_by_join ON member (space, joined_at, did);

-- Channel-level notification levels, overriding the member's space level.
CREATE TABLE channel_level (
    channel INTEGER NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    did TEXT NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (channel, did)
) WITHOUT ROWID;
CREATE INDEX channel_level_by_did ON channel_level (did);

CREATE TABLE ban (
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    did TEXT NOT NULL,
    reason TEXT,
    banned_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (space, did)
) WITHOUT ROWID;

-- Invite links. Only the SHA-256 of the token is kept: a copy of this database does not let
-- anyone join.
CREATE TABLE invite (
    id INTEGER PRIMARY KEY,
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL UNIQUE,
    role INTEGER NOT NULL,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX invite_by_space ON invite (space, id);

CREATE TABLE join_request (
    id INTEGER PRIMARY KEY,
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    did TEXT NOT NULL,
    answer TEXT,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER
);
CREATE INDEX join_request_by_space ON join_request (space, status, id);
CREATE UNIQUE INDEX join_request_pending ON join_request (space, did) WHERE status = 'pending';

CREATE TABLE post (
    id INTEGER PRIMARY KEY,
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    channel INTEGER NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    rkey TEXT NOT NULL,
    -- The thread root (NULL for a root). Deleting a root deletes its thread.
    root INTEGER REFERENCES post(id) ON DELETE CASCADE,
    -- URIs of the root and the post replied to, kept as written: a reply outlives its parent.
    root_uri TEXT,
    parent_uri TEXT,
    parent INTEGER,
    text TEXT NOT NULL,
    facets TEXT,
    created_at INTEGER NOT NULL,
    edited_at INTEGER,
    pinned INTEGER NOT NULL DEFAULT 0,
    hidden INTEGER NOT NULL DEFAULT 0,
    -- On a question (root): the accepted reply.
    accepted_answer INTEGER,
    -- On a root: replies in its thread; on a reply: direct replies to it.
    reply_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (space, rkey)
);
-- Channel feed: thread roots, newest first; pinned roots on their own small index.
CREATE INDEX post_feed ON post (channel, id) WHERE root IS NULL;
CREATE INDEX post_pinned ON post (channel, id) WHERE root IS NULL AND pinned = 1;
-- Threads, oldest first.
CREATE INDEX post_thread ON post (root, id) WHERE root IS NOT NULL;
-- A member's own posts (export).
CREATE INDEX post_by_author ON post (space, author, id);

-- Private images: the bytes live on disk under space-images/<cid>; a row per (space, cid)
-- says who uploaded it to which space.
CREATE TABLE space_image (
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    cid TEXT NOT NULL,
    mime TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploader TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (space, cid)
) WITHOUT ROWID;
CREATE INDEX space_image_by_cid ON space_image (cid);

CREATE TABLE post_image (
    post INTEGER NOT NULL REFERENCES post(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    cid TEXT NOT NULL,
    alt TEXT NOT NULL,
    PRIMARY KEY (post, position)
) WITHOUT ROWID;
CREATE INDEX post_image_by_cid ON post_image (cid);

CREATE TABLE reaction (
    post INTEGER NOT NULL REFERENCES post(id) ON DELETE CASCADE,
    emoji TEXT NOT NULL,
    did TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (post, emoji, did)
) WITHOUT ROWID;

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    detail TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_by_space ON audit (space, id);

-- One inbox across spaces. A post notifies a recipient at most once (mention, reply or new
-- post, whichever came first in the fan-out). Indexes are few on purpose: a fan-out inserts
-- thousands of rows in one transaction, and each index is a b-tree to write. The inbox index
-- is the only one keyed by recipient; the uniqueness index is keyed by post first, so one
-- post's fan-out appends to one place (and it serves deletes of a post). Deleting a whole
-- space uses notification_by_space (schema_v2.sql).
CREATE TABLE notification (
    id INTEGER PRIMARY KEY,
    -- account.id of the recipient.
    recipient INTEGER NOT NULL,
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    channel INTEGER,
    post INTEGER REFERENCES post(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    author TEXT,
    subject TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX notification_inbox ON notification (recipient, id);
CREATE UNIQUE INDEX notification_once ON notification (post, recipient) WHERE post IS NOT NULL;

-- Per account, across spaces.
CREATE TABLE seen (
    did TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE settings (
    did TEXT PRIMARY KEY,
    email TEXT,
    digest TEXT NOT NULL DEFAULT 'off',
    announcement_emails INTEGER NOT NULL DEFAULT 1,
    -- When the last digest went out (or digests were turned on): the start of the next one.
    last_digest_at INTEGER
) WITHOUT ROWID;
CREATE INDEX settings_digest ON settings (digest) WHERE digest != 'off';

-- Email waiting to go out, queued in the same transaction as the event that causes it; the
-- row is deleted once the SMTP server accepts the message.
CREATE TABLE email_outbox (
    id INTEGER PRIMARY KEY,
    space INTEGER REFERENCES space(id) ON DELETE CASCADE,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    kind TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at, id);
CREATE INDEX email_outbox_by_space ON email_outbox (space);
