/*
 * fuzz_form: the reader of anpr-web's form bodies (http_form, web/http.c), which gets what a
 * browser, or anyone reaching the port, POSTs. Byte 0 picks the room the caller gives (0..63)
 * and which of a few keys is looked up; the rest is the body. A value found is a C string
 * within that room and no longer than the body; the reader never reads past the body's end
 * (the body is copied into a buffer of exactly its length + 1).
 */
#include "fuzz.h"
#include "http.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"user", "password", "hit_ids", "a", "", "csrf", "x=y", "&"};
    char out[64];

    if (size < 1)
        return 0;
    size_t cap = (size_t)(data[0] & 63u);
    const char *key = keys[(data[0] >> 6) | ((size & 1u) << 2)];
    char *body = malloc(size);
    if (!body)
        return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    memset(out, 'Z', sizeof out);
    if (http_form(body, key, out, cap ? cap : 1)) {
        FUZZ_REQUIRE(memchr(out, '\0', cap ? cap : 1) != NULL);
        FUZZ_REQUIRE(strlen(out) <= strlen(body));
    }
    free(body);
    return 0;
}
