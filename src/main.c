/* SPDX-License-Identifier: MIT */
/* retail-api entry point: flags, config, modules in order, signals, shutdown. */
#include "retail/auth.h"
#include "retail/breaker.h"
#include "retail/cache.h"
#include "retail/clock.h"
#include "retail/config.h"
#include "retail/fallback.h"
#include "retail/health.h"
#include "retail/http.h"
#include "retail/log.h"
#include "retail/random.h"
#include "retail/refresher.h"
#include "retail/shopify.h"
#include "retail/store.h"
#include "retail/waiters.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Exit codes, documented in the README. */
enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,  /* a failure after start-up, or out of memory */
    EXIT_CONFIG = 2,   /* bad flags or configuration */
    EXIT_FALLBACK = 3, /* the fallback catalog is unusable */
    EXIT_LISTEN = 4,   /* the listening socket could not be opened */
};

#define MAX_CATALOG_BYTES (1024u * 1024 * 1024)
#define MAX_PAGE_BYTES (64u * 1024 * 1024)
#define STORE_POLL_MS 500
#define BACKOFF_BASE_MS 1000

struct flags {
    const char *config_file;
    const char *port;
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: retail-api [--config FILE] [--port N]\n"
                 "       retail-api --help | --version\n"
                 "\n"
                 "Serves /health and /v1/products from an in-memory catalog read from Shopify,\n"
                 "kept in Redis, with a static fallback. Settings come from FILE (KEY=VALUE\n"
                 "lines), then the environment, then flags. Keys:\n ");
    for (size_t i = 0; config_keys[i] != NULL; i++) {
        fprintf(out, " %s", config_keys[i]);
    }
    fprintf(out, "\nSee config/retail-api.conf.example for what each one means.\n");
}

/* Returns -1 to go on, else the exit code. */
static int
parse_flags(int argc, char **argv, struct flags *flags)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("retail-api %s\n", RETAIL_VERSION);
            return EXIT_OK;
        }
        if ((strcmp(arg, "--config") == 0 || strcmp(arg, "--port") == 0) && i + 1 < argc) {
            if (arg[2] == 'c') {
                flags->config_file = argv[++i];
            } else {
                flags->port = argv[++i];
            }
            continue;
        }
        if (strncmp(arg, "--config=", 9) == 0) {
            flags->config_file = arg + 9;
            continue;
        }
        if (strncmp(arg, "--port=", 7) == 0) {
            flags->port = arg + 7;
            continue;
        }
        fprintf(stderr, "retail-api: unknown or incomplete argument \"%s\"\n", arg);
        usage(stderr);
        return EXIT_CONFIG;
    }
    return -1;
}

static const char *
env_lookup(const char *name)
{
    return getenv(name);
}

static int
load_config(const struct flags *flags, struct config *cfg)
{
    char err[CONFIG_ERR_MAX];
    int rc = config_init(cfg);

    if (rc != RETAIL_OK) {
        fprintf(stderr, "retail-api: out of memory\n");
        return EXIT_RUNTIME;
    }
    if ((flags->config_file != NULL &&
         config_load_file(cfg, flags->config_file, err, sizeof(err)) != RETAIL_OK) ||
        config_load_env(cfg, env_lookup, err, sizeof(err)) != RETAIL_OK ||
        (flags->port != NULL &&
         config_set(cfg, "PORT", flags->port, "--port", err, sizeof(err)) != RETAIL_OK) ||
        config_finish(cfg, err, sizeof(err)) != RETAIL_OK) {
        fprintf(stderr, "retail-api: configuration error: %s\n", err);
        return EXIT_CONFIG;
    }
    if (cfg->api_key_count == 0) {
        fprintf(stderr, "retail-api: configuration error: API_KEYS: no API key configured; set "
                        "API_KEYS (comma-separated) or API_KEY\n");
        return EXIT_CONFIG;
    }
    return -1;
}

/* The default fallback path is relative to the working directory; when the
 * binary runs from elsewhere, try the one beside its build directory. */
