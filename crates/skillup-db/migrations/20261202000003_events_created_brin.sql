-- realtime_events.created_at increases with seq (it is read under the sequence
-- lock), so a BRIN index finds the events past the replay window as well as the
-- b-tree did, at almost no cost per insert: the b-tree took an entry and its WAL
-- for every event the invalidator stores, that is for every change a writer makes.
DROP INDEX realtime_events_created_idx;
CREATE INDEX realtime_events_created_brin ON realtime_events USING brin (created_at);
