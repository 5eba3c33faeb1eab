/* SPDX-License-Identifier: MIT */
/* Catalog persistence in Redis through hiredis, with timeouts. */
#include "retail/store.h"

#include "retail/log.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct store {
    const struct redis_target *target;
    redisContext *redis;  /* NULL while disconnected */
    char key[96];         /* the catalog */
    char version_key[96]; /* its fetched_at_ms, written with it */
    char lock_key[96];    /* the fleet's refresh lock */
    char pause_key[96];   /* the fleet's shared pause after a failure */
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
    snprintf(s->version_key, sizeof(s->version_key), "retail-api:v1:version:%016" PRIx64, h);
    snprintf(s->lock_key, sizeof(s->lock_key), "retail-api:v1:lock:%016" PRIx64, h);
    snprintf(s->pause_key, sizeof(s->pause_key), "retail-api:v1:pause:%016" PRIx64, h);
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

/* Reads one pipelined reply and checks its type; frees it. */
static int
expect_reply(struct store *s, int type, const char *what, char *err, size_t errlen)
{
    redisReply *reply = NULL;
    int rc = RETAIL_OK;

    if (redisGetReply(s->redis, (void **)&reply) != REDIS_OK || reply == NULL) {
        snprintf(err, errlen, "%s: %s", what, s->redis->errstr);
        store_disconnect(s);
        return RETAIL_ERR_UNAVAILABLE;
    }
    if (reply->type != type) {
        snprintf(err, errlen, "%s: unexpected reply%s%.120s", what,
                 reply->type == REDIS_REPLY_ERROR ? ": " : "",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "");
        rc = RETAIL_ERR_UNAVAILABLE;
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
    if (rc != RETAIL_OK) {
        goto out;
    }
    /* The catalog and its version in one transaction: a reader sees both
     * old or both new. A connection lost half-way leaves the old pair. */
    redisAppendCommand(s->redis, "MULTI");
    redisAppendCommand(s->redis, "SET %s %b EX %lld", s->key, data.data, data.len,
                       (long long)ttl_s);
    redisAppendCommand(s->redis, "SET %s %lld EX %lld", s->version_key,
                       (long long)catalog_fetched_at_ms(catalog), (long long)ttl_s);
    redisAppendCommand(s->redis, "EXEC");
    rc = expect_reply(s, REDIS_REPLY_STATUS, "MULTI", err, errlen);
    for (int i = 0; i < 2 && rc == RETAIL_OK; i++) {
        rc = expect_reply(s, REDIS_REPLY_STATUS, "SET", err, errlen);
    }
    if (rc == RETAIL_OK) {
        rc = expect_reply(s, REDIS_REPLY_ARRAY, "EXEC", err, errlen);
    }
    if (rc != RETAIL_OK) {
        store_disconnect(s); /* replies may be left unread: start clean */
    }
out:
    buf_deinit(&data);
    return rc;
}

/* Runs a command and hands its reply to the caller (*new*: freeReplyObject). */
static int
command(struct store *s, redisReply **reply, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int rc = store_connect(s, err, errlen);

    *reply = NULL;
    if (rc != RETAIL_OK) {
        return rc;
    }
    va_start(ap, fmt);
    *reply = redisvCommand(s->redis, fmt, ap);
    va_end(ap);
    if (*reply == NULL) {
        snprintf(err, errlen, "%s", s->redis->errstr);
        store_disconnect(s);
        return RETAIL_ERR_UNAVAILABLE;
    }
    if ((*reply)->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "refused: %.120s", (*reply)->str);
        freeReplyObject(*reply);
        *reply = NULL;
        return RETAIL_ERR_UNAVAILABLE;
    }
    return RETAIL_OK;
}

static int
store_version(void *ctx, int64_t *fetched_at_ms, char *err, size_t errlen)
{
    struct store *s = ctx;
    redisReply *reply;
    int rc = command(s, &reply, err, errlen, "GET %s", s->version_key);

    if (rc != RETAIL_OK) {
        return rc;
    }
    if (reply->type == REDIS_REPLY_STRING) {
        *fetched_at_ms = strtoll(reply->str, NULL, 10);
    } else {
        rc = RETAIL_ERR_NOT_FOUND;
    }
    freeReplyObject(reply);
    return rc;
}

static int
store_lock(void *ctx, const char *owner, int64_t ttl_ms, bool *taken, char *err, size_t errlen)
{
    struct store *s = ctx;
    redisReply *reply;
    int rc = command(s, &reply, err, errlen, "SET %s %s NX PX %lld", s->lock_key, owner,
                     (long long)ttl_ms);

    *taken = false;
    if (rc == RETAIL_OK) {
        *taken = reply->type == REDIS_REPLY_STATUS;
        freeReplyObject(reply);
    }
    return rc;
}

static int
store_unlock(void *ctx, const char *owner, char *err, size_t errlen)
{
    /* Delete only our own lock: after an expiry another instance may hold it. */
    static const char script[] = "if redis.call('get', KEYS[1]) == ARGV[1] then "
                                 "return redis.call('del', KEYS[1]) else return 0 end";
    struct store *s = ctx;
    redisReply *reply;
    int rc = command(s, &reply, err, errlen, "EVAL %s 1 %s %s", script, s->lock_key, owner);

    if (rc == RETAIL_OK) {
        freeReplyObject(reply);
    }
    return rc;
}

static int
store_pause_get(void *ctx, int64_t *remaining_ms, char *err, size_t errlen)
{
    struct store *s = ctx;
    redisReply *reply;
    int rc = command(s, &reply, err, errlen, "PTTL %s", s->pause_key);

    *remaining_ms = 0;
    if (rc == RETAIL_OK) {
        if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0) {
            *remaining_ms = reply->integer;
        }
        freeReplyObject(reply);
    }
    return rc;
}

static int
store_pause_set(void *ctx, int64_t pause_ms, char *err, size_t errlen)
{
    struct store *s = ctx;
    redisReply *reply;
    int rc = command(s, &reply, err, errlen, "SET %s 1 PX %lld", s->pause_key,
                     (long long)(pause_ms > 0 ? pause_ms : 1));

    if (rc == RETAIL_OK) {
        freeReplyObject(reply);
    }
    return rc;
}

struct catalog_store
store_as_catalog_store(struct store *s)
{
    struct catalog_store store = {
        .ctx = s,
        .load = store_load,
        .save = store_save,
        .version = store_version,
        .lock = store_lock,
        .unlock = store_unlock,
        .pause_get = store_pause_get,
        .pause_set = store_pause_set,
    };

    return store;
}
