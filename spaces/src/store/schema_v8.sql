-- An invite for one account (an organizer invites another organization's leader by handle):
-- only that DID may accept it. NULL: anyone holding the link.
ALTER TABLE invite ADD COLUMN invitee TEXT;

-- Deleting a post, a channel or a space looks up its reports (the foreign keys' actions):
-- each lookup needs an index that is not partial.
DROP INDEX report_closed;
CREATE INDEX report_closed ON report (space, resolved_at, post_uri);
CREATE INDEX report_by_post ON report (post);
CREATE INDEX report_by_channel ON report (channel);
