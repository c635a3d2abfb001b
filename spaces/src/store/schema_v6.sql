-- Per-space "mark read": a member's notifications in a space created at or before this time
-- (unix ms) are read, whatever the account-wide seen time says.
ALTER TABLE member ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
