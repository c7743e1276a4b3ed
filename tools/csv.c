#include "csv.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct csv {
    char *buf;  /* the text, decoded in place (borrowed) */
    size_t len; /* its length, without the byte for the last terminator */
    size_t pos; /* where the next record starts */
    int line;   /* line of buf[pos], from 1 */
    char sep;   /* the field separator: ',' unless set */
};

csv_t *csv_new(char *buf, size_t len)
{
    csv_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->buf = buf;
    self->len = len;
    self->line = 1;
    self->sep = ',';
    /* Spreadsheets write a byte-order mark before the header. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        self->pos = 3;
    return self;
}

void csv_set_sep(csv_t *self, char sep)
{
    self->sep = sep;
}

char csv_guess_sep(const char *buf, size_t len)
{
    size_t commas = 0, semis = 0;
    bool quoted = false;

    /* The first line, outside quotes: a header of names holds its separators there. */
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '"')
            quoted = !quoted;
        else if (!quoted && (buf[i] == '\n' || buf[i] == '\r'))
            break;
        else if (!quoted)
            commas += buf[i] == ',', semis += buf[i] == ';';
    }
    return semis > commas ? ';' : ',';
}

void csv_destroy(csv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int csv_next(csv_t *c, char **fields, int max, int *nf, int *line, const char **why)
{
    char *b = c->buf;
    size_t r = c->pos, len = c->len;

    for (;;) {
        if (r >= len)
            return 0;
        *line = c->line;
        *why = NULL;
        *nf = 0;
        char *w = b + r;
        bool quoted_any = false, first_empty = false;
        for (;;) {
            char *start = w;
            if (r < len && b[r] == '"') {
                quoted_any = true;
                r++;
                for (;;) {
                    if (r >= len) {
                        c->pos = len;
                        *why = "a quoted field is not closed";
                        return -1;
                    }
                    if (b[r] == '"') {
                        if (r + 1 < len && b[r + 1] == '"') {
                            *w++ = '"';
                            r += 2;
                            continue;
                        }
                        r++;
                        break;
                    }
                    if (b[r] == '\n')
                        c->line++;
                    *w++ = b[r++];
                }
                if (r < len && b[r] != c->sep && b[r] != '\n' && b[r] != '\r') {
                    if (!*why)
                        *why = "text after the closing quote of a field";
                    while (r < len && b[r] != c->sep && b[r] != '\n' && b[r] != '\r')
                        r++;
                }
            } else {
                while (r < len && b[r] != c->sep && b[r] != '\n' && b[r] != '\r') {
                    if (b[r] == '"' && !*why)
                        *why = "a '\"' inside a field that does not start with one";
                    *w++ = b[r++];
                }
            }
            char d = r < len ? b[r] : '\0';
            if (*nf == 0)
                first_empty = w == start;
            *w++ = '\0';
            if (*nf < max)
                fields[*nf] = start;
            (*nf)++;
            if (d == c->sep) {
                r++;
                continue;
            }
            if (d == '\r')
                r += (r + 1 < len && b[r + 1] == '\n') ? 2 : 1;
            else if (d == '\n')
                r++;
            c->line++;
            break;
        }
        c->pos = r;
        /* Not fields[0]: a caller with max 0 has none. */
        if (*nf == 1 && !quoted_any && first_empty)
            continue; /* a blank line */
        return 1;
    }
}

bool csv_risky(const char *s)
{
    s += strspn(s, "'");
    return *s && strchr("=+-@\t\r", *s) != NULL;
}
