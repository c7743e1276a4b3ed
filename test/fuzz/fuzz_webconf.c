/*
 * fuzz_webconf: anpr-web's configuration loader (webconf_parse, what webconf_load calls on the
 * file's text), on any text: a typo or a broken deployment gives error lines, never a crash, a
 * leak or a half-filled config. Exactly one of the config and the error text comes back;
 * every error line is "name:line:col: ..." (or "name:" for the file as a whole) as anpr-web(8)
 * promises, and a password in the conninfo never appears in an error.
 */
#include "fuzz.h"
#include "webconf.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *errors = NULL;
    struct webconf *c = webconf_parse("fuzz.yaml", (const char *)data, size, &errors);

    if (c) {
        FUZZ_REQUIRE(errors == NULL);
        FUZZ_REQUIRE(c->listen && c->static_dir && c->conninfo && c->endpoint && c->key_file &&
                     c->server_key);
        FUZZ_REQUIRE(c->static_dir[0] == '/');
        FUZZ_REQUIRE(c->idle_timeout_s >= 60 && c->max_sessions >= 1 && c->max_failures >= 1);
        FUZZ_REQUIRE((c->key_file[0] == '\0') == (c->server_key[0] == '\0'));
        webconf_destroy(&c);
        webconf_destroy(&c);
        FUZZ_REQUIRE(c == NULL);
        return 0;
    }
    FUZZ_REQUIRE(errors != NULL && errors[0] != '\0');
    for (const char *l = errors; *l; l = strchr(l, '\n') + 1) {
        FUZZ_REQUIRE(strchr(l, '\n') != NULL);
        FUZZ_REQUIRE(strncmp(l, "fuzz.yaml:", 10) == 0);
    }
    free(errors);
    return 0;
}
