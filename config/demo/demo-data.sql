-- Demo data for tools/anpr-demo: the cameras of a Belgian border zone on the Meuse (Maasmechelen,
-- Lanaken; Limburg), five watchlists and about forty listed vehicles. Load it after anpr-migrate,
-- as the database owner:  psql -v ON_ERROR_STOP=1 -d anpr -f config/demo/demo-data.sql
-- Every plate and reference is made up. Plates are stored as printed; the daemon normalises them.
-- config/demo/listed-plates.txt holds the same plates, so simulated cameras produce hits.

BEGIN;

INSERT INTO anpr.camera (code, name, latitude, longitude, enabled) VALUES
    ('BE-E314-BOORSEM-1', 'E314 Boorsem, towards Netherlands (A76)', 50.94614, 5.73462, true),
    ('BE-E314-BOORSEM-2', 'E314 Boorsem, towards Genk', 50.94660, 5.73521, true),
    ('BE-MEESWIJK-FERRY', 'Meeswijk, Maas ferry landing to Berg aan de Maas', 51.00172, 5.75547, true),
    ('BE-N78-VELDWEZELT', 'N78 Veldwezelt, Kiezelweg junction', 50.86372, 5.63671, true),
    ('BE-SMEERMAAS-N2', 'N2 Smeermaas, border crossing to Maastricht', 50.87608, 5.66512, true),
    ('BE-N78-MAASMECHELEN', 'N78 Rijksweg Maasmechelen, Maasmechelen Village', 50.96601, 5.68803, true),
    -- Taken down for maintenance: reads from it are refused until it is enabled again.
    ('BE-N77-LANAKEN', 'N77 Lanaken, Europalaan (maintenance)', 50.89310, 5.64694, false);

INSERT INTO anpr.watchlist (name, category, priority) VALUES
    ('Stolen vehicles', 'stolen', 1),
    ('Wanted persons', 'wanted', 1),
    ('Surveillance', 'surveillance', 3),
    ('Uninsured', 'uninsured', 4),
    ('No technical inspection', 'no_inspection', 6),
    -- Switched off: its entries are not loaded, so they never hit.
    ('Expired fines (paused)', 'fines', 8);
UPDATE anpr.watchlist SET enabled = false WHERE name = 'Expired fines (paused)';
-- The urgent lists match through OCR errors (one character within its class, e.g. 8 for B) and
-- the cameras' alternative readings; the others only as listed. A stolen car passing twice
-- within ten minutes is alerted once.
UPDATE anpr.watchlist SET match_policy = 'ocr', max_subst = 1, min_confidence = 300,
    suppress_s = 600
WHERE name IN ('Stolen vehicles', 'Wanted persons');
UPDATE anpr.watchlist SET candidates = false WHERE name IN ('Uninsured', 'No technical inspection');

-- valid_from / valid_until are relative to now() so the demo behaves the same whenever it runs.
INSERT INTO anpr.watchlist_entry
    (list_id, plate, country, valid_from, valid_until, instruction, external_ref)
