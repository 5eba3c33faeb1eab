/* SPDX-License-Identifier: MIT */
/* Configuration keys: parsing, validation and defaults. */
#include "retail/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_LINE_MAX 8192
#define CONFIG_TOKEN_LEN_MAX 1024

#define DEFAULT_HOST "0.0.0.0"
#define DEFAULT_PORT 8000
#define DEFAULT_REDIS_URL "redis://127.0.0.1:6379/0"
#define DEFAULT_API_VERSION "2026-10"
#define DEFAULT_FALLBACK_FILE "config/fallback_products.json"

const char *const config_keys[] = {"HOST",
                                   "PORT",
                                   "API_KEYS",
                                   "API_KEY",
                                   "REDIS_URL",
                                   "SHOPIFY_SHOP_URL",
                                   "SHOPIFY_ACCESS_TOKEN",
                                   "SHOPIFY_API_VERSION",
                                   "SHOPIFY_CONNECT_TIMEOUT_MS",
                                   "SHOPIFY_TIMEOUT_MS",
                                   "PRODUCTS_DEADLINE_MS",
                                   "CACHE_TTL_SECONDS",
                                   "FALLBACK_PRODUCTS_FILE",
                                   "LOG_LEVEL",
                                   "CACHE_STALE_SECONDS",
                                   "SHOPIFY_REFRESH_DEADLINE_MS",
                                   "SHOPIFY_MAX_PAGES",
                                   "SHOPIFY_MAX_RETRIES",
                                   "SHOPIFY_CALLS_PER_SECOND",
                                   "REFRESH_BACKOFF_MAX_SECONDS",
                                   "CATALOG_SHRINK_GUARD_PERCENT",
                                   "LOG_FORMAT",
                                   "DRAIN_TIMEOUT_MS",
                                   "MAX_CONNECTIONS",
                                   "MAX_CONNECTIONS_PER_CLIENT",
                                   "CLIENT_HEADER_TIMEOUT_MS",
                                   "CLIENT_IDLE_TIMEOUT_MS",
                                   "SHOPIFY_API",
                                   "SHOPIFY_CLIENT_ID",
                                   "SHOPIFY_CLIENT_SECRET",
                                   "SHOPIFY_BULK_THRESHOLD",
                                   NULL};

static void __attribute__((format(printf, 3, 4)))
config_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Copies a non-secret value for an error line: at most 64 bytes, with
 * anything unprintable shown as '?'. */
static void
config_quote(const char *value, char *out, size_t cap)
{
    size_t i;

    for (i = 0; value[i] != '\0' && i + 1 < cap && i < 64; i++) {
        unsigned char c = (unsigned char)value[i];

        out[i] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    out[i] = '\0';
}

static int
replace_string(char **slot, const char *value)
{
    char *copy = NULL;

    if (value != NULL) {
        copy = strdup(value);
        if (copy == NULL) {
            return RETAIL_ERR_NOMEM;
        }
    }
    free(*slot);
    *slot = copy;
    return RETAIL_OK;
}

/* Strict base-10 integer: digits only (one leading '-' allowed), no spaces,
 * no '+', no trailing bytes, and inside [min, max]. */
static bool
parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long value;

    if (text[0] == '\0' || (!isdigit((unsigned char)text[0]) && text[0] != '-')) {
        return false;
    }
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return false;
    }
    *out = value;
    return true;
}

static bool
printable_token(const char *s, size_t max_len, bool allow_comma)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x21 || c > 0x7E || (!allow_comma && c == ',')) {
            return false;
        }
    }
    return i > 0 && i <= max_len;
}

static void
free_secret(char **slot)
{
    if (*slot != NULL) {
        explicit_bzero(*slot, strlen(*slot));
        free(*slot);
        *slot = NULL;
    }
}

static void
free_api_keys(struct config *cfg)
{
    for (size_t i = 0; i < cfg->api_key_count; i++) {
        free_secret(&cfg->api_keys[i]);
    }
    cfg->api_key_count = 0;
}

/* Splits a comma-separated key list, trimming blanks and skipping empty
 * entries. With keys NULL it only validates; otherwise each key is *new*
 * in keys[*count]. Error lines name the key's position, never its text. */
