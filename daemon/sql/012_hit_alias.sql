-- anprd schema, migration 012: a HIT announced twice, and covert details kept from dispatch.
--
-- A camera resends a read whose acknowledgement it never got (PROTOCOL.md 8.1). If that read
-- was stored already, anprd matches it again and may announce its HIT again, under a new id:
-- the id was given before anprd could know the read was there. The hits table keeps the first
-- HIT (one row per read and entry), so the second id is recorded here as an alias of the
-- stored one, and acknowledging either id acknowledges that HIT. Only the daemon reads the
-- table (an alias may be of a covert HIT); dispatch goes through anpr.acknowledge_hit.
CREATE TABLE anpr.hit_alias (
    hit_id        bigint PRIMARY KEY, -- the id announced again
    stored_hit_id bigint NOT NULL     -- anpr.hits.hit_id of the HIT it names
);
CREATE INDEX hit_alias_stored ON anpr.hit_alias (stored_hit_id);
GRANT SELECT, INSERT ON anpr.hit_alias TO anpr_daemon;
-- To find the stored HIT of a read and entry (and whether it was a post-match), and the highest
-- id given (at start, so a clock set back does not give an id twice), the daemon reads these
-- columns of the HITs it wrote; not the plate nor anything else.
GRANT SELECT (camera_id, seq, read_time, entry_id, hit_id, post_match) ON anpr.hits TO anpr_daemon;

-- The HIT an id names: itself, or the stored HIT it is an alias of.
CREATE FUNCTION anpr.hit_of(p_hit_id bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT a.stored_hit_id FROM anpr.hit_alias a WHERE a.hit_id = p_hit_id),
                    p_hit_id)
$$;

-- As in migration 010, with the id resolved first: the acknowledgement names the stored HIT.
CREATE OR REPLACE FUNCTION anpr.acknowledge_hit(p_hit_id bigint, p_decision text, p_reason text)
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
    p_hit_id := anpr.hit_of(p_hit_id);
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

-- The dispatch view of migration 010, with the list and entry shown only while their list is
-- not covert: a list made covert later keeps its earlier HITs on the general view (dispatch
-- saw them live), but no longer its name, listed plate, instruction or reference, nor the
-- HIT's detail (for a pattern it names the listed pattern).
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
