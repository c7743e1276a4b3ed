-- anprd schema, migration 010: dispatch delivery.
--
-- A console or a control-room system that was disconnected catches up on the HITs it missed
-- by asking anpr.dispatch_hits for every HIT after the last hit_id it saw (migration 009 gives
-- every HIT that id, the one its frame carries on the feed). Operators acknowledge a HIT
-- (accepted, rejected with a reason from a list admins keep, not enforced) through one
-- SECURITY DEFINER function that checks the HIT is one dispatch may see; each
-- acknowledgement is kept, append-only, with the operator's database login and the time.

-- The reasons an operator may give, for a rejection (required) or a HIT not enforced
-- (optional). Admins add reasons and retire them (active = false); a retired reason stays
-- for the acknowledgements that used it, so rows are deactivated rather than deleted.
CREATE TABLE anpr.ack_reason (
    reason text PRIMARY KEY CHECK (reason ~ '^[a-z][a-z0-9_]{0,31}$'),
    active boolean NOT NULL DEFAULT true
);
INSERT INTO anpr.ack_reason (reason) VALUES
    ('misread'),            -- the camera misread the plate: not the listed vehicle
    ('vehicle_not_found'),  -- no vehicle found at or after the camera
    ('entry_outdated'),     -- the entry no longer holds (vehicle recovered, case closed)
    ('wrong_vehicle'),      -- the plate is right but the vehicle is not the one described
    ('no_unit_available'),  -- no patrol could be sent
    ('duplicate');          -- the same sighting was already handled

-- One row per acknowledgement. A HIT may be acknowledged more than once (accepted, then not
-- enforced when the unit is called away): the latest row is its state, the others its
-- history. No foreign key to anpr.hits, so purging HITs by retention is not held up; the
-- function below checks the HIT exists when the row is written.
CREATE TABLE anpr.hit_ack (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hit_id    bigint NOT NULL,
    decision  text NOT NULL CHECK (decision IN ('accepted', 'rejected', 'not_enforced')),
    reason    text REFERENCES anpr.ack_reason (reason),
    operator  text NOT NULL DEFAULT session_user,
    acked_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (decision <> 'rejected' OR reason IS NOT NULL)
);
CREATE INDEX ON anpr.hit_ack (hit_id, id);
CREATE INDEX ON anpr.hit_ack (acked_at);

CREATE TRIGGER hit_ack_append_only BEFORE UPDATE OR DELETE ON anpr.hit_ack
    FOR EACH ROW EXECUTE FUNCTION anpr.refuse_log_change();
CREATE TRIGGER hit_ack_no_truncate BEFORE TRUNCATE ON anpr.hit_ack
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.refuse_log_change();

-- Acknowledge a HIT as the calling operator (session_user: the operator's own login, also
-- inside this SECURITY DEFINER function). Returns the acknowledgement's id. Errors:
--   P0002 no_data_found          the HIT does not exist, or it is covert: dispatch is told
--                                the same for both, so the function cannot be used to learn
--                                that a covert HIT exists;
--   22023 invalid_parameter_value an unknown decision; a rejection without a reason; a
--                                reason that is unknown or retired.
-- A HIT is published once it is durable, which in spool mode is a few milliseconds before it
-- is in the table: an acknowledgement that quick gets P0002 and may be retried.
CREATE FUNCTION anpr.acknowledge_hit(p_hit_id bigint, p_decision text, p_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_covert boolean;
    v_id bigint;
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
    -- Lock the HIT's row: the check below and the insert see the same HIT.
    SELECT h.covert INTO v_covert FROM anpr.hits h WHERE h.hit_id = p_hit_id FOR SHARE;
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
    VALUES (p_hit_id, p_decision, p_reason, session_user)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
REVOKE ALL ON FUNCTION anpr.acknowledge_hit(bigint, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.acknowledge_hit(bigint, text, text) TO anpr_dispatch;

-- The dispatch view, again: the HITs that are not covert, now with their hit_id and
-- post-match flag, what the HIT frame told about the read (dispatch may not read plate
-- history, but it was sent these fields of the matched read live; the view's owner reads
-- them for it), the list and entry as they are now, and the latest acknowledgement. Rebuilt
-- rather than replaced, whatever migration 009 did to it; the grant is given again.
DROP VIEW anpr.dispatch_hits;
CREATE VIEW anpr.dispatch_hits WITH (security_barrier) AS
    SELECT h.id, h.camera_id, h.seq, h.read_time, h.plate, h.entry_id, h.list_id, h.priority,
           h.category, h.match_kind, h.reading, h.nsubst, h.detail, h.suppressed, h.created_at,
           h.hit_id, h.post_match,
           c.code AS camera,
           r.plate_raw AS read_plate, r.country AS read_country, r.confidence, r.lane,
           r.direction, r.latitude, r.longitude, r.image_ref, r.candidates, r.cand_conf,
           w.name AS list_name, anpr.entry_key(e.plate) AS entry_plate,
           e.country AS entry_country, e.instruction, e.external_ref,
           a.id AS ack_id, a.decision AS ack_decision, a.reason AS ack_reason,
           a.operator AS ack_operator, a.acked_at
    FROM anpr.hits h
    JOIN anpr.camera c ON c.id = h.camera_id
    LEFT JOIN anpr.plate_read r
           ON r.camera_id = h.camera_id AND r.read_time = h.read_time AND r.seq = h.seq
    LEFT JOIN anpr.watchlist w ON w.id = h.list_id
    LEFT JOIN anpr.watchlist_entry e ON e.id = h.entry_id
    LEFT JOIN LATERAL (SELECT k.id, k.decision, k.reason, k.operator, k.acked_at
                       FROM anpr.hit_ack k WHERE k.hit_id = h.hit_id
                       ORDER BY k.id DESC LIMIT 1) a ON true
    WHERE NOT h.covert;
GRANT SELECT ON anpr.dispatch_hits TO anpr_dispatch;

GRANT SELECT ON anpr.ack_reason TO anpr_dispatch;
GRANT SELECT, INSERT, UPDATE ON anpr.ack_reason TO anpr_admin;
GRANT SELECT ON anpr.hit_ack TO anpr_dispatch, anpr_admin;
