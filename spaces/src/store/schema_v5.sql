-- A caller looks up (and withdraws) their own join request to a space.
CREATE INDEX join_request_by_did ON join_request (space, did, id);
