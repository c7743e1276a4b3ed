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

-- The reads since `since` whose normalised plate is one of `plates` or matches one of the
-- regular expressions `patterns`, oldest first, at most max_rows (10 000 at most). The plates
-- use the plate index; patterns need a scan of the window's partitions, so they are searched
-- only when given. Candidates come as one text (separator U+001F, which a plate cannot hold)
-- with their confidences as "c1,c2".
CREATE FUNCTION anpr.retro_reads(entry_ids bigint[], plates text[], patterns text[],
                                 since timestamptz, max_rows integer)
RETURNS TABLE (camera text, camera_id integer, seq bigint, read_us bigint, plate_raw text,
               country text, confidence smallint, lane smallint, direction smallint,
               latitude double precision, longitude double precision, image_ref text,
               candidates text, cand_conf text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
    total bigint := 0;
    lim integer := least(greatest(max_rows, 0), 10000);
BEGIN
    IF since < now() - interval '31 days' THEN
        RAISE EXCEPTION 'retro-match window starts more than 31 days ago'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        SELECT c.code, r.camera_id, r.seq, (extract(epoch FROM r.read_time) * 1000000)::bigint,
               r.plate_raw, r.country, r.confidence, r.lane, r.direction, r.latitude,
               r.longitude, r.image_ref, array_to_string(r.candidates, E'\x1f'),
               array_to_string(r.cand_conf, ',')
        FROM anpr.plate_read r JOIN anpr.camera c ON c.id = r.camera_id
        WHERE r.read_time >= since AND r.plate = ANY (plates)
        ORDER BY r.read_time LIMIT lim;
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
            ORDER BY r.read_time LIMIT lim - total;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END IF;
    INSERT INTO anpr.retro_match_log (entry_ids, since, plates, rows_found)
    VALUES (entry_ids, since, cardinality(plates) + cardinality(patterns), total);
END
$$;
REVOKE ALL ON FUNCTION anpr.retro_reads(bigint[], text[], text[], timestamptz, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.retro_reads(bigint[], text[], text[], timestamptz, integer)
    TO anpr_daemon;
