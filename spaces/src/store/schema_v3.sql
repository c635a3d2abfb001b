-- Email only to confirmed addresses, with one-click unsubscribe and a daily cap per address.
-- Addresses set before this migration are unconfirmed: their owners confirm them again.
ALTER TABLE settings ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
-- Random, kept in the clear: it can do nothing but turn this account's email off, and every
-- email carries it.
ALTER TABLE settings ADD COLUMN unsubscribe_token TEXT;
CREATE UNIQUE INDEX settings_unsubscribe ON settings (unsubscribe_token) WHERE unsubscribe_token IS NOT NULL;

-- A pending confirmation of an address: single-use (deleted when used) and expiring.
CREATE TABLE email_confirmation (
    token_hash BLOB PRIMARY KEY,
    did TEXT NOT NULL,
    email TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX email_confirmation_by_did ON email_confirmation (did);

ALTER TABLE email_outbox ADD COLUMN unsubscribe_token TEXT;

-- What went out to each address in the last day (the daily cap); older rows are pruned.
CREATE TABLE email_sent (
    to_addr TEXT NOT NULL,
    sent_at INTEGER NOT NULL
);
CREATE INDEX email_sent_by_addr ON email_sent (to_addr, sent_at);
