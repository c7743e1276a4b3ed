-- anprd schema, migration 016: the law. Investigators search plate history only through audited
-- functions, with the legal tiers; the audit survives the caller's rollback; dispatch sees HITs of
-- the first period only; retro-match cannot trawl.
--
-- The law as this schema holds it (Belgian police law, art. 44/11/3decies WPA, as we read it):
-- ANPR reads are kept at most 12 months. In the first month any police use with a reason is
-- allowed; after it, only for a judicial purpose on the public prosecutor's written, reasoned
-- decision. Every consultation is justified and logged: who, when, why, what was asked and how
-- much came back. The tools are a convenience; the rules below hold for any client.
--
-- Why a rollback cannot hide a search: a search function does the whole search in one call. It
-- checks the rules, runs the query, keeps the identities of the rows it found (the result) and
-- writes the audit row, all in the caller's transaction, and returns only a ticket and counts:
-- no row of history. The rows are read with a second function, which returns them only when the
-- transaction that made the ticket has committed (pg_xact_status). So every row an investigator
-- ever sees is named by a committed audit row; a search rolled back showed nothing. A refused
-- search returns its refusal rather than raising it, so its audit row commits with the call.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_auditor') THEN
        CREATE ROLE anpr_auditor NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO anpr_auditor', current_database());
END
$$;
GRANT USAGE ON SCHEMA anpr TO anpr_auditor;

-- The periods, set by the database owner for the zone (one row). A period is never above the
-- law's: the first period at most 31 days, the retention at most 365, the audit kept at least a
-- year (the data protection officer decides how long; 5 years by default).
CREATE TABLE anpr.law (
    id                   boolean PRIMARY KEY DEFAULT true CHECK (id),
    first_period_days    integer NOT NULL DEFAULT 30 CHECK (first_period_days BETWEEN 1 AND 31),
    retention_days       integer NOT NULL DEFAULT 365 CHECK (retention_days BETWEEN 1 AND 365),
    audit_retention_days integer NOT NULL DEFAULT 1825
        CHECK (audit_retention_days BETWEEN 365 AND 10957),
    -- The OCR-equivalence classes of OCR-tolerant history search: keep them the matcher's
    -- (matcher.ocr_classes in anprd.yaml; this is its default).
    ocr_classes          text NOT NULL DEFAULT '0ODQ,1IL,2Z,5S,6G,8B'
        CHECK (ocr_classes ~ '^[A-Z0-9]{2,36}(,[A-Z0-9]{2,36})*$'),
    CHECK (retention_days >= first_period_days)
);
INSERT INTO anpr.law DEFAULT VALUES;
GRANT SELECT ON anpr.law TO anpr_daemon, anpr_admin, anpr_investigator, anpr_dispatch,
    anpr_auditor;

-- The start of the first period and of the retention, as of now.
CREATE FUNCTION anpr.first_period_start() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT now() - make_interval(days => l.first_period_days) FROM anpr.law l
$$;
CREATE FUNCTION anpr.retention_start() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT now() - make_interval(days => l.retention_days) FROM anpr.law l
$$;

-- The investigator role reads no history table: it searches through the functions below. It
-- may read where the cameras are (for the sightings picture).
REVOKE ALL ON anpr.read_identity, anpr.plate_read, anpr.hits, anpr.hit_alias, anpr.hit_ack
    FROM anpr_investigator;
GRANT SELECT (id, code, name, latitude, longitude, place, road, heading, mobile, enabled)
    ON anpr.camera TO anpr_investigator;

-- The plate index of history. Reads are partitioned by day, so a search of one plate over a year
-- would probe 365 partition indexes (and plan 365 partitions: ~100 ms for a new session before
-- a row is read). anpr.read_identity (migration 015) is one table with a row per read, written
-- with it: it gets the normalised plate and the one index plate searches use, so such a search
-- is a single index scan. text_pattern_ops also serves patterns with a known start
-- (LIKE '1AB%'). plate_read's own (plate, read_time) index goes: nothing uses it any more, and
-- a read pays for one plate index, not two.
ALTER TABLE anpr.read_identity ADD COLUMN plate text;
UPDATE anpr.read_identity i SET plate = r.plate
FROM anpr.plate_read r
WHERE r.camera_id = i.camera_id AND r.epoch = i.epoch AND r.seq = i.seq
  AND r.read_time = timestamptz 'epoch' + i.read_us * interval '1 microsecond';
CREATE INDEX read_identity_plate ON anpr.read_identity (plate text_pattern_ops, read_us);
DROP INDEX anpr.plate_read_plate_time;
-- The daemon writes the plate and reads back only identities, never plates.
REVOKE SELECT ON anpr.read_identity FROM anpr_daemon;
GRANT SELECT (camera_id, epoch, seq, read_us, digest) ON anpr.read_identity TO anpr_daemon;

