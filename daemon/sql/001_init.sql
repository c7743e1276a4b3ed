-- anprd schema, migration 001: cameras, watchlists, plate history, hits, roles.
-- Text limits are in bytes (octet_length), the unit of the wire format's fields.
-- Applied by anpr-migrate as the database owner, inside one transaction.

-- Group roles (NOLOGIN). Login users are made members of them by the operator, e.g.
--   CREATE ROLE anprd LOGIN IN ROLE anpr_daemon;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_daemon') THEN
        CREATE ROLE anpr_daemon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_admin') THEN
        CREATE ROLE anpr_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_investigator') THEN
        CREATE ROLE anpr_investigator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anpr_dispatch') THEN
        CREATE ROLE anpr_dispatch NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA anpr;
REVOKE ALL ON SCHEMA anpr FROM PUBLIC;
GRANT USAGE ON SCHEMA anpr TO anpr_daemon, anpr_admin, anpr_investigator, anpr_dispatch;

-- A camera that may send reads. Reads of an unknown or disabled camera are refused.
CREATE TABLE anpr.camera (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9._:-]{1,32}$'),
    name        text NOT NULL,
    latitude    double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision CHECK (longitude BETWEEN -180 AND 180),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE anpr.watchlist (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (octet_length(name) BETWEEN 1 AND 64),
    category    text NOT NULL CHECK (category ~ '^[a-z_]{1,32}$'),
    priority    smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 9),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE anpr.watchlist_entry (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id      integer NOT NULL REFERENCES anpr.watchlist (id),
    plate        text NOT NULL CHECK (octet_length(plate) BETWEEN 1 AND 32),
    country      text NOT NULL DEFAULT '' CHECK (country ~ '^([A-Z]{2})?$'),
    valid_from   timestamptz,
    valid_until  timestamptz,
    instruction  text NOT NULL DEFAULT '' CHECK (octet_length(instruction) <= 1000),
    external_ref text NOT NULL DEFAULT '' CHECK (octet_length(external_ref) <= 64),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from)
);
CREATE INDEX ON anpr.watchlist_entry (list_id);

-- Plate history: one row per accepted read, range-partitioned by read day (UTC). Retention drops
-- whole partitions. (camera_id, read_time, seq) is unique, so a resent read is stored once; the
-- same index serves searches by camera and time.
CREATE TABLE anpr.plate_read (
    read_time    timestamptz NOT NULL,
    camera_id    integer NOT NULL,
    seq          bigint NOT NULL,
    plate        text NOT NULL,        -- normalised
    plate_raw    text NOT NULL,        -- as the camera read it
    country      text NOT NULL,        -- '' = unknown
    confidence   smallint NOT NULL,    -- per mille
    lane         smallint NOT NULL,
    direction    smallint NOT NULL,
    latitude     double precision,
    longitude    double precision,
    image_ref    text NOT NULL,
    candidates   text[] NOT NULL,      -- alternative OCR readings, best first
    cand_conf    smallint[] NOT NULL,  -- their confidences, per mille
    received_at  timestamptz NOT NULL
) PARTITION BY RANGE (read_time);
CREATE UNIQUE INDEX plate_read_camera_time_seq ON anpr.plate_read (camera_id, read_time, seq);
CREATE INDEX plate_read_plate_time ON anpr.plate_read (plate, read_time);

-- Every HIT produced, for catch-up and acknowledgement by dispatch.
CREATE TABLE anpr.hits (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id    integer NOT NULL,
    seq          bigint NOT NULL,
    read_time    timestamptz NOT NULL,
    plate        text NOT NULL,
    entry_id     bigint NOT NULL,
    list_id      integer NOT NULL,
    priority     smallint NOT NULL,
    category     text NOT NULL,
    match_kind   smallint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (camera_id, seq, read_time, entry_id)
);
CREATE INDEX ON anpr.hits (created_at);

-- Creates the daily plate_read partitions covering [first, last]. SECURITY DEFINER so the
-- daemon's role can call it without owning the table or holding CREATE on the schema; the range
-- is bounded (ten years back, two months ahead) so that role cannot fill the catalogue.
-- Each partition is made as a table of its own and then attached: ATTACH takes a lock on
-- plate_read that lets reads and inserts go on, where CREATE ... PARTITION OF would wait for,
-- and then block, every query on the table. The advisory lock serialises concurrent callers.
CREATE FUNCTION anpr.ensure_partitions(first date, last date) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d date;
    made integer := 0;
    part text;
BEGIN
    IF first IS NULL OR last IS NULL OR last < first OR last - first > 400
       OR first < current_date - 3660 OR last > current_date + 61 THEN
        RAISE EXCEPTION 'ensure_partitions: range % .. % not allowed', first, last
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
REVOKE ALL ON FUNCTION anpr.ensure_partitions(date, date) FROM PUBLIC;

-- Least privilege: the daemon reads cameras and lists and appends reads and hits; it cannot
-- change a list or read history back. Admins keep lists; dispatch reads hits.
GRANT SELECT ON anpr.camera, anpr.watchlist, anpr.watchlist_entry TO anpr_daemon;
GRANT INSERT ON anpr.plate_read, anpr.hits TO anpr_daemon;
GRANT EXECUTE ON FUNCTION anpr.ensure_partitions(date, date) TO anpr_daemon;
GRANT SELECT, INSERT, UPDATE ON anpr.camera, anpr.watchlist, anpr.watchlist_entry TO anpr_admin;
GRANT DELETE ON anpr.watchlist_entry TO anpr_admin;
GRANT SELECT ON anpr.camera, anpr.watchlist, anpr.watchlist_entry, anpr.hits TO anpr_dispatch;

-- The writer stages resent reads in temporary tables; hardened databases revoke TEMPORARY from
-- PUBLIC, so the daemon's role gets it by name.
DO $$
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO anpr_daemon', current_database());
END
$$;
