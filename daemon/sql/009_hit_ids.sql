-- anprd schema, migration 009: every HIT has an id, given by anprd when the HIT is produced
-- (see daemon/hitid.h: time, instance, counter), the same on the dispatch feed, here and
-- towards the backbone. A console that was away asks for the HITs after the last id it saw.
ALTER TABLE anpr.hits ADD COLUMN hit_id bigint;
CREATE UNIQUE INDEX hits_hit_id ON anpr.hits (hit_id);
