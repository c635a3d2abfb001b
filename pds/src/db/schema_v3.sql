-- Email codes are kept as keyed hashes (HMAC-SHA256 under a key derived from the server's
-- secret), so a copy of the database alone gives no usable code. The codes stored in plain text
-- before are dropped: they expire within minutes anyway. `requested_at` is in Unix seconds.
DROP TABLE email_token;
CREATE TABLE email_token (
    account INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    requested_at INTEGER NOT NULL,
    PRIMARY KEY (account, purpose)
);
-- resetPassword names no account: the code finds it.
CREATE INDEX email_token_hash ON email_token(purpose, token_hash);

-- Account email waiting for the SMTP server, queued in the transaction that caused it and
-- deleted once the server accepted it (or it was given up on): a message, code included, is
-- kept only until it is sent. Times are Unix milliseconds.
CREATE TABLE email_outbox (
    id INTEGER PRIMARY KEY,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL
);
CREATE INDEX email_outbox_due ON email_outbox(next_attempt_at);
