-- anprd schema, migration 021: the covert catch-up audited before it is read; retention trims
-- the covert logs.
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
-- audit row. anpr.covert_page tells how many HITs the ticket named and the last, to page on:
-- covert_rows leaves out those dropped since the request. anpr.covert_hits refuses.
--
-- Committed is not durable: with synchronous_commit off, a commit returns (and pg_xact_status
-- says committed) before its WAL is on disk, and a crash then loses the audit row of rows
-- already read. The transaction that writes a ticket (a covert catch-up's or a history
-- search's audit row) commits synchronously whatever the session set (a deferred trigger sets
-- it at commit). What is left: a caller who fires that trigger early (SET CONSTRAINTS ...
-- IMMEDIATE) and turns synchronous_commit off after it, then crashes the server within the
-- WAL writer's delay. The rows do not wait for the WAL: a wait would hold every history search
-- up to the next commit of any other transaction (docs/SCHEMA.md).
--
-- The covert logs are audit logs: anpr.apply_retention (017) removes their rows past
-- anpr.law.audit_retention_days (at least a year, 5 years by default), as it does those of the
-- other audits, and counts them in anpr.retention_log. They outlive the reads and HITs they
-- name, as the other audits do; a clearance in force keeps its grant in anpr.person_covert
-- (granted_by, granted_at) when its log row goes.

-- The transaction that wrote the row (rows written before this migration: NULL, and never a
-- ticket).
ALTER TABLE anpr.covert_read_audit ADD COLUMN xact xid8;
ALTER TABLE anpr.covert_read_audit ALTER COLUMN xact SET DEFAULT pg_current_xact_id();

-- A ticket's audit row commits synchronously: at commit (a deferred trigger, so after any
-- statement of the caller's transaction), synchronous_commit off becomes on; local and the
-- remote levels already wait for the local flush.
CREATE FUNCTION anpr.audit_commit_durable() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF current_setting('synchronous_commit') = 'off' THEN
        PERFORM set_config('synchronous_commit', 'on', true);
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER covert_read_audit_durable AFTER INSERT ON anpr.covert_read_audit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION anpr.audit_commit_durable();
CREATE CONSTRAINT TRIGGER search_audit_durable AFTER INSERT ON anpr.search_audit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION anpr.audit_commit_durable();
REVOKE ALL ON FUNCTION anpr.audit_commit_durable() FROM PUBLIC;

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

-- The audit row of a committed ticket of the session's person, within 15 minutes of the
-- request; raises otherwise. Errors:
--   P0002 the ticket is unknown, not the person's, or older than 15 minutes;
--   25000 the ticket's transaction has not committed (still open, or rolled back).
CREATE FUNCTION anpr.covert_ticket_ok(p_ticket bigint) RETURNS anpr.covert_read_audit
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a anpr.covert_read_audit;
BEGIN
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
    RETURN a;
END
$$;
REVOKE ALL ON FUNCTION anpr.covert_ticket_ok(bigint) FROM PUBLIC;

-- The HITs of a committed ticket of the session's person (anpr.covert_ticket_ok), in hit_id
-- order, as anpr.dispatch_hits shows the others. A HIT whose list the person is no longer
-- cleared for, or that is gone, is left out; no ticket (NULL), no row.
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
    a := anpr.covert_ticket_ok(p_ticket);
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

