/* SPDX-License-Identifier: MIT */
/* The Redis store: the last published catalog, shared by every instance
 * that reads the same shop through the same Redis.
 *
 * The catalog lives under one namespaced key, "retail-api:v1:catalog:<shop>"
 * where <shop> is a hash of the shop's base URL, written with one SET ... EX
 * so readers see the old value or the new one, never a mix. Every call has
 * a short timeout; a lost connection is dropped and re-made on the next
 * call. Used only by the refresher thread. The Redis password is sent with
 * AUTH and never logged. */
#ifndef RETAIL_STORE_H
#define RETAIL_STORE_H

#include "retail/config.h"
#include "retail/upstream.h"

#define STORE_CONNECT_TIMEOUT_MS 300
#define STORE_COMMAND_TIMEOUT_MS 2000

struct store;

/* New store for target (*borrowed*: it must outlive the store) and the
 * shop's base URL (copied into the key's hash). Does not connect yet.
 * NULL on allocation failure. */
struct store *store_create(const struct redis_target *target, const char *shop_url);

/* Closes the connection and frees the store; accepts NULL. */
void store_destroy(struct store *store);

/* "127.0.0.1:6379 db 0" or "unix:/path db 0": for logs, without secrets. */
const char *store_describe(const struct store *store);

/* The key the catalog is stored under. */
const char *store_key(const struct store *store);

/* The store as a catalog_store for the refresher. */
struct catalog_store store_as_catalog_store(struct store *store);

#endif
