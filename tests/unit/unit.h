/*
 * unit: a tiny test runner. Each test file exports a {name, fn} table ending in
 * {NULL, NULL}; unit_main.c lists the tables. CHECK records a failure and goes on.
 */
#ifndef PV_UNIT_H
#define PV_UNIT_H

#include <stdio.h>
#include <string.h>

struct unit_test {
    const char *name;
    void (*fn)(void);
};

extern int unit_failed_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "  %s:%d: '%s' != '%s'\n", __FILE__, __LINE__, a_ ? a_ : "(null)",     \
                    b_ ? b_ : "(null)");                                                           \
            unit_failed_checks++;                                                                  \
        }                                                                                          \
    } while (0)

#endif