SELECT w.id, e.plate, e.country, e.valid_from, e.valid_until, e.instruction, e.external_ref
FROM (VALUES
    -- Stolen vehicles
    ('Stolen vehicles', '1-HKT-472', 'BE', now() - interval '3 days', NULL::timestamptz,
     'Stolen vehicle (BMW X5, black). Do not intercept alone; inform dispatch and follow at a distance.',
     'PV-LI.17.L1.004512/2026'),
    ('Stolen vehicles', '2-AFX-318', 'BE', now() - interval '12 days', NULL,
     'Stolen vehicle (VW Golf, grey). Do not intercept alone; inform dispatch.',
     'PV-LI.17.L1.004377/2026'),
    ('Stolen vehicles', '1-VZP-905', 'BE', now() - interval '1 day', NULL,
     'Stolen during a home-jacking; occupants possibly violent. Do not intercept alone; inform dispatch.',
     'PV-LI.17.L6.000921/2026'),
    ('Stolen vehicles', 'GH-512-V', 'NL', now() - interval '6 days', NULL,
     'Stolen in Maastricht (Audi A6 Avant, white). Inform dispatch; Dutch police liaison informed.',
     'SIS-NL-2026-0041187'),
    ('Stolen vehicles', 'K-482-TR', 'NL', now() - interval '20 days', NULL,
     'Stolen van (Mercedes Sprinter). Do not intercept alone; inform dispatch.',
     'SIS-NL-2026-0038802'),
    ('Stolen vehicles', 'AC LN 4821', 'DE', now() - interval '9 days', NULL,
     'Stolen in Aachen (Porsche Cayenne). Do not intercept alone; inform dispatch.',
     'SIS-DE-2026-0047813'),
    ('Stolen vehicles', 'FT-284-KD', 'FR', now() - interval '30 days', NULL,
     'Stolen in Lille (Renault Master). Inform dispatch.',
     'SIS-FR-2026-0112903'),
    ('Stolen vehicles', '1-TGL-734', 'BE', now() - interval '2 days', NULL,
     'Stolen plates only (fitted to another car?). Check vehicle against registration; inform dispatch.',
     'PV-LI.17.L1.004601/2026'),
    ('Stolen vehicles', '1-RDS-208', 'BE', now() - interval '40 days', now() - interval '1 day',
     'Recovered yesterday: entry expired, must no longer hit.',
     'PV-LI.17.L1.003988/2026'),

    -- Wanted persons
    ('Wanted persons', '2-BMR-061', 'BE', now() - interval '5 days', NULL,
     'Registered keeper subject of an arrest warrant; may be armed. Do not intercept; inform dispatch immediately and note the direction of travel.',
     'MA-LI.2026.00317'),
    ('Wanted persons', 'HS MK 309', 'DE', now() - interval '15 days', NULL,
     'European arrest warrant for the usual driver. Do not intercept alone; inform dispatch.',
     'EAW-DE-2026-1187'),
    ('Wanted persons', '31-KPT-4', 'NL', now() - interval '4 days', NULL,
     'Driver wanted for questioning (drug trafficking). Do not intercept; inform dispatch and the case officer.',
     'NL-OM-2026-118734'),
    ('Wanted persons', '1-XWN-557', '', now() - interval '7 days', NULL,
     'Missing person (minor) possibly on board. Intercept with care; inform dispatch.',
     'PV-LI.17.L3.002240/2026'),
    ('Wanted persons', 'EK-063-PZ', 'FR', now() - interval '2 days', NULL,
     'Occupants suspected of ram-raids on ATMs. Do not intercept; inform dispatch immediately.',
     'SIS-FR-2026-0118455'),

    -- Surveillance (discreet: never stop)
    ('Surveillance', '1-JQP-380', 'BE', now() - interval '10 days', now() + interval '80 days',
     'Do not stop. Record time, direction and occupants; inform the case officer.',
     'FGP-LI-OPS-2026-044'),
    ('Surveillance', 'ZL-883-F', 'NL', now() - interval '10 days', now() + interval '80 days',
     'Do not stop. Record time and direction; inform the case officer.',
     'FGP-LI-OPS-2026-044'),
    ('Surveillance', 'D RT 1184', 'DE', now() - interval '3 days', now() + interval '30 days',
     'Do not stop. Record time and direction; inform the case officer.',
     'FGP-LI-OPS-2026-051'),
    ('Surveillance', '2-CKV-912', 'BE', now() + interval '7 days', now() + interval '60 days',
     'Not yet valid (operation starts next week): must not hit before then.',
     'FGP-LI-OPS-2026-058'),

    -- Uninsured
    ('Uninsured', '1-EBN-663', 'BE', now() - interval '25 days', NULL,
     'No valid insurance (Datassur). Intercept if a unit is available; immobilise the vehicle, draw up a PV.',
     'DIV-2026-INS-008812'),
    ('Uninsured', '1-LMC-149', 'BE', now() - interval '18 days', NULL,
     'No valid insurance. Intercept if a unit is available; draw up a PV.',
     'DIV-2026-INS-008907'),
    ('Uninsured', '2-DYF-725', 'BE', now() - interval '8 days', NULL,
     'No valid insurance. Intercept if a unit is available; draw up a PV.',
     'DIV-2026-INS-009115'),
    ('Uninsured', '1-PZA-031', 'BE', now() - interval '33 days', NULL,
     'No valid insurance. Intercept if a unit is available; draw up a PV.',
     'DIV-2026-INS-007630'),
    ('Uninsured', '1-HKT-472', 'BE', now() - interval '60 days', NULL,
     'No valid insurance. Intercept if a unit is available.',
     'DIV-2026-INS-006101'),
    ('Uninsured', 'XFD-442', 'BE', now() - interval '90 days', NULL,
     'Old registration, no valid insurance. Intercept if a unit is available; draw up a PV.',
     'DIV-2026-INS-005544'),
    ('Uninsured', '4-TJX-56', 'NL', now() - interval '14 days', NULL,
     'No valid insurance (RDW). Intercept if a unit is available; draw up a PV.',
     'RDW-WAM-2026-33018'),
    ('Uninsured', 'GB-917-RL', 'FR', now() - interval '21 days', NULL,
     'No valid insurance. Intercept if a unit is available.',
     'FR-FVA-2026-77102'),

    -- No technical inspection
    ('No technical inspection', '1-SWU-876', 'BE', now() - interval '45 days', NULL,
     'Technical inspection overdue. Stop if convenient; check the inspection certificate, draw up a PV.',
     'DIV-2026-CT-021447'),
    ('No technical inspection', '1-FNO-294', 'BE', now() - interval '12 days', NULL,
     'Technical inspection overdue. Stop if convenient; check the inspection certificate.',
     'DIV-2026-CT-021903'),
    ('No technical inspection', '2-GAT-410', 'BE', now() - interval '70 days', NULL,
     'Refused at inspection (brakes). Stop if convenient; the vehicle may not be driven.',
     'DIV-2026-CT-020118'),
    ('No technical inspection', '1-KYR-517', 'BE', now() - interval '5 days', NULL,
     'Technical inspection overdue. Stop if convenient.',
     'DIV-2026-CT-022035'),
    ('No technical inspection', '771-BKN', 'BE', now() - interval '100 days', NULL,
     'Old registration, inspection overdue by more than a year. Stop if convenient.',
     'DIV-2026-CT-018702'),
    ('No technical inspection', '1-ZHE-622', 'BE', now() - interval '9 days', NULL,
     'Technical inspection overdue. Stop if convenient.',
     'DIV-2026-CT-021780'),
    ('No technical inspection', '2-AFX-318', 'BE', now() - interval '30 days', NULL,
     'Technical inspection overdue.',
     'DIV-2026-CT-021204'),
    ('No technical inspection', 'NB-24-XH', 'NL', now() - interval '15 days', NULL,
     'APK expired (RDW). Stop if convenient.',
     'RDW-APK-2026-55120'),
    ('No technical inspection', 'K QF 7720', 'DE', now() - interval '22 days', NULL,
     'HU (TUV) expired. Stop if convenient.',
     'KBA-HU-2026-30417'),
    ('No technical inspection', 'HA-551-TC', 'FR', now() - interval '11 days', NULL,
     'Controle technique expired. Stop if convenient.',
     'FR-CT-2026-40981'),
    ('No technical inspection', 'XR 4417', 'LU', now() - interval '19 days', NULL,
     'Controle technique (SNCT) expired. Stop if convenient.',
     'LU-SNCT-2026-1290'),
    ('No technical inspection', 'DN XA 52', 'DE', now() - interval '26 days', NULL,
     'HU (TUV) expired. Stop if convenient.',
     'KBA-HU-2026-30988'),

    -- Paused list: never loaded.
    ('Expired fines (paused)', '1-MUB-238', 'BE', NULL, NULL,
     'Unpaid fines; list paused.',
     'FOD-FIN-2026-000412'),
    ('Expired fines (paused)', 'LK19 HVX', 'GB', NULL, NULL,
     'Unpaid fines; list paused.',
     'FOD-FIN-2026-000455')
) AS e (list, plate, country, valid_from, valid_until, instruction, external_ref)
JOIN anpr.watchlist w ON w.name = e.list;

COMMIT;
