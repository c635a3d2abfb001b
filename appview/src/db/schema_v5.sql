-- Version 5: the global feed-time index also carries the author. The timeline's scan plan walks
-- it and keeps the rows of followed accounts; with the author in the index it decides each row
-- without reading the table row (a first page behind a thousand unfollowed posts read them all).
CREATE INDEX feed_item_sort_author ON feed_item(sort_at DESC, uri DESC, author);
DROP INDEX feed_item_sort;
