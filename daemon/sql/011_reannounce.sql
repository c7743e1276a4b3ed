-- anprd schema, migration 011: anprd announces urgent HITs again until an operator has
-- acknowledged them (dispatch.reannounce_*), so its role may see which HITs are acknowledged:
-- their ids only, not who acknowledged them or why.
GRANT SELECT (hit_id) ON anpr.hit_ack TO anpr_daemon;
