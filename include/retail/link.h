/* SPDX-License-Identifier: MIT */
/* Parsing of the HTTP Link header that Shopify uses for REST pagination. */
#ifndef RETAIL_LINK_H
#define RETAIL_LINK_H

#include "retail/status.h"

#include <stddef.h>

#define LINK_PAGE_INFO_MAX 1024

/* Finds the link with rel="next" in a Link header value such as
 *   <https://s.myshopify.com/admin/api/2026-10/products.json?limit=250&page_info=abc>; rel="next"
 * and copies its page_info query parameter, exactly as sent, into out
 * (cap bytes, NUL included). Returns RETAIL_OK; RETAIL_ERR_NOT_FOUND when
 * there is no next link (the last page); RETAIL_ERR_PARSE when the header
 * is malformed, the next link has no page_info, or page_info holds a byte
 * outside [A-Za-z0-9._~%-] or does not fit. */
int link_next_page_info(const char *header, size_t len, char *out, size_t cap) RETAIL_WUR;

#endif
