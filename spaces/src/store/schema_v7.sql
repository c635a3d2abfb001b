-- Members' reports of posts, the moderation queue. A member has at most one open report per
-- post; a moderator's decision closes all of a post's open reports at once (same resolution,
-- time and moderator), which is what groups closed reports into one case. The post's URI is
-- kept as written so a closed case still names what was reported after the post is gone.
CREATE TABLE report (
    id INTEGER PRIMARY KEY,
    space INTEGER NOT NULL REFERENCES space(id) ON DELETE CASCADE,
    channel INTEGER NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
    post INTEGER REFERENCES post(id) ON DELETE SET NULL,
    post_uri TEXT NOT NULL,
    reporter TEXT NOT NULL,
    reason TEXT NOT NULL,
    text TEXT,
    created_at INTEGER NOT NULL,
    -- NULL while open; then 'hidden', 'removed', 'dismissed' (a moderator's decision) or
    -- 'deleted' (the post went another way).
    resolution TEXT,
    resolved_by TEXT,
    resolved_at INTEGER,
    resolution_reason TEXT
);
CREATE UNIQUE INDEX report_open ON report (post, reporter) WHERE resolution IS NULL;
-- The open queue: a space's open reports grouped by post.
CREATE INDEX report_queue ON report (space, post, id) WHERE resolution IS NULL;
-- Closed cases, newest decision first.
CREATE INDEX report_closed ON report (space, resolved_at, post_uri) WHERE resolution IS NOT NULL;
