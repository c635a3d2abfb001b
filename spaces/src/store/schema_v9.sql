-- A notification is read when its member opens the thread it is about (the inbox's links),
-- as well as when they mark a space or the whole inbox seen (member.seen_at, seen.seen_at).
ALTER TABLE notification ADD COLUMN read_at INTEGER;
