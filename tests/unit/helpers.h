/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the unit tests: cmocka includes and fixture loading. */
#ifndef RETAIL_TEST_HELPERS_H
#define RETAIL_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses tests/fixtures/<name>; fails the test if it cannot. *new*. */
static inline json_t *
load_fixture(const char *name)
{
    char path[1024];
    json_error_t error;
    json_t *root;

    snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
    root = json_load_file(path, 0, &error);
    if (root == NULL) {
        fail_msg("fixture %s: %s", path, error.text);
    }
    return root;
}

/* Parses JSON text; fails the test if it is not valid JSON. *new*. */
static inline json_t *
parse_json(const char *text, size_t len)
{
    json_error_t error;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);

    if (root == NULL) {
        fail_msg("invalid JSON (%s): %.200s", error.text, text);
    }
    return root;
}

#endif