static int
split_api_keys(const char *key, const char *list, char **keys, size_t *count, char *err,
               size_t errlen)
{
    const char *p = list;
    size_t index = 0;

    while (*p != '\0') {
        const char *start, *end;
        size_t len;

        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        start = p;
        while (*p != '\0' && *p != ',') {
            p++;
        }
        end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        len = (size_t)(end - start);
        index++;
        if (len > CONFIG_API_KEY_LEN_MAX) {
            config_error(err, errlen, "%s: key %zu is longer than %d characters", key, index,
                         CONFIG_API_KEY_LEN_MAX);
            return RETAIL_ERR_INVALID;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)start[i];

            if (c < 0x21 || c > 0x7E) {
                config_error(err, errlen,
                             "%s: key %zu may hold only printable ASCII without spaces or commas",
                             key, index);
                return RETAIL_ERR_INVALID;
            }
        }
        if (*count >= CONFIG_API_KEYS_MAX) {
            config_error(err, errlen, "API_KEYS: more than %d keys in all", CONFIG_API_KEYS_MAX);
            return RETAIL_ERR_INVALID;
        }
        if (keys != NULL) {
            keys[*count] = strndup(start, len);
            if (keys[*count] == NULL) {
                return RETAIL_ERR_NOMEM;
            }
        }
        (*count)++;
    }
    return RETAIL_OK;
}

/* Stores the raw text of API_KEYS or API_KEY after checking it. */
static int
set_api_keys(char **slot, const char *key, const char *value, char *err, size_t errlen)
{
    size_t count = 0;
    int rc = split_api_keys(key, value, NULL, &count, err, errlen);

    if (rc != RETAIL_OK) {
        return rc;
    }
    free_secret(slot);
    if (value[0] != '\0') {
        *slot = strdup(value);
        if (*slot == NULL) {
            return RETAIL_ERR_NOMEM;
        }
    }
    return RETAIL_OK;
}

void
config_redis_target_deinit(struct redis_target *target)
{
    free(target->host);
    free(target->path);
    free(target->username);
    if (target->password != NULL) {
        explicit_bzero(target->password, strlen(target->password));
        free(target->password);
    }
    memset(target, 0, sizeof(*target));
    target->kind = REDIS_NONE;
}

/* Parses the "?db=N" suffix of a unix URL or the "/N" suffix of a TCP one. */
static bool
parse_db(const char *text, int *db)
{
    long value;

    if (!parse_long(text, 0, 1023, &value)) {
        return false;
    }
    *db = (int)value;
    return true;
}

static int
parse_redis_unix(const char *rest, struct redis_target *t, char *err, size_t errlen)
{
    const char *query = strchr(rest, '?');
    size_t path_len = query != NULL ? (size_t)(query - rest) : strlen(rest);

    if (path_len == 0 || rest[0] != '/') {
        config_error(err, errlen, "REDIS_URL: unix:// needs an absolute socket path");
        return RETAIL_ERR_INVALID;
    }
    if (query != NULL && (strncmp(query, "?db=", 4) != 0 || !parse_db(query + 4, &t->db))) {
        config_error(err, errlen, "REDIS_URL: the only query a unix URL takes is ?db=0..1023");
        return RETAIL_ERR_INVALID;
    }
    t->kind = REDIS_UNIX;
    t->path = strndup(rest, path_len);
    return t->path != NULL ? RETAIL_OK : RETAIL_ERR_NOMEM;
}

static int
parse_redis_tcp(const char *rest, struct redis_target *t, char *err, size_t errlen)
{
    const char *at = strrchr(rest, '@');
    const char *hostport = at != NULL ? at + 1 : rest;
    const char *slash = strchr(hostport, '/');
    const char *host_end;
    size_t hp_len = slash != NULL ? (size_t)(slash - hostport) : strlen(hostport);
    const char *colon;
    long port = 6379;

    if (at != NULL) {
        const char *sep = memchr(rest, ':', (size_t)(at - rest));

        if (sep == NULL) {
            config_error(err, errlen, "REDIS_URL: credentials must be [user]:password@");
            return RETAIL_ERR_INVALID;
        }
        if (sep > rest) {
            t->username = strndup(rest, (size_t)(sep - rest));
            if (t->username == NULL) {
                return RETAIL_ERR_NOMEM;
            }
        }
        t->password = strndup(sep + 1, (size_t)(at - sep - 1));
        if (t->password == NULL) {
            return RETAIL_ERR_NOMEM;
        }
    }
    if (hostport[0] == '[') { /* [ipv6]:port */
        host_end = memchr(hostport, ']', hp_len);
        if (host_end == NULL) {
            config_error(err, errlen, "REDIS_URL: unterminated [IPv6] address");
            return RETAIL_ERR_INVALID;
        }
        t->host = strndup(hostport + 1, (size_t)(host_end - hostport - 1));
        colon = host_end + 1 < hostport + hp_len && host_end[1] == ':' ? host_end + 1 : NULL;
    } else {
        colon = memchr(hostport, ':', hp_len);
        host_end = colon != NULL ? colon : hostport + hp_len;
        t->host = strndup(hostport, (size_t)(host_end - hostport));
    }
    if (t->host == NULL) {
        return RETAIL_ERR_NOMEM;
    }
    if (t->host[0] == '\0') {
        config_error(err, errlen, "REDIS_URL: missing host");
        return RETAIL_ERR_INVALID;
    }
    if (colon != NULL) {
        char digits[8] = "";
        size_t n = (size_t)(hostport + hp_len - colon - 1);

        if (n == 0 || n >= sizeof(digits)) {
            config_error(err, errlen, "REDIS_URL: port must be 1..65535");
            return RETAIL_ERR_INVALID;
        }
        memcpy(digits, colon + 1, n);
        digits[n] = '\0';
        if (!parse_long(digits, 1, 65535, &port)) {
            config_error(err, errlen, "REDIS_URL: port must be 1..65535");
            return RETAIL_ERR_INVALID;
        }
    }
    t->port = (int)port;
    if (slash != NULL && slash[1] != '\0' && !parse_db(slash + 1, &t->db)) {
        config_error(err, errlen, "REDIS_URL: database must be a number 0..1023");
        return RETAIL_ERR_INVALID;
    }
    t->kind = REDIS_TCP;
    return RETAIL_OK;
}

