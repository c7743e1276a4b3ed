-- anprd schema, migration 020: covert lists for the people cleared for them, who may also
-- acknowledge their HITs.
--
-- Until now a covert list's HITs reached only the consoles cleared for it (anpr.console_covert,
-- migration 013): a machine's key. A dispatcher on the board (anpr-web) is a person with a
-- database login, and a clearance is given to that person: anpr-web receives every covert HIT
-- (its own key is cleared as a console) and shows each one only to the people cleared for its
-- list now, asking anpr.my_covert_lists() on the person's own connection. An admin grants and
-- withdraws a clearance through the two functions below, which record who did it and when; a
-- clearance withdrawn applies to the next covert HIT (anpr-web asks again at least every 2 s).

-- Who may see which covert list now. Written only through anpr.grant_covert and
-- anpr.revoke_covert.
CREATE TABLE anpr.person_covert (
    login      text NOT NULL,             -- the person's database login (session_user)
    list_id    integer NOT NULL REFERENCES anpr.watchlist (id) ON DELETE CASCADE,
    granted_by text NOT NULL DEFAULT session_user,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (login, list_id)
);

-- Every grant and withdrawal, kept for the auditor: append-only.
CREATE TABLE anpr.person_covert_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    by_user text NOT NULL DEFAULT session_user,
    action  text NOT NULL CHECK (action IN ('granted', 'revoked')),
    login   text NOT NULL,
    list_id integer NOT NULL
);
CREATE TRIGGER person_covert_log_append_only BEFORE UPDATE OR DELETE ON anpr.person_covert_log
    FOR EACH ROW EXECUTE FUNCTION anpr.refuse_log_change();
CREATE TRIGGER person_covert_log_no_truncate BEFORE TRUNCATE ON anpr.person_covert_log
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.refuse_log_change();

-- Each catch-up that returned covert HITs to a person (anpr.covert_hits): who, when, which.
CREATE TABLE anpr.covert_read_audit (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    by_user       text NOT NULL DEFAULT session_user,
    since_hit     bigint NOT NULL, -- the catch-up's start: after this hit_id (0: by hours)
    hours         integer NOT NULL,
    rows_returned integer NOT NULL,
    hit_ids       bigint[] NOT NULL
);
CREATE INDEX ON anpr.covert_read_audit (by_user, at);
CREATE TRIGGER covert_read_audit_append_only BEFORE UPDATE OR DELETE ON anpr.covert_read_audit
    FOR EACH ROW EXECUTE FUNCTION anpr.refuse_log_change();
CREATE TRIGGER covert_read_audit_no_truncate BEFORE TRUNCATE ON anpr.covert_read_audit
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.refuse_log_change();

GRANT SELECT ON anpr.person_covert, anpr.person_covert_log TO anpr_admin;
GRANT SELECT ON anpr.person_covert_log, anpr.covert_read_audit TO anpr_auditor;