-- The page a committed ticket named (anpr.covert_ticket_ok): how many HITs (named) and the
-- last (last_hit, NULL when none). anpr.covert_rows leaves out HITs dropped since the request,
-- so the number of its rows cannot tell whether more HITs follow: a catch-up goes on while a
-- ticket named a full page (limit), after last_hit. No ticket (NULL): 0 and NULL.
CREATE FUNCTION anpr.covert_page(p_ticket bigint, OUT named integer, OUT last_hit bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a anpr.covert_read_audit;
BEGIN
    named := 0;
    IF p_ticket IS NULL THEN
        RETURN;
    END IF;
    a := anpr.covert_ticket_ok(p_ticket);
    named := cardinality(a.hit_ids);
    last_hit := (SELECT max(x) FROM unnest(a.hit_ids) x);
END
$$;
REVOKE ALL ON FUNCTION anpr.covert_request(bigint, integer, integer), anpr.covert_rows(bigint),
    anpr.covert_page(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.covert_request(bigint, integer, integer),
    anpr.covert_rows(bigint), anpr.covert_page(bigint) TO anpr_dispatch;

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

-- Retention: the covert logs' rows past the audit's retention may go (017's rule: only by
-- anpr.apply_retention, only past their time).
CREATE OR REPLACE FUNCTION anpr.log_row_expired(tab oid, tname text, old_row jsonb)
RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    l anpr.law;
BEGIN
    IF current_setting('anpr.retention', true) IS DISTINCT FROM 'on'
       OR current_user <> (SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.oid = tab)
    THEN
        RETURN false;
    END IF;
    SELECT * INTO l FROM anpr.law;
    IF tname = 'hit_ack' THEN
        RETURN (old_row ->> 'acked_at')::timestamptz
                   < now() - make_interval(days => l.retention_days)
            OR NOT EXISTS (SELECT FROM anpr.hits h WHERE h.hit_id = (old_row ->> 'hit_id')::bigint);
    END IF;
    RETURN (old_row ->> CASE tname WHEN 'search_audit' THEN 'at'
                                   WHEN 'person_covert_log' THEN 'at'
                                   WHEN 'covert_read_audit' THEN 'at'
                                   WHEN 'retro_match_log' THEN 'searched_at'
                                   WHEN 'retention_log' THEN 'ran_at'
                                   ELSE 'changed_at' END)::timestamptz
           < now() - make_interval(days => l.audit_retention_days);
END
$$;

-- Rows of the runs before this migration: none removed.
ALTER TABLE anpr.retention_log
    ADD COLUMN person_covert_log_deleted bigint NOT NULL DEFAULT 0,
    ADD COLUMN covert_read_audit_deleted bigint NOT NULL DEFAULT 0;

-- As in migration 017, and the covert logs (migration 020) by the audit's retention, as the
-- other audits: person_covert_log (grants and withdrawals) and covert_read_audit (catch-ups).
CREATE OR REPLACE FUNCTION anpr.apply_retention(p_dry_run boolean DEFAULT false)
RETURNS anpr.retention_log
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET timezone = 'UTC' SET lock_timeout = '10s'
SET anpr.retention = 'on' AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    v_days integer;
    v_audit_days integer;
    v_first_day date;
    v_reads_before timestamptz;
    v_hits_before timestamptz;
    v_audit_before timestamptz;
    v_parts text[];
    v_part text;
    v_hits_from timestamptz;
    v_hits bigint[];
    v_hit_ids bigint[];
    n_ids bigint;
    n_hits bigint;
    n_aliases bigint;
    n_acks bigint;
    n_changes bigint;
    n_retro_reads bigint;
    n_results bigint;
    v_ticket bigint;
    n_search bigint;
    n_retro bigint;
    n_wl_audit bigint;
    n_log bigint;
    n_covert_log bigint;
    n_covert_reads bigint;
    v_n bigint;
    v_row anpr.retention_log;
BEGIN
    IF p_dry_run IS NULL THEN
        RAISE EXCEPTION 'apply_retention: p_dry_run must be true or false'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('anpr.ensure_partitions'));
    SELECT l.retention_days, l.audit_retention_days INTO v_days, v_audit_days FROM anpr.law l;
    IF v_days IS NULL OR v_audit_days IS NULL THEN
        RAISE EXCEPTION 'apply_retention: anpr.law holds no retention' USING ERRCODE = 'P0002';
    END IF;
    v_first_day := current_date - v_days; -- UTC (SET timezone above)
    v_reads_before := v_first_day::timestamp AT TIME ZONE 'UTC';
    v_hits_before := now() - make_interval(days => v_days);
    v_audit_before := now() - make_interval(days => v_audit_days);

    v_parts := ARRAY(
        SELECT c.relname::text FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'anpr.plate_read'::regclass
          AND c.relname ~ '^plate_read_[0-9]{8}$'
          AND to_date(substr(c.relname, 12), 'YYYYMMDD') < v_first_day
        ORDER BY c.relname);

    -- The HITs past their list's retention, capped at the law's (least() skips a NULL; a list
    -- deleted since: the law's). v_hits_from, the shortest list's cut-off, lets the index on
    -- read_time keep the rest of the table out.
    SELECT now() - make_interval(days => least(min(w.hit_retention_days), v_days))
    INTO v_hits_from FROM anpr.watchlist w;
    v_hits := ARRAY(
        SELECT h.id FROM anpr.hits h LEFT JOIN anpr.watchlist w ON w.id = h.list_id
        WHERE h.read_time < v_hits_from
          AND h.read_time < now() - make_interval(days => least(w.hit_retention_days, v_days)));
    v_hit_ids := ARRAY(SELECT h.hit_id FROM anpr.hits h
                       WHERE h.id = ANY (v_hits) AND h.hit_id IS NOT NULL);

    -- A search's result is fetched within 15 minutes (016); one older is only a copy.
    v_ticket := coalesce((SELECT min(a.id) FROM anpr.search_audit a
                          WHERE a.at > now() - interval '15 minutes'),
                         (SELECT max(a.id) + 1 FROM anpr.search_audit a), 0);

    IF p_dry_run THEN
        SELECT count(*) INTO n_ids FROM anpr.read_identity r
        WHERE r.read_us < (extract(epoch FROM v_reads_before) * 1000000)::bigint;
        n_hits := cardinality(v_hits);
        SELECT count(*) INTO n_aliases FROM anpr.hit_alias a
        WHERE a.stored_hit_id = ANY (v_hit_ids);
        SELECT count(*) INTO n_acks FROM anpr.hit_ack k
        WHERE k.hit_id = ANY (v_hit_ids) OR k.acked_at < v_hits_before;
        SELECT count(*) INTO n_changes FROM anpr.watchlist_change c
        WHERE c.changed_at < v_hits_before;
        SELECT count(*) INTO n_retro_reads FROM anpr.retro_match_read m
        WHERE m.read_time < v_reads_before;
        SELECT (SELECT count(*) FROM anpr.search_read_result r WHERE r.ticket < v_ticket)
             + (SELECT count(*) FROM anpr.search_hit_result r WHERE r.ticket < v_ticket)
             + (SELECT count(*) FROM anpr.search_cotravel_result r WHERE r.ticket < v_ticket)
        INTO n_results;
        SELECT count(*) INTO n_search FROM anpr.search_audit s WHERE s.at < v_audit_before;
        SELECT count(*) INTO n_retro FROM anpr.retro_match_log g
        WHERE g.searched_at < v_audit_before;
        SELECT count(*) INTO n_wl_audit FROM anpr.watchlist_audit a
        WHERE a.changed_at < v_audit_before;
        SELECT count(*) INTO n_log FROM anpr.retention_log g WHERE g.ran_at < v_audit_before;
        SELECT count(*) INTO n_covert_log FROM anpr.person_covert_log g
        WHERE g.at < v_audit_before;
        SELECT count(*) INTO n_covert_reads FROM anpr.covert_read_audit g
        WHERE g.at < v_audit_before;
    ELSE
        DELETE FROM anpr.hit_alias a WHERE a.stored_hit_id = ANY (v_hit_ids);
        GET DIAGNOSTICS n_aliases = ROW_COUNT;
        DELETE FROM anpr.hits h WHERE h.id = ANY (v_hits);
        GET DIAGNOSTICS n_hits = ROW_COUNT;
        -- After the HITs: the append-only trigger lets an acknowledgement go once its HIT is
        -- gone. One older than the retention is of a HIT older than it, too.
        DELETE FROM anpr.hit_ack k WHERE k.hit_id = ANY (v_hit_ids) OR k.acked_at < v_hits_before;
        GET DIAGNOSTICS n_acks = ROW_COUNT;
        DELETE FROM anpr.watchlist_change c WHERE c.changed_at < v_hits_before;
        GET DIAGNOSTICS n_changes = ROW_COUNT;
        DELETE FROM anpr.retro_match_read m WHERE m.read_time < v_reads_before;
        GET DIAGNOSTICS n_retro_reads = ROW_COUNT;
        DELETE FROM anpr.search_read_result r WHERE r.ticket < v_ticket;
        GET DIAGNOSTICS n_results = ROW_COUNT;
        DELETE FROM anpr.search_hit_result r WHERE r.ticket < v_ticket;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        n_results := n_results + v_n;
        DELETE FROM anpr.search_cotravel_result r WHERE r.ticket < v_ticket;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        n_results := n_results + v_n;
        DELETE FROM anpr.search_audit s WHERE s.at < v_audit_before;
        GET DIAGNOSTICS n_search = ROW_COUNT;
        DELETE FROM anpr.retro_match_log g WHERE g.searched_at < v_audit_before;
        GET DIAGNOSTICS n_retro = ROW_COUNT;
        DELETE FROM anpr.watchlist_audit a WHERE a.changed_at < v_audit_before;
        GET DIAGNOSTICS n_wl_audit = ROW_COUNT;
        DELETE FROM anpr.retention_log g WHERE g.ran_at < v_audit_before;
        GET DIAGNOSTICS n_log = ROW_COUNT;
        DELETE FROM anpr.person_covert_log g WHERE g.at < v_audit_before;
        GET DIAGNOSTICS n_covert_log = ROW_COUNT;
        DELETE FROM anpr.covert_read_audit g WHERE g.at < v_audit_before;
        GET DIAGNOSTICS n_covert_reads = ROW_COUNT;
        DELETE FROM anpr.read_identity r
        WHERE r.read_us < (extract(epoch FROM v_reads_before) * 1000000)::bigint;
        GET DIAGNOSTICS n_ids = ROW_COUNT;
        FOREACH v_part IN ARRAY v_parts LOOP
            EXECUTE format('ALTER TABLE anpr.plate_read DETACH PARTITION anpr.%I', v_part);
            EXECUTE format('DROP TABLE anpr.%I', v_part);
        END LOOP;
    END IF;

    INSERT INTO anpr.retention_log (dry_run, retention_days, audit_retention_days, reads_before,
                                    hits_before, audit_before, partitions_dropped,
                                    read_identities_deleted, hits_deleted, hit_aliases_deleted,
                                    hit_acks_deleted, watchlist_changes_deleted,
                                    retro_match_reads_deleted, search_results_deleted,
                                    search_audit_deleted, retro_match_log_deleted,
                                    watchlist_audit_deleted, retention_log_deleted,
                                    person_covert_log_deleted, covert_read_audit_deleted,
                                    duration_ms)
    VALUES (p_dry_run, v_days, v_audit_days, v_reads_before, v_hits_before, v_audit_before,
            v_parts, n_ids, n_hits, n_aliases, n_acks, n_changes, n_retro_reads, n_results,
            n_search, n_retro, n_wl_audit, n_log, n_covert_log, n_covert_reads,
            extract(epoch FROM clock_timestamp() - t0) * 1000)
    RETURNING * INTO v_row;
    RAISE LOG 'anpr retention by %: dry run %, % partitions, % hits, % audit rows', session_user,
        p_dry_run, cardinality(v_parts), n_hits,
        n_search + n_retro + n_wl_audit + n_covert_log + n_covert_reads;
    RETURN v_row;
END
$$;