int
config_parse_redis_url(const char *url, struct redis_target *target, char *err, size_t errlen)
{
    int rc;

    memset(target, 0, sizeof(*target));
    target->kind = REDIS_NONE;
    if (strcmp(url, "none") == 0) {
        return RETAIL_OK;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        rc = parse_redis_unix(url + 7, target, err, errlen);
    } else if (strncmp(url, "redis://", 8) == 0) {
        rc = parse_redis_tcp(url + 8, target, err, errlen);
    } else {
        /* The URL may hold a password: never echo it. */
        config_error(err, errlen,
                     "REDIS_URL: must be redis://[:password@]host:port/db, unix:///path or none");
        rc = RETAIL_ERR_INVALID;
    }
    if (rc != RETAIL_OK) {
        config_redis_target_deinit(target);
    }
    return rc;
}

/* Accepts "mystore.myshopify.com" (https implied) or "http(s)://host[:port]"
 * with at most a trailing '/'; stores the base URL without that slash. */
static int
set_shop_url(struct config *cfg, const char *value, char *err, size_t errlen)
{
    const char *host = value;
    const char *scheme;
    char *url = NULL;
    size_t len, scheme_len;

    if (strncmp(value, "https://", 8) == 0) {
        host = value + 8;
    } else if (strncmp(value, "http://", 7) == 0) {
        host = value + 7;
    } else if (strstr(value, "://") != NULL) {
        config_error(err, errlen, "SHOPIFY_SHOP_URL: the scheme must be http or https");
        return RETAIL_ERR_INVALID;
    }
    len = strlen(host);
    if (len > 0 && host[len - 1] == '/') {
        len--;
    }
    if (len == 0 || len > 253) {
        config_error(err, errlen, "SHOPIFY_SHOP_URL: missing or overlong host name");
        return RETAIL_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];

        if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) {
            config_error(err, errlen,
                         "SHOPIFY_SHOP_URL: give only a host and optional port, without a path "
                         "or credentials (like mystore.myshopify.com)");
            return RETAIL_ERR_INVALID;
        }
    }
    scheme = host == value ? "https://" : value;
    scheme_len = host == value ? 8 : (size_t)(host - value);
    url = malloc(scheme_len + len + 1);
    if (url == NULL) {
        return RETAIL_ERR_NOMEM;
    }
    memcpy(url, scheme, scheme_len);
    memcpy(url + scheme_len, host, len);
    url[scheme_len + len] = '\0';
    free(cfg->shop_url);
    cfg->shop_url = url;
    return RETAIL_OK;
}

static bool
valid_api_version(const char *v)
{
    long month;
    char mm[3];

    if (strcmp(v, "unstable") == 0) {
        return true;
    }
    if (strlen(v) != 7 || v[4] != '-') {
        return false;
    }
    for (int i = 0; i < 7; i++) {
        if (i != 4 && !isdigit((unsigned char)v[i])) {
            return false;
        }
    }
    mm[0] = v[5];
    mm[1] = v[6];
    mm[2] = '\0';
    return parse_long(mm, 1, 12, &month);
}

static int
set_host(struct config *cfg, const char *value, char *err, size_t errlen)
{
    unsigned char addr[16];
    const char *literal = strcmp(value, "localhost") == 0 ? "127.0.0.1" : value;

    if (inet_pton(AF_INET, literal, addr) != 1 && inet_pton(AF_INET6, literal, addr) != 1) {
        char shown[80];

        config_quote(value, shown, sizeof(shown));
        config_error(err, errlen, "HOST: \"%s\" is not an IPv4 or IPv6 address", shown);
        return RETAIL_ERR_INVALID;
    }
    return replace_string(&cfg->host, literal);
}

