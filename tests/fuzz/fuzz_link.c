/* SPDX-License-Identifier: MIT */
/* Fuzzes the Link header parser with any bytes as the header's value. */
#include "retail/link.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[LINK_PAGE_INFO_MAX];
    char small[8];
    int rc;

    /* Not NUL-terminated on purpose: the parser must respect len. */
    rc = link_next_page_info((const char *)data, size, out, sizeof(out));
    if (rc == RETAIL_OK) {
        size_t len = strlen(out);

        if (len == 0 || len >= sizeof(out) ||
            strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~%-") !=
                len) {
            abort(); /* what it returns is what it promises */
        }
    }
    /* A short buffer either holds the same answer or refuses it. */
    if (link_next_page_info((const char *)data, size, small, sizeof(small)) == RETAIL_OK &&
        (rc != RETAIL_OK || strcmp(small, out) != 0)) {
        abort();
    }
    return 0;
}
