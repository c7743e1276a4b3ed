-- anprd schema, migration 019: plates as people type and paste them.
--
-- anpr.entry_key (007) turns a plate or pattern as typed into the key reads are stored and
-- searched under. It kept only ASCII letters, digits and wildcards, so it disagreed with the
-- daemon (daemon/plate.c) on every other character: "MÜ-AB 12" became MAB12 where anprd
-- stores MUAB12, a Cyrillic А was dropped instead of read as A, and a character that makes a
-- plate invalid was silently dropped. It now follows the same rules as plate.c (docs/PLATES.md),
-- written by the same generator (tools/plate-unicode sql), and the test integration.plate_sql
-- checks that both agree:
--   1. letters folded: a-z, Latin letters with diacritics, Cyrillic and Greek look-alikes,
--      full-width letters, digits and wildcards (translate);
--   2. a combining mark right after a letter is that letter's diacritic: dropped;
--   3. separators dropped: space, tab, - . _ /, every Unicode dash and space, soft hyphen,
--      zero-width space and joiners, minus sign, middle dots;
--   4. anything else left (a character plate.c refuses) becomes '#', so the callers' checks
--      ("letters and digits only") refuse it rather than search a shortened plate;
--   5. runs of '*' fold into one, as plate.c folds them.
-- The euroband code is not the key's business: a history search is for the plate as typed.

CREATE OR REPLACE FUNCTION anpr.entry_key(plate text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(translate(plate,
        'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöøùúûüýÿĀāĂă'
        || 'ĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĴĵĶķĹĺĻļĽľĿŀŁł'
        || 'ŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŦŧŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžabcde'
        || 'fghijklmnopqrstuvwxyzƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻ'
        || 'ȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳΆΈΉΊΌΎΐΑΒΕΖΗΙΚΜΝ'
        || 'ΟΡΤΥΧΪΫάίαικορτχϊόЀЁЅІЇЈЌЎАВЕКМНОРСТУХавекмнорстухѐёѕіїјќўӐӑ'
        || 'ӒӓӖӗӦӧӮӯӰӱӲӳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯ'
        || 'ḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫ'
        || 'ṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẠạẢảẤấẦầẨẩẪẫẬậ'
        || 'ẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứ'
        || 'ỪừỬửỮữỰựỲỳỴỵỶỷỸỹἀἁἂἃἄἅἆἇἈἉἊἋἌἍἎἏἘἙἚἛἜἝἨἩἪἫἬἭἮἯἰἱἲἳἴἵἶἷἸἹἺἻἼἽ'
        || 'ἾἿὀὁὂὃὄὅὈὉὊὋὌὍὙὛὝὟὰάὶίὸόᾀᾁᾂᾃᾄᾅᾆᾇᾈᾉᾊᾋᾌᾍᾎᾏᾘᾙᾚᾛᾜᾝᾞᾟᾰᾱᾲᾳᾴᾶᾷᾸᾹᾺΆᾼ'
        || 'ῈΈῊΉῌῐῑῒΐῖῗῘῙῚΊῤῥῨῩῪΎῬῸΌ＊０１２３４５６７８９？ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸ'
        || 'ＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ',
        'AAAAAACEEEEIIIIDNOOOOOOUUUUYAAAAAACEEEEIIIINOOOOOOUUUUYYAAAA'
        || 'AACCCCCCCCDDDDEEEEEEEEEEGGGGGGGGHHHHIIIIIIIIIIJJKKLLLLLLLLLL'
        || 'NNNNNNOOOOOORRRRRRSSSSSSSSTTTTTTUUUUUUUUUUUUWWYYYZZZZZZABCDE'
        || 'FGHIJKLMNOPQRSTUVWXYZOOUUAAIIOOUUUUUUUUUUAAAAGGKKOOOOJGGNNAA'
        || 'AAAAEEEEIIIIOOOORRRRUUUUSSTTHHAAEEOOOOOOOOYYAEHIOYIABEZHIKMN'
        || 'OPTYXIYAIAIKOPTXIOEESIIJKYABEKMHOPCTYXABEKMHOPCTYXEESIIJKYAA'
        || 'AAEEOOYYYYYYAABBBBBBCCDDDDDDDDDDEEEEEEEEEEFFGGHHHHHHHHHHIIII'
        || 'KKKKKKLLLLLLLLMMMMMMNNNNNNNNOOOOOOOOPPPPRRRRRRRRSSSSSSSSSSTT'
        || 'TTTTTTUUUUUUUUUUVVVVWWWWWWWWWWXXXXYYZZZZZZHTWYAAAAAAAAAAAAAA'
        || 'AAAAAAAAAAEEEEEEEEEEEEEEEEIIIIOOOOOOOOOOOOOOOOOOOOOOOOUUUUUU'
        || 'UUUUUUUUYYYYYYYYAAAAAAAAAAAAAAAAEEEEEEHHHHHHHHIIIIIIIIIIIIII'
        || 'IIOOOOOOOOOOOOYYYYAAIIOOAAAAAAAAAAAAAAAAHHHHHHHHAAAAAAAAAAAA'
        || 'EEHHHIIIIIIIIIIPPYYYYPOO*0123456789?ABCDEFGHIJKLMNOPQRSTUVWX'
        || 'YZABCDEFGHIJKLMNOPQRSTUVWXYZ'),
        '([A-Z])[\u0300-\u036F\u1AB0-\u1AFF\u1DC0-\u1DFF\uFE20-\uFE2F]+', '\1', 'g'),
        '[-\t ._/' || '\u00A0\u00AD\u00B7\u058A\u05BE\u1400\u1680\u1806\u2000\u2001'
        || '\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u200B'
        || '\u200C\u200D\u2010\u2011\u2012\u2013\u2014\u2015\u2027\u202F'
        || '\u205F\u2060\u2212\u2E17\u2E1A\u2E3A\u2E3B\u2E40\u2E5D\u3000'
        || '\u301C\u3030\u30A0\uFE31\uFE32\uFE58\uFE63\uFEFF\uFF0D\uFF0E'
        || '\uFF0F\uFF3F\U00010EAD' || ']', '', 'g'),
        '[^A-Z0-9?*]', '#', 'g'),
        '\*+', '*', 'g')
