-- anprd schema, migration 008: what list administration still lacked.
--
-- A list gets a colour for the dispatch console (so operators tell lists apart at a glance,
-- beyond the priority) and its own retention of HITs (a surveillance list may have to forget
-- its HITs sooner than the general retention, a stolen-vehicle list may keep them longer). An
-- entry records who asked for it, next to its external reference, so a listing can be traced
-- back to the requesting officer or service. The audit (004) and the change log (003, 006)
-- cover the new columns through their existing row and statement triggers; admins already hold
-- SELECT, INSERT and UPDATE on both tables (001), so no grant changes.

-- colour: a named console colour or #rrggbb (lower case); NULL = the console's own choice by
-- priority. hit_retention_days: how long this list's HITs are kept; NULL = the general
-- retention. (Nothing purges HITs per list yet: the column records the decision.)
ALTER TABLE anpr.watchlist
    ADD COLUMN colour text
        CHECK (colour ~ '^(red|orange|yellow|green|blue|purple|grey|#[0-9a-f]{6})$'),
    ADD COLUMN hit_retention_days integer CHECK (hit_retention_days BETWEEN 1 AND 3650);

-- Who asked for the entry (an officer, a service, a court order's issuer), in bytes as the
-- other text limits.
ALTER TABLE anpr.watchlist_entry
    ADD COLUMN requested_by text NOT NULL DEFAULT ''
        CHECK (octet_length(requested_by) <= 64);
