-- anprd schema, migration 002: how each watchlist matches, and how a HIT matched.

-- Match policy per list (see docs/SCHEMA.md):
--   exact   the normalised plate as listed;
--   ocr     up to max_subst characters may differ within their OCR-equivalence class
--           (0/O/D/Q, 1/I/L, ...), and with indel one character more or missing;
-- min_confidence: readings (the camera's plate or a candidate) below it do not hit the list;
-- candidates: the camera's alternative readings are matched too;
-- suppress_s: a repeat hit of one plate on one entry within this many seconds is stored but not
-- re-alerted; realert_camera: a repeat at another camera alerts again.
ALTER TABLE anpr.watchlist
    ADD COLUMN match_policy text NOT NULL DEFAULT 'exact' CHECK (match_policy IN ('exact', 'ocr')),
    ADD COLUMN max_subst smallint NOT NULL DEFAULT 1 CHECK (max_subst BETWEEN 0 AND 4),
    ADD COLUMN indel boolean NOT NULL DEFAULT false,
    ADD COLUMN min_confidence smallint NOT NULL DEFAULT 0 CHECK (min_confidence BETWEEN 0 AND 1000),
    ADD COLUMN candidates boolean NOT NULL DEFAULT true,
    ADD COLUMN suppress_s integer NOT NULL DEFAULT 300 CHECK (suppress_s BETWEEN 0 AND 86400),
    ADD COLUMN realert_camera boolean NOT NULL DEFAULT false;

-- An entry's plate may be a pattern for a partly known plate: '?' one character, '*' any run.
COMMENT ON COLUMN anpr.watchlist_entry.plate IS
    'plate as typed; the daemon normalises it. ? = one character, * = any run (pattern)';

-- How each HIT matched, and whether it was alerted or suppressed as a repeat.
ALTER TABLE anpr.hits
    ADD COLUMN reading smallint NOT NULL DEFAULT 0,     -- 0 = the plate as read, n = candidate n
    ADD COLUMN nsubst smallint NOT NULL DEFAULT 0,      -- characters differing within a class
    ADD COLUMN detail text NOT NULL DEFAULT '',         -- how it matched, for the operator
    ADD COLUMN suppressed boolean NOT NULL DEFAULT false;
