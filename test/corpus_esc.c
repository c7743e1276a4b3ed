/* corpus_esc: the corpus's escapes (corpus_esc.h). */
#include "corpus_esc.h"

static int s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int corpus_unescape(char *s)
{
    char *o = s;
    int rc = 0;

    for (const char *p = s; *p; p++) {
        if (*p != '\\') {
            *o++ = *p;
        } else if (p[1] == 't') {
            *o++ = '\t';
            p++;
        } else if (p[1] == '\\') {
            *o++ = '\\';
            p++;
        } else if (p[1] == 'x' && s_hex(p[2]) >= 0 && s_hex(p[3]) >= 0) {
            *o++ = (char)(s_hex(p[2]) * 16 + s_hex(p[3]));
            p += 3;
        } else {
            *o++ = *p;
            rc = -1;
        }
    }
    *o = '\0';
    return rc;
}
