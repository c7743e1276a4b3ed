-- anprd schema, migration 021: the covert catch-up audited before it is read.
--
-- anpr.covert_hits (migration 020) wrote its audit row in the caller's transaction and returned
-- the HITs in the same call: a person who called it inside BEGIN ... ROLLBACK read covert HITs
-- and left no audit row. The catch-up now works as the history searches of migration 016: a
-- first call, anpr.covert_request, chooses the HITs, records them in anpr.covert_read_audit and
-- returns only the row's id (a ticket, written whether or not it names a HIT, so it says
-- nothing about covert HITs before it commits; none, NULL, for a person cleared for no covert
-- list, who is shown none and whom anpr.my_covert_lists tells as much); a second call,
-- anpr.covert_rows, returns those HITs only once the transaction that wrote the ticket has
-- committed (pg_xact_status). Every covert HIT a person ever sees is named by a committed
-- audit row. anpr.covert_hits refuses.

-- The transaction that wrote the row (rows written before this migration: NULL, and never a
-- ticket).
ALTER TABLE anpr.covert_read_audit ADD COLUMN xact xid8;
ALTER TABLE anpr.covert_read_audit ALTER COLUMN xact SET DEFAULT pg_current_xact_id();

-- Records a catch-up of covert HITs for the session's person and returns its ticket, the
-- anpr.covert_read_audit row's id. The HITs are those anpr.covert_hits returned: of the covert
-- lists the person is cleared for now, within the first period of anpr.law, suppressed repeats
-- left out, after hit_id p_since (or, with p_since 0, of the last p_hours), in hit_id order,
-- p_limit at most (1..1000). Call it outside a transaction block (its row commits with the
-- call), then anpr.covert_rows(ticket). NULL (no row written) when the person is cleared for
-- no covert list.
CREATE FUNCTION anpr.covert_request(p_since bigint, p_hours integer, p_limit integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_ids bigint[];
    v_ticket bigint;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_limit > 1000 THEN
        RAISE EXCEPTION 'p_limit must be 1..1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT anpr.my_covert_lists()) THEN
        RETURN NULL;
    END IF;
    v_ids := ARRAY(
        SELECT h.hit_id FROM anpr.hits h
        WHERE h.covert AND NOT h.suppressed AND h.hit_id IS NOT NULL
          AND h.read_time >= anpr.first_period_start()
          AND h.list_id IN (SELECT anpr.my_covert_lists())
          AND CASE WHEN p_since > 0 THEN h.hit_id > p_since
                   ELSE h.read_time > now() - make_interval(hours => p_hours) END
        ORDER BY h.hit_id
        LIMIT p_limit);
    INSERT INTO anpr.covert_read_audit (since_hit, hours, rows_returned, hit_ids)
    VALUES (coalesce(p_since, 0), coalesce(p_hours, 0), cardinality(v_ids), v_ids)
    RETURNING id INTO v_ticket;
    RETURN v_ticket;
END
$$;

-- The HITs of a committed ticket of the session's person, within 15 minutes of the request, in
-- hit_id order, as anpr.dispatch_hits shows the others. A HIT whose list the person is no
-- longer cleared for, or that is gone, is left out; no ticket (NULL), no row. Errors:
--   P0002 the ticket is unknown, not the person's, or older than 15 minutes;
--   25000 the ticket's transaction has not committed (still open, or rolled back).
CREATE FUNCTION anpr.covert_rows(p_ticket bigint)
RETURNS TABLE (hit_id bigint, read_time timestamptz, camera text, read_plate text, plate text,
               read_country text, confidence smallint, lane smallint, direction smallint,
               entry_id bigint, list_id integer, list_name text, category text,
               priority smallint, match_kind smallint, entry_plate text, entry_country text,
               instruction text, external_ref text, detail text, reading smallint,
               nsubst smallint, post_match boolean, ack_decision text, ack_reason text,
               ack_operator text, acked_at timestamptz, ack_note text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    a anpr.covert_read_audit;
BEGIN
    IF p_ticket IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO a FROM anpr.covert_read_audit c WHERE c.id = p_ticket;
    IF NOT FOUND OR a.by_user <> session_user OR a.xact IS NULL
       OR a.at < now() - interval '15 minutes' THEN
        RAISE EXCEPTION 'covert catch-up % is unknown, not yours, or older than 15 minutes',
            p_ticket
            USING ERRCODE = 'no_data_found';
    END IF;
    IF pg_xact_status(a.xact) IS DISTINCT FROM 'committed' THEN
        RAISE EXCEPTION 'covert catch-up % is not committed: its HITs are shown once its audit '
                        'row is (ask outside a transaction block, or commit first)', p_ticket
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    RETURN QUERY
    SELECT h.hit_id, h.read_time, c.code, r.plate_raw, h.plate, r.country, r.confidence,
           r.lane, r.direction, h.entry_id, h.list_id, w.name, h.category, h.priority,
           h.match_kind, anpr.entry_key(e.plate), e.country, e.instruction, e.external_ref,
           h.detail, h.reading, h.nsubst, h.post_match, k.decision, k.reason, k.operator,
           k.acked_at, k.note
    FROM anpr.hits h
    JOIN anpr.camera c ON c.id = h.camera_id
    JOIN anpr.watchlist w ON w.id = h.list_id
    LEFT JOIN anpr.plate_read r
           ON r.camera_id = h.camera_id AND r.read_time = h.read_time
          AND r.epoch = h.epoch AND r.seq = h.seq
    LEFT JOIN anpr.watchlist_entry e ON e.id = h.entry_id
    LEFT JOIN LATERAL (SELECT x.decision, x.reason, x.operator, x.acked_at, x.note
                       FROM anpr.hit_ack x WHERE x.hit_id = h.hit_id
                       ORDER BY x.id DESC LIMIT 1) k ON true
    WHERE h.hit_id = ANY (a.hit_ids) AND h.covert AND NOT h.suppressed
      AND h.read_time >= anpr.first_period_start()
      AND h.list_id IN (SELECT anpr.my_covert_lists())
    ORDER BY h.hit_id;
END
$$;
REVOKE ALL ON FUNCTION anpr.covert_request(bigint, integer, integer), anpr.covert_rows(bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.covert_request(bigint, integer, integer),
    anpr.covert_rows(bigint) TO anpr_dispatch;

-- The one-call catch-up refuses: nothing reads covert HITs before its audit row has committed.
CREATE OR REPLACE FUNCTION anpr.covert_hits(p_since bigint, p_hours integer, p_limit integer)
RETURNS TABLE (hit_id bigint, read_time timestamptz, camera text, read_plate text, plate text,
               read_country text, confidence smallint, lane smallint, direction smallint,
               entry_id bigint, list_id integer, list_name text, category text,
               priority smallint, match_kind smallint, entry_plate text, entry_country text,
               instruction text, external_ref text, detail text, reading smallint,
               nsubst smallint, post_match boolean, ack_decision text, ack_reason text,
               ack_operator text, acked_at timestamptz, ack_note text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'anpr.covert_hits is withdrawn: its HITs could be read with no audit row '
                    'left'
        USING ERRCODE = 'feature_not_supported',
              HINT = 'call anpr.covert_request(since, hours, limit) outside a transaction '
                     'block, then anpr.covert_rows(ticket)';
END
$$;
