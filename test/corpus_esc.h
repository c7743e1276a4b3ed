/*
 * corpus_esc: the escapes of test/match_corpus.tsv (\t, \\ and \xHH), shared by the unit test
 * that reads the corpus and the integration test that runs it through anpr-watchlist.
 */
#ifndef ANPR_CORPUS_ESC_H
#define ANPR_CORPUS_ESC_H

/* Decode s in place (the result may hold any byte, but a NUL ends it). 0, or -1 when s holds
 * an escape that is none of the three (kept as it is). */
int corpus_unescape(char *s);

#endif