static struct catalog *
load_fallback(const struct config *cfg, char *err, size_t errlen)
{
    struct catalog *catalog = fallback_load(cfg->fallback_file, err, errlen);
    char exe[PATH_MAX], alt[PATH_MAX + 64];
    ssize_t n;
    char *slash;

    if (catalog != NULL || !cfg->fallback_file_is_default) {
        return catalog;
    }
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        return NULL;
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL) {
        return NULL;
    }
    *slash = '\0';
    snprintf(alt, sizeof(alt), "%s/../%s", exe, cfg->fallback_file);
    if (access(alt, R_OK) != 0) {
        return NULL;
    }
    return fallback_load(alt, err, errlen);
}

/* Names this process in the fleet's lock: host, pid and a random part. */
static void
make_instance_id(char *out, size_t cap)
{
    char host[32] = "host";
    unsigned char noise[6];

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    random_bytes(noise, sizeof(noise));
    snprintf(out, cap, "%s:%ld:%02x%02x%02x%02x%02x%02x", host, (long)getpid(), noise[0], noise[1],
             noise[2], noise[3], noise[4], noise[5]);
}

static void
on_publish(void *arg)
{
    waiters_wake_all(arg);
}

static void
log_settings(const struct config *cfg, const struct store *store)
{
    log_info("startup", "retail-api %s starting (pid %ld)", RETAIL_VERSION, (long)getpid());
    log_info("startup",
             "settings: listen %s:%u, %zu API key(s), cache TTL %ld s (stale up to %ld s), "
             "products deadline %ld ms, Shopify timeouts %ld ms connect / %ld ms request / %ld ms "
             "per refresh, %ld retries, %ld calls/s, back-off up to %ld s, shrink guard %ld%%, "
             "log level %s",
             cfg->host, cfg->port, cfg->api_key_count, cfg->cache_ttl_s, cfg->cache_stale_s,
             cfg->products_deadline_ms, cfg->connect_timeout_ms, cfg->timeout_ms,
             cfg->refresh_deadline_ms, cfg->max_retries, cfg->calls_per_second, cfg->backoff_max_s,
             cfg->shrink_guard_percent, log_level_name(cfg->log_level));
    if (config_has_shopify(cfg)) {
        log_info("startup", "Shopify: %s, API version %s", cfg->shop_url, cfg->api_version);
    } else {
        log_warn("startup",
                 "Shopify is not configured (SHOPIFY_SHOP_URL and "
                 "SHOPIFY_ACCESS_TOKEN unset): serving the bundled catalog from %s",
                 cfg->fallback_file);
    }
    if (store != NULL) {
        log_info("startup", "Redis: %s, key %s", store_describe(store), store_key(store));
    } else {
        log_info("startup", "Redis: disabled (REDIS_URL=none), running memory-only");
    }
}

