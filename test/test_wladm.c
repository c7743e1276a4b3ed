/*
 * test_wladm: the rules of watchlist administration that need no database: plates and
 * patterns normalised, the pattern guard's measure, the entry fields checked with the field
 * and value named, countries of either case stored in upper case, strict times (with an
 * offset, and a date alone as a whole day in the zone).
 */
#include "check.h"
#include "wladm.h"

#include <stdlib.h>
#include <string.h>

static void test_plates(void)
{
    char norm[PLATE_MAX + 1];

    CHECK(wladm_entry_plate("1-abc-123", "BE", norm) == NULL);
    CHECK_STR(norm, "1ABC123");
    CHECK(wladm_entry_plate("1*", "", norm) == NULL);
    CHECK_STR(norm, "1*");
    CHECK(wladm_broad_pattern(norm));
    CHECK(wladm_entry_plate("?X*", "", norm) == NULL);
    CHECK(wladm_broad_pattern(norm));
    CHECK(wladm_entry_plate("1AB*", "", norm) == NULL);
    CHECK(!wladm_broad_pattern(norm)); /* three letters or digits */
    CHECK(wladm_entry_plate("12", "", norm) == NULL);
    CHECK(!wladm_broad_pattern(norm)); /* short, but no pattern */
    CHECK(wladm_entry_plate("UP#1", "", norm) != NULL);
    CHECK(wladm_entry_plate("--", "", norm) != NULL);
    CHECK(wladm_entry_plate("123456789012345678901234567890123", "", norm) != NULL);
    CHECK(wladm_country_ok("") && wladm_country_ok("NL"));
    CHECK(wladm_country_ok("nl") && wladm_country_ok("bE"));
    CHECK(!wladm_country_ok("NLD") && !wladm_country_ok("n") && !wladm_country_ok("n1") &&
          !wladm_country_ok("\xc3\xa9"));
}

/* Countries as stored: upper case, UK as GB, in the import and add alike. */
static void test_countries(void)
{
    char cc[3];

    CHECK_STR(wladm_country("nl", cc), "NL");
    CHECK_STR(wladm_country("Be", cc), "BE");
    CHECK_STR(wladm_country("DE", cc), "DE");
    CHECK_STR(wladm_country("uk", cc), "GB");
    CHECK_STR(wladm_country("UK", cc), "GB");
    CHECK_STR(wladm_country("", cc), "");
}

static void test_entry(void)
{
    struct wladm_err err;
    int64_t from = WLADM_NO_FROM, until = WLADM_NO_UNTIL;
    struct wladm_entry ok = {.country = "BE",
                             .from = "2026-12-01T08:00:00Z",
                             .until = "2026-12-02T08:00:00+01:00",
                             .instruction = "Stop"};

    CHECK_INT(wladm_check_entry(&ok, false, &from, &until, &err), WLADM_OK);
    CHECK(from == 1796112000LL * 1000000);
    CHECK(until == (1796112000LL + 86400 - 3600) * 1000000);

    struct wladm_entry bad_until = {.until = "soon"};
    CHECK_INT(wladm_check_entry(&bad_until, false, &from, &until, &err), WLADM_INPUT);
    CHECK_STR(err.field, "valid_until");
    CHECK_STR(err.value, "soon");
    struct wladm_entry lower = {.country = "be"};
    CHECK_INT(wladm_check_entry(&lower, false, &from, &until, &err), WLADM_OK);
    struct wladm_entry bad_country = {.country = "b3"};
    CHECK_INT(wladm_check_entry(&bad_country, false, &from, &until, &err), WLADM_INPUT);
    CHECK_STR(err.field, "country");
    CHECK_STR(err.value, "b3");
    struct wladm_entry ctl = {.ref = "PV\x1b[2J"};
    CHECK_INT(wladm_check_entry(&ctl, false, &from, &until, &err), WLADM_INPUT);
    CHECK_STR(err.field, "external_ref");
    CHECK_STR(err.value, ""); /* a control character is never echoed */
    struct wladm_entry open = {.from = "-"};
    CHECK_INT(wladm_check_entry(&open, true, &from, &until, &err), WLADM_OK);
    CHECK_INT(wladm_check_entry(&open, false, &from, &until, &err), WLADM_INPUT);
}

static void test_times(void)
{
    int64_t us;
    char text[40];

    CHECK(wladm_parse_time("2026-02-30", false, &us) != NULL);
    CHECK(wladm_parse_time("2026-12-01T25:00Z", false, &us) != NULL);
    CHECK(wladm_parse_time("2026-12-01T08:00:00.5Z", false, &us) == NULL);
    wladm_utc_text(us, text);
    CHECK_STR(text, "2026-12-01T08:00:00.500000Z");
    /* a date alone: the whole day in the zone, here Brussels (CET, UTC+1 in December) */
    setenv("TZDIR", "/usr/share/zoneinfo", 1);
    wladm_zone_choose("Europe/Brussels");
    CHECK(wladm_zone() == NULL); /* tzdata, as anpr-watchlist needs it */
    CHECK(wladm_parse_time("2026-12-01", true, &us) == NULL);
    wladm_utc_text(us, text);
    CHECK_STR(text, "2026-12-01T23:00:00.000000Z");
    wladm_zone_choose("Nowhere/Atlantis");
    CHECK(wladm_parse_time("2026-12-01", false, &us) != NULL);
}

int main(void)
{
    test_plates();
    test_countries();
    test_entry();
    test_times();
    return check_done("wladm");
}
