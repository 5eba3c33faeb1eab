/* SPDX-License-Identifier: MIT */
/* Catalog persistence in Redis through hiredis, with timeouts. */
#include "retail/store.h"

#include "retail/log.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct store {
    const struct redis_target *target;
    redisContext *redis; /* NULL while disconnected */
    char key[96];
    char where[300];
};

static struct timeval
ms_to_timeval(long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    return tv;
}

struct store *
store_create(const struct redis_target *target, const char *shop_url)
{
    struct store *s = calloc(1, sizeof(*s));
    uint64_t h = 14695981039346656037ULL; /* FNV-1a of the shop URL */

    if (s == NULL) {
        return NULL;
    }
    for (const char *p = shop_url != NULL ? shop_url : "none"; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    s->target = target;
    snprintf(s->key, sizeof(s->key), "retail-api:v1:catalog:%016" PRIx64, h);
    if (target->kind == REDIS_UNIX) {
        snprintf(s->where, sizeof(s->where), "unix:%s db %d", target->path, target->db);
    } else {
        snprintf(s->where, sizeof(s->where), "%s:%d db %d", target->host, target->port, target->db);
    }
    return s;
}

static void
store_disconnect(struct store *s)
{
    if (s->redis != NULL) {
        redisFree(s->redis);
        s->redis = NULL;
    }
}

void
store_destroy(struct store *s)
{
    if (s == NULL) {
        return;
    }
    store_disconnect(s);
    free(s);
}

const char *
store_describe(const struct store *s)
{
    return s->where;
}

const char *
store_key(const struct store *s)
{
    return s->key;
}

/* Runs a command whose reply must not be an error; frees the reply. */
static int
simple_command(struct store *s, const char *what, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply;
    int rc = RETAIL_OK;

    va_start(ap, fmt);
    reply = redisvCommand(s->redis, fmt, ap);
    va_end(ap);
    if (reply == NULL) {
        snprintf(err, errlen, "%s: %s", what, s->redis->errstr);
        store_disconnect(s);
        return RETAIL_ERR_UNAVAILABLE;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* Redis error texts never include the password that was sent. */
        snprintf(err, errlen, "%s refused: %.120s", what, reply->str);
        rc = RETAIL_ERR_UNAVAILABLE;
    }
    freeReplyObject(reply);
    if (rc != RETAIL_OK) {
        store_disconnect(s);
    }
    return rc;
}

static int
store_connect(struct store *s, char *err, size_t errlen)
{
    const struct redis_target *t = s->target;
    struct timeval connect_tv = ms_to_timeval(STORE_CONNECT_TIMEOUT_MS);
    int rc;

    if (s->redis != NULL) {
        return RETAIL_OK;
    }
    s->redis = t->kind == REDIS_UNIX ? redisConnectUnixWithTimeout(t->path, connect_tv)
                                     : redisConnectWithTimeout(t->host, t->port, connect_tv);
    if (s->redis == NULL) {
        snprintf(err, errlen, "connect to %s: out of memory", s->where);
        return RETAIL_ERR_NOMEM;
    }
    if (s->redis->err != 0) {
        snprintf(err, errlen, "connect to %s: %s", s->where, s->redis->errstr);
        store_disconnect(s);
        return RETAIL_ERR_UNAVAILABLE;
    }
    redisSetTimeout(s->redis, ms_to_timeval(STORE_COMMAND_TIMEOUT_MS));
    if (t->password != NULL) {
        rc = t->username != NULL
                 ? simple_command(s, "AUTH", err, errlen, "AUTH %s %s", t->username, t->password)
                 : simple_command(s, "AUTH", err, errlen, "AUTH %s", t->password);
        if (rc != RETAIL_OK) {
            return rc;
        }
    }
    if (t->db != 0) {
        return simple_command(s, "SELECT", err, errlen, "SELECT %d", t->db);
    }
    return RETAIL_OK;
}

static int
store_load(void *ctx, size_t max_bytes, struct catalog **out, char *err, size_t errlen)
{
    struct store *s = ctx;
    redisReply *reply = NULL;
    char why[160];
    int rc;

    *out = NULL;
    rc = store_connect(s, err, errlen);
    if (rc != RETAIL_OK) {
        return rc;
    }
    reply = redisCommand(s->redis, "GET %s", s->key);
    if (reply == NULL) {
        snprintf(err, errlen, "GET: %s", s->redis->errstr);
        store_disconnect(s);
        return RETAIL_ERR_UNAVAILABLE;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        rc = RETAIL_ERR_NOT_FOUND;
        snprintf(err, errlen, "no catalog stored under %s", s->key);
    } else if (reply->type != REDIS_REPLY_STRING) {
        rc = RETAIL_ERR_PARSE;
        snprintf(err, errlen, "GET %s: unexpected reply type %d", s->key, reply->type);
    } else {
        *out = catalog_deserialize(reply->str, reply->len, max_bytes, why, sizeof(why));
        if (*out == NULL) {
            rc = RETAIL_ERR_PARSE;
            snprintf(err, errlen, "stored catalog unusable: %s", why);
        }
    }
    freeReplyObject(reply);
    return rc;
}

static int
store_save(void *ctx, const struct catalog *catalog, int64_t ttl_s, char *err, size_t errlen)
{
    struct store *s = ctx;
    struct buf data;
    int rc;

    buf_init(&data, catalog_bytes(catalog) + catalog_count(catalog) * 16 + 4096);
    rc = catalog_serialize(catalog, &data);
    if (rc != RETAIL_OK) {
        snprintf(err, errlen, "serialise: %s", retail_status_str(rc));
        goto out;
    }
    rc = store_connect(s, err, errlen);
    if (rc == RETAIL_OK) {
        rc = simple_command(s, "SET", err, errlen, "SET %s %b EX %lld", s->key, data.data, data.len,
                            (long long)ttl_s);
    }
out:
    buf_deinit(&data);
    return rc;
}

static int
store_ping(void *ctx, char *err, size_t errlen)
{
    struct store *s = ctx;
    int rc = store_connect(s, err, errlen);

    if (rc == RETAIL_OK) {
        rc = simple_command(s, "PING", err, errlen, "PING");
    }
    return rc;
}

struct catalog_store
store_as_catalog_store(struct store *s)
{
    struct catalog_store store = {s, store_load, store_save, store_ping};

    return store;
}
