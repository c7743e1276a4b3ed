-- anprd schema, migration 007: retro-match. When an entry is added to a list with a retro-match
-- window, anprd searches the reads stored in that window for it and reports every past
-- sighting to dispatch as a post-match HIT: a car that passed ten minutes before it was
-- reported stolen is not missed.
--
-- The daemon's role may not read plate history: it searches through one SECURITY DEFINER
-- function that takes only plates and patterns of listed entries and a bounded window, and
-- logs every search (who, when, for which entries, what it found) in an append-only table.

-- How far back a new entry of the list is searched for, in seconds (0: not at all; at most
-- 31 days).
ALTER TABLE anpr.watchlist ADD COLUMN retro_s integer NOT NULL DEFAULT 0
    CHECK (retro_s BETWEEN 0 AND 2678400);

ALTER TABLE anpr.hits ADD COLUMN post_match boolean NOT NULL DEFAULT false;

CREATE TABLE anpr.retro_match_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    searched_at timestamptz NOT NULL DEFAULT now(),
    searched_by text NOT NULL DEFAULT session_user,
    entry_ids   bigint[] NOT NULL,  -- the entries searched for
    since       timestamptz NOT NULL,
    plates      integer NOT NULL,   -- plates and patterns searched
    rows_found  integer NOT NULL    -- reads returned (before the daemon's own matching)
);
CREATE INDEX ON anpr.retro_match_log (searched_at);

CREATE FUNCTION anpr.refuse_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER retro_match_log_append_only BEFORE UPDATE OR DELETE ON anpr.retro_match_log
    FOR EACH ROW EXECUTE FUNCTION anpr.refuse_log_change();
CREATE TRIGGER retro_match_log_no_truncate BEFORE TRUNCATE ON anpr.retro_match_log
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.refuse_log_change();
GRANT SELECT ON anpr.retro_match_log TO anpr_admin;

-- The listed key of an entry's plate: upper case, letters, digits and the wildcards only (the
-- daemon's normalisation also folds diacritics and look-alike letters; admins type plates in
-- ASCII, and a key that differs only makes the check below stricter).
CREATE FUNCTION anpr.entry_key(plate text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT regexp_replace(upper(plate), '[^A-Z0-9?*]', '', 'g')
$$;

-- Whether `term` (a normalised plate) is one the entry with key `key` can match by its list's
-- rules: the same length with at most max_subst characters changed, or (indel) one character
-- more or missing with the rest within max_subst. A necessary condition only (the OCR classes
-- are the daemon's configuration); it keeps the search to plates near a listed one.
CREATE FUNCTION anpr.retro_term_ok(term text, key text, max_subst integer, indel boolean)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lt integer := length(term);
    lk integer := length(key);
    diff integer := 0;
    pre integer := 0;
    suf integer := 0;
BEGIN
    IF term !~ '^[A-Z0-9]{1,32}$' THEN
        RETURN false;
    END IF;
    IF lt = lk THEN
        FOR i IN 1 .. lk LOOP
            IF substr(term, i, 1) <> substr(key, i, 1) THEN
                diff := diff + 1;
            END IF;
        END LOOP;
        RETURN diff <= max_subst;
    END IF;
    IF NOT indel OR abs(lt - lk) <> 1 THEN
        RETURN false;
    END IF;
    WHILE pre < least(lt, lk) AND substr(term, pre + 1, 1) = substr(key, pre + 1, 1) LOOP
        pre := pre + 1;
    END LOOP;
    WHILE suf < least(lt, lk) - pre
          AND substr(term, lt - suf, 1) = substr(key, lk - suf, 1) LOOP
        suf := suf + 1;
    END LOOP;
    RETURN pre + suf >= least(lt, lk) - max_subst;
END
$$;

-- The retro-match's search, for the daemon's role, which may not read plate history otherwise.
-- Everything is checked here, not trusted from the caller:
--   * every entry of entry_ids was added or changed in the last hour (the change log says so)
--     and is on an enabled list with a retro-match window;
--   * every plate term belongs to one of those entries (plate_entries, in step with plates)
--     and is near that entry's plate by its list's rules (anpr.retro_term_ok), or it is
--     dropped;
--   * patterns are made here from the pattern entries ('?' one character, '*' any run);
--   * the window starts no earlier than the longest window of those lists (and 31 days);
--   * at most 4096 plates, 32 pattern entries, max_rows (at most 10 000) reads, newest first,
--     and 30 s.
-- Every call is logged twice: a row in anpr.retro_match_log (in the caller's transaction) and
-- a line in the server log (which a rollback cannot take back).
CREATE FUNCTION anpr.retro_reads(entry_ids bigint[], plates text[], plate_entries bigint[],
                                 since timestamptz, max_rows integer)
RETURNS TABLE (camera text, camera_id integer, seq bigint, read_us bigint, plate_raw text,
               country text, confidence smallint, lane smallint, direction smallint,
               latitude double precision, longitude double precision, image_ref text,
               candidates text, cand_conf text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET statement_timeout = '30s' AS $$
DECLARE
    n bigint;
    total bigint := 0;
    lim integer := least(greatest(max_rows, 0), 10000);
    window_s integer;
    good integer;
    patterns text[];
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
        SELECT t.term FROM unnest(plates, plate_entries) AS t(term, entry)
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
    SELECT array_agg('^' || replace(replace(anpr.entry_key(e.plate), '?', '.'), '*', '.*') || '$')
    INTO patterns
    FROM anpr.watchlist_entry e
    WHERE e.id = ANY (entry_ids) AND anpr.entry_key(e.plate) ~ '[?*]';
    patterns := coalesce(patterns, '{}');
    IF cardinality(patterns) > 32 THEN
        RAISE EXCEPTION 'retro-match: more than 32 pattern entries at once'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    since := greatest(since, now() - make_interval(secs => window_s));

    RETURN QUERY
        SELECT c.code, r.camera_id, r.seq, (extract(epoch FROM r.read_time) * 1000000)::bigint,
               r.plate_raw, r.country, r.confidence, r.lane, r.direction, r.latitude,
               r.longitude, r.image_ref, array_to_string(r.candidates, E'\x1f'),
               array_to_string(r.cand_conf, ',')
        FROM anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id
        WHERE r.read_time >= since AND r.plate = ANY (plates)
        ORDER BY r.read_time DESC LIMIT lim;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := n;
    IF cardinality(patterns) > 0 AND total < lim THEN
        RETURN QUERY
            SELECT c.code, r.camera_id, r.seq,
                   (extract(epoch FROM r.read_time) * 1000000)::bigint, r.plate_raw, r.country,
                   r.confidence, r.lane, r.direction, r.latitude, r.longitude, r.image_ref,
                   array_to_string(r.candidates, E'\x1f'), array_to_string(r.cand_conf, ',')
            FROM anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id
            WHERE r.read_time >= since AND r.plate ~ ANY (patterns)
              AND NOT r.plate = ANY (plates)
            ORDER BY r.read_time DESC LIMIT lim - total;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END IF;
    INSERT INTO anpr.retro_match_log (entry_ids, since, plates, rows_found)
    VALUES (entry_ids, since, cardinality(plates) + cardinality(patterns), total);
    RAISE LOG 'anpr retro-match by %: entries %, since %, % plates, % patterns, % reads',
        session_user, entry_ids, since, cardinality(plates), cardinality(patterns), total;
END
$$;
REVOKE ALL ON FUNCTION anpr.retro_reads(bigint[], text[], bigint[], timestamptz, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.retro_reads(bigint[], text[], bigint[], timestamptz, integer)
    TO anpr_daemon;