-- A read's time as read_identity keeps it (µs since 1970) and back.
CREATE FUNCTION anpr.us_of(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (extract(epoch FROM t) * 1000000)::bigint
$$;
CREATE FUNCTION anpr.time_of(us bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT timestamptz 'epoch' + us * interval '1 microsecond'
$$;

-- One row per search, granted or refused. Append-only; the auditors read it.
CREATE SEQUENCE anpr.search_audit_id_seq;
CREATE TABLE anpr.search_audit (
    id            bigint PRIMARY KEY DEFAULT nextval('anpr.search_audit_id_seq'),
    at            timestamptz NOT NULL DEFAULT now(),
    by_user       text NOT NULL DEFAULT session_user,
    kind          text NOT NULL CHECK (kind IN ('reads', 'hits', 'cotravel')),
    reason        text,
    case_ref      text,
    decision_ref  text,
    params        jsonb NOT NULL,  -- the parameters exactly as given, and the range searched
    granted       boolean NOT NULL,
    rule          text,            -- the rule that refused it; NULL when granted
    message       text NOT NULL,
    rows_returned integer NOT NULL DEFAULT 0,
    rows_more     bigint NOT NULL DEFAULT 0, -- rows found past the limit (counted up to 100 000)
    xact          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CHECK (granted = (rule IS NULL))
);
ALTER SEQUENCE anpr.search_audit_id_seq OWNED BY anpr.search_audit.id;
CREATE INDEX ON anpr.search_audit (at);
CREATE INDEX ON anpr.search_audit (by_user, at);
CREATE TRIGGER search_audit_append_only BEFORE UPDATE OR DELETE ON anpr.search_audit
    FOR EACH ROW EXECUTE FUNCTION anpr.refuse_log_change();
CREATE TRIGGER search_audit_no_truncate BEFORE TRUNCATE ON anpr.search_audit
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.refuse_log_change();
GRANT SELECT ON anpr.search_audit, anpr.retro_match_log, anpr.watchlist_audit, anpr.hit_ack
    TO anpr_auditor;

-- A search's result, read back by its ticket within 15 minutes, then purged by the next search.
-- Reads and HITs are kept as identities, not copies; co-travel as its ranked plates.
CREATE TABLE anpr.search_read_result (
    ticket    bigint NOT NULL,
    ord       integer NOT NULL,
    camera_id integer NOT NULL,
    read_time timestamptz NOT NULL,
    epoch     bigint NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (ticket, ord)
);
CREATE INDEX ON anpr.search_read_result (ticket, read_time);
CREATE TABLE anpr.search_hit_result (
    ticket bigint NOT NULL,
    ord    integer NOT NULL,
    hit    bigint NOT NULL, -- anpr.hits.id (hit_id is NULL for HITs stored before migration 009)
    PRIMARY KEY (ticket, ord)
);
CREATE TABLE anpr.search_cotravel_result (
    ticket       bigint NOT NULL,
    ord          integer NOT NULL,
    plate        text NOT NULL,
    country      text NOT NULL,
    cameras      integer NOT NULL,
    sightings    integer NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    camera_codes text[] NOT NULL,
    PRIMARY KEY (ticket, ord)
);

CREATE TYPE anpr.search_outcome AS (
    ticket     bigint,
    granted    boolean,
    rule       text,
    message    text,
    rows_found integer,
    rows_more  bigint
);

-- The plates within max_subst characters of p, each changed within its OCR class (classes as in
-- anpr.law), p itself first. 0..2 changes: the number of plates grows with the power.
CREATE FUNCTION anpr.ocr_variants(p text, classes text, max_subst integer) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cls text[] := string_to_array(classes, ',');
    cur text[] := ARRAY[p];
    acc text[] := ARRAY[p];
BEGIN
    FOR k IN 1 .. least(greatest(max_subst, 0), 2) LOOP
        cur := ARRAY(
            SELECT DISTINCT overlay(s PLACING a FROM i FOR 1)
            FROM unnest(cur) s, generate_series(1, length(p)) i,
                 LATERAL (SELECT regexp_split_to_table(c, '') a
                          FROM unnest(cls) c WHERE strpos(c, substr(p, i, 1)) > 0) alt
            WHERE substr(s, i, 1) = substr(p, i, 1) AND alt.a <> substr(p, i, 1));
        acc := acc || cur;
    END LOOP;
    RETURN ARRAY(SELECT DISTINCT x FROM unnest(acc) x);
END
$$;

-- The checks every search shares. Returns NULL when the search may go on, else the refusal as
-- (rule, message). The range is clipped to the retention (p_from moved, and said in the
-- message the caller gives back).
CREATE FUNCTION anpr.search_refusal(p_reason text, p_case text, p_decision text,
                                    p_from timestamptz, p_to timestamptz, p_max_rows integer,
                                    OUT rule text, OUT message text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ref_re constant text := '^[A-Za-z0-9][A-Za-z0-9 ./:_-]{2,63}$';
    l anpr.law;
BEGIN
    SELECT * INTO l FROM anpr.law;
    IF length(btrim(coalesce(p_reason, ''))) < 8 OR NOT anpr.text_plain(p_reason) THEN
        rule := 'reason';
        message := 'a search needs its reason: at least 8 characters, why this search is needed';
    ELSIF p_case IS NULL OR p_case !~ ref_re THEN
        rule := 'case';
        message := 'a search needs the case reference (letters, digits, space . / : _ -; 3 to 64)';
    ELSIF p_from IS NULL OR p_to IS NULL OR p_to <= p_from OR NOT isfinite(p_from)
          OR NOT isfinite(p_to) THEN
        rule := 'range';
        message := 'the time range is missing, empty, reversed or endless (from must be before to)';
    ELSIF p_to <= now() - make_interval(days => l.retention_days) THEN
        rule := 'range';
        message := format('the range ends before the retention period (%s days): nothing is kept '
                          'that old', l.retention_days);
    ELSIF p_from < now() - make_interval(days => l.first_period_days)
          AND (p_decision IS NULL OR p_decision !~ ref_re) THEN
        rule := 'decision';
        message := format('the range reaches back past the first %s days: a search of older '
                          'reads needs the public prosecutor''s decision reference (--decision)',
                          l.first_period_days);
    ELSIF p_max_rows IS NULL OR p_max_rows NOT BETWEEN 1 AND 10000 THEN
        rule := 'limit';
        message := 'the row limit must be 1 to 10000';
    END IF;
END
$$;

-- Writes a search's audit row and returns its outcome. The id is the one the result rows were
-- kept under.
CREATE FUNCTION anpr.search_log(p_ticket bigint, p_kind text, p_reason text, p_case text,
                                p_decision text, p_params jsonb, p_rule text, p_message text,
                                p_rows integer, p_more bigint)
RETURNS anpr.search_outcome
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO anpr.search_audit (id, kind, reason, case_ref, decision_ref, params, granted, rule,
                                   message, rows_returned, rows_more)
    VALUES (p_ticket, p_kind, p_reason, p_case, nullif(p_decision, ''), p_params, p_rule IS NULL,
            p_rule, p_message, coalesce(p_rows, 0), coalesce(p_more, 0));
    -- The server log too, without the plate or the reason (a log line holds no personal data).
    RAISE LOG 'anpr search % by %: %, %, % rows', p_ticket, session_user, p_kind,
        coalesce('refused (' || p_rule || ')', 'granted'), coalesce(p_rows, 0);
    -- Results of earlier searches are read back within 15 minutes; older ones go.
    DELETE FROM anpr.search_read_result WHERE ticket < (
        SELECT coalesce(min(a.id), p_ticket) FROM anpr.search_audit a
        WHERE a.at > now() - interval '15 minutes');
    DELETE FROM anpr.search_hit_result WHERE ticket < (
        SELECT coalesce(min(a.id), p_ticket) FROM anpr.search_audit a
        WHERE a.at > now() - interval '15 minutes');
    DELETE FROM anpr.search_cotravel_result WHERE ticket < (
        SELECT coalesce(min(a.id), p_ticket) FROM anpr.search_audit a
        WHERE a.at > now() - interval '15 minutes');
    -- No count here: a count returned in the caller's transaction would tell, before the audit
    -- row commits, whether a plate was somewhere (and a rollback would hide the asking). The
    -- counts come from anpr.search_counts, once committed.
    RETURN (p_ticket, p_rule IS NULL, p_rule, p_message, NULL, NULL)::anpr.search_outcome;
END
$$;

-- The range a granted search covers, as a message.
CREATE FUNCTION anpr.search_range_note(p_from timestamptz, p_to timestamptz, v_from timestamptz)
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN v_from > p_from
                THEN format('searched %s .. %s (the range starts at the retention period: '
                            'nothing older is kept)', v_from, p_to)
                ELSE format('searched %s .. %s', p_from, p_to) END
$$;

-- Plate history: reads of one plate (exact, OCR-tolerant or a pattern), or of every plate at
-- given cameras over at most a day, newest first.
CREATE FUNCTION anpr.search_reads(p_reason text, p_case text, p_decision text, p_plate text,
                                  p_match text, p_cameras text[], p_from timestamptz,
                                  p_to timestamptz, p_max_rows integer,
                                  p_max_subst integer DEFAULT 1)
RETURNS anpr.search_outcome
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET statement_timeout = '60s' AS $$
DECLARE
    v_ticket bigint := nextval('anpr.search_audit_id_seq');
    v_params jsonb;
    v_rule text;
    v_msg text;
    v_plate text := anpr.entry_key(coalesce(p_plate, ''));
    v_match text := coalesce(p_match, 'exact');
    v_cams integer[];
    v_terms text[];
    v_like text;
    v_from timestamptz;
    v_n integer := 0;
    v_more bigint := 0;
BEGIN
    v_params := jsonb_build_object('plate', p_plate, 'match', p_match, 'cameras', p_cameras,
                                   'from', p_from, 'to', p_to, 'max_rows', p_max_rows,
                                   'max_subst', p_max_subst);
    SELECT r.rule, r.message INTO v_rule, v_msg
    FROM anpr.search_refusal(p_reason, p_case, p_decision, p_from, p_to, p_max_rows) r;
    IF v_rule IS NULL AND v_match NOT IN ('exact', 'ocr', 'pattern') THEN
        v_rule := 'plate';
        v_msg := 'the match must be exact, ocr or pattern';
    ELSIF v_rule IS NULL AND v_match = 'pattern' THEN
        IF v_plate !~ '^[A-Z0-9?*]{1,16}$' OR length(regexp_replace(v_plate, '[?*]', '', 'g')) < 3
        THEN
            v_rule := 'pattern';
            v_msg := 'a pattern needs at least 3 known characters (letters or digits besides ? '
                     'and *), 16 characters at most';
        END IF;
    ELSIF v_rule IS NULL AND v_plate = '' THEN
        IF v_match <> 'exact' OR cardinality(p_cameras) IS NULL OR cardinality(p_cameras) = 0
           OR p_to - p_from > interval '1 day' THEN
            v_rule := 'broad';
            v_msg := 'a search without a plate needs at least one camera and a range of at most '
                     'one day';
        END IF;
    ELSIF v_rule IS NULL AND v_plate !~ '^[A-Z0-9]{1,16}$' THEN
        v_rule := 'plate';
        v_msg := 'not a plate: letters and digits only, 16 at most (spaces and dashes are dropped)';
    ELSIF v_rule IS NULL AND v_match = 'ocr' AND coalesce(p_max_subst, -1) NOT BETWEEN 0 AND 2 THEN
        v_rule := 'plate';
        v_msg := 'OCR-tolerant search allows 0 to 2 characters changed';
    END IF;
    IF v_rule IS NULL AND cardinality(p_cameras) > 0 THEN
        v_cams := ARRAY(SELECT c.id FROM anpr.camera c WHERE c.code = ANY (p_cameras));
        IF cardinality(v_cams) < (SELECT count(DISTINCT x) FROM unnest(p_cameras) x) THEN
            v_rule := 'camera';
            v_msg := 'unknown camera: ' || (SELECT string_agg(x, ', ') FROM unnest(p_cameras) x
                                           WHERE NOT EXISTS (SELECT FROM anpr.camera c
                                                             WHERE c.code = x));
        END IF;
    END IF;
    IF v_rule IS NOT NULL THEN
        RETURN anpr.search_log(v_ticket, 'reads', p_reason, p_case, p_decision, v_params, v_rule,
                               v_msg, 0, 0);
    END IF;

    v_from := greatest(p_from, anpr.retention_start());
    IF v_match = 'ocr' THEN
        v_terms := anpr.ocr_variants(v_plate, (SELECT l.ocr_classes FROM anpr.law l), p_max_subst);
    ELSIF v_match = 'exact' AND v_plate <> '' THEN
        v_terms := ARRAY[v_plate];
    ELSIF v_match = 'pattern' THEN
        v_like := replace(replace(v_plate, '?', '_'), '*', '%');
    END IF;
    -- One pass: the rows shown (ord up to the limit) are kept, those past it up to 100 000 only
    -- counted.
    IF v_terms IS NULL AND v_like IS NULL THEN
        -- Every plate at given cameras over a day at most: plate_read's (camera, time) index,
        -- one or two partitions.
        WITH f AS (
            SELECT q.*, row_number() OVER (ORDER BY q.read_time DESC, q.camera_id, q.epoch, q.seq)
                        AS ord
            FROM (SELECT r.camera_id, r.read_time, r.epoch, r.seq FROM anpr.plate_read r
                  WHERE r.read_time >= v_from AND r.read_time < p_to
                    AND r.camera_id = ANY (v_cams)
                  ORDER BY r.read_time DESC LIMIT p_max_rows + 100000) q
        ), ins AS (
            INSERT INTO anpr.search_read_result (ticket, ord, camera_id, read_time, epoch, seq)
            SELECT v_ticket, f.ord, f.camera_id, f.read_time, f.epoch, f.seq
            FROM f WHERE f.ord <= p_max_rows
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins), count(*) FILTER (WHERE f.ord > p_max_rows)
        INTO v_n, v_more FROM f;
    ELSE
        -- By plate: the plate index of read_identity, one index scan whatever the range.
        WITH f AS (
            SELECT q.*, row_number() OVER (ORDER BY q.read_us DESC, q.camera_id, q.epoch, q.seq)
                        AS ord
            FROM (SELECT i.camera_id, i.read_us, i.epoch, i.seq FROM anpr.read_identity i
                  WHERE i.read_us >= anpr.us_of(v_from) AND i.read_us < anpr.us_of(p_to)
                    AND (v_terms IS NULL OR i.plate = ANY (v_terms))
                    AND (v_like IS NULL OR i.plate LIKE v_like)
                    AND (v_cams IS NULL OR i.camera_id = ANY (v_cams))
                  ORDER BY i.read_us DESC LIMIT p_max_rows + 100000) q
        ), ins AS (
            INSERT INTO anpr.search_read_result (ticket, ord, camera_id, read_time, epoch, seq)
            SELECT v_ticket, f.ord, f.camera_id, anpr.time_of(f.read_us), f.epoch, f.seq
            FROM f WHERE f.ord <= p_max_rows
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins), count(*) FILTER (WHERE f.ord > p_max_rows)
        INTO v_n, v_more FROM f;
    END IF;
    v_params := v_params || jsonb_build_object('searched_from', v_from, 'terms',
                                               coalesce(cardinality(v_terms), 0));
    RETURN anpr.search_log(v_ticket, 'reads', p_reason, p_case, p_decision, v_params, NULL,
                           anpr.search_range_note(p_from, p_to, v_from), v_n, v_more);
END
$$;

-- HITs of one plate and/or list (never covert ones), newest first; the only way to HITs older
-- than the first period.
CREATE FUNCTION anpr.search_hits(p_reason text, p_case text, p_decision text, p_plate text,
                                 p_list text, p_from timestamptz, p_to timestamptz,
                                 p_max_rows integer)
RETURNS anpr.search_outcome
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET statement_timeout = '60s' AS $$
DECLARE
    v_ticket bigint := nextval('anpr.search_audit_id_seq');
    v_params jsonb;
    v_rule text;
    v_msg text;
    v_plate text := anpr.entry_key(coalesce(p_plate, ''));
    v_list integer;
    v_from timestamptz;
    v_n integer := 0;
    v_more bigint := 0;
BEGIN
    v_params := jsonb_build_object('plate', p_plate, 'list', p_list, 'from', p_from, 'to', p_to,
                                   'max_rows', p_max_rows);
    SELECT r.rule, r.message INTO v_rule, v_msg
    FROM anpr.search_refusal(p_reason, p_case, p_decision, p_from, p_to, p_max_rows) r;
    IF v_rule IS NULL AND v_plate <> '' AND v_plate !~ '^[A-Z0-9]{1,16}$' THEN
        v_rule := 'plate';
        v_msg := 'not a plate: letters and digits only, 16 at most (spaces and dashes are dropped)';
    END IF;
    IF v_rule IS NULL AND coalesce(p_list, '') <> '' THEN
        SELECT w.id INTO v_list FROM anpr.watchlist w WHERE w.name = p_list AND NOT w.covert;
        IF v_list IS NULL THEN
            v_rule := 'list';
            v_msg := 'no such watchlist';
        END IF;
    END IF;
    IF v_rule IS NOT NULL THEN
        RETURN anpr.search_log(v_ticket, 'hits', p_reason, p_case, p_decision, v_params, v_rule,
                               v_msg, 0, 0);
    END IF;
    v_from := greatest(p_from, anpr.retention_start());
    WITH f AS (
        SELECT q.*, row_number() OVER (ORDER BY q.read_time DESC, q.id) AS ord
        FROM (SELECT h.id, h.read_time FROM anpr.hits h
              WHERE h.read_time >= v_from AND h.read_time < p_to AND NOT h.covert
                AND (v_plate = '' OR h.plate = v_plate)
                AND (v_list IS NULL OR h.list_id = v_list)
              ORDER BY h.read_time DESC LIMIT p_max_rows + 100000) q
    ), ins AS (
        INSERT INTO anpr.search_hit_result (ticket, ord, hit)
        SELECT v_ticket, f.ord, f.id FROM f WHERE f.ord <= p_max_rows
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM ins), count(*) FILTER (WHERE f.ord > p_max_rows)
    INTO v_n, v_more FROM f;
    v_params := v_params || jsonb_build_object('searched_from', v_from);
    RETURN anpr.search_log(v_ticket, 'hits', p_reason, p_case, p_decision, v_params, NULL,
                           anpr.search_range_note(p_from, p_to, v_from), v_n, v_more);
END
$$;

-- Co-travel: the plates read at the same camera as the target plate within ±p_window_s seconds
-- of it, at p_min_cameras or more distinct cameras, ranked by cameras then sightings.
CREATE FUNCTION anpr.search_cotravel(p_reason text, p_case text, p_decision text, p_plate text,
                                     p_from timestamptz, p_to timestamptz, p_window_s integer,
                                     p_min_cameras integer, p_max_rows integer)
RETURNS anpr.search_outcome
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET statement_timeout = '60s' AS $$
DECLARE
    v_ticket bigint := nextval('anpr.search_audit_id_seq');
    v_params jsonb;
    v_rule text;
    v_msg text;
    v_plate text := anpr.entry_key(coalesce(p_plate, ''));
    v_from timestamptz;
    v_w interval;
    v_n integer := 0;
    v_more bigint := 0;
BEGIN
    v_params := jsonb_build_object('plate', p_plate, 'from', p_from, 'to', p_to,
                                   'window_s', p_window_s, 'min_cameras', p_min_cameras,
                                   'max_rows', p_max_rows);
    SELECT r.rule, r.message INTO v_rule, v_msg
    FROM anpr.search_refusal(p_reason, p_case, p_decision, p_from, p_to, p_max_rows) r;
    IF v_rule IS NULL AND v_plate !~ '^[A-Z0-9]{1,16}$' THEN
        v_rule := 'plate';
        v_msg := 'not a plate: letters and digits only, 16 at most (spaces and dashes are dropped)';
    ELSIF v_rule IS NULL AND (coalesce(p_window_s, 0) NOT BETWEEN 1 AND 600
                              OR coalesce(p_min_cameras, 0) NOT BETWEEN 2 AND 50) THEN
        v_rule := 'window';
        v_msg := 'co-travel needs a window of 1 to 600 seconds and 2 to 50 cameras';
    END IF;
    IF v_rule IS NOT NULL THEN
        RETURN anpr.search_log(v_ticket, 'cotravel', p_reason, p_case, p_decision, v_params,
                               v_rule, v_msg, 0, 0);
    END IF;
    v_from := greatest(p_from, anpr.retention_start());
    v_w := make_interval(secs => p_window_s);
    WITH t AS (
        SELECT i.camera_id, anpr.time_of(i.read_us) AS read_time FROM anpr.read_identity i
        WHERE i.plate = v_plate AND i.read_us >= anpr.us_of(v_from) AND i.read_us < anpr.us_of(p_to)
    ), n AS (
        -- Each neighbouring read once, however many reads of the target it is near (a target
        -- read twice at a camera must not count a car behind it twice).
        SELECT DISTINCT o.plate, o.country, o.camera_id, o.read_time, o.epoch, o.seq
        FROM t JOIN anpr.plate_read o
          ON o.camera_id = t.camera_id
         AND o.read_time BETWEEN t.read_time - v_w AND t.read_time + v_w
        WHERE o.read_time >= v_from AND o.read_time < p_to AND o.plate <> v_plate
    ), g AS (
        SELECT n.plate, mode() WITHIN GROUP (ORDER BY n.country) AS country,
               count(DISTINCT n.camera_id)::integer AS cameras, count(*)::integer AS sightings,
               min(n.read_time) AS first_seen, max(n.read_time) AS last_seen,
               array_agg(DISTINCT c.code ORDER BY c.code) AS codes
        FROM n JOIN anpr.camera c ON c.id = n.camera_id
        GROUP BY n.plate HAVING count(DISTINCT n.camera_id) >= p_min_cameras
    )
    INSERT INTO anpr.search_cotravel_result (ticket, ord, plate, country, cameras, sightings,
                                             first_seen, last_seen, camera_codes)
    SELECT v_ticket, f.ord, f.plate, f.country, f.cameras, f.sightings, f.first_seen,
           f.last_seen, f.codes
    FROM (SELECT g.*, row_number() OVER (ORDER BY g.cameras DESC, g.sightings DESC, g.plate)
                      AS ord
          FROM g) f
    WHERE f.ord <= p_max_rows + 100000;
    -- Kept one past the limit at most 100 000 to count what is not shown; those rows go now.
    SELECT count(*) FILTER (WHERE ord > p_max_rows), count(*) FILTER (WHERE ord <= p_max_rows)
    INTO v_more, v_n FROM anpr.search_cotravel_result WHERE ticket = v_ticket;
    DELETE FROM anpr.search_cotravel_result WHERE ticket = v_ticket AND ord > p_max_rows;
    v_params := v_params || jsonb_build_object('searched_from', v_from);
    RETURN anpr.search_log(v_ticket, 'cotravel', p_reason, p_case, p_decision, v_params, NULL,
                           anpr.search_range_note(p_from, p_to, v_from), v_n, v_more);
END
$$;

-- The ticket a fetch may read: the caller's own, granted, of this kind, committed, and recent.
CREATE FUNCTION anpr.search_ticket_ok(p_ticket bigint, p_kind text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a anpr.search_audit;
BEGIN
    SELECT * INTO a FROM anpr.search_audit s WHERE s.id = p_ticket;
    IF NOT FOUND OR a.by_user <> session_user OR a.kind <> coalesce(p_kind, a.kind)
       OR a.at < now() - interval '15 minutes' THEN
        RAISE EXCEPTION 'search % is unknown, not yours, not a % search, or older than 15 '
                        'minutes', p_ticket, coalesce(p_kind, 'such')
            USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT a.granted THEN
        RAISE EXCEPTION 'search % was refused (rule %): %', p_ticket, a.rule, a.message
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF pg_xact_status(a.xact) IS DISTINCT FROM 'committed' THEN
        RAISE EXCEPTION 'search % is not committed: its rows are shown once its audit row is '
                        '(search outside a transaction block, or commit first)', p_ticket
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
END
$$;

-- A committed search's counts: the rows it found (at most its limit) and how many more matched.
CREATE FUNCTION anpr.search_counts(p_ticket bigint, OUT rows_found integer, OUT rows_more bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM anpr.search_ticket_ok(p_ticket, NULL);
    SELECT a.rows_returned, a.rows_more INTO rows_found, rows_more
    FROM anpr.search_audit a WHERE a.id = p_ticket;
END
$$;

-- The rows, day by day: one query per day partition, on that partition itself. A join of the
-- result to plate_read as a whole would rescan a 365-way Append for every row (about a
-- millisecond each: seconds for a plate read every day of the year); a partition named in the
-- query is one index lookup a row. The caller orders by ord.
CREATE FUNCTION anpr.search_read_rows(p_ticket bigint)
RETURNS TABLE (ord integer, read_time timestamptz, camera text, camera_name text, plate text,
               plate_raw text, country text, confidence smallint, lane smallint,
               direction smallint, latitude double precision, longitude double precision,
               image_ref text, candidates text[], epoch bigint, seq bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d date;
    part text;
BEGIN
    PERFORM anpr.search_ticket_ok(p_ticket, 'reads');
    FOR d IN SELECT DISTINCT (s.read_time AT TIME ZONE 'UTC')::date
             FROM anpr.search_read_result s WHERE s.ticket = p_ticket
    LOOP
        part := 'plate_read_' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('anpr.' || part) IS NULL; -- dropped by retention meanwhile
        RETURN QUERY EXECUTE format(
            'SELECT s.ord, r.read_time, c.code, c.name, r.plate, r.plate_raw, r.country, '
            '       r.confidence, r.lane, r.direction, coalesce(r.latitude, c.latitude), '
            '       coalesce(r.longitude, c.longitude), r.image_ref, r.candidates, r.epoch, r.seq '
            'FROM anpr.search_read_result s '
            'JOIN anpr.%I r ON r.camera_id = s.camera_id AND r.read_time = s.read_time '
            '              AND r.epoch = s.epoch AND r.seq = s.seq '
            'JOIN anpr.camera c ON c.id = r.camera_id '
            'WHERE s.ticket = $1 AND s.read_time >= $2 AND s.read_time < $3', part)
            USING p_ticket, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC';
    END LOOP;
END
$$;

CREATE FUNCTION anpr.search_hit_rows(p_ticket bigint)
RETURNS TABLE (ord integer, hit_id bigint, read_time timestamptz, camera text, camera_name text,
               plate text, read_plate text, country text, list_name text, category text,
               priority smallint, entry_plate text, match_kind smallint, detail text,
               post_match boolean, suppressed boolean, ack_decision text, ack_operator text,
               acked_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM anpr.search_ticket_ok(p_ticket, 'hits');
    RETURN QUERY
        SELECT s.ord, h.hit_id, h.read_time, c.code, c.name, h.plate, r.plate_raw, r.country,
               CASE WHEN w.covert THEN NULL ELSE w.name END, h.category, h.priority,
               CASE WHEN w.covert THEN NULL ELSE anpr.entry_key(e.plate) END, h.match_kind,
               CASE WHEN w.covert THEN NULL ELSE h.detail END, h.post_match, h.suppressed,
               a.decision, a.operator, a.acked_at
        FROM anpr.search_hit_result s
        JOIN anpr.hits h ON h.id = s.hit
        JOIN anpr.camera c ON c.id = h.camera_id
        LEFT JOIN anpr.plate_read r
               ON r.camera_id = h.camera_id AND r.read_time = h.read_time AND r.epoch = h.epoch
              AND r.seq = h.seq
        LEFT JOIN anpr.watchlist w ON w.id = h.list_id
        LEFT JOIN anpr.watchlist_entry e ON e.id = h.entry_id
        LEFT JOIN LATERAL (SELECT k.decision, k.operator, k.acked_at FROM anpr.hit_ack k
                           WHERE k.hit_id = h.hit_id ORDER BY k.id DESC LIMIT 1) a ON true
        WHERE s.ticket = p_ticket
        ORDER BY s.ord;
END
$$;

CREATE FUNCTION anpr.search_cotravel_rows(p_ticket bigint)
RETURNS TABLE (ord integer, plate text, country text, cameras integer, sightings integer,
               first_seen timestamptz, last_seen timestamptz, camera_codes text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM anpr.search_ticket_ok(p_ticket, 'cotravel');
    RETURN QUERY
        SELECT s.ord, s.plate, s.country, s.cameras, s.sightings, s.first_seen, s.last_seen,
               s.camera_codes
        FROM anpr.search_cotravel_result s WHERE s.ticket = p_ticket ORDER BY s.ord;
END
$$;

REVOKE ALL ON FUNCTION anpr.search_refusal(text, text, text, timestamptz, timestamptz, integer),
    anpr.search_log(bigint, text, text, text, text, jsonb, text, text, integer, bigint),
    anpr.search_ticket_ok(bigint, text),
    anpr.search_reads(text, text, text, text, text, text[], timestamptz, timestamptz, integer,
                      integer),
    anpr.search_hits(text, text, text, text, text, timestamptz, timestamptz, integer),
    anpr.search_cotravel(text, text, text, text, timestamptz, timestamptz, integer, integer,
                         integer),
    anpr.search_read_rows(bigint), anpr.search_hit_rows(bigint),
    anpr.search_cotravel_rows(bigint), anpr.search_counts(bigint)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    anpr.search_reads(text, text, text, text, text, text[], timestamptz, timestamptz, integer,
                      integer),
    anpr.search_hits(text, text, text, text, text, timestamptz, timestamptz, integer),
    anpr.search_cotravel(text, text, text, text, timestamptz, timestamptz, integer, integer,
                         integer),
    anpr.search_read_rows(bigint), anpr.search_hit_rows(bigint),
    anpr.search_cotravel_rows(bigint), anpr.search_counts(bigint)
    TO anpr_investigator;

-- Dispatch sees the HITs of the first period only (migration 015's view, with that limit);
-- older HITs are history, searched through anpr.search_hits.
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
           a.operator AS ack_operator, a.acked_at, h.epoch
    FROM anpr.hits h
    JOIN anpr.camera c ON c.id = h.camera_id
    LEFT JOIN anpr.plate_read r
           ON r.camera_id = h.camera_id AND r.read_time = h.read_time AND r.epoch = h.epoch
          AND r.seq = h.seq
    LEFT JOIN anpr.watchlist w ON w.id = h.list_id
    LEFT JOIN anpr.watchlist_entry e ON e.id = h.entry_id
    LEFT JOIN LATERAL (SELECT k.id, k.decision, k.reason, k.operator, k.acked_at
                       FROM anpr.hit_ack k WHERE k.hit_id = h.hit_id
                       ORDER BY k.id DESC LIMIT 1) a ON true
    WHERE NOT h.covert AND h.read_time >= anpr.first_period_start();

-- Acknowledging, as in migration 014, for the HITs dispatch sees only: one of a read older than
-- the first period is history, and gets the same answer as one that does not exist.
CREATE OR REPLACE FUNCTION anpr.acknowledge_hit(p_hit_id bigint, p_decision text, p_reason text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_hidden boolean;
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
    INSERT INTO anpr.hit_ack (hit_id, decision, reason, operator)
    VALUES (v_hit, p_decision, p_reason, session_user)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;

-- Retro-match without trawling, and logged like a search. The daemon's search of history for a
-- new entry (migration 015's anpr.retro_reads) becomes two steps, as for investigators:
-- anpr.retro_search checks, searches, keeps the identities of the reads it found and logs the
-- terms searched, returning the log id; anpr.retro_rows returns the reads once that log row has
-- committed. Patterns never retro-match (a pattern searches history wholesale: an entry '9*'
-- would return every plate starting with 9); the window ends at the first period.
ALTER TABLE anpr.retro_match_log
    ADD COLUMN terms text[],           -- the plates searched (NULL: logged before migration 016)
    ADD COLUMN patterns_skipped integer NOT NULL DEFAULT 0,
    ADD COLUMN xact xid8;
ALTER TABLE anpr.retro_match_log ALTER COLUMN xact SET DEFAULT pg_current_xact_id();

-- The reads a retro-match returned, by identity; kept with its log row.
CREATE TABLE anpr.retro_match_read (
    log_id    bigint NOT NULL,
    camera_id integer NOT NULL,
    read_time timestamptz NOT NULL,
    epoch     bigint NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (log_id, camera_id, epoch, seq)
);
-- The auditors read it, nobody else: the plates searched with the reads found say where a plate
-- was, which an admin who listed it must not learn from here (nor from the log's terms).
GRANT SELECT ON anpr.retro_match_read TO anpr_auditor;
REVOKE SELECT ON anpr.retro_match_log FROM anpr_admin;

DROP FUNCTION anpr.retro_reads(bigint[], text[], bigint[], timestamptz, integer);

CREATE FUNCTION anpr.retro_search(entry_ids bigint[], plates text[], plate_entries bigint[],
                                  since timestamptz, max_rows integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET statement_timeout = '30s' AS $$
DECLARE
    n bigint;
    lim integer := least(greatest(max_rows, 0), 10000);
    window_s integer;
    good integer;
    skipped integer;
    v_log bigint;
BEGIN
    IF cardinality(entry_ids) IS NULL OR cardinality(entry_ids) > 4096
       OR cardinality(plates) > 4096
       OR cardinality(plates) IS DISTINCT FROM cardinality(plate_entries) THEN
        RAISE EXCEPTION 'retro-match: 1..4096 entries, at most 4096 plates, one entry per plate'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT count(*), max(w.retro_s) INTO good, window_s
    FROM anpr.watchlist_entry e JOIN anpr.watchlist w ON w.id = e.list_id
    WHERE e.id = ANY (entry_ids) AND w.enabled AND w.retro_s > 0
      AND EXISTS (SELECT FROM anpr.watchlist_change c
                  WHERE c.changed_at > now() - interval '1 hour' AND e.id = ANY (c.entry_ids));
    IF good <> cardinality(entry_ids) THEN
        RAISE EXCEPTION 'retro-match: entries not recently added to a list with a window'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Terms that fail the check are dropped, not searched (and counted in the server log).
    n := cardinality(plates);
    plates := ARRAY(
        SELECT DISTINCT t.term FROM unnest(plates, plate_entries) AS t(term, entry)
        JOIN anpr.watchlist_entry e ON e.id = t.entry
        JOIN anpr.watchlist w ON w.id = e.list_id
        WHERE t.entry = ANY (entry_ids) AND anpr.entry_key(e.plate) !~ '[?*]'
          AND anpr.retro_term_ok(t.term, anpr.entry_key(e.plate),
                                 CASE WHEN w.match_policy = 'ocr' THEN w.max_subst ELSE 0 END,
                                 w.match_policy = 'ocr' AND w.indel));
    IF cardinality(plates) < n THEN
        RAISE LOG 'anpr retro-match by %: % of % plates were not near their entries, dropped',
            session_user, n - cardinality(plates), n;
    END IF;
    SELECT count(*) INTO skipped FROM anpr.watchlist_entry e
    WHERE e.id = ANY (entry_ids) AND anpr.entry_key(e.plate) ~ '[?*]';
    since := greatest(since, now() - make_interval(secs => window_s), anpr.first_period_start());

    -- The reads first, under the log row's id taken ahead (the log is append-only, so its row
    -- is written once, with the count).
    v_log := nextval(pg_get_serial_sequence('anpr.retro_match_log', 'id'));
    INSERT INTO anpr.retro_match_read (log_id, camera_id, read_time, epoch, seq)
    SELECT v_log, i.camera_id, anpr.time_of(i.read_us), i.epoch, i.seq
    FROM anpr.read_identity i
    WHERE i.read_us >= anpr.us_of(since) AND i.plate = ANY (plates)
    ORDER BY i.read_us DESC LIMIT lim;
    GET DIAGNOSTICS n = ROW_COUNT;
    INSERT INTO anpr.retro_match_log (id, entry_ids, since, plates, rows_found, terms,
                                      patterns_skipped)
    OVERRIDING SYSTEM VALUE
    VALUES (v_log, entry_ids, since, cardinality(plates), n, plates, skipped);
    RAISE LOG 'anpr retro-match % by %: entries %, since %, % plates, % patterns skipped, % reads',
        v_log, session_user, entry_ids, since, cardinality(plates), skipped, n;
    RETURN v_log;
END
$$;

CREATE FUNCTION anpr.retro_rows(p_log bigint)
RETURNS TABLE (camera text, camera_id integer, seq bigint, read_us bigint, plate_raw text,
               country text, confidence smallint, lane smallint, direction smallint,
               latitude double precision, longitude double precision, image_ref text,
               candidates text, cand_conf text, read_epoch bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    l anpr.retro_match_log;
BEGIN
    SELECT * INTO l FROM anpr.retro_match_log g WHERE g.id = p_log;
    IF NOT FOUND OR l.searched_by <> session_user OR l.searched_at < now() - interval '15 minutes'
    THEN
        RAISE EXCEPTION 'retro-match % is unknown, not yours or older than 15 minutes', p_log
            USING ERRCODE = 'no_data_found';
    END IF;
    IF pg_xact_status(l.xact) IS DISTINCT FROM 'committed' THEN
        RAISE EXCEPTION 'retro-match % is not committed: its reads are returned once its log '
                        'row is', p_log
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    RETURN QUERY
        SELECT c.code, r.camera_id, r.seq, (extract(epoch FROM r.read_time) * 1000000)::bigint,
               r.plate_raw, r.country, r.confidence, r.lane, r.direction, r.latitude,
               r.longitude, r.image_ref, array_to_string(r.candidates, E'\x1f'),
               array_to_string(r.cand_conf, ','), r.epoch
        FROM anpr.retro_match_read m
        JOIN anpr.plate_read r ON r.camera_id = m.camera_id AND r.read_time = m.read_time
                              AND r.epoch = m.epoch AND r.seq = m.seq
        JOIN anpr.camera c ON c.id = r.camera_id
        WHERE m.log_id = p_log
        ORDER BY r.read_time DESC;
END
$$;
REVOKE ALL ON FUNCTION anpr.retro_search(bigint[], text[], bigint[], timestamptz, integer),
    anpr.retro_rows(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.retro_search(bigint[], text[], bigint[], timestamptz, integer),
    anpr.retro_rows(bigint) TO anpr_daemon;
