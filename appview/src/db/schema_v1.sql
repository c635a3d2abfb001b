-- Every account the AppView knows, with the state of its repository as last verified.
CREATE TABLE actor (
    id INTEGER PRIMARY KEY,
    did TEXT NOT NULL UNIQUE,
    -- The handle, once the DID document and the handle agree; NULL otherwise.
    handle TEXT,
    -- NULL when active; 'deactivated', 'takendown', 'suspended', 'deleted'.
    status TEXT,
    indexed_at TEXT NOT NULL,
    -- Sync state: the last commit applied.
    rev TEXT,
    data_cid BLOB,
    commit_cid BLOB,
    -- 'wanted': to backfill; 'done': backfilled; NULL: only seen.
    backfill TEXT,
    -- Whether events for this account are indexed (see the scope setting).
    in_scope INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX actor_handle ON actor(handle);
CREATE INDEX actor_backfill ON actor(backfill) WHERE backfill = 'wanted';

CREATE TABLE profile (
    actor INTEGER PRIMARY KEY,
    uri TEXT NOT NULL,
    cid TEXT NOT NULL,
    display_name TEXT,
    description TEXT,
    avatar TEXT,
    banner TEXT,
    pinned_post TEXT,
    created_at TEXT,
    record BLOB NOT NULL,
    indexed_at TEXT NOT NULL
);

CREATE TABLE post (
    id INTEGER PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    cid TEXT NOT NULL,
    author INTEGER NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- When it sorts in feeds: the earlier of createdAt and when we indexed it, so a backdated
    -- post cannot jump to the top.
    sort_at TEXT NOT NULL,
    indexed_at TEXT NOT NULL,
    reply_root TEXT,
    reply_root_cid TEXT,
    reply_parent TEXT,
    reply_parent_cid TEXT,
    -- The record embedded by a quote (embed.record or recordWithMedia.record).
    embed_uri TEXT,
    embed_kind TEXT,
    record BLOB NOT NULL
);
CREATE INDEX post_author ON post(author, sort_at DESC);
CREATE INDEX post_parent ON post(reply_parent);
CREATE INDEX post_root ON post(reply_root);
CREATE INDEX post_embed ON post(embed_uri) WHERE embed_uri IS NOT NULL;

-- Posts and reposts as they appear in timelines and author feeds.
CREATE TABLE feed_item (
    uri TEXT PRIMARY KEY,
    post_uri TEXT NOT NULL,
    author INTEGER NOT NULL,
    kind TEXT NOT NULL, -- 'post' or 'repost'
    is_reply INTEGER NOT NULL DEFAULT 0,
    sort_at TEXT NOT NULL
);
CREATE INDEX feed_item_author ON feed_item(author, sort_at DESC);
CREATE INDEX feed_item_post ON feed_item(post_uri);
CREATE INDEX feed_item_sort ON feed_item(sort_at DESC, uri DESC);

CREATE TABLE post_agg (
    post_uri TEXT PRIMARY KEY,
    likes INTEGER NOT NULL DEFAULT 0,
    reposts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    quotes INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE profile_agg (
    actor INTEGER PRIMARY KEY,
    followers INTEGER NOT NULL DEFAULT 0,
    follows INTEGER NOT NULL DEFAULT 0,
    posts INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE likes (
    uri TEXT PRIMARY KEY,
    author INTEGER NOT NULL,
    subject_uri TEXT NOT NULL,
    subject_cid TEXT NOT NULL,
    created_at TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX likes_subject ON likes(subject_uri, indexed_at DESC);
CREATE INDEX likes_author ON likes(author, subject_uri);
CREATE INDEX likes_author_time ON likes(author, indexed_at DESC);

CREATE TABLE reposts (
    uri TEXT PRIMARY KEY,
    author INTEGER NOT NULL,
    subject_uri TEXT NOT NULL,
    subject_cid TEXT NOT NULL,
    created_at TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX reposts_subject ON reposts(subject_uri, indexed_at DESC);
CREATE INDEX reposts_author ON reposts(author, subject_uri);

CREATE TABLE follows (
    uri TEXT PRIMARY KEY,
    author INTEGER NOT NULL,
    subject_did TEXT NOT NULL,
    created_at TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX follows_author ON follows(author, subject_did);
CREATE INDEX follows_subject ON follows(subject_did, indexed_at DESC);

CREATE TABLE blocks (
    uri TEXT PRIMARY KEY,
    author INTEGER NOT NULL,
    subject_did TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX blocks_author ON blocks(author, subject_did);
CREATE INDEX blocks_subject ON blocks(subject_did, author);

CREATE TABLE threadgate (
    uri TEXT PRIMARY KEY,
    post_uri TEXT NOT NULL,
    author INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE UNIQUE INDEX threadgate_post ON threadgate(post_uri);

CREATE TABLE postgate (
    uri TEXT PRIMARY KEY,
    post_uri TEXT NOT NULL,
    author INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE UNIQUE INDEX postgate_post ON postgate(post_uri);

CREATE TABLE feed_generator (
    uri TEXT PRIMARY KEY,
    cid TEXT NOT NULL,
    author INTEGER NOT NULL,
    service_did TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    avatar TEXT,
    record BLOB NOT NULL,
    indexed_at TEXT NOT NULL
);
CREATE INDEX feed_generator_author ON feed_generator(author);

CREATE TABLE list (
    uri TEXT PRIMARY KEY,
    cid TEXT NOT NULL,
    author INTEGER NOT NULL,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    record BLOB NOT NULL,
    indexed_at TEXT NOT NULL
);

CREATE TABLE list_item (
    uri TEXT PRIMARY KEY,
    list_uri TEXT NOT NULL,
    subject_did TEXT NOT NULL,
    author INTEGER NOT NULL
);
CREATE INDEX list_item_list ON list_item(list_uri, subject_did);

CREATE TABLE labeler (
    uri TEXT PRIMARY KEY,
    cid TEXT NOT NULL,
    author INTEGER NOT NULL,
    record BLOB NOT NULL,
    indexed_at TEXT NOT NULL
);

CREATE TABLE notification (
    id INTEGER PRIMARY KEY,
    recipient INTEGER NOT NULL,
    author INTEGER NOT NULL,
    reason TEXT NOT NULL,
    reason_subject TEXT,
    uri TEXT NOT NULL,
    cid TEXT NOT NULL,
    sort_at TEXT NOT NULL
);
CREATE INDEX notification_recipient ON notification(recipient, sort_at DESC);
CREATE INDEX notification_uri ON notification(uri);

CREATE TABLE notification_seen (
    actor INTEGER PRIMARY KEY,
    seen_at TEXT NOT NULL
);

-- Full-text search over posts and actors (FTS5, content kept in the tables above).
CREATE VIRTUAL TABLE post_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE actor_fts USING fts5(handle, display_name, description, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');

-- How far each firehose has been processed, so a restart resumes there.
CREATE TABLE firehose_cursor (
    host TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);

-- Events dropped as invalid, by reason: the numbers behind the ingest counters.
CREATE TABLE ingest_stat (
    name TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);