/* Integer keys: name, field, range, meaning. */
struct int_key {
    const char *name;
    size_t offset;
    long min, max;
    long fallback;
};

static const struct int_key int_keys[] = {
    {"SHOPIFY_CONNECT_TIMEOUT_MS", offsetof(struct config, connect_timeout_ms), 1, 60000, 1000},
    {"SHOPIFY_TIMEOUT_MS", offsetof(struct config, timeout_ms), 1, 300000, 5000},
    {"PRODUCTS_DEADLINE_MS", offsetof(struct config, products_deadline_ms), 0, 60000, 1500},
    {"CACHE_TTL_SECONDS", offsetof(struct config, cache_ttl_s), 1, 604800, 300},
    {"CACHE_STALE_SECONDS", offsetof(struct config, cache_stale_s), 1, 2592000, 86400},
    {"SHOPIFY_REFRESH_DEADLINE_MS", offsetof(struct config, refresh_deadline_ms), 1000, 3600000,
     120000},
    {"SHOPIFY_MAX_PAGES", offsetof(struct config, max_pages), 1, 100000, 1000},
    {"SHOPIFY_MAX_RETRIES", offsetof(struct config, max_retries), 0, 10, 3},
    {"SHOPIFY_CALLS_PER_SECOND", offsetof(struct config, calls_per_second), 1, 1000, 2},
    {"REFRESH_BACKOFF_MAX_SECONDS", offsetof(struct config, backoff_max_s), 1, 3600, 60},
    {"CATALOG_SHRINK_GUARD_PERCENT", offsetof(struct config, shrink_guard_percent), 0, 100, 50},
    {"DRAIN_TIMEOUT_MS", offsetof(struct config, drain_timeout_ms), 0, 600000, 10000},
    {"MAX_CONNECTIONS", offsetof(struct config, max_connections), 1, 1000000, 10000},
    {"MAX_CONNECTIONS_PER_CLIENT", offsetof(struct config, max_connections_per_client), 0, 1000000,
     1024},
    {"CLIENT_HEADER_TIMEOUT_MS", offsetof(struct config, header_timeout_ms), 100, 600000, 10000},
    {"CLIENT_IDLE_TIMEOUT_MS", offsetof(struct config, idle_timeout_ms), 1000, 3600000, 30000},
    {"SHOPIFY_BULK_THRESHOLD", offsetof(struct config, bulk_threshold), 0, 100000000, 10000},
};

static int
set_int_key(struct config *cfg, const struct int_key *k, const char *value, const char *origin,
            char *err, size_t errlen)
{
    long *field = (long *)((char *)cfg + k->offset);
    char shown[80];

    if (value[0] == '\0') {
        *field = k->fallback;
        return RETAIL_OK;
    }
    if (!parse_long(value, k->min, k->max, field)) {
        config_quote(value, shown, sizeof(shown));
        config_error(err, errlen, "%s: %s: must be a whole number from %ld to %ld (got \"%s\")",
                     origin, k->name, k->min, k->max, shown);
        return RETAIL_ERR_INVALID;
    }
    return RETAIL_OK;
}

