-- Version 3: fewer B-trees for the single ingest writer to keep up. Every index costs an insert
-- per record indexed; these answered nothing another index does not.

-- Made redundant by version 2's paging indexes, which have the same leading columns (SQLite
-- walks an index in either direction).
DROP INDEX likes_subject;       -- likes_subject_page (subject_uri, indexed_at, uri)
DROP INDEX likes_author_time;   -- likes_author_page (author, indexed_at, uri)
DROP INDEX reposts_subject;     -- reposts_subject_page (subject_uri, indexed_at, uri)
DROP INDEX follows_subject;     -- follows_subject_page (subject_did, indexed_at, uri)
DROP INDEX post_embed;          -- post_embed_page (embed_uri, sort_at, uri)

-- No query looks posts up by thread root, or feed items by post.
DROP INDEX post_root;
DROP INDEX feed_item_post;

-- Threads look replies up by parent; most posts are not replies and need no entry.
DROP INDEX post_parent;
CREATE INDEX post_parent ON post(reply_parent) WHERE reply_parent IS NOT NULL;

-- Counters are read and written by post URI only: keyed by it directly, one B-tree instead of
-- a table and its key's index.
CREATE TABLE post_agg_v3 (
    post_uri TEXT PRIMARY KEY,
    likes INTEGER NOT NULL DEFAULT 0,
    reposts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    quotes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- Earlier versions wrote an all-zero row for every post; views read a missing row as zeros.
INSERT INTO post_agg_v3 (post_uri, likes, reposts, replies, quotes)
    SELECT post_uri, likes, reposts, replies, quotes FROM post_agg
    WHERE likes OR reposts OR replies OR quotes;
DROP TABLE post_agg;
ALTER TABLE post_agg_v3 RENAME TO post_agg;
