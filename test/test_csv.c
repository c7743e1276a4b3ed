/*
 * test_csv: the CSV reader of anpr-watchlist import: quoting, line ends, blank lines, the
 * byte-order mark, line numbers, and the defects it reports instead of guessing.
 */
#include "check.h"
#include "csv.h"

#include <stdlib.h>
#include <string.h>

/* A reader over a copy of text in a buffer of exactly len + 1 bytes, as csv.h asks. */
struct fix {
    char *buf;
    csv_t *csv;
};

static void s_open(struct fix *f, const char *text)
{
    size_t len = strlen(text);

    f->buf = malloc(len + 1);
    memcpy(f->buf, text, len + 1);
    f->csv = csv_new(f->buf, len);
    CHECK(f->csv != NULL);
}

static void s_close(struct fix *f)
{
    csv_destroy(&f->csv);
    csv_destroy(&f->csv);
    CHECK(f->csv == NULL);
    free(f->buf);
}

static void test_plain(void)
{
    struct fix f;
    char *fl[8];
    int nf, line;
    const char *why;

    s_open(&f, "plate,country\n1ABC123,BE\r\nAB-12-CD,NL\rX,\n");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(nf, 2);
    CHECK_INT(line, 1);
    CHECK(why == NULL);
    CHECK_STR(fl[0], "plate");
    CHECK_STR(fl[1], "country");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(line, 2);
    CHECK_STR(fl[0], "1ABC123");
    CHECK_STR(fl[1], "BE");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(line, 3);
    CHECK_STR(fl[0], "AB-12-CD");
    CHECK_STR(fl[1], "NL");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(line, 4);
    CHECK_INT(nf, 2);
    CHECK_STR(fl[0], "X");
    CHECK_STR(fl[1], "");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 0);
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 0);
    s_close(&f);
}

static void test_quoted(void)
{
    struct fix f;
    char *fl[8];
    int nf, line;
    const char *why;

    /* A BOM, a blank line, a quoted comma, an escaped quote, a field over two lines, and a last
     * field that ends the text with no line end (its terminator takes the extra byte). */
    s_open(&f, "\xEF\xBB\xBFplate,instruction\n\n\"1ABC123\",\"Stop, \"\"now\"\"\"\n"
               "X1,\"two\nlines\"\nY2,\"\"");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_STR(fl[0], "plate");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(line, 3);
    CHECK(why == NULL);
    CHECK_STR(fl[0], "1ABC123");
    CHECK_STR(fl[1], "Stop, \"now\"");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(line, 4);
    CHECK_STR(fl[1], "two\nlines");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(line, 6);
    CHECK_INT(nf, 2);
    CHECK_STR(fl[0], "Y2");
    CHECK_STR(fl[1], "");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 0);
    s_close(&f);

    /* A quoted empty field alone on a line is a record, not a blank line. */
    s_open(&f, "\"\"\n");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(nf, 1);
    CHECK_STR(fl[0], "");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 0);
    s_close(&f);
}

static void test_defects(void)
{
    struct fix f;
    char *fl[2];
    int nf, line;
    const char *why;

    s_open(&f, "a\"b,c\n\"x\"y,z\na,b,c,d\n\"open\nrest");
    CHECK_INT(csv_next(f.csv, fl, 2, &nf, &line, &why), 1);
    CHECK_CONTAINS(why, "inside a field");
    CHECK_STR(fl[0], "a\"b");
    CHECK_INT(csv_next(f.csv, fl, 2, &nf, &line, &why), 1);
    CHECK_CONTAINS(why, "after the closing quote");
    CHECK_STR(fl[0], "x");
    CHECK_STR(fl[1], "z");
    /* More fields than room: counted all the same. */
    CHECK_INT(csv_next(f.csv, fl, 2, &nf, &line, &why), 1);
    CHECK(why == NULL);
    CHECK_INT(nf, 4);
    CHECK_STR(fl[1], "b");
    CHECK_INT(csv_next(f.csv, fl, 2, &nf, &line, &why), -1);
    CHECK_INT(line, 4);
    CHECK_CONTAINS(why, "not closed");
    CHECK_INT(csv_next(f.csv, fl, 2, &nf, &line, &why), 0);
    s_close(&f);

    /* Nothing but a byte-order mark, or blank lines: no record. */
    s_open(&f, "\xEF\xBB\xBF");
    CHECK_INT(csv_next(f.csv, fl, 2, &nf, &line, &why), 0);
    s_close(&f);
    s_open(&f, "\n\r\n\r");
    CHECK_INT(csv_next(f.csv, fl, 2, &nf, &line, &why), 0);
    s_close(&f);
}

/* A caller with no room for fields (max 0) still gets records counted, blank lines skipped:
 * the blank-line test must not look at fields[0]. Found by fuzzing
 * (test/fuzz/corpus/csv/regress-max-zero). */
static void test_no_room(void)
{
    struct fix f;
    int nf, line;
    const char *why;

    s_open(&f, "\n\na,b\n\"\"\n");
    CHECK_INT(csv_next(f.csv, NULL, 0, &nf, &line, &why), 1);
    CHECK_INT(nf, 2);
    CHECK_INT(line, 3);
    CHECK_INT(csv_next(f.csv, NULL, 0, &nf, &line, &why), 1);
    CHECK_INT(nf, 1);
    CHECK_INT(line, 4);
    CHECK_INT(csv_next(f.csv, NULL, 0, &nf, &line, &why), 0);
    s_close(&f);
}

/* ';'-separated, as Belgian and Dutch spreadsheets write: guessed from the header, a ','
 * inside a field is text. */
static void test_semicolon(void)
{
    struct fix f;
    char *fl[8];
    int nf, line;
    const char *why;
    const char *text = "plate;instruction\n1ABC123;\"Stop; check\"\nAB-12-CD;Insp. C, PZ\n";

    CHECK_INT(csv_guess_sep(text, strlen(text)), ';');
    CHECK_INT(csv_guess_sep("plate,country\n1;2;3;4\n", 23), ',');
    CHECK_INT(csv_guess_sep("\"a;b\",c\n", 8), ',');
    CHECK_INT(csv_guess_sep("plate\n", 6), ',');
    s_open(&f, text);
    csv_set_sep(f.csv, ';');
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(nf, 2);
    CHECK_STR(fl[1], "instruction");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK(why == NULL);
    CHECK_STR(fl[1], "Stop; check");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 1);
    CHECK_INT(nf, 2);
    CHECK_INT(line, 3);
    CHECK_STR(fl[1], "Insp. C, PZ");
    CHECK_INT(csv_next(f.csv, fl, 8, &nf, &line, &why), 0);
    s_close(&f);
}

int main(void)
{
    test_semicolon();
    test_plain();
    test_quoted();
    test_defects();
    test_no_room();
    return check_done("csv");
}