int
config_set(struct config *cfg, const char *key, const char *value, const char *origin, char *err,
           size_t errlen)
{
    char inner[CONFIG_ERR_MAX];
    char shown[80];
    int rc = RETAIL_OK;
    bool empty = value[0] == '\0';

    inner[0] = '\0';
    for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
        if (strcmp(key, int_keys[i].name) == 0) {
            return set_int_key(cfg, &int_keys[i], value, origin, err, errlen);
        }
    }
    if (strcmp(key, "HOST") == 0) {
        rc = set_host(cfg, empty ? DEFAULT_HOST : value, inner, sizeof(inner));
    } else if (strcmp(key, "PORT") == 0) {
        long port = DEFAULT_PORT;

        if (!empty && !parse_long(value, 1, 65535, &port)) {
            config_quote(value, shown, sizeof(shown));
            snprintf(inner, sizeof(inner),
                     "PORT: must be a whole number from 1 to 65535 (got \"%s\")", shown);
            rc = RETAIL_ERR_INVALID;
        }
        cfg->port = (unsigned)port;
    } else if (strcmp(key, "API_KEYS") == 0) {
        rc = set_api_keys(&cfg->api_keys_setting, key, value, inner, sizeof(inner));
    } else if (strcmp(key, "API_KEY") == 0) {
        rc = set_api_keys(&cfg->api_key_setting, key, value, inner, sizeof(inner));
    } else if (strcmp(key, "REDIS_URL") == 0) {
        struct redis_target target;

        rc = config_parse_redis_url(empty ? DEFAULT_REDIS_URL : value, &target, inner,
                                    sizeof(inner));
        if (rc == RETAIL_OK) {
            config_redis_target_deinit(&cfg->redis);
            cfg->redis = target;
        }
    } else if (strcmp(key, "SHOPIFY_SHOP_URL") == 0) {
        rc = empty ? replace_string(&cfg->shop_url, NULL)
                   : set_shop_url(cfg, value, inner, sizeof(inner));
    } else if (strcmp(key, "SHOPIFY_ACCESS_TOKEN") == 0) {
        if (!empty && !printable_token(value, CONFIG_TOKEN_LEN_MAX, true)) {
            snprintf(inner, sizeof(inner),
                     "SHOPIFY_ACCESS_TOKEN: must be printable ASCII without spaces, at most %d "
                     "characters",
                     CONFIG_TOKEN_LEN_MAX);
            rc = RETAIL_ERR_INVALID;
        } else {
            free_secret(&cfg->shop_token);
            rc = empty ? RETAIL_OK : replace_string(&cfg->shop_token, value);
        }
    } else if (strcmp(key, "SHOPIFY_CLIENT_ID") == 0 || strcmp(key, "SHOPIFY_CLIENT_SECRET") == 0) {
        char **slot = strcmp(key, "SHOPIFY_CLIENT_SECRET") == 0 ? &cfg->shop_client_secret
                                                                : &cfg->shop_client_id;

        if (!empty && !printable_token(value, CONFIG_TOKEN_LEN_MAX, true)) {
            snprintf(inner, sizeof(inner),
                     "%s: must be printable ASCII without spaces, at most %d characters", key,
                     CONFIG_TOKEN_LEN_MAX);
            rc = RETAIL_ERR_INVALID;
        } else {
            free_secret(slot);
            rc = empty ? RETAIL_OK : replace_string(slot, value);
        }
    } else if (strcmp(key, "SHOPIFY_API_VERSION") == 0) {
        if (!empty && !valid_api_version(value)) {
            config_quote(value, shown, sizeof(shown));
            snprintf(inner, sizeof(inner),
                     "SHOPIFY_API_VERSION: must look like 2026-10 or be \"unstable\" (got \"%s\")",
                     shown);
            rc = RETAIL_ERR_INVALID;
        } else {
            rc = replace_string(&cfg->api_version, empty ? DEFAULT_API_VERSION : value);
        }
    } else if (strcmp(key, "FALLBACK_PRODUCTS_FILE") == 0) {
        rc = replace_string(&cfg->fallback_file, empty ? DEFAULT_FALLBACK_FILE : value);
    } else if (strcmp(key, "SHOPIFY_API") == 0) {
        if (empty || strcmp(value, "graphql") == 0) {
            cfg->shop_graphql = true;
        } else if (strcmp(value, "rest") == 0) {
            cfg->shop_graphql = false;
        } else {
            config_quote(value, shown, sizeof(shown));
            snprintf(inner, sizeof(inner), "SHOPIFY_API: must be graphql or rest (got \"%s\")",
                     shown);
            rc = RETAIL_ERR_INVALID;
        }
    } else if (strcmp(key, "LOG_FORMAT") == 0) {
        if (empty || strcmp(value, "text") == 0) {
            cfg->log_json = false;
        } else if (strcmp(value, "json") == 0) {
            cfg->log_json = true;
        } else {
            config_quote(value, shown, sizeof(shown));
            snprintf(inner, sizeof(inner), "LOG_FORMAT: must be text or json (got \"%s\")", shown);
            rc = RETAIL_ERR_INVALID;
        }
    } else if (strcmp(key, "LOG_LEVEL") == 0) {
        if (empty) {
            cfg->log_level = LOG_INFO;
        } else if (!log_level_parse(value, &cfg->log_level)) {
            config_quote(value, shown, sizeof(shown));
            snprintf(inner, sizeof(inner),
                     "LOG_LEVEL: must be debug, info, warn or error (got \"%s\")", shown);
            rc = RETAIL_ERR_INVALID;
        }
    } else {
        char name[80];

        config_quote(key, name, sizeof(name));
        config_error(err, errlen, "%s: unknown key \"%s\"", origin, name);
        return RETAIL_ERR_INVALID;
    }
    if (rc == RETAIL_ERR_NOMEM) {
        config_error(err, errlen, "%s: %s: out of memory", origin, key);
    } else if (rc != RETAIL_OK) {
        config_error(err, errlen, "%s: %s", origin, inner);
    }
    return rc;
}

