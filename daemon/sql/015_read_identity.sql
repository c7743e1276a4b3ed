-- anprd schema, migration 015: one identity for a read.
--
-- A read is identified by (camera, boot epoch, seq) (PROTOCOL.md 8): the epoch is chosen by the
-- reader at its first boot and after a reset of its counter (version 1 reads have epoch 0), so
-- a camera whose seq starts again at 1 loses nothing. A resend (same identity, same content) is
-- stored once; the same identity with other content is refused as a conflict.
--
-- plate_read is partitioned by read_time, and PostgreSQL wants the partition key in every
-- unique constraint, so plate_read cannot itself say "one row per identity". anpr.read_identity
-- does: unpartitioned, its primary key is the identity, and it keeps each read's time and the
-- digest of its content (rid_digest in daemon/rid.c). The writer fills it in the same
-- transaction as the reads, and purges it with them (anpr.drop_reads_before). It is written
-- for every read, so it is kept narrow and cheap to fill: the time as microseconds (a bigint
-- parses at a fraction of the cost of a timestamptz), no index but the key, no CHECK (only the
-- daemon writes it, from decoded frames); a purge scans it once.
CREATE TABLE anpr.read_identity (
    camera_id integer NOT NULL,
    epoch     bigint NOT NULL, -- 0..2^32-1; 0 for version 1 reads
    seq       bigint NOT NULL,
    read_us   bigint NOT NULL, -- the read's time, UTC microseconds since 1970
    digest    bigint,          -- NULL: stored before digests were kept; judged by read_us then
    PRIMARY KEY (camera_id, epoch, seq)
);

ALTER TABLE anpr.plate_read ADD COLUMN epoch bigint NOT NULL DEFAULT 0
    CHECK (epoch BETWEEN 0 AND 4294967295);
ALTER TABLE anpr.hits ADD COLUMN epoch bigint NOT NULL DEFAULT 0;

-- The reads stored so far, under epoch 0. A (camera, seq) stored twice before this migration
-- (its time differed) keeps both rows in plate_read: they are evidence, not ours to delete;
-- the identity names the first one received.
INSERT INTO anpr.read_identity (camera_id, epoch, seq, read_us, digest)
SELECT DISTINCT ON (camera_id, seq) camera_id, 0, seq,
       (extract(epoch FROM read_time) * 1000000)::bigint, NULL
FROM anpr.plate_read ORDER BY camera_id, seq, received_at, read_time;

-- The old unique index named (camera, time, seq): the epoch joins it, so two epochs may reuse a
-- seq. It stays unique as a last guard; read_identity is the rule.
DROP INDEX anpr.plate_read_camera_time_seq;
CREATE UNIQUE INDEX plate_read_camera_time_seq ON anpr.plate_read (camera_id, read_time, epoch, seq);

-- One HIT per read and entry. read_time stays in the key: it is fixed for an identity (it is
-- content), the rows of the reads stored twice before this migration must stay valid, and the
-- joins to plate_read need it to reach one partition.
ALTER TABLE anpr.hits DROP CONSTRAINT hits_camera_id_seq_read_time_entry_id_key;
ALTER TABLE anpr.hits ADD CONSTRAINT hits_read_entry UNIQUE (camera_id, epoch, seq, read_time, entry_id);

GRANT SELECT, INSERT ON anpr.read_identity TO anpr_daemon;
GRANT SELECT ON anpr.read_identity TO anpr_investigator;
GRANT SELECT (epoch) ON anpr.hits TO anpr_daemon;

-- Retention: drop the daily plate_read partitions before `day` and the identities of their
-- reads, in one transaction. Only the owner runs it (from a cron job, say); a resend of a read
-- older than `day` is refused by anprd anyway once ingest.max_age_days is below the retention.
CREATE FUNCTION anpr.drop_reads_before(day date) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part record;
    dropped integer := 0;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'anpr.plate_read'::regclass
          AND c.relname ~ '^plate_read_[0-9]{8}$'
          AND to_date(substr(c.relname, 12), 'YYYYMMDD') < day
    LOOP
        EXECUTE format('DROP TABLE anpr.%I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    DELETE FROM anpr.read_identity
    WHERE read_us < (extract(epoch FROM day::timestamp AT TIME ZONE 'UTC') * 1000000)::bigint;
    RETURN dropped;
END
$$;
REVOKE ALL ON FUNCTION anpr.drop_reads_before(date) FROM PUBLIC;

-- The retro-match's search (migration 007) with the epoch of each read, so its post-match HIT
-- names the read.
DROP FUNCTION anpr.retro_reads(bigint[], text[], bigint[], timestamptz, integer);
CREATE FUNCTION anpr.retro_reads(entry_ids bigint[], plates text[], plate_entries bigint[],
                                 since timestamptz, max_rows integer)
RETURNS TABLE (camera text, camera_id integer, seq bigint, read_us bigint, plate_raw text,
               country text, confidence smallint, lane smallint, direction smallint,
               latitude double precision, longitude double precision, image_ref text,
               candidates text, cand_conf text, read_epoch bigint)
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
               array_to_string(r.cand_conf, ','), r.epoch
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
                   array_to_string(r.candidates, E'\x1f'), array_to_string(r.cand_conf, ','), r.epoch
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

-- The dispatch view (migration 012), joining a HIT to its read by the whole identity, and
-- showing the epoch.
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
    WHERE NOT h.covert;
