-- anprd schema, migration 014: texts without control characters, a per-list backbone setting,
-- the database closed to logins outside the anpr roles, and acknowledge_hit naming the id given.

-- A text an operator reads on a terminal or a console, or that goes to the backbone, holds no
-- C0 or C1 control character, no DEL, and no bidi control (they reorder what is shown): the
-- same set the tools replace when they print (tools/cli.h, cli_clean).
CREATE FUNCTION anpr.text_plain(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t !~ '[\u0001-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]'
$$;
GRANT EXECUTE ON FUNCTION anpr.text_plain(text) TO PUBLIC;

-- NOT VALID first: new and changed rows are checked at once, whatever the rows stored already
-- hold. The rows already there are then checked (VALIDATE); a table that has such rows keeps
-- its constraint NOT VALID and the migration names the rows by id (never their text) in a
-- WARNING. They are not rewritten here: a list name or an instruction is an admin's record,
-- changed by an admin (anpr-watchlist list-set --rename, update), after which
-- `ALTER TABLE ... VALIDATE CONSTRAINT ...` completes the check (docs/SCHEMA.md).
ALTER TABLE anpr.watchlist
    ADD CONSTRAINT watchlist_name_plain CHECK (anpr.text_plain(name)) NOT VALID;
ALTER TABLE anpr.watchlist_entry
    ADD CONSTRAINT watchlist_entry_text_plain
        CHECK (anpr.text_plain(plate) AND anpr.text_plain(instruction)
               AND anpr.text_plain(external_ref) AND anpr.text_plain(requested_by)) NOT VALID;
ALTER TABLE anpr.camera
    ADD CONSTRAINT camera_name_plain CHECK (anpr.text_plain(name)) NOT VALID;

DO $$
DECLARE
    v_ids text;
BEGIN
    SELECT string_agg(id::text, ', ' ORDER BY id) INTO v_ids
    FROM anpr.watchlist WHERE NOT anpr.text_plain(name);
    IF v_ids IS NULL THEN
        ALTER TABLE anpr.watchlist VALIDATE CONSTRAINT watchlist_name_plain;
    ELSE
        RAISE WARNING 'watchlist names with control characters, lists %: rename them, then '
                      'VALIDATE CONSTRAINT watchlist_name_plain', v_ids;
    END IF;

    SELECT string_agg(id::text, ', ' ORDER BY id) INTO v_ids
    FROM anpr.watchlist_entry
    WHERE NOT (anpr.text_plain(plate) AND anpr.text_plain(instruction)
               AND anpr.text_plain(external_ref) AND anpr.text_plain(requested_by));
    IF v_ids IS NULL THEN
        ALTER TABLE anpr.watchlist_entry VALIDATE CONSTRAINT watchlist_entry_text_plain;
    ELSE
        RAISE WARNING 'watchlist entries with control characters, entries %: update them, then '
                      'VALIDATE CONSTRAINT watchlist_entry_text_plain', v_ids;
    END IF;

    SELECT string_agg(id::text, ', ' ORDER BY id) INTO v_ids
    FROM anpr.camera WHERE NOT anpr.text_plain(name);
    IF v_ids IS NULL THEN
        ALTER TABLE anpr.camera VALIDATE CONSTRAINT camera_name_plain;
    ELSE
        RAISE WARNING 'camera names with control characters, cameras %: rename them, then '
                      'VALIDATE CONSTRAINT camera_name_plain', v_ids;
    END IF;
END
$$;

-- Whether a list's HITs go to the national backbone: NULL (the default) means yes for an
-- ordinary list and no for a covert one; true or false is an admin's decision either way. A
-- covert list's HITs that do go are marked covert in the backbone message (BACKBONE.md 5.2).
ALTER TABLE anpr.watchlist ADD COLUMN backbone boolean;

-- Only the anpr roles may connect; nobody else may create temporary tables (the daemon stages
-- its COPY batches in temporary tables). The owner and superusers keep their rights.
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO anpr_daemon, anpr_admin, anpr_investigator, '
                   'anpr_dispatch', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO anpr_daemon', current_database());
END
$$;

-- As in migration 012, but every message names the id as given: the stored HIT an alias
-- resolves to may be a covert one, whose id dispatch must not learn.
CREATE OR REPLACE FUNCTION anpr.acknowledge_hit(p_hit_id bigint, p_decision text, p_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_covert boolean;
    v_id bigint;
    v_hit bigint;
BEGIN
    IF p_decision IS NULL OR p_decision NOT IN ('accepted', 'rejected', 'not_enforced') THEN
        RAISE EXCEPTION 'decision must be accepted, rejected or not_enforced, not %',
            coalesce(quote_literal(p_decision), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    p_reason := nullif(p_reason, '');
    IF p_decision = 'rejected' AND p_reason IS NULL THEN
        RAISE EXCEPTION 'a rejection needs a reason (see anpr.ack_reason)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_hit := anpr.hit_of(p_hit_id);
    -- Lock the HIT's row: the check below and the insert see the same HIT.
    SELECT h.covert INTO v_covert FROM anpr.hits h WHERE h.hit_id = v_hit FOR SHARE;
    IF NOT FOUND OR v_covert THEN
        RAISE EXCEPTION 'HIT % does not exist or is not visible to dispatch', p_hit_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF p_reason IS NOT NULL
       AND NOT EXISTS (SELECT FROM anpr.ack_reason r WHERE r.reason = p_reason AND r.active) THEN
        RAISE EXCEPTION 'reason % is unknown or no longer in use (see anpr.ack_reason)',
            quote_literal(p_reason)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO anpr.hit_ack (hit_id, decision, reason, operator)
    VALUES (v_hit, p_decision, p_reason, session_user)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
