-- Version 4: service-token ids already used on write methods, kept until the token expires
-- (plus a minute of clock skew), so that a token captured before a restart cannot be
-- replayed after it.
CREATE TABLE used_token (
    key TEXT PRIMARY KEY, -- '<iss DID>:<jti>'
    exp INTEGER NOT NULL  -- the token's exp, unix seconds
) WITHOUT ROWID;
CREATE INDEX used_token_exp ON used_token(exp);