int
config_init(struct config *cfg)
{
    char err[CONFIG_ERR_MAX];

    memset(cfg, 0, sizeof(*cfg));
    cfg->api_keys = calloc(CONFIG_API_KEYS_MAX, sizeof(char *));
    if (cfg->api_keys == NULL) {
        return RETAIL_ERR_NOMEM;
    }
    cfg->port = DEFAULT_PORT;
    cfg->log_level = LOG_INFO;
    cfg->shop_graphql = true;
    for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
        *(long *)((char *)cfg + int_keys[i].offset) = int_keys[i].fallback;
    }
    if (config_set(cfg, "HOST", "", "default", err, sizeof(err)) != RETAIL_OK ||
        config_set(cfg, "REDIS_URL", "", "default", err, sizeof(err)) != RETAIL_OK ||
        config_set(cfg, "SHOPIFY_API_VERSION", "", "default", err, sizeof(err)) != RETAIL_OK ||
        config_set(cfg, "FALLBACK_PRODUCTS_FILE", "", "default", err, sizeof(err)) != RETAIL_OK) {
        config_deinit(cfg);
        return RETAIL_ERR_NOMEM;
    }
    return RETAIL_OK;
}

void
config_deinit(struct config *cfg)
{
    free(cfg->host);
    free_api_keys(cfg);
    free(cfg->api_keys);
    free_secret(&cfg->api_keys_setting);
    free_secret(&cfg->api_key_setting);
    config_redis_target_deinit(&cfg->redis);
    free(cfg->shop_url);
    free_secret(&cfg->shop_token);
    free_secret(&cfg->shop_client_id);
    free_secret(&cfg->shop_client_secret);
    free(cfg->api_version);
    free(cfg->fallback_file);
    memset(cfg, 0, sizeof(*cfg));
}

/* Strips one pair of matching quotes; inside double quotes, \" and \\ are
 * unescaped. Works in place. */
static void
unquote(char *value)
{
    size_t len = strlen(value);
    char quote = value[0];
    char *out = value;

    if (len < 2 || (quote != '"' && quote != '\'') || value[len - 1] != quote) {
        return;
    }
    value[len - 1] = '\0';
    for (char *in = value + 1; *in != '\0'; in++) {
        if (quote == '"' && in[0] == '\\' && (in[1] == '"' || in[1] == '\\')) {
            in++;
        }
        *out++ = *in;
    }
    *out = '\0';
}

static char *
trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t' || *s == '\r') {
        s++;
    }
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
        *--end = '\0';
    }
    return s;
}

