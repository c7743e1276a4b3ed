-- anprd schema, migration 013: who may connect (CURVE keys of cameras and consoles), and
-- where a camera stands.
--
-- Every ZeroMQ socket of anprd uses CURVE. A peer proves it holds the secret half of a public
-- key listed here, and anprd's ZAP handler admits it only to what that key is for: a camera's
-- key to the ingest socket, and only for reads of that camera; a console's key to the dispatch
-- feed (when `dispatch`) and to the covert feed, for the covert lists it is cleared for
-- (anpr.console_covert). Keys are Z85 text, 40 characters (zmq_z85_encode of 32 bytes), as
-- anpr-keygen prints them. A change here is NOTIFYed on channel 'anpr_keys' and applies to the
-- next connection at once, without a restart.

-- Z85's alphabet: digits, letters and .-:+=^!/*?&<>()[]{}@%$#
CREATE DOMAIN anpr.curve_key AS text
    CHECK (VALUE ~ '^[-0-9a-zA-Z.:+=^!/*?&<>()[\]{}@%$#]{40}$');

ALTER TABLE anpr.camera
    ADD COLUMN curve_key anpr.curve_key UNIQUE,
    ADD COLUMN place     text NOT NULL DEFAULT '' CHECK (octet_length(place) <= 128),
    ADD COLUMN road      text NOT NULL DEFAULT '' CHECK (octet_length(road) <= 64),
    ADD COLUMN heading   text NOT NULL DEFAULT '' CHECK (octet_length(heading) <= 64),
    -- A fixed camera's position is the one stored here; only a mobile camera's reads carry
    -- their own (a read's position of a fixed camera is not taken).
    ADD COLUMN mobile    boolean NOT NULL DEFAULT false;

-- A dispatch console or control-room system that subscribes to anprd's feeds.
CREATE TABLE anpr.console (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9._:-]{1,32}$'),
    curve_key  anpr.curve_key NOT NULL UNIQUE,
    dispatch   boolean NOT NULL DEFAULT true, -- may receive the general HIT feed
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The covert lists whose HITs a console may receive on the covert feed.
CREATE TABLE anpr.console_covert (
    console_id integer NOT NULL REFERENCES anpr.console (id) ON DELETE CASCADE,
    list_id    integer NOT NULL REFERENCES anpr.watchlist (id) ON DELETE CASCADE,
    PRIMARY KEY (console_id, list_id)
);

-- A key of a camera or console that is also the other kind's would admit one peer as both.
CREATE FUNCTION anpr.curve_key_unique() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NEW.curve_key IS NOT NULL AND (
        (TG_TABLE_NAME = 'camera' AND EXISTS (
            SELECT 1 FROM anpr.console c WHERE c.curve_key = NEW.curve_key)) OR
        (TG_TABLE_NAME = 'console' AND EXISTS (
            SELECT 1 FROM anpr.camera c WHERE c.curve_key = NEW.curve_key))) THEN
        RAISE EXCEPTION 'this CURVE key is already another peer''s'
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER camera_key_unique BEFORE INSERT OR UPDATE OF curve_key ON anpr.camera
    FOR EACH ROW EXECUTE FUNCTION anpr.curve_key_unique();
CREATE TRIGGER console_key_unique BEFORE INSERT OR UPDATE OF curve_key ON anpr.console
    FOR EACH ROW EXECUTE FUNCTION anpr.curve_key_unique();

CREATE FUNCTION anpr.keys_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('anpr_keys', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER camera_keys_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON anpr.camera
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.keys_notify();
CREATE TRIGGER console_keys_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON anpr.console
    FOR EACH STATEMENT EXECUTE FUNCTION anpr.keys_notify();
CREATE TRIGGER console_covert_keys_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON anpr.console_covert FOR EACH STATEMENT EXECUTE FUNCTION anpr.keys_notify();

GRANT SELECT ON anpr.console, anpr.console_covert TO anpr_daemon;
GRANT SELECT, INSERT, UPDATE, DELETE ON anpr.console, anpr.console_covert TO anpr_admin;
