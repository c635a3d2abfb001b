-- Permission sets (`include:` scopes) resolved over the network: the resource server expands
-- a token's includes from memory on every request and must know them after a restart, without
-- fetching anything.
CREATE TABLE oauth_permission_set (
    -- The set's NSID: the record key of its `com.atproto.lexicon.schema` record.
    nsid TEXT PRIMARY KEY,
    -- The DID that published it (the `_lexicon` TXT record of the NSID's authority).
    authority TEXT NOT NULL,
    -- The `permission-set` main definition (JSON), as published.
    def TEXT NOT NULL,
    -- When it was last fetched (Unix seconds): a newer copy is looked for after a while.
    resolved_at INTEGER NOT NULL
);
