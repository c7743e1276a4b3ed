/* test_cli: the cleaner every tool prints outside text through (cli_clean, cli_text). */
#include "check.h"
#include "cli.h"

#include <stdint.h>

/* The UTF-8 of a code point below U+10000. */
static size_t s_enc(uint32_t cp, char *b)
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6);
        b[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    b[0] = (char)(0xE0 | cp >> 12);
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* Cleaned "a<cp>b" must be "a\u{cp}b" (the code point shown, nothing of it left raw). */
static void s_replaced(uint32_t cp, unsigned flags)
{
    char in[8], out[64], want[64];
    size_t n = 0;

    in[n++] = 'a';
    n += s_enc(cp, in + n);
    in[n++] = 'b';
    cli_clean(out, sizeof out, in, n, flags);
    snprintf(want, sizeof want, "a\\u{%x}b", (unsigned)cp);
    CHECK_STR(out, want);
}

static void s_kept(uint32_t cp)
{
    char in[8], out[64];
    size_t n = s_enc(cp, in);

    in[n] = '\0';
    cli_clean(out, sizeof out, in, n, 0);
    CHECK_STR(out, in);
}

static void s_same(const char *in, const char *want, unsigned flags)
{
    char out[256];

    cli_clean(out, sizeof out, in, strlen(in), flags);
    CHECK_STR(out, want);
}

int main(void)
{
    static const uint32_t bidi[] = {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C,
                                    0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069};
    char out[64];

    /* Every C0 control (NUL included, counted by length), DEL and every C1 control. */
    for (uint32_t cp = 0; cp < 0x20; cp++)
        s_replaced(cp, 0);
    s_replaced(0x7F, 0);
    for (uint32_t cp = 0x80; cp <= 0x9F; cp++)
        s_replaced(cp, 0);
    for (size_t i = 0; i < sizeof bidi / sizeof bidi[0]; i++)
        s_replaced(bidi[i], 0);
    /* A line feed is kept only where a newline is meant; CR and TAB never. */
    s_same("x\ny", "x\\u{a}y", 0);
    s_same("x\ny", "x\ny", CLI_NEWLINE);
    s_same("x\r\ty", "x\\u{d}\\u{9}y", CLI_NEWLINE);
    /* Neighbours of the replaced ranges pass through. */
    s_kept(0x20);
    s_kept(0x7E);
    s_kept(0xA0);
    s_kept(0x200D);
    s_kept(0x2029);
    s_kept(0x202F);
    s_kept(0x2065);
    s_kept(0x206A);

    /* ESC and OSC sequences: the ESC (and BEL) made visible, the rest inert text. */
    s_same("\x1b[2J\x1b[31mred", "\\u{1b}[2J\\u{1b}[31mred", 0);
    s_same("\x1b]0;owned\x07list", "\\u{1b}]0;owned\\u{7}list", 0);
    s_same("\x1b]8;;http://x\x1b\\link", "\\u{1b}]8;;http://x\\u{1b}\\link", 0);
    s_same("\xc2\x9b"
           "2J",
           "\\u{9b}2J", 0); /* C1 CSI */

    /* Invalid UTF-8: each bad byte one U+FFFD, the scan goes on after it. */
    s_same("a\x9b"
           "b",
           "a\xEF\xBF\xBD"
           "b",
           0); /* lone continuation */
    s_same("a\xC0\xAF"
           "b",
           "a\xEF\xBF\xBD\xEF\xBF\xBD"
           "b",
           0);                                                         /* overlong '/' */
    s_same("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 0); /* surrogate */
    s_same("\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 0);
    s_same("ab\xE2\x82", "ab\xEF\xBF\xBD\xEF\xBF\xBD", 0); /* cut short */
    s_same("\xFF", "\xEF\xBF\xBD", 0);

    /* Ordinary UTF-8 passes through unchanged. */
    s_same("1-ABC-123", "1-ABC-123", 0);
    s_same("Gestolen voertuigen \xC3\xA9\xC3\xBC \xE2\x82\xAC \xF0\x9F\x9A\x93 \xD7\x90",
           "Gestolen voertuigen \xC3\xA9\xC3\xBC \xE2\x82\xAC \xF0\x9F\x9A\x93 \xD7\x90", 0);

    /* Cut at a character boundary, never inside an escape or a sequence. */
    CHECK_INT(cli_clean(out, 4, "ab\xC3\xA9", 4, 0), 2);
    CHECK_STR(out, "ab");
    CHECK_INT(cli_clean(out, 6, "a\x1b", 2, 0), 1);
    CHECK_STR(out, "a");
    CHECK_INT(cli_clean(out, 1, "abc", 3, 0), 0);
    CHECK_STR(out, "");

    /* cli_text: NULL is "", and 8 results live at once. */
    CHECK_STR(cli_text(NULL), "");
    const char *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = cli_text(i % 2 ? "\x1b" : "ok");
    for (int i = 0; i < 8; i++)
        CHECK_STR(t[i], i % 2 ? "\\u{1b}" : "ok");
    CHECK_STR(cli_text_nl("ERROR: x\nDETAIL: \x1b"), "ERROR: x\nDETAIL: \\u{1b}");
    return check_done("test_cli");
}
