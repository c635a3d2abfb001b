-- Read-after-write asks for an account's records newer than the rev an AppView has indexed;
-- without this index that is a scan of every record of the account.
CREATE INDEX record_rev ON record(account, rev);
