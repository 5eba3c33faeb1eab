/* SPDX-License-Identifier: MIT */
/* Finished answers, kept per HTTP thread and reused.
 *
 * A products answer is a pure function of the catalog (and its generation),
 * the tier, the data's age in whole seconds (the Age header) and the query.
 * Each HTTP thread keeps the last answers it built in a small direct-mapped
 * table of libmicrohttpd responses and queues the same response again while
 * all of that is unchanged, so a hit in the steady state neither renders
 * JSON nor allocates: at most once a second per query and thread. Answers
 * larger than ANSWER_CACHE_MAX_BYTES are not kept.
 *
 * Ownership: libmicrohttpd counts references to a response: its creator
 * holds one, and each connection it is queued on holds one until sent. The
 * table keeps the creator's reference of each response put in it (released
 * with MHD_destroy_response on eviction and when the thread exits);
 * answer_cache_get returns a *borrowed* response to queue.
 *
 * Threads: each thread has its own table; nothing is shared or locked. */
#ifndef RETAIL_ANSWER_CACHE_H
#define RETAIL_ANSWER_CACHE_H

#include "retail/product.h"
#include "retail/query.h"

#include <stddef.h>
#include <stdint.h>

#define ANSWER_CACHE_SLOTS 64
#define ANSWER_CACHE_MAX_BYTES (256 * 1024)

struct MHD_Response;

/* What identifies an answer. Zero it, then fill every field. */
struct answer_key {
    const void *catalog; /* identity only, with generation against reuse */
    uint64_t generation;
    int64_t age_s;
    uint32_t kind; /* the route and tier, as the caller numbers them */
    uint32_t limit;
    uint64_t offset;
    uint64_t page;
    uint32_t text_len; /* category or product id */
    char text[QUERY_CATEGORY_MAX > PRODUCT_ID_MAX ? QUERY_CATEGORY_MAX : PRODUCT_ID_MAX];
};

/* The response kept for key in this thread, or NULL. */
struct MHD_Response *answer_cache_get(const struct answer_key *key);

/* Keeps response (*taken*: the caller's reference passes to the table) for
 * key in this thread, replacing what the slot held; size is the body's
 * length. A response too large to keep is released at once. */
void answer_cache_put(const struct answer_key *key, struct MHD_Response *response, size_t size);

#endif