/* Waits for SIGINT or SIGTERM; SIGHUP is logged and ignored for now. */
static void
wait_for_stop(const sigset_t *signals)
{
    for (;;) {
        int sig = 0;

        if (sigwait(signals, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            log_info("signal", "SIGHUP received: configuration reload is not supported yet; "
                               "restart to apply changes");
            continue;
        }
        log_info("signal", "%s received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        return;
    }
}

int
main(int argc, char **argv)
{
    struct flags flags = {NULL, NULL};
    struct config cfg;
    struct catalog *fallback = NULL;
    struct cache *cache = NULL;
    struct health *health = NULL;
    struct waiters *waiters = NULL;
    struct auth *auth = NULL;
    struct breaker *breaker = NULL;
    struct shopify_client *shopify = NULL;
    struct store *store = NULL;
    struct refresher *refresher = NULL;
    struct http_server *http = NULL;
    char err[512];
    char instance_id[64];
    sigset_t signals;
    int code;

    memset(&cfg, 0, sizeof(cfg));
    code = parse_flags(argc, argv, &flags);
    if (code >= 0) {
        return code;
    }
    code = load_config(&flags, &cfg);
    if (code >= 0) {
        goto out;
    }
    log_set_level(cfg.log_level);

    /* Signals are blocked before any thread starts, so only sigwait in this
     * thread sees them; SIGPIPE is ignored for sockets closed by peers. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    make_instance_id(instance_id, sizeof(instance_id));
    code = EXIT_RUNTIME;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "retail-api: libcurl could not initialise\n");
        goto out;
    }
    if (cfg.redis.kind != REDIS_NONE) {
        store = store_create(&cfg.redis, cfg.shop_url);
        if (store == NULL) {
            goto out;
        }
    }
    log_settings(&cfg, store);
    fallback = load_fallback(&cfg, err, sizeof(err));
    if (fallback == NULL) {
        log_error("startup", "%s", err);
        code = EXIT_FALLBACK;
        goto out;
    }
    log_info("startup", "fallback catalog: %zu products loaded", catalog_count(fallback));

    cache = cache_create();
    health = health_create(config_has_shopify(&cfg),
                           store != NULL ? HEALTH_REDIS_UNKNOWN : HEALTH_REDIS_DISABLED);
    waiters = waiters_create();
    auth = auth_create(cfg.api_keys, cfg.api_key_count);
    if (cache == NULL || health == NULL || waiters == NULL || auth == NULL) {
        log_error("startup", "out of memory");
        goto out;
    }
    cache_set_listener(cache, on_publish, waiters);
    if (config_has_shopify(&cfg)) {
        struct shopify_settings settings = {
            .base_url = cfg.shop_url,
            .token = cfg.shop_token,
            .api_version = cfg.api_version,
            .connect_timeout_ms = cfg.connect_timeout_ms,
            .timeout_ms = cfg.timeout_ms,
            .max_body_bytes = MAX_PAGE_BYTES,
            .max_pages = (unsigned)cfg.max_pages,
            .max_retries = (unsigned)cfg.max_retries,
            .calls_per_second = (unsigned)cfg.calls_per_second,
        };

        shopify = shopify_create(&settings);
        breaker = breaker_create(BACKOFF_BASE_MS, cfg.backoff_max_s * 1000);
        if (shopify == NULL || breaker == NULL) {
            log_error("startup", "could not create the Shopify client");
            goto out;
        }
    }
    {
        struct refresher_settings settings = {
            .ttl_ms = cfg.cache_ttl_s * 1000,
            .stale_ms = cfg.cache_stale_s * 1000,
            .refresh_deadline_ms = cfg.refresh_deadline_ms,
            .max_catalog_bytes = MAX_CATALOG_BYTES,
            .store_poll_ms = STORE_POLL_MS,
            .shrink_guard_percent = (unsigned)cfg.shrink_guard_percent,
            .instance_id = instance_id,
        };
        struct catalog_source source;
        struct catalog_store store_port;

        if (shopify != NULL) {
            source = shopify_source(shopify);
        }
        if (store != NULL) {
            store_port = store_as_catalog_store(store);
        }
        refresher = refresher_create(&settings, cache, health, breaker, waiters,
                                     shopify ? &source : NULL, store ? &store_port : NULL);
        if (refresher == NULL) {
            log_error("startup", "out of memory");
            goto out;
        }
    }
    {
        struct http_deps deps = {
            .host = cfg.host,
            .port = cfg.port,
            .threads = 0,
            .products_deadline_ms = cfg.products_deadline_ms,
            .catalog_expected = shopify != NULL,
            .ttl_ms = cfg.cache_ttl_s * 1000,
            .stale_ms = cfg.cache_stale_s * 1000,
            .breaker = breaker,
            .cache = cache,
            .fallback = fallback,
            .health = health,
            .waiters = waiters,
            .auth = auth,
        };

        http = http_create(&deps, err, sizeof(err));
        if (http == NULL) {
            log_error("startup", "cannot serve HTTP: %s", err);
            code = EXIT_LISTEN;
            goto out;
        }
    }
    if (refresher_start(refresher) != RETAIL_OK) {
        log_error("startup", "could not start the refresher thread");
        goto out;
    }
    log_info("startup", "ready: serving on port %u", cfg.port);

    wait_for_stop(&signals);
    code = EXIT_OK;
out:
    /* Reverse order of creation; every _destroy accepts NULL. */
    http_quiesce(http);
    if (refresher != NULL) {
        refresher_stop(refresher);
    }
    http_destroy(http);
    refresher_destroy(refresher);
    store_destroy(store);
    shopify_destroy(shopify);
    breaker_destroy(breaker);
    waiters_destroy(waiters);
    auth_destroy(auth);
    health_destroy(health);
    cache_destroy(cache);
    catalog_unref(fallback);
    curl_global_cleanup();
    config_deinit(&cfg);
    if (code == EXIT_OK) {
        log_info("shutdown", "stopped cleanly");
    }
    return code;
}
