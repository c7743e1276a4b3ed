-- anprd schema, migration 004: every change to a watchlist or an entry is audited.
--
-- One row per changed row: who (the login, session_user), when, what (table, operation, row
-- id) and the old and new values, written in the same transaction as the change. The table is
-- append-only: nobody is granted UPDATE or DELETE, and a trigger refuses them even to its
-- owner.
CREATE TABLE anpr.watchlist_audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL DEFAULT session_user,
    relation   text NOT NULL,  -- 'watchlist' or 'watchlist_entry'
    operation  text NOT NULL,  -- INSERT, UPDATE, DELETE
    row_id     bigint NOT NULL,
    old_row    jsonb,          -- NULL for INSERT
    new_row    jsonb           -- NULL for DELETE
);
CREATE INDEX ON anpr.watchlist_audit (relation, row_id);
CREATE INDEX ON anpr.watchlist_audit (changed_at);

CREATE FUNCTION anpr.audit_watchlist() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO anpr.watchlist_audit (relation, operation, row_id, old_row, new_row)
    VALUES (TG_TABLE_NAME, TG_OP,
            CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END,
            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION anpr.audit_watchlist() FROM PUBLIC;

CREATE TRIGGER watchlist_audit AFTER INSERT OR UPDATE OR DELETE ON anpr.watchlist
    FOR EACH ROW EXECUTE FUNCTION anpr.audit_watchlist();
CREATE TRIGGER watchlist_entry_audit AFTER INSERT OR UPDATE OR DELETE ON anpr.watchlist_entry
    FOR EACH ROW EXECUTE FUNCTION anpr.audit_watchlist();

-- TRUNCATE would change lists without a row trigger: nobody but the owner may, and it is
-- refused on the audit itself.
CREATE FUNCTION anpr.refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'anpr.watchlist_audit is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER watchlist_audit_append_only BEFORE UPDATE OR DELETE ON anpr.watchlist_audit
    FOR EACH ROW EXECUTE FUNCTION anpr.refuse_audit_change();
CREATE TRIGGER watchlist_audit_no_truncate BEFORE TRUNCATE ON anpr.watchlist_audit
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.refuse_audit_change();

GRANT SELECT ON anpr.watchlist_audit TO anpr_admin;
