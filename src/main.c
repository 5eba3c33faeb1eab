/* SPDX-License-Identifier: MIT */
/* retail-api entry point: flags, config, modules in order, signals, reload,
 * drain, systemd notifications, shutdown. */
#include "retail/auth.h"
#include "retail/breaker.h"
#include "retail/cache.h"
#include "retail/clock.h"
#include "retail/config.h"
#include "retail/fallback.h"
#include "retail/health.h"
#include "retail/http.h"
#include "retail/log.h"
#include "retail/metrics.h"
#include "retail/published.h"
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
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
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
#define PROBE_TIMEOUT_MS 1000

struct flags {
    const char *config_file;
    const char *port;
    const char *check_config; /* --check-config FILE */
};

/* Everything main creates, so that reload and shutdown can reach it. */
struct app {
    struct flags flags;
    struct config cfg;
    struct catalog *fallback;
    struct cache *cache;
    struct health *health;
    struct metrics *metrics;
    struct waiters *waiters;
    struct published auth; /* of struct auth */
    bool auth_ready;
    struct breaker *breaker;
    struct shopify_client *shopify;
    struct store *store;
    struct refresher *refresher;
    struct http_server *http;
    char instance_id[64];
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: retail-api [--config FILE] [--port N]\n"
                 "       retail-api --check-config FILE\n"
                 "       retail-api --help | --version\n"
                 "\n"
                 "Serves /health, /live, /ready, /metrics and /v1/products from an in-memory\n"
                 "catalog read from Shopify, kept in Redis, with a static fallback. Settings\n"
                 "come from FILE (KEY=VALUE lines), then the environment, then --port.\n"
                 "SIGHUP reloads FILE; SIGTERM drains and stops. --check-config reports every\n"
                 "problem in FILE and exits 2 if there is one. Keys:\n ");
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
        const char **slot = NULL;
        size_t n;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("retail-api %s\n", RETAIL_VERSION);
            return EXIT_OK;
        }
        if (strncmp(arg, "--config", n = 8) == 0) {
            slot = &flags->config_file;
        } else if (strncmp(arg, "--port", n = 6) == 0) {
            slot = &flags->port;
        } else if (strncmp(arg, "--check-config", n = 14) == 0) {
            slot = &flags->check_config;
        }
        if (slot != NULL && arg[n] == '=') {
            *slot = arg + n + 1;
            continue;
        }
        if (slot != NULL && arg[n] == '\0' && i + 1 < argc) {
            *slot = argv[++i];
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

/* The config file's pairs as they were at start-up. Under systemd the
 * same file is also the unit's EnvironmentFile=, so the environment holds
 * copies of these values; on a reload such a copy must not mask the
 * file's new value. */
#define STARTUP_PAIRS_MAX 128
static struct {
    char key[64];
    char *value; /* may be a secret: wiped when freed */
} startup_pairs[STARTUP_PAIRS_MAX];
static size_t startup_pair_count;

static int
remember_pair(void *arg, const char *key, const char *value, const char *origin, char *err,
              size_t errlen)
{
    (void)arg;
    (void)origin;
    (void)err;
    (void)errlen;
    if (startup_pair_count < STARTUP_PAIRS_MAX && strlen(key) < sizeof(startup_pairs[0].key)) {
        snprintf(startup_pairs[startup_pair_count].key, sizeof(startup_pairs[0].key), "%s", key);
        startup_pairs[startup_pair_count].value = strdup(value);
        startup_pair_count++;
    }
    return RETAIL_OK;
}

static void
forget_pairs(void)
{
    for (size_t i = 0; i < startup_pair_count; i++) {
        if (startup_pairs[i].value != NULL) {
            explicit_bzero(startup_pairs[i].value, strlen(startup_pairs[i].value));
            free(startup_pairs[i].value);
        }
    }
    startup_pair_count = 0;
}

/* The environment, less the copies of the file's start-up values. */
static const char *
env_lookup_on_reload(const char *name)
{
    const char *value = getenv(name);

    for (size_t i = 0; value != NULL && i < startup_pair_count; i++) {
        if (strcmp(startup_pairs[i].key, name) == 0 && startup_pairs[i].value != NULL &&
            strcmp(startup_pairs[i].value, value) == 0) {
            return NULL;
        }
    }
    return value;
}

/* Loads defaults, the file, the environment (through lookup) and --port
 * into cfg (which the caller deinits). RETAIL_OK, or a failure with err. */
static int
read_config(const struct flags *flags, config_getenv_fn lookup, struct config *cfg, char *err,
            size_t errlen)
{
    int rc = config_init(cfg);

    if (rc != RETAIL_OK) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (flags->config_file != NULL) {
        rc = config_load_file(cfg, flags->config_file, err, errlen);
    }
    if (rc == RETAIL_OK) {
        rc = config_load_env(cfg, lookup, err, errlen);
    }
    if (rc == RETAIL_OK && flags->port != NULL) {
        rc = config_set(cfg, "PORT", flags->port, "--port", err, errlen);
    }
    if (rc == RETAIL_OK) {
        rc = config_finish(cfg, err, errlen);
    }
    if (rc == RETAIL_OK && cfg->api_key_count == 0) {
        snprintf(err, errlen,
                 "API_KEYS: no API key configured; set API_KEYS (comma-separated) "
                 "or API_KEY");
        rc = RETAIL_ERR_INVALID;
    }
    return rc;
}

/* A relative fallback path is looked up in the working directory and then,
 * when the binary runs from elsewhere, in the directory above the binary's
 * (a build directory's source tree, or an installed release). */
static struct catalog *
load_fallback(const struct config *cfg, char *err, size_t errlen)
{
    struct catalog *catalog = fallback_load(cfg->fallback_file, err, errlen);
    char exe[PATH_MAX], alt[PATH_MAX + 64];
    ssize_t n;
    char *slash;

    if (catalog != NULL || cfg->fallback_file[0] == '/') {
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

static void
print_problem(void *arg, const char *problem)
{
    (void)arg;
    printf("%s\n", problem);
}

/* --check-config FILE: every problem on stdout, exit 2 if there is one. */
static int
check_config(const char *path)
{
    struct config cfg;
    char err[512];
    unsigned problems;
    struct catalog *fallback;

    if (config_init(&cfg) != RETAIL_OK) {
        fprintf(stderr, "retail-api: out of memory\n");
        return EXIT_RUNTIME;
    }
    problems = config_check_file(&cfg, path, print_problem, NULL);
    if (cfg.api_key_count == 0) {
        printf("API_KEYS: no API key configured; set API_KEYS (comma-separated) or API_KEY\n");
        problems++;
    }
    fallback = load_fallback(&cfg, err, sizeof(err));
    if (fallback == NULL) {
        printf("%s\n", err);
        problems++;
    }
    catalog_unref(fallback);
    config_deinit(&cfg);
    if (problems > 0) {
        printf("%s: %u problem%s\n", path, problems, problems == 1 ? "" : "s");
        return EXIT_CONFIG;
    }
    printf("%s: configuration OK\n", path);
    return EXIT_OK;
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
on_shopify_request(void *arg, enum fetch_failure outcome, int64_t duration_ms)
{
    metrics_shopify(arg, outcome, duration_ms);
}

static void *
auth_ref_any(void *value)
{
    return auth_ref(value);
}

static void
auth_unref_any(void *value)
{
    auth_unref(value);
}

static void
log_settings(const struct config *cfg, const struct store *store)
{
    log_info("startup", "retail-api %s starting (pid %ld)", RETAIL_VERSION, (long)getpid());
    log_info("startup",
             "settings: listen %s:%u, %zu API key(s), cache TTL %ld s (stale up to %ld s), "
             "products deadline %ld ms, Shopify timeouts %ld ms connect / %ld ms request / %ld ms "
             "per refresh, %ld retries, %ld calls/s, back-off up to %ld s, shrink guard %ld%%, "
             "drain %ld ms, log level %s",
             cfg->host, cfg->port, cfg->api_key_count, cfg->cache_ttl_s, cfg->cache_stale_s,
             cfg->products_deadline_ms, cfg->connect_timeout_ms, cfg->timeout_ms,
             cfg->refresh_deadline_ms, cfg->max_retries, cfg->calls_per_second, cfg->backoff_max_s,
             cfg->shrink_guard_percent, cfg->drain_timeout_ms, log_level_name(cfg->log_level));
    if (config_has_shopify(cfg)) {
        log_info("startup", "Shopify: %s, %s Admin API version %s", cfg->shop_url,
                 cfg->shop_graphql ? "GraphQL" : "REST", cfg->api_version);
    } else {
        log_warn("startup",
                 "Shopify is not configured (SHOPIFY_SHOP_URL and SHOPIFY_ACCESS_TOKEN unset): "
                 "serving the bundled catalog from %s",
                 cfg->fallback_file);
    }
    if (store != NULL) {
        log_info("startup", "Redis: %s, key %s", store_describe(store), store_key(store));
    } else {
        log_info("startup", "Redis: disabled (REDIS_URL=none), running memory-only");
    }
}

static struct shopify_settings
shopify_settings_of(const struct config *cfg, struct metrics *metrics)
{
    struct shopify_settings settings = {
        .api = cfg->shop_graphql ? SHOPIFY_API_GRAPHQL : SHOPIFY_API_REST,
        .base_url = cfg->shop_url,
        .token = cfg->shop_token,
        .client_id = cfg->shop_client_id,
        .client_secret = cfg->shop_client_secret,
        .bulk_threshold = (unsigned long)cfg->bulk_threshold,
        .api_version = cfg->api_version,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .timeout_ms = cfg->timeout_ms,
        .max_body_bytes = MAX_PAGE_BYTES,
        .max_pages = (unsigned)cfg->max_pages,
        .max_retries = (unsigned)cfg->max_retries,
        .calls_per_second = (unsigned)cfg->calls_per_second,
        .observe = on_shopify_request,
        .observe_arg = metrics,
    };

    return settings;
}

static struct refresher_settings
refresher_settings_of(const struct config *cfg, const char *instance_id)
{
    struct refresher_settings settings = {
        .ttl_ms = cfg->cache_ttl_s * 1000,
        .stale_ms = cfg->cache_stale_s * 1000,
        .refresh_deadline_ms = cfg->refresh_deadline_ms,
        .max_catalog_bytes = MAX_CATALOG_BYTES,
        .store_poll_ms = STORE_POLL_MS,
        .shrink_guard_percent = (unsigned)cfg->shrink_guard_percent,
        .instance_id = instance_id,
    };

    return settings;
}

static struct http_limits
http_limits_of(const struct config *cfg)
{
    struct http_limits limits = {cfg->cache_ttl_s * 1000, cfg->cache_stale_s * 1000,
                                 cfg->products_deadline_ms};

    return limits;
}

/* Raises the open-file limit to its hard limit, and returns how many client
 * connections fit under it (at most wanted), saying so when that is fewer:
 * the server keeps 64 descriptors for itself. */
static unsigned
connection_room(unsigned wanted)
{
    struct rlimit files;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &files) != 0) {
        return wanted;
    }
    if (files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &files);
        (void)getrlimit(RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur == RLIM_INFINITY) {
        return wanted;
    }
    room = files.rlim_cur > 128 ? files.rlim_cur - 64 : 64;
    if ((rlim_t)wanted > room) {
        log_warn("startup",
                 "MAX_CONNECTIONS %u does not fit the open-file limit of %llu: serving %llu "
                 "connections at most (raise LimitNOFILE)",
                 wanted, (unsigned long long)files.rlim_cur, (unsigned long long)room);
        return (unsigned)room;
    }
    return wanted;
}

/* Creates every module in order. Returns -1 when serving, else the exit
 * code (what was created is freed by app_destroy). */
static int
app_start(struct app *app)
{
    char err[512];
    struct auth *auth;

    make_instance_id(app->instance_id, sizeof(app->instance_id));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("startup", "libcurl could not initialise");
        return EXIT_RUNTIME;
    }
    if (app->cfg.redis.kind != REDIS_NONE) {
        app->store = store_create(&app->cfg.redis, app->cfg.shop_url);
        if (app->store == NULL) {
            return EXIT_RUNTIME;
        }
    }
    log_settings(&app->cfg, app->store);
    app->fallback = load_fallback(&app->cfg, err, sizeof(err));
    if (app->fallback == NULL) {
        log_error("startup", "%s", err);
        return EXIT_FALLBACK;
    }
    log_info("startup", "fallback catalog: %zu products loaded", catalog_count(app->fallback));
    app->cache = cache_create();
    app->health = health_create(config_has_shopify(&app->cfg),
                                app->store != NULL ? HEALTH_REDIS_UNKNOWN : HEALTH_REDIS_DISABLED);
    app->metrics = metrics_create();
    app->waiters = waiters_create();
    auth = auth_create(app->cfg.api_keys, app->cfg.api_key_count);
    if (app->cache == NULL || app->health == NULL || app->metrics == NULL || app->waiters == NULL ||
        auth == NULL) {
        auth_unref(auth);
        log_error("startup", "out of memory");
        return EXIT_RUNTIME;
    }
    published_init(&app->auth, auth_ref_any, auth_unref_any);
    app->auth_ready = true;
    published_set(&app->auth, auth);
    cache_set_listener(app->cache, on_publish, app->waiters);
    if (config_has_shopify(&app->cfg)) {
        struct shopify_settings settings = shopify_settings_of(&app->cfg, app->metrics);

        app->shopify = shopify_create(&settings);
        app->breaker = breaker_create(BACKOFF_BASE_MS, app->cfg.backoff_max_s * 1000);
        if (app->shopify == NULL || app->breaker == NULL) {
            log_error("startup", "could not create the Shopify client");
            return EXIT_RUNTIME;
        }
    }
    {
        struct refresher_settings settings = refresher_settings_of(&app->cfg, app->instance_id);
        struct catalog_source source;
        struct catalog_store store_port;

        if (app->shopify != NULL) {
            source = shopify_source(app->shopify);
        }
        if (app->store != NULL) {
            store_port = store_as_catalog_store(app->store);
        }
        app->refresher =
            refresher_create(&settings, app->cache, app->health, app->breaker, app->waiters,
                             app->shopify ? &source : NULL, app->store ? &store_port : NULL);
        if (app->refresher == NULL) {
            log_error("startup", "out of memory");
            return EXIT_RUNTIME;
        }
        refresher_set_metrics(app->refresher, app->metrics);
    }
    {
        struct http_deps deps = {
            .host = app->cfg.host,
            .port = app->cfg.port,
            .threads = 0,
            .catalog_expected = app->shopify != NULL,
            .cache = app->cache,
            .fallback = app->fallback,
            .health = app->health,
            .metrics = app->metrics,
            .waiters = app->waiters,
            .auth = &app->auth,
            .breaker = app->breaker,
            .max_connections = connection_room((unsigned)app->cfg.max_connections),
            .max_connections_per_client = (unsigned)app->cfg.max_connections_per_client,
            .header_timeout_ms = app->cfg.header_timeout_ms,
            .idle_timeout_ms = app->cfg.idle_timeout_ms,
        };
        struct http_limits limits = http_limits_of(&app->cfg);

        app->http = http_create(&deps, &limits, err, sizeof(err));
        if (app->http == NULL) {
            log_error("startup", "cannot serve HTTP: %s", err);
            return EXIT_LISTEN;
        }
    }
    if (refresher_start(app->refresher) != RETAIL_OK) {
        log_error("startup", "could not start the refresher thread");
        return EXIT_RUNTIME;
    }
    log_info("startup", "ready: serving on port %u", app->cfg.port);
    sd_notifyf(0, "READY=1\nSTATUS=serving on port %u\nMAINPID=%ld", app->cfg.port, (long)getpid());
    return -1;
}

/* SIGHUP: re-reads the configuration and applies what can change while
 * serving (API keys, TTLs, deadlines, timeouts, retries, pacing, back-off,
 * shrink guard, log level and format). A file with a problem changes
 * nothing. Keys that need a restart are named in the log. */
static void
app_reload(struct app *app)
{
    struct config fresh;
    char err[CONFIG_ERR_MAX];
    char restart[256];
    struct auth *auth;

    sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
    if (read_config(&app->flags, env_lookup_on_reload, &fresh, err, sizeof(err)) != RETAIL_OK ||
        (auth = auth_create(fresh.api_keys, fresh.api_key_count)) == NULL) {
        log_error("reload", "reload refused, the running configuration stays: %s", err);
        config_deinit(&fresh);
        sd_notifyf(0, "READY=1\nSTATUS=serving on port %u (last reload refused)", app->cfg.port);
        return;
    }
    published_set(&app->auth, auth);
    {
        struct http_limits limits = http_limits_of(&fresh);

        http_set_limits(app->http, &limits);
    }
    {
        struct refresher_settings settings = refresher_settings_of(&fresh, app->instance_id);

        refresher_set_limits(app->refresher, &settings);
    }
    if (app->shopify != NULL) {
        struct shopify_settings settings = shopify_settings_of(&fresh, app->metrics);

        shopify_set_limits(app->shopify, &settings);
        breaker_set_max(app->breaker, fresh.backoff_max_s * 1000);
    }
    log_set_level(fresh.log_level);
    log_set_json(fresh.log_json);
    config_restart_keys(&app->cfg, &fresh, restart, sizeof(restart));
    if (restart[0] != '\0') {
        log_warn("reload", "changed, but only a restart applies them: %s", restart);
    }
    log_info("reload",
             "configuration reloaded: %zu API key(s), cache TTL %ld s (stale up to %ld s), "
             "products deadline %ld ms, log level %s",
             fresh.api_key_count, fresh.cache_ttl_s, fresh.cache_stale_s,
             fresh.products_deadline_ms, log_level_name(fresh.log_level));
    /* Keep what reload applied, for the next comparison; the keys that need
     * a restart stay as they run. */
    app->cfg.cache_ttl_s = fresh.cache_ttl_s;
    app->cfg.cache_stale_s = fresh.cache_stale_s;
    app->cfg.products_deadline_ms = fresh.products_deadline_ms;
    app->cfg.drain_timeout_ms = fresh.drain_timeout_ms;
    app->cfg.log_level = fresh.log_level;
    app->cfg.log_json = fresh.log_json;
    config_deinit(&fresh);
    sd_notifyf(0, "READY=1\nSTATUS=serving on port %u", app->cfg.port);
}

/* Waits for signals; between them, when systemd's watchdog is on, proves
 * the HTTP threads answer and tells systemd so. Returns on SIGINT/SIGTERM. */
static void
app_serve(struct app *app, const sigset_t *signals)
{
    uint64_t watchdog_us = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdog_us) > 0 && watchdog_us > 0;

    for (;;) {
        struct timespec wait = {3600, 0};
        siginfo_t info;
        int sig;

        if (watchdog) {
            int64_t half_us = (int64_t)watchdog_us / 2;

            wait.tv_sec = (time_t)(half_us / 1000000);
            wait.tv_nsec = (long)(half_us % 1000000) * 1000;
        }
        sig = sigtimedwait(signals, &info, &wait);
        if (sig < 0) {
            if (errno == EAGAIN && watchdog) {
                if (http_probe_live(app->cfg.host, app->cfg.port, PROBE_TIMEOUT_MS)) {
                    sd_notify(0, "WATCHDOG=1");
                } else {
                    log_error("watchdog", "GET /live did not answer: not telling systemd");
                }
            }
            continue;
        }
        if (sig == SIGHUP) {
            log_info("signal", "SIGHUP received: reloading the configuration");
            app_reload(app);
            continue;
        }
        log_info("signal", "%s received: draining for up to %ld ms",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", app->cfg.drain_timeout_ms);
        return;
    }
}

/* Reverse order of creation; every _destroy accepts NULL. */
static void
app_destroy(struct app *app)
{
    if (app->refresher != NULL) {
        refresher_stop(app->refresher);
    }
    http_destroy(app->http);
    refresher_destroy(app->refresher);
    store_destroy(app->store);
    shopify_destroy(app->shopify);
    breaker_destroy(app->breaker);
    waiters_destroy(app->waiters);
    if (app->auth_ready) {
        published_deinit(&app->auth);
    }
    metrics_destroy(app->metrics);
    health_destroy(app->health);
    cache_destroy(app->cache);
    catalog_unref(app->fallback);
    curl_global_cleanup();
    config_deinit(&app->cfg);
}

int
main(int argc, char **argv)
{
    struct app app;
    char err[CONFIG_ERR_MAX];
    sigset_t signals;
    int code;

    memset(&app, 0, sizeof(app));
    code = parse_flags(argc, argv, &app.flags);
    if (code >= 0) {
        return code;
    }
    if (app.flags.check_config != NULL) {
        return check_config(app.flags.check_config);
    }
    if (read_config(&app.flags, env_lookup, &app.cfg, err, sizeof(err)) != RETAIL_OK) {
        fprintf(stderr, "retail-api: configuration error: %s\n", err);
        config_deinit(&app.cfg);
        return EXIT_CONFIG;
    }
    if (app.flags.config_file != NULL && config_file_pairs(app.flags.config_file, remember_pair,
                                                           NULL, err, sizeof(err)) != RETAIL_OK) {
        forget_pairs(); /* read once already: only a race with an editor gets here */
    }
    log_set_level(app.cfg.log_level);
    log_set_json(app.cfg.log_json);

    /* Signals are blocked before any thread starts, so only this thread
     * sees them (sigtimedwait); SIGPIPE is ignored for sockets closed by
     * peers. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    code = app_start(&app);
    if (code < 0) {
        app_serve(&app, &signals);
        sd_notify(0, "STOPPING=1\nSTATUS=draining");
        http_drain(app.http, app.cfg.drain_timeout_ms);
        code = EXIT_OK;
    }
    app_destroy(&app);
    forget_pairs();
    if (code == EXIT_OK) {
        log_info("shutdown", "stopped cleanly");
    }
    return code;
}
