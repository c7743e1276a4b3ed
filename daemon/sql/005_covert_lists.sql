-- anprd schema, migration 005: covert lists.
--
-- The HITs of a covert list never reach the general dispatch feed: anprd publishes them only on
-- its covert feed (dispatch.covert_endpoint), whose access is given to the recipients named for
-- those lists, and stores them marked covert. Row-level security keeps covert lists and their
-- entries out of the dispatch role's sight, and dispatch reads HITs through a view without
-- the covert ones; admins and the daemon see all.
ALTER TABLE anpr.watchlist ADD COLUMN covert boolean NOT NULL DEFAULT false;
ALTER TABLE anpr.hits ADD COLUMN covert boolean NOT NULL DEFAULT false;

ALTER TABLE anpr.watchlist ENABLE ROW LEVEL SECURITY;
CREATE POLICY watchlist_admin ON anpr.watchlist TO anpr_admin USING (true) WITH CHECK (true);
CREATE POLICY watchlist_daemon ON anpr.watchlist FOR SELECT TO anpr_daemon USING (true);
CREATE POLICY watchlist_dispatch ON anpr.watchlist FOR SELECT TO anpr_dispatch USING (NOT covert);

ALTER TABLE anpr.watchlist_entry ENABLE ROW LEVEL SECURITY;
CREATE POLICY entry_admin ON anpr.watchlist_entry TO anpr_admin USING (true) WITH CHECK (true);
CREATE POLICY entry_daemon ON anpr.watchlist_entry FOR SELECT TO anpr_daemon USING (true);
-- The subquery runs under the dispatch role too, so it sees only lists that are not covert.
CREATE POLICY entry_dispatch ON anpr.watchlist_entry FOR SELECT TO anpr_dispatch
    USING (list_id IN (SELECT id FROM anpr.watchlist));

-- The daemon COPYs into anpr.hits, which row-level security would forbid: dispatch reads HITs
-- through a view that leaves the covert ones out instead of from the table.
REVOKE SELECT ON anpr.hits FROM anpr_dispatch;
CREATE VIEW anpr.dispatch_hits WITH (security_barrier) AS
    SELECT id, camera_id, seq, read_time, plate, entry_id, list_id, priority, category,
           match_kind, reading, nsubst, detail, suppressed, created_at
    FROM anpr.hits WHERE NOT covert;
GRANT SELECT ON anpr.dispatch_hits TO anpr_dispatch;