static bool
valid_key_name(const char *key)
{
    if (!(isupper((unsigned char)key[0]) || key[0] == '_')) {
        return false;
    }
    for (const char *p = key; *p != '\0'; p++) {
        if (!(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) {
            return false;
        }
    }
    return true;
}

static int
set_pair(void *arg, const char *key, const char *value, const char *origin, char *err,
         size_t errlen)
{
    return config_set(arg, key, value, origin, err, errlen);
}

/* Parses one line of a KEY=VALUE file and hands its pair to fn. */
static int
parse_line(char *line, const char *path, unsigned lineno, config_pair_fn fn, void *arg, char *err,
           size_t errlen)
{
    char origin[300];
    char *eq, *key, *value;

    snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
    line = trim(line);
    if (line[0] == '\0' || line[0] == '#' || line[0] == ';') {
        return RETAIL_OK;
    }
    eq = strchr(line, '=');
    if (eq == NULL) {
        config_error(err, errlen, "%s: expected KEY=VALUE", origin);
        return RETAIL_ERR_INVALID;
    }
    *eq = '\0';
    key = trim(line);
    value = trim(eq + 1);
    if (!valid_key_name(key)) {
        /* Not echoed: a malformed line may be a pasted secret. */
        config_error(err, errlen, "%s: the key is not a name of A-Z, 0-9 and _", origin);
        return RETAIL_ERR_INVALID;
    }
    unquote(value);
    return fn(arg, key, value, origin, err, errlen);
}

static int
config_load_line(struct config *cfg, char *line, const char *path, unsigned lineno, char *err,
                 size_t errlen)
{
    return parse_line(line, path, lineno, set_pair, cfg, err, errlen);
}

/* Reads a KEY=VALUE file, handing each pair to fn, up to the first failure. */
static int
read_pairs(const char *path, config_pair_fn fn, void *arg, char *err, size_t errlen)
{
    FILE *f = NULL;
    char *line = NULL;
    size_t total = 0;
    unsigned lineno = 0;
    int rc = RETAIL_OK;

    f = fopen(path, "r");
    if (f == NULL) {
        config_error(err, errlen, "config file %s: %s", path, strerror(errno));
        rc = RETAIL_ERR_IO;
        goto out;
    }
    line = malloc(CONFIG_LINE_MAX + 2);
    if (line == NULL) {
        rc = RETAIL_ERR_NOMEM;
        goto out;
    }
    while (fgets(line, CONFIG_LINE_MAX + 2, f) != NULL) {
        size_t len = strlen(line);

        lineno++;
        total += len;
        if (total > CONFIG_FILE_MAX) {
            config_error(err, errlen, "config file %s: larger than %d bytes", path,
                         CONFIG_FILE_MAX);
            rc = RETAIL_ERR_LIMIT;
            goto out;
        }
        if (len > CONFIG_LINE_MAX || memchr(line, '\0', len) != NULL) {
            config_error(err, errlen, "%s:%u: line longer than %d bytes", path, lineno,
                         CONFIG_LINE_MAX);
            rc = RETAIL_ERR_LIMIT;
            goto out;
        }
        if (len > 0 && line[len - 1] == '\n') {
            line[len - 1] = '\0';
        }
        rc = parse_line(line, path, lineno, fn, arg, err, errlen);
        if (rc != RETAIL_OK) {
            goto out;
        }
    }
    if (ferror(f)) {
        config_error(err, errlen, "config file %s: read error", path);
        rc = RETAIL_ERR_IO;
    }
out:
    if (line != NULL) {
        explicit_bzero(line, CONFIG_LINE_MAX + 2); /* it may have held a secret */
        free(line);
    }
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

int
config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    return read_pairs(path, set_pair, cfg, err, errlen);
}

int
config_file_pairs(const char *path, config_pair_fn fn, void *arg, char *err, size_t errlen)
{
    return read_pairs(path, fn, arg, err, errlen);
}

int
config_load_env(struct config *cfg, config_getenv_fn lookup, char *err, size_t errlen)
{
    for (size_t i = 0; config_keys[i] != NULL; i++) {
        const char *value = lookup(config_keys[i]);
        int rc;

        if (value == NULL) {
            continue;
        }
        rc = config_set(cfg, config_keys[i], value, "environment", err, errlen);
        if (rc != RETAIL_OK) {
            return rc;
        }
    }
    return RETAIL_OK;
}

int
config_finish(struct config *cfg, char *err, size_t errlen)
{
    const char *lists[2] = {cfg->api_keys_setting, cfg->api_key_setting};
    const char *names[2] = {"API_KEYS", "API_KEY"};

    free_api_keys(cfg);
    for (int i = 0; i < 2; i++) {
        int rc;

        if (lists[i] == NULL) {
            continue;
        }
        rc = split_api_keys(names[i], lists[i], cfg->api_keys, &cfg->api_key_count, err, errlen);
        if (rc != RETAIL_OK) {
            return rc;
        }
    }
    if ((cfg->shop_client_id == NULL) != (cfg->shop_client_secret == NULL)) {
        config_error(err, errlen, "%s: required when %s is set",
                     cfg->shop_client_id == NULL ? "SHOPIFY_CLIENT_ID" : "SHOPIFY_CLIENT_SECRET",
                     cfg->shop_client_id == NULL ? "SHOPIFY_CLIENT_SECRET" : "SHOPIFY_CLIENT_ID");
        return RETAIL_ERR_INVALID;
    }
    if (cfg->shop_token != NULL && cfg->shop_client_id != NULL) {
        config_error(err, errlen,
                     "SHOPIFY_ACCESS_TOKEN: set it or SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET, "
                     "not both");
        return RETAIL_ERR_INVALID;
    }
    if (cfg->shop_url != NULL && cfg->shop_token == NULL && cfg->shop_client_id == NULL) {
        config_error(err, errlen,
                     "SHOPIFY_ACCESS_TOKEN: required when SHOPIFY_SHOP_URL is set (or "
                     "SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET)");
        return RETAIL_ERR_INVALID;
    }
    if (cfg->shop_url == NULL && (cfg->shop_token != NULL || cfg->shop_client_id != NULL)) {
        config_error(err, errlen, "SHOPIFY_SHOP_URL: required when %s is set",
                     cfg->shop_token != NULL ? "SHOPIFY_ACCESS_TOKEN" : "SHOPIFY_CLIENT_ID");
        return RETAIL_ERR_INVALID;
    }
    if (cfg->cache_stale_s < cfg->cache_ttl_s) {
        config_error(err, errlen,
                     "CACHE_STALE_SECONDS: %ld is shorter than CACHE_TTL_SECONDS (%ld); a catalog "
                     "must be servable at least as long as it is fresh",
                     cfg->cache_stale_s, cfg->cache_ttl_s);
        return RETAIL_ERR_INVALID;
    }
    if (cfg->connect_timeout_ms > cfg->timeout_ms) {
        config_error(err, errlen,
                     "SHOPIFY_CONNECT_TIMEOUT_MS: %ld is longer than SHOPIFY_TIMEOUT_MS (%ld)",
                     cfg->connect_timeout_ms, cfg->timeout_ms);
        return RETAIL_ERR_INVALID;
    }
    return RETAIL_OK;
}

bool
config_has_shopify(const struct config *cfg)
{
    return cfg->shop_url != NULL && (cfg->shop_token != NULL || cfg->shop_client_id != NULL);
}

unsigned
config_check_file(struct config *cfg, const char *path, config_problem_fn problem, void *arg)
{
    char err[CONFIG_ERR_MAX];
    char *line = NULL;
    unsigned lineno = 0, problems = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, sizeof(err), "config file %s: %s", path, strerror(errno));
        problem(arg, err);
        return 1;
    }
    line = malloc(CONFIG_LINE_MAX + 2);
    if (line == NULL) {
        fclose(f);
        problem(arg, "out of memory");
        return 1;
    }
    while (fgets(line, CONFIG_LINE_MAX + 2, f) != NULL) {
        size_t len = strlen(line);

        lineno++;
        if (len > CONFIG_LINE_MAX) {
            snprintf(err, sizeof(err), "%s:%u: line longer than %d bytes", path, lineno,
                     CONFIG_LINE_MAX);
            problem(arg, err);
            problems++;
            /* skip the rest of the overlong line */
            while (len > 0 && line[len - 1] != '\n' && fgets(line, CONFIG_LINE_MAX + 2, f)) {
                len = strlen(line);
            }
            continue;
        }
        if (len > 0 && line[len - 1] == '\n') {
            line[len - 1] = '\0';
        }
        if (config_load_line(cfg, line, path, lineno, err, sizeof(err)) != RETAIL_OK) {
            problem(arg, err);
            problems++;
        }
    }
    explicit_bzero(line, CONFIG_LINE_MAX + 2);
    free(line);
    fclose(f);
    if (config_finish(cfg, err, sizeof(err)) != RETAIL_OK) {
        problem(arg, err);
        problems++;
    }
    return problems;
}

