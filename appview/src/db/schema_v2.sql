-- Version 2: what the read views need beyond version 1.

-- Keyset pagination: every paged list orders by (time, uri) so equal timestamps page stably,
-- and each has an index that yields rows in that order without a sort.
CREATE INDEX likes_subject_page ON likes(subject_uri, indexed_at, uri);
CREATE INDEX likes_author_page ON likes(author, indexed_at, uri);
CREATE INDEX reposts_subject_page ON reposts(subject_uri, indexed_at, uri);
CREATE INDEX follows_author_page ON follows(author, indexed_at, uri);
CREATE INDEX follows_subject_page ON follows(subject_did, indexed_at, uri);
CREATE INDEX blocks_author_page ON blocks(author, created_at, uri);
CREATE INDEX post_embed_page ON post(embed_uri, sort_at, uri) WHERE embed_uri IS NOT NULL;
CREATE INDEX feed_generator_author_page ON feed_generator(author, indexed_at, uri);
CREATE INDEX list_author_page ON list(author, indexed_at, uri);
CREATE INDEX list_item_page ON list_item(list_uri, uri);
CREATE INDEX labeler_author ON labeler(author);
-- Suggestions walk accounts by follower count.
CREATE INDEX profile_agg_followers ON profile_agg(followers DESC, actor);
-- Trending topics read the most recent posts.
CREATE INDEX post_sort ON post(sort_at DESC);

-- Per-account notification preferences (app.bsky.notification.putPreferencesV2), as the JSON
-- object of `app.bsky.notification.defs#preferences` fields the account set, and the legacy
-- `priority` flag (putPreferences).
CREATE TABLE notification_pref (
    did TEXT PRIMARY KEY,
    prefs TEXT NOT NULL DEFAULT '{}',
    priority INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
