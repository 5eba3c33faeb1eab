/* SPDX-License-Identifier: MIT */
/* Configuration: defaults, a KEY=VALUE file, the environment, flags.
 *
 * Precedence: defaults < file < environment < command-line flags. Load in
 * that order with config_init, config_load_file, config_load_env and
 * config_set, then call config_finish once for the checks that span keys.
 * Every failure fills err with one line naming the key and the reason; a
 * secret value (API keys, the Shopify token, a Redis URL, which may hold a
 * password) is never copied into err.
 *
 * Threads: a struct config is built by main before any thread starts and is
 * read-only afterwards. */
#ifndef RETAIL_CONFIG_H
#define RETAIL_CONFIG_H

#include "retail/log.h"
#include "retail/status.h"

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_ERR_MAX 512
#define CONFIG_API_KEYS_MAX 64
#define CONFIG_API_KEY_LEN_MAX 256

enum redis_kind {
    REDIS_NONE = 0, /* "none": run memory-only */
    REDIS_TCP,
    REDIS_UNIX,
};

/* A parsed REDIS_URL. Every string is *new* and owned by the struct. */
struct redis_target {
    enum redis_kind kind;
    char *host;     /* REDIS_TCP */
    int port;       /* REDIS_TCP */
    char *path;     /* REDIS_UNIX */
    int db;         /* SELECT db, 0 by default */
    char *username; /* ACL user, or NULL */
    char *password; /* secret, or NULL */
};

struct config {
    char *host;      /* listen address literal; *new* */
    unsigned port;   /* 1..65535 */
    char **api_keys; /* secret; API_KEYS then API_KEY, split by config_finish */
    size_t api_key_count;
    char *api_keys_setting; /* secret: the raw API_KEYS text, or NULL */
    char *api_key_setting;  /* secret: the raw API_KEY text, or NULL */
    struct redis_target redis;
    char *shop_url;           /* normalised base URL without trailing '/', or NULL */
    char *shop_token;         /* secret, or NULL */
    char *shop_client_id;     /* for the client-credentials grant, or NULL */
    char *shop_client_secret; /* secret, or NULL */
    char *api_version;        /* "2026-10" */
    bool shop_graphql;        /* SHOPIFY_API=graphql (the default) or rest */
    long bulk_threshold;      /* GraphQL: more products than this are read in bulk; 0: never */
    long connect_timeout_ms;
    long timeout_ms;
    long products_deadline_ms;
    long cache_ttl_s;
    long cache_stale_s;       /* a catalog older than this is never served */
    long refresh_deadline_ms; /* a whole refresh, retries and pauses included */
    long max_pages;
    long max_retries;          /* per Shopify request */
    long calls_per_second;     /* the rate Shopify's bucket drains at */
    long backoff_max_s;        /* the longest pause of the breaker */
    long shrink_guard_percent; /* 0 disables the guard */
    char *fallback_file;
    enum log_level log_level;
    bool log_json;         /* LOG_FORMAT=json */
    long drain_timeout_ms; /* how long SIGTERM waits for requests in flight */
    /* Client connections (changing them needs a restart). */
    long max_connections;
    long max_connections_per_client; /* per client address; 0: no limit */
    long header_timeout_ms;          /* a new connection's first request headers */
    long idle_timeout_ms;            /* a kept-alive connection's next request headers */
};

/* Lookup function for environment variables (getenv, or a fake in tests). */
typedef const char *(*config_getenv_fn)(const char *name);

/* Fills cfg with the defaults. Returns RETAIL_ERR_NOMEM on allocation failure. */
int config_init(struct config *cfg) RETAIL_WUR;

/* Frees what cfg owns; safe on a zeroed or half-loaded struct. */
void config_deinit(struct config *cfg);

/* Sets one key from its text value; origin names where it came from
 * ("environment", "--port", "file:12") for the error line. An empty value
 * restores the key's default. Unknown keys are RETAIL_ERR_INVALID. */
int config_set(struct config *cfg, const char *key, const char *value, const char *origin,
               char *err, size_t errlen) RETAIL_WUR;

/* Reads a KEY=VALUE file in the format of systemd's EnvironmentFile=:
 * blank lines and lines starting with '#' or ';' are skipped, values may be
 * wrapped in single or double quotes. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen) RETAIL_WUR;

/* Receives one KEY=VALUE pair of a file; a failure stops the reading. */
typedef int (*config_pair_fn)(void *arg, const char *key, const char *value, const char *origin,
                              char *err, size_t errlen);

/* Reads a KEY=VALUE file as config_load_file does, but hands each pair to
 * fn instead of setting it. */
int config_file_pairs(const char *path, config_pair_fn fn, void *arg, char *err,
                      size_t errlen) RETAIL_WUR;

/* Applies every known key that is set in the environment. */
int config_load_env(struct config *cfg, config_getenv_fn lookup, char *err,
                    size_t errlen) RETAIL_WUR;

/* Checks that span keys (a shop URL needs a token, and the reverse; the
 * connect timeout fits in the request timeout). */
int config_finish(struct config *cfg, char *err, size_t errlen) RETAIL_WUR;

/* True when Shopify is configured. */
bool config_has_shopify(const struct config *cfg);

/* Called once for each problem config_check_file finds. */
typedef void (*config_problem_fn)(void *arg, const char *problem);

/* Reads path like config_load_file, but goes on past problems: every bad
 * line, then the cross-key checks, each reported to problem. Returns how
 * many there were (0: the file is good). cfg is left loaded as far as it
 * could be; config_deinit it afterwards. */
unsigned config_check_file(struct config *cfg, const char *path, config_problem_fn problem,
                           void *arg);

/* Keys whose value differs between a and b and that only take effect on a
 * restart (HOST, PORT, REDIS_URL, SHOPIFY_SHOP_URL, SHOPIFY_ACCESS_TOKEN,
 * SHOPIFY_API_VERSION, FALLBACK_PRODUCTS_FILE), written comma-separated
 * into out (empty when none). Secrets are named, never shown. */
void config_restart_keys(const struct config *a, const struct config *b, char *out, size_t cap);

/* Parses a REDIS_URL into target (cleared first). For tests and config_set. */
int config_parse_redis_url(const char *url, struct redis_target *target, char *err,
                           size_t errlen) RETAIL_WUR;

/* Frees what target owns and marks it REDIS_NONE. */
void config_redis_target_deinit(struct redis_target *target);

/* Every key config_set accepts, NULL-terminated; for --help and docs. */
extern const char *const config_keys[];

#endif