-- Clear a person for a covert list. Errors:
--   22023 the login does not exist, is not in anpr_dispatch, or the list is not a covert list.
-- Granting again changes nothing (and logs nothing).
CREATE FUNCTION anpr.grant_covert(p_login text, p_list_id integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = p_login AND r.rolcanlogin)
       OR NOT pg_has_role(p_login, 'anpr_dispatch', 'MEMBER') THEN
        RAISE EXCEPTION 'login % does not exist or is not in anpr_dispatch',
            coalesce(quote_literal(p_login), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM anpr.watchlist w WHERE w.id = p_list_id AND w.covert) THEN
        RAISE EXCEPTION 'list % is not a covert list', coalesce(p_list_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO anpr.person_covert (login, list_id) VALUES (p_login, p_list_id)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
        INSERT INTO anpr.person_covert_log (action, login, list_id)
        VALUES ('granted', p_login, p_list_id);
    END IF;
END
$$;

-- Withdraw it; true when there was one.
CREATE FUNCTION anpr.revoke_covert(p_login text, p_list_id integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM anpr.person_covert c WHERE c.login = p_login AND c.list_id = p_list_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO anpr.person_covert_log (action, login, list_id)
    VALUES ('revoked', p_login, p_list_id);
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION anpr.grant_covert(text, integer), anpr.revoke_covert(text, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.grant_covert(text, integer), anpr.revoke_covert(text, integer)
    TO anpr_admin;

-- The covert lists the session's person is cleared for now.
CREATE FUNCTION anpr.my_covert_lists() RETURNS SETOF integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.list_id FROM anpr.person_covert c JOIN anpr.watchlist w ON w.id = c.list_id
    WHERE c.login = session_user AND w.covert ORDER BY c.list_id
$$;
REVOKE ALL ON FUNCTION anpr.my_covert_lists() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.my_covert_lists() TO anpr_dispatch;

-- The catch-up of covert HITs for the session's person: the covert HITs of the lists they are
-- cleared for now, as anpr.dispatch_hits shows the others (within the first period of anpr.law,
-- suppressed repeats left out), after hit_id p_since (or, with p_since 0, of the last p_hours),
-- in hit_id order, p_limit at most (1..1000). Every call that returns a HIT is recorded in
-- anpr.covert_read_audit.
CREATE FUNCTION anpr.covert_hits(p_since bigint, p_hours integer, p_limit integer)
RETURNS TABLE (hit_id bigint, read_time timestamptz, camera text, read_plate text, plate text,
               read_country text, confidence smallint, lane smallint, direction smallint,
               entry_id bigint, list_id integer, list_name text, category text,
               priority smallint, match_kind smallint, entry_plate text, entry_country text,
               instruction text, external_ref text, detail text, reading smallint,
               nsubst smallint, post_match boolean, ack_decision text, ack_reason text,
               ack_operator text, acked_at timestamptz, ack_note text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
        RAISE EXCEPTION 'p_limit must be 1..1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One statement: the rows returned are the rows recorded.
    RETURN QUERY
    WITH page AS (
        SELECT h.hit_id, h.read_time, c.code, r.plate_raw, h.plate, r.country, r.confidence,
               r.lane, r.direction, h.entry_id, h.list_id, w.name, h.category, h.priority,
               h.match_kind, anpr.entry_key(e.plate) AS entry_plate, e.country AS entry_country,
               e.instruction, e.external_ref, h.detail, h.reading, h.nsubst, h.post_match,
               a.decision, a.reason, a.operator, a.acked_at, a.note
        FROM anpr.hits h
        JOIN anpr.camera c ON c.id = h.camera_id
        JOIN anpr.watchlist w ON w.id = h.list_id
        LEFT JOIN anpr.plate_read r
               ON r.camera_id = h.camera_id AND r.read_time = h.read_time
              AND r.epoch = h.epoch AND r.seq = h.seq
        LEFT JOIN anpr.watchlist_entry e ON e.id = h.entry_id
        LEFT JOIN LATERAL (SELECT k.decision, k.reason, k.operator, k.acked_at, k.note
                           FROM anpr.hit_ack k WHERE k.hit_id = h.hit_id
                           ORDER BY k.id DESC LIMIT 1) a ON true
        WHERE h.covert AND NOT h.suppressed AND h.hit_id IS NOT NULL
          AND h.read_time >= anpr.first_period_start()
          AND h.list_id IN (SELECT anpr.my_covert_lists())
          AND CASE WHEN p_since > 0 THEN h.hit_id > p_since
                   ELSE h.read_time > now() - make_interval(hours => p_hours) END
        ORDER BY h.hit_id
        LIMIT p_limit),
    audit AS (
        INSERT INTO anpr.covert_read_audit (since_hit, hours, rows_returned, hit_ids)
        SELECT coalesce(p_since, 0), coalesce(p_hours, 0), count(*)::integer,
               array_agg(g.hit_id ORDER BY g.hit_id)
        FROM page g HAVING count(*) > 0)
    SELECT * FROM page g ORDER BY g.hit_id;
END
$$;
REVOKE ALL ON FUNCTION anpr.covert_hits(bigint, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.covert_hits(bigint, integer, integer) TO anpr_dispatch;

-- Acknowledging a covert HIT: by the people cleared for its list, through anpr.acknowledge_hit
-- as any other. Its acknowledgements are theirs to see: a dispatcher reads anpr.hit_ack only
-- for the HITs that are not covert or whose list they are cleared for (row-level security;
-- the daemon, admins and auditors read every row, as before).
CREATE FUNCTION anpr.hit_visible_to_me(p_hit_id bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT NOT EXISTS (SELECT FROM anpr.hits h
                       WHERE h.hit_id = p_hit_id AND h.covert
                         AND h.list_id NOT IN (SELECT anpr.my_covert_lists()))
$$;
REVOKE ALL ON FUNCTION anpr.hit_visible_to_me(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.hit_visible_to_me(bigint) TO anpr_dispatch;

ALTER TABLE anpr.hit_ack ENABLE ROW LEVEL SECURITY;
CREATE POLICY hit_ack_dispatch ON anpr.hit_ack FOR SELECT TO anpr_dispatch
    USING (anpr.hit_visible_to_me(hit_id));
CREATE POLICY hit_ack_all ON anpr.hit_ack FOR SELECT TO anpr_admin, anpr_daemon, anpr_auditor
    USING (true);

-- As in migration 018, but a covert HIT is acknowledged by a person cleared for its list; to
-- anyone else it is still 'HIT N does not exist or is not visible to dispatch' (P0002), so the
-- function says nothing of whether it exists.
CREATE OR REPLACE FUNCTION anpr.acknowledge_hit(p_hit_id bigint, p_decision text, p_reason text,
                                                p_note text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_hidden boolean;
    v_id bigint;
    v_hit bigint;
    v_prev record;
BEGIN
    IF p_decision IS NULL OR p_decision NOT IN ('accepted', 'rejected', 'not_enforced') THEN
        RAISE EXCEPTION 'decision must be accepted, rejected or not_enforced, not %',
            coalesce(quote_literal(p_decision), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    p_reason := nullif(p_reason, '');
    p_note := nullif(btrim(p_note, E' \n'), '');
    IF p_decision = 'rejected' AND p_reason IS NULL THEN
        RAISE EXCEPTION 'a rejection needs a reason (see anpr.ack_reason)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_note IS NOT NULL AND (octet_length(p_note) > 500
                               OR NOT anpr.text_plain(replace(p_note, E'\n', ' '))) THEN
        RAISE EXCEPTION 'a note is 500 bytes at most, with no control character but line feeds'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_hit := anpr.hit_of(p_hit_id);
    SELECT (h.covert AND h.list_id NOT IN (SELECT anpr.my_covert_lists()))
           OR h.read_time < anpr.first_period_start() INTO v_hidden
    FROM anpr.hits h WHERE h.hit_id = v_hit FOR SHARE;
    IF NOT FOUND OR v_hidden THEN
        RAISE EXCEPTION 'HIT % does not exist or is not visible to dispatch', p_hit_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF p_reason IS NOT NULL
       AND NOT EXISTS (SELECT FROM anpr.ack_reason r WHERE r.reason = p_reason AND r.active) THEN
        RAISE EXCEPTION 'reason % is unknown or no longer in use (see anpr.ack_reason)',
            quote_literal(p_reason)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- One acknowledgement of a HIT at a time: the check below sees the one before.
    PERFORM pg_advisory_xact_lock(hashtext('anpr.acknowledge_hit'), hashtext(v_hit::text));
    SELECT k.decision, k.operator, k.acked_at INTO v_prev
    FROM anpr.hit_ack k WHERE k.hit_id = v_hit ORDER BY k.id DESC LIMIT 1;
    IF FOUND AND v_prev.operator <> session_user THEN
        RAISE EXCEPTION 'HIT % was already % by % at %', p_hit_id,
            replace(v_prev.decision, '_', ' '), v_prev.operator,
            to_char(v_prev.acked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'only the operator who acknowledged a HIT may change the decision';
    END IF;
    INSERT INTO anpr.hit_ack (hit_id, decision, reason, operator, note)
    VALUES (v_hit, p_decision, p_reason, session_user, p_note)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
