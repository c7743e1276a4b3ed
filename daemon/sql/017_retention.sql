-- anprd schema, migration 017: retention that really deletes.
--
-- The law (anpr.law, migration 016) keeps reads at most retention_days (365 at most) and the
-- audit of searches audit_retention_days. anpr.apply_retention() removes what is older, in one
-- transaction, and logs each run (also a dry run) in anpr.retention_log:
--   * reads: every daily plate_read partition whose whole day (UTC, as the partitions are) is
--     past the retention, detached then dropped, and the read identities of those days;
--   * HITs: by their list's hit_retention_days, capped at the law's retention (NULL: the law's),
--     with their aliases and acknowledgements;
--   * what names reads, with the reads: the retro-match's reads (retro_match_read, 016) of the
--     days dropped, and search results (016) not fetched within their 15 minutes;
--   * watchlist_change (the daemons' change feed, no audit: watchlist_audit is) by the law's
--     retention; the audits (search_audit, retro_match_log, watchlist_audit, retention_log) by
--     audit_retention_days.
-- It is run daily by anpr-retention (systemd/anpr-retention.timer) as a login in the role
-- anpr_retention, which may do nothing else.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_retention') THEN
        CREATE ROLE anpr_retention NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO anpr_retention', current_database());
END
$$;
GRANT USAGE ON SCHEMA anpr TO anpr_retention;

-- A list keeps its HITs at most a year too (migration 008 allowed ten): a longer setting
-- becomes the longest allowed, which the audit (004) records as the migration's change.
UPDATE anpr.watchlist SET hit_retention_days = 365 WHERE hit_retention_days > 365;
ALTER TABLE anpr.watchlist DROP CONSTRAINT watchlist_hit_retention_days_check;
ALTER TABLE anpr.watchlist ADD CONSTRAINT watchlist_hit_retention_days_check
    CHECK (hit_retention_days BETWEEN 1 AND 365);

-- One row per run, append-only like the other logs.
CREATE TABLE anpr.retention_log (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ran_at                   timestamptz NOT NULL DEFAULT now(),
    ran_by                   text NOT NULL DEFAULT session_user,
    dry_run                  boolean NOT NULL,     -- counted what would go, removed nothing
    retention_days           integer NOT NULL,     -- the law's, at the run
    audit_retention_days     integer NOT NULL,
    reads_before             timestamptz NOT NULL, -- first instant kept (a day start, UTC)
    hits_before              timestamptz NOT NULL, -- the law's cut-off; a list may cut later
    audit_before             timestamptz NOT NULL,
    partitions_dropped       text[] NOT NULL,      -- plate_read_YYYYMMDD, oldest first
    read_identities_deleted  bigint NOT NULL,
    hits_deleted             bigint NOT NULL,
    hit_aliases_deleted      bigint NOT NULL,
    hit_acks_deleted         bigint NOT NULL,
    watchlist_changes_deleted bigint NOT NULL,
    retro_match_reads_deleted bigint NOT NULL,   -- retro_match_read rows of the days dropped
    search_results_deleted   bigint NOT NULL,     -- search_*_result rows past their 15 minutes
    search_audit_deleted     bigint NOT NULL,
    retro_match_log_deleted  bigint NOT NULL,
    watchlist_audit_deleted  bigint NOT NULL,
    retention_log_deleted    bigint NOT NULL,
    duration_ms              double precision NOT NULL
);
CREATE INDEX ON anpr.retention_log (ran_at);
CREATE TRIGGER retention_log_append_only BEFORE UPDATE OR DELETE ON anpr.retention_log
    FOR EACH ROW EXECUTE FUNCTION anpr.refuse_log_change();
CREATE TRIGGER retention_log_no_truncate BEFORE TRUNCATE ON anpr.retention_log
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.refuse_log_change();
GRANT SELECT ON anpr.retention_log TO anpr_auditor, anpr_admin;

-- The append-only triggers (007, 004) let one thing through: a row DELETE by
-- anpr.apply_retention, of a row past its time. The function sets anpr.retention 'on' for its own
-- run and runs as the table's owner (anyone may set the setting, but is not the owner); the row
-- must be past its retention too, so neither the setting nor the owner can take a recent row:
-- an acknowledgement older than the law's retention or of a HIT that is gone, an audit row older
-- than audit_retention_days. UPDATE and TRUNCATE stay refused to everyone.
CREATE FUNCTION anpr.log_row_expired(tab oid, tname text, old_row jsonb) RETURNS boolean
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
        RETURN (old_row ->> 'acked_at')::timestamptz < now() - make_interval(days => l.retention_days)
            OR NOT EXISTS (SELECT FROM anpr.hits h WHERE h.hit_id = (old_row ->> 'hit_id')::bigint);
    END IF;
    RETURN (old_row ->> CASE tname WHEN 'search_audit' THEN 'at'
                                   WHEN 'retro_match_log' THEN 'searched_at'
                                   WHEN 'retention_log' THEN 'ran_at'
                                   ELSE 'changed_at' END)::timestamptz
           < now() - make_interval(days => l.audit_retention_days);
END
$$;
REVOKE ALL ON FUNCTION anpr.log_row_expired(oid, text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION anpr.refuse_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND anpr.log_row_expired(TG_RELID, TG_TABLE_NAME, to_jsonb(OLD)) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE OR REPLACE FUNCTION anpr.refuse_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND anpr.log_row_expired(TG_RELID, TG_TABLE_NAME, to_jsonb(OLD)) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'anpr.watchlist_audit is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The identities are cut by time: a BRIN index (reads come in roughly in time order) spares
-- each run a scan of the whole table for the cost of a few pages.
CREATE INDEX read_identity_time ON anpr.read_identity USING brin (read_us);

-- HITs are cut by read_time: without this index every run reads the whole table.
CREATE INDEX IF NOT EXISTS hits_read_time ON anpr.hits (read_time);

-- As in migration 001, but no partition for a day the law no longer keeps: a day before
-- (today, UTC) - retention_days would be dropped by the next run, and its reads were refused by
-- anprd. The other limits stay.
CREATE OR REPLACE FUNCTION anpr.ensure_partitions(first date, last date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d date;
    made integer := 0;
    part text;
    keep_from date;
BEGIN
    IF first IS NULL OR last IS NULL OR last < first OR last - first > 400
       OR last > current_date + 61 THEN
        RAISE EXCEPTION 'ensure_partitions: range % .. % not allowed', first, last
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT (now() AT TIME ZONE 'UTC')::date - l.retention_days INTO keep_from FROM anpr.law l;
    keep_from := coalesce(keep_from, (now() AT TIME ZONE 'UTC')::date - 365);
    IF first < keep_from THEN
        RAISE EXCEPTION 'ensure_partitions: day % is past the retention period (the oldest day '
                        'kept is %)', first, keep_from
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('anpr.ensure_partitions'));
    d := first;
    WHILE d <= last LOOP
        part := 'plate_read_' || to_char(d, 'YYYYMMDD');
        IF to_regclass('anpr.' || part) IS NULL THEN
            EXECUTE format('CREATE TABLE anpr.%I (LIKE anpr.plate_read INCLUDING DEFAULTS '
                           'INCLUDING CONSTRAINTS)',
                           part);
            EXECUTE format('ALTER TABLE anpr.plate_read ATTACH PARTITION anpr.%I '
                           'FOR VALUES FROM (%L) TO (%L)',
                           part, d::timestamp AT TIME ZONE 'UTC',
                           (d + 1)::timestamp AT TIME ZONE 'UTC');
            made := made + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END
$$;

-- Replaced by anpr.apply_retention, which also logs what it did.
DROP FUNCTION anpr.drop_reads_before(date);

-- Removes what the law no longer allows to keep (see the top of this file) and returns the
-- log row of the run. With p_dry_run it counts the same rows and partitions and removes
-- nothing. The reads go last: detaching takes an exclusive lock on plate_read that holds up
-- the daemon's writer until the commit, so the run holds it as short a time as it can, and
-- gives up (lock_timeout) rather than stall the writer behind a long query. The advisory lock
-- is ensure_partitions' own: no partition is made while the run drops them, nor two runs at
-- once.
CREATE FUNCTION anpr.apply_retention(p_dry_run boolean DEFAULT false)
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
                                    watchlist_audit_deleted, retention_log_deleted, duration_ms)
    VALUES (p_dry_run, v_days, v_audit_days, v_reads_before, v_hits_before, v_audit_before,
            v_parts, n_ids, n_hits, n_aliases, n_acks, n_changes, n_retro_reads, n_results,
            n_search, n_retro, n_wl_audit, n_log,
            extract(epoch FROM clock_timestamp() - t0) * 1000)
    RETURNING * INTO v_row;
    RAISE LOG 'anpr retention by %: dry run %, % partitions, % hits, % audit rows', session_user,
        p_dry_run, cardinality(v_parts), n_hits, n_search + n_retro + n_wl_audit;
    RETURN v_row;
END
$$;
REVOKE ALL ON FUNCTION anpr.apply_retention(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.apply_retention(boolean) TO anpr_retention;
