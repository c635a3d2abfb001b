-- A notification is read when its member opens the thread it is about (the inbox's links),
-- as well as when they mark a space or the whole inbox seen (member.seen_at, seen.seen_at).
ALTER TABLE notification ADD COLUMN read_at INTEGER;

-- Unread counts per space (every space page's badge) read one member's notifications in one
-- space after a time. With only (space) the planner walked the space's whole notification
-- index, every member's, which grows with members × posts. This index replaces that one
-- (deleting a space still finds its notifications by the leading column), so a fan-out writes
-- no more index entries than before.
DROP INDEX notification_by_space;
CREATE INDEX notification_by_space ON notification (space, recipient, created_at);
