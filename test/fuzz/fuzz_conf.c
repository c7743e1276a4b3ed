/*
 * fuzz_conf: the configuration loader (conf_parse, the buffer entry point conf_load uses),
 * on any text: an operator's typo or a broken file deployment must give error lines, never a
 * crash, a leak or a half-filled config. Exactly one of the config and the error text comes
 * back; every error line is "name:line:col: ..." as anprd.yaml.5 promises.
 */
#include "conf.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *errors = NULL;
    struct conf *conf = conf_parse("fuzz.yaml", (const char *)data, size, &errors);

    if (conf) {
        FUZZ_REQUIRE(errors == NULL);
        FUZZ_REQUIRE(conf->ingest.endpoint && conf->dispatch.endpoint && conf->database.conninfo);
        FUZZ_REQUIRE(conf->matcher.ocr_classes && conf->spool.dir && conf->backbone.host);
        conf_destroy(&conf);
        conf_destroy(&conf);
        FUZZ_REQUIRE(conf == NULL);
        return 0;
    }
    FUZZ_REQUIRE(errors != NULL && errors[0] != '\0');
    /* Every line names the file; the text ends with a line end. */
    for (const char *l = errors; *l; l = strchr(l, '\n') + 1) {
        FUZZ_REQUIRE(strchr(l, '\n') != NULL);
        FUZZ_REQUIRE(strncmp(l, "fuzz.yaml:", 10) == 0);
    }
    free(errors);
    return 0;
}
