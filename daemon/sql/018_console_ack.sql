-- anprd schema, migration 018: acknowledging from the console.
--
-- An operator may leave a note with an acknowledgement ("unit 12 sent, driver arrested"), and
-- a HIT one operator has acknowledged is no longer silently overridden by another: the second
-- one is refused with who did it and when, so the two talk instead. The operator who
-- acknowledged it may still change their own decision (accepted, then not enforced when the
-- unit is called away); the latest row is the HIT's state, as before.

-- A note: one line or a few, for people; no control character but line feeds, no bidi control
-- (anpr.text_plain, migration 014, on each line), 500 bytes at most. NULL: none.
ALTER TABLE anpr.hit_ack
    ADD COLUMN note text
        CHECK (note IS NULL OR (octet_length(note) BETWEEN 1 AND 500
                                AND anpr.text_plain(replace(note, E'\n', ' '))));

-- As in migration 016, with the note, and refused when another operator acknowledged the HIT
-- first:
--   55000 object_not_in_prerequisite_state  'HIT N was already accepted by jdoe at
--                                             2026-12-06 08:31:02 UTC' (N: the id as given).
-- Two operators acknowledging the same HIT at the same moment are taken one after the other
-- (a lock per stored HIT, for the transaction): the second is refused, naming the first.
CREATE FUNCTION anpr.acknowledge_hit(p_hit_id bigint, p_decision text, p_reason text,
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
    SELECT h.covert OR h.read_time < anpr.first_period_start() INTO v_hidden
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
REVOKE ALL ON FUNCTION anpr.acknowledge_hit(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.acknowledge_hit(bigint, text, text, text) TO anpr_dispatch;

-- The three-argument form, for the clients written before: no note, the same rules.
CREATE OR REPLACE FUNCTION anpr.acknowledge_hit(p_hit_id bigint, p_decision text, p_reason text)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT anpr.acknowledge_hit(p_hit_id, p_decision, p_reason, NULL::text)
$$;

-- The dispatch view of migration 016, with the latest acknowledgement's note (a column added
-- at the end, so clients that select by name or position keep working).
CREATE OR REPLACE VIEW anpr.dispatch_hits WITH (security_barrier) AS
    SELECT h.id, h.camera_id, h.seq, h.read_time, h.plate, h.entry_id, h.list_id, h.priority,
           h.category, h.match_kind, h.reading, h.nsubst,
           CASE WHEN w.covert THEN NULL ELSE h.detail END AS detail, h.suppressed, h.created_at,
           h.hit_id, h.post_match,
           c.code AS camera,
           r.plate_raw AS read_plate, r.country AS read_country, r.confidence, r.lane,
           r.direction, r.latitude, r.longitude, r.image_ref, r.candidates, r.cand_conf,
           CASE WHEN w.covert THEN NULL ELSE w.name END AS list_name,
           CASE WHEN w.covert THEN NULL ELSE anpr.entry_key(e.plate) END AS entry_plate,
           CASE WHEN w.covert THEN NULL ELSE e.country END AS entry_country,
           CASE WHEN w.covert THEN NULL ELSE e.instruction END AS instruction,
           CASE WHEN w.covert THEN NULL ELSE e.external_ref END AS external_ref,
           a.id AS ack_id, a.decision AS ack_decision, a.reason AS ack_reason,
           a.operator AS ack_operator, a.acked_at, h.epoch, a.note AS ack_note
    FROM anpr.hits h
    JOIN anpr.camera c ON c.id = h.camera_id
    LEFT JOIN anpr.plate_read r
           ON r.camera_id = h.camera_id AND r.read_time = h.read_time AND r.epoch = h.epoch
          AND r.seq = h.seq
    LEFT JOIN anpr.watchlist w ON w.id = h.list_id
    LEFT JOIN anpr.watchlist_entry e ON e.id = h.entry_id
    LEFT JOIN LATERAL (SELECT k.id, k.decision, k.reason, k.operator, k.acked_at, k.note
                       FROM anpr.hit_ack k WHERE k.hit_id = h.hit_id
                       ORDER BY k.id DESC LIMIT 1) a ON true
    WHERE NOT h.covert AND h.read_time >= anpr.first_period_start();