$$;

-- How many of the last day's reads a watchlist pattern would have hit, for an admin about to
-- add a pattern so broad that it is refused unless forced (fewer than three letters or digits:
-- "1*" hit 374 reads in 10 s of the demo). Admins may not read plate history: this gives a
-- number only, and only for such broad patterns, so it cannot tell whether one plate was seen.
-- Every call is audited (search_audit, kind 'pattern_count', with the pattern) and logged
-- (without it). Exact patterns only: the OCR tolerance of a list is not counted.
ALTER TABLE anpr.search_audit DROP CONSTRAINT search_audit_kind_check;
ALTER TABLE anpr.search_audit ADD CONSTRAINT search_audit_kind_check
    CHECK (kind IN ('reads', 'hits', 'cotravel', 'pattern_count'));

CREATE FUNCTION anpr.pattern_reads_last_day(p_pattern text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_key text := anpr.entry_key(p_pattern);
    v_count bigint;
BEGIN
    IF v_key IS NULL OR v_key !~ '^[A-Z0-9?*]{1,16}$' OR v_key !~ '[?*]'
       OR length(regexp_replace(v_key, '[?*]', '', 'g')) >= 3 THEN
        RAISE EXCEPTION 'not a pattern with fewer than three letters or digits'
            USING ERRCODE = '22023';
    END IF;
    SELECT count(*) INTO v_count FROM anpr.read_identity i
    WHERE i.plate LIKE replace(replace(v_key, '?', '_'), '*', '%')
      AND i.read_us >= anpr.us_of(now() - interval '1 day');
    INSERT INTO anpr.search_audit (kind, params, granted, rule, message, rows_returned,
                                   rows_more)
    VALUES ('pattern_count', jsonb_build_object('pattern', p_pattern, 'key', v_key), true, NULL,
            'reads of the last day a watchlist pattern would have hit (a count only)', 0,
            v_count);
    RAISE LOG 'anpr pattern count by %: % reads', session_user, v_count;
    RETURN v_count;
END
$$;
REVOKE ALL ON FUNCTION anpr.pattern_reads_last_day(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anpr.pattern_reads_last_day(text) TO anpr_admin;
