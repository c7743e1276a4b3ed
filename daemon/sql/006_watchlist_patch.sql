-- anprd schema, migration 006: the change log names the entries each change touched, so a
-- running daemon patches its watchlist snapshot with those entries instead of reloading every
-- list (a 10 M-entry reload takes seconds; a patch of a few entries, milliseconds).
--
-- entry_ids: the ids of the entries a statement inserted, updated or deleted; NULL when the
-- change is not one of entries (a list changed, a table truncated): the daemon then reloads in
-- full.
ALTER TABLE anpr.watchlist_change ADD COLUMN entry_ids bigint[];

-- Changes are numbered in commit order: a daemon that has applied change N asks for the
-- changes after N, so a change numbered before N but committed after it would be missed. The
-- lock (held to the end of the changing transaction) makes admin transactions that change
-- lists take turns from their first change to their commit; readers are not blocked.
CREATE OR REPLACE FUNCTION anpr.note_watchlist_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s bigint;
    ids bigint[];
BEGIN
    LOCK TABLE anpr.watchlist_change IN EXCLUSIVE MODE;
    IF TG_TABLE_NAME = 'watchlist_entry' AND TG_OP <> 'TRUNCATE' THEN
        -- The transition tables exist only in the branch of their own trigger.
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(id) INTO ids FROM new_rows;
        ELSIF TG_OP = 'UPDATE' THEN
            SELECT array_agg(id) INTO ids
            FROM (SELECT id FROM old_rows UNION SELECT id FROM new_rows) AS t;
        ELSE
            SELECT array_agg(id) INTO ids FROM old_rows;
        END IF;
        IF ids IS NULL THEN
            RETURN NULL; -- the statement touched no entry: nothing changed
        END IF;
    END IF;
    INSERT INTO anpr.watchlist_change (relation, operation, entry_ids)
    VALUES (TG_TABLE_NAME, TG_OP, ids) RETURNING seq INTO s;
    PERFORM pg_notify('anpr_watchlist', s::text);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION anpr.note_watchlist_change() FROM PUBLIC;

-- The lock is taken again before each statement changes a row, so a transaction waits for it
-- before it holds any row lock: two admins editing the same entries take turns instead of
-- deadlocking (one holding the log's lock, the other a row the first needs).
CREATE FUNCTION anpr.lock_watchlist_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    LOCK TABLE anpr.watchlist_change IN EXCLUSIVE MODE;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION anpr.lock_watchlist_change() FROM PUBLIC;
CREATE TRIGGER watchlist_lock BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON anpr.watchlist FOR EACH STATEMENT EXECUTE FUNCTION anpr.lock_watchlist_change();
CREATE TRIGGER watchlist_entry_lock BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON anpr.watchlist_entry FOR EACH STATEMENT EXECUTE FUNCTION anpr.lock_watchlist_change();

-- One trigger per operation: a trigger with transition tables takes one event only.
DROP TRIGGER watchlist_entry_changed ON anpr.watchlist_entry;
CREATE TRIGGER watchlist_entry_inserted AFTER INSERT ON anpr.watchlist_entry
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.note_watchlist_change();
CREATE TRIGGER watchlist_entry_updated AFTER UPDATE ON anpr.watchlist_entry
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.note_watchlist_change();
CREATE TRIGGER watchlist_entry_deleted AFTER DELETE ON anpr.watchlist_entry
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.note_watchlist_change();
CREATE TRIGGER watchlist_entry_truncated AFTER TRUNCATE ON anpr.watchlist_entry
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.note_watchlist_change();
