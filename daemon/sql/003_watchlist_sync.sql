-- anprd schema, migration 003: watchlist changes reach the running daemons.
--
-- Every statement that changes a list or an entry writes one row to anpr.watchlist_change and
-- notifies channel 'anpr_watchlist' with the change's sequence number. A daemon LISTENs, and on
-- a notification (or after reconnecting, or now and then) compares the newest sequence number
-- with the one it has applied: a lost notification is caught at the next look, never missed.
CREATE TABLE anpr.watchlist_change (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL DEFAULT session_user,
    relation   text NOT NULL,      -- 'watchlist' or 'watchlist_entry'
    operation  text NOT NULL       -- INSERT, UPDATE, DELETE, TRUNCATE
);

-- Statement-level, so an import of 100 000 rows is one change and one notification.
-- SECURITY DEFINER: admins change lists, but cannot write the change log themselves.
CREATE FUNCTION anpr.note_watchlist_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s bigint;
BEGIN
    INSERT INTO anpr.watchlist_change (relation, operation)
    VALUES (TG_TABLE_NAME, TG_OP) RETURNING seq INTO s;
    PERFORM pg_notify('anpr_watchlist', s::text);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION anpr.note_watchlist_change() FROM PUBLIC;

CREATE TRIGGER watchlist_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON anpr.watchlist
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.note_watchlist_change();
CREATE TRIGGER watchlist_entry_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON anpr.watchlist_entry
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.note_watchlist_change();

GRANT SELECT ON anpr.watchlist_change TO anpr_daemon, anpr_admin;
