/* SPDX-License-Identifier: MIT */
/* Fuzzes the products query parser: the input is a query string,
 * "key=value&key=value", split the way libmicrohttpd hands it over. */
#include "retail/query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    struct products_query q;
    struct query_error err;
    char *save = NULL;

    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    query_products_init(&q);
    for (char *pair = strtok_r(text, "&", &save); pair != NULL; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        const char *value = NULL;

        if (eq != NULL) {
            *eq = '\0';
            value = eq + 1;
        }
        if (query_products_add(&q, pair, value, value != NULL ? strlen(value) : 0, &err) !=
            RETAIL_OK) {
            if (err.param == NULL || err.detail == NULL) {
                abort(); /* every refusal names the parameter and says why */
            }
            break;
        }
    }
    query_products_finish(&q);
    if (q.limit < 1 || q.limit > 250 ||
        (q.category != NULL && q.category_len > strlen(q.category))) {
        abort();
    }
    free(text);
    return 0;
}