static bool
same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
same_redis(const struct redis_target *a, const struct redis_target *b)
{
    return a->kind == b->kind && a->port == b->port && a->db == b->db &&
           same_text(a->host, b->host) && same_text(a->path, b->path) &&
           same_text(a->username, b->username) && same_text(a->password, b->password);
}

void
config_restart_keys(const struct config *a, const struct config *b, char *out, size_t cap)
{
    const struct {
        const char *name;
        bool same;
    } keys[] = {
        {"HOST", same_text(a->host, b->host)},
        {"PORT", a->port == b->port},
        {"REDIS_URL", same_redis(&a->redis, &b->redis)},
        {"SHOPIFY_SHOP_URL", same_text(a->shop_url, b->shop_url)},
        {"SHOPIFY_ACCESS_TOKEN", same_text(a->shop_token, b->shop_token)},
        {"SHOPIFY_API_VERSION", same_text(a->api_version, b->api_version)},
        {"SHOPIFY_API", a->shop_graphql == b->shop_graphql},
        {"SHOPIFY_BULK_THRESHOLD", a->bulk_threshold == b->bulk_threshold},
        {"SHOPIFY_CLIENT_ID", same_text(a->shop_client_id, b->shop_client_id)},
        {"SHOPIFY_CLIENT_SECRET", same_text(a->shop_client_secret, b->shop_client_secret)},
        {"FALLBACK_PRODUCTS_FILE", same_text(a->fallback_file, b->fallback_file)},
        {"MAX_CONNECTIONS", a->max_connections == b->max_connections},
        {"MAX_CONNECTIONS_PER_CLIENT",
         a->max_connections_per_client == b->max_connections_per_client},
        {"CLIENT_HEADER_TIMEOUT_MS", a->header_timeout_ms == b->header_timeout_ms},
        {"CLIENT_IDLE_TIMEOUT_MS", a->idle_timeout_ms == b->idle_timeout_ms},
    };
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!keys[i].same) {
            int n = snprintf(out + used, cap - used, "%s%s", used > 0 ? ", " : "", keys[i].name);

            if (n < 0 || (size_t)n >= cap - used) {
                break;
            }
            used += (size_t)n;
        }
    }
}
