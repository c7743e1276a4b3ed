/* test_wj: JSON strings that stay valid and inert whatever they hold; CSV cells a spreadsheet
   would run as formulas neutralised; a HIT as the board's JSON. */
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NAME "wj"
#include "csv.h"
#include "wj.h"

static const char *s_str(const char *in)
{
    static struct wj b;

    wj_free(&b);
    wj_str(&b, in);
    return b.s;
}

static const char *s_csv(const char *in)
{
    static struct wj b;

    wj_free(&b);
    wj_csv(&b, in, true);
    return b.s;
}

int main(void)
{
    CHECK_STR(s_str("1ABC123"), "\"1ABC123\"");
    CHECK_STR(s_str(NULL), "null");
    CHECK_STR(s_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
    CHECK_STR(s_str("<script>&"), "\"\\u003cscript\\u003e\\u0026\"");
    CHECK_STR(s_str("a\nb\x1b[2J"), "\"a\\u000ab\\u001b[2J\"");
    CHECK_STR(s_str("Smeermaas N2 \xe2\x86\x92 Maastricht"),
              "\"Smeermaas N2 \xe2\x86\x92 Maastricht\"");
    CHECK_STR(s_str("\xe2\x80\xa8"), "\"\\u2028\"");
    CHECK_STR(s_str("bad\xff"), "\"bad\\ufffd\"");
    CHECK_STR(s_str("\xc0\xaf"), "\"\\ufffd\\ufffd\"");

    CHECK_STR(s_csv("1ABC123"), "1ABC123\r\n");
    CHECK_STR(s_csv("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
    CHECK_STR(s_csv("+32 11 22"), "'+32 11 22\r\n");
    CHECK_STR(s_csv("-1"), "'-1\r\n");
    CHECK_STR(s_csv("@SUM(A1)"), "'@SUM(A1)\r\n");
    CHECK_STR(s_csv("''=1"), "'''=1\r\n");
    CHECK_STR(s_csv("a,b"), "\"a,b\"\r\n");
    CHECK_STR(s_csv("a;b"), "\"a;b\"\r\n");
    CHECK_STR(s_csv(""), "\r\n");
    CHECK(!csv_risky("1-AB"));

    struct proto_hit h = {0};
    h.hit_id = 1234567890123456789ull;
    h.read.time_us = 1700000000000000;
    snprintf(h.read.camera, sizeof h.read.camera, "BE-SMEERMAAS-N2");
    snprintf(h.read.plate, sizeof h.read.plate, "1ABC123");
    snprintf(h.read.cand[0].plate, sizeof h.read.cand[0].plate, "1ABC128");
    h.read.ncand = 1;
    h.reading = 1;
    h.priority = 1;
    h.match = 3;
    snprintf(h.list, sizeof h.list, "Stolen </script>");
    struct wj b = {0};
    wj_hit(&b, &h, true, false);
    CHECK(strstr(b.s, "\"hit_id\":\"1234567890123456789\"") != NULL);
    CHECK(strstr(b.s, "\"read_plate\":\"1ABC123\"") != NULL);
    CHECK(strstr(b.s, "\"matched_plate\":\"1ABC128\"") != NULL);
    CHECK(strstr(b.s, "\"match\":\"candidate\"") != NULL);
    CHECK(strstr(b.s, "\"list\":\"Stolen \\u003c/script\\u003e\"") != NULL);
    CHECK(strstr(b.s, "\"again\":true,\"sighting\":false}") != NULL);
    wj_free(&b);
    /* The heartbeat as camera health; camera codes escaped like any text. */
    struct proto_heartbeat hb = {
        .cameras = 4, .reporting = 2, .silent_after_s = 600, .interval_ms = 2000, .nsilent = 2};
    snprintf(hb.silent[0], sizeof hb.silent[0], "BE-EYSDEN-N2");
    snprintf(hb.silent[1], sizeof hb.silent[1], "NL-A2\"X");
    struct wj hbj = {0};
    wj_heartbeat(&hbj, &hb);
    CHECK_STR(hbj.s, "{\"cameras\":4,\"reporting\":2,\"silent_after_s\":600,\"interval_ms\":2000,"
                     "\"silent\":[\"BE-EYSDEN-N2\",\"NL-A2\\\"X\"]}");
    wj_free(&hbj);
    s_str(NULL);
    s_csv("");
    return check_done(NAME);
}
