-- Deleting a space cascades to its rows; every foreign key is looked up by its child column,
-- and without these two indexes that lookup scanned the whole `notification` table (by space)
-- and the whole `post` table (by channel: the feed index holds roots only). A space is cheap
-- to create, so a scan per delete would be cheap to repeat. The cost is one more b-tree
-- entry per notification row in a fan-out.
CREATE INDEX notification_by_space ON notification (space);
CREATE INDEX post_by_channel ON post (channel);
