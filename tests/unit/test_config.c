/* SPDX-License-Identifier: MIT */
/* Unit tests: configuration parsing, precedence and every error. */
#include "helpers.h"

#include "retail/config.h"

#include <unistd.h>

static const char *const *fake_env; /* NULL-terminated KEY, VALUE pairs */

static const char *
fake_getenv(const char *name)
{
    for (size_t i = 0; fake_env != NULL && fake_env[i] != NULL; i += 2) {
        if (strcmp(fake_env[i], name) == 0) {
            return fake_env[i + 1];
        }
    }
    return NULL;
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
defaults_match_the_documentation(void **state)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    assert_int_equal(config_init(&cfg), RETAIL_OK);
    assert_int_equal(config_finish(&cfg, err, sizeof(err)), RETAIL_OK);
    assert_string_equal(cfg.host, "0.0.0.0");
    assert_int_equal(cfg.port, 8000);
    assert_int_equal(cfg.api_key_count, 0);
    assert_int_equal(cfg.redis.kind, REDIS_TCP);
    assert_string_equal(cfg.redis.host, "127.0.0.1");
    assert_int_equal(cfg.redis.port, 6379);
    assert_int_equal(cfg.redis.db, 0);
    assert_null(cfg.shop_url);
    assert_null(cfg.shop_token);
    assert_false(config_has_shopify(&cfg));
    assert_string_equal(cfg.api_version, "2026-10");
    assert_int_equal(cfg.connect_timeout_ms, 1000);
    assert_int_equal(cfg.timeout_ms, 5000);
    assert_int_equal(cfg.products_deadline_ms, 1500);
    assert_int_equal(cfg.cache_ttl_s, 300);
    assert_string_equal(cfg.fallback_file, "config/fallback_products.json");
    assert_int_equal(cfg.log_level, LOG_INFO);
    config_deinit(&cfg);
}

static void
valid_values_are_taken(void **state)
{
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"HOST", "127.0.0.1"},
        {"HOST", "::1"},
        {"HOST", "localhost"},
        {"PORT", "1"},
        {"PORT", "65535"},
        {"SHOPIFY_API_VERSION", "2025-01"},
        {"SHOPIFY_API_VERSION", "unstable"},
        {"SHOPIFY_CONNECT_TIMEOUT_MS", "1"},
        {"SHOPIFY_TIMEOUT_MS", "300000"},
        {"PRODUCTS_DEADLINE_MS", "0"},
        {"CACHE_TTL_SECONDS", "604800"},
        {"LOG_LEVEL", "debug"},
        {"LOG_LEVEL", "error"},
        {"FALLBACK_PRODUCTS_FILE", "/etc/retail-api/fallback.json"},
        {"REDIS_URL", "none"},
        {"REDIS_URL", "unix:///run/redis/redis.sock"},
        {"SHOPIFY_SHOP_URL", "mystore.myshopify.com"},
        {"SHOPIFY_ACCESS_TOKEN", "shpat_0123456789abcdef"},
        {"API_KEYS", "a,b , c"},
        {"API_KEY", "single"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[CONFIG_ERR_MAX] = "";

        assert_int_equal(config_init(&cfg), RETAIL_OK);
        if (config_set(&cfg, cases[i].key, cases[i].value, "test", err, sizeof(err)) != RETAIL_OK) {
            fail_msg("%s=%s refused: %s", cases[i].key, cases[i].value, err);
        }
        config_deinit(&cfg);
    }
}

static void
invalid_values_name_the_key(void **state)
{
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"HOST", "example.com"},
        {"HOST", "300.1.1.1"},
        {"PORT", "0"},
        {"PORT", "65536"},
        {"PORT", "80a"},
        {"PORT", " 80"},
        {"PORT", "+80"},
        {"PORT", "-1"},
        {"SHOPIFY_CONNECT_TIMEOUT_MS", "0"},
        {"SHOPIFY_CONNECT_TIMEOUT_MS", "1.5"},
        {"SHOPIFY_TIMEOUT_MS", "300001"},
        {"SHOPIFY_TIMEOUT_MS", "5s"},
        {"PRODUCTS_DEADLINE_MS", "-1"},
        {"PRODUCTS_DEADLINE_MS", "60001"},
        {"CACHE_TTL_SECONDS", "0"},
        {"CACHE_TTL_SECONDS", "99999999999999999999999"},
        {"CACHE_TTL_SECONDS", "five"},
        {"LOG_LEVEL", "verbose"},
        {"LOG_LEVEL", "INFO"},
        {"SHOPIFY_API_VERSION", "2026-13"},
        {"SHOPIFY_API_VERSION", "latest"},
        {"SHOPIFY_API_VERSION", "2026-1"},
        {"SHOPIFY_SHOP_URL", "ftp://mystore.myshopify.com"},
        {"SHOPIFY_SHOP_URL", "https://mystore.myshopify.com/admin"},
        {"SHOPIFY_SHOP_URL", "https://user:pw@mystore.myshopify.com"},
        {"SHOPIFY_SHOP_URL", "https://"},
        {"SHOPIFY_ACCESS_TOKEN", "has space"},
        {"REDIS_URL", "http://127.0.0.1:6379"},
        {"REDIS_URL", "redis://127.0.0.1:0"},
        {"REDIS_URL", "redis://127.0.0.1:99999"},
        {"REDIS_URL", "redis://127.0.0.1:6379/abc"},
        {"REDIS_URL", "redis://127.0.0.1:6379/99999"},
        {"REDIS_URL", "redis://:6379"},
        {"REDIS_URL", "redis://[::1:6379"},
        {"REDIS_URL", "unix://relative.sock"},
        {"REDIS_URL", "unix:///tmp/r.sock?database=1"},
        {"API_KEYS", "ok,has space"},
        {"API_KEYS", "ok,caf\xc3\xa9"},
        {"NOT_A_KEY", "1"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[CONFIG_ERR_MAX] = "";
        const char *name = strcmp(cases[i].key, "NOT_A_KEY") == 0 ? "unknown key" : cases[i].key;

        assert_int_equal(config_init(&cfg), RETAIL_OK);
        if (config_set(&cfg, cases[i].key, cases[i].value, "origin-x", err, sizeof(err)) !=
            RETAIL_ERR_INVALID) {
            fail_msg("%s=%s accepted", cases[i].key, cases[i].value);
        }
        if (strstr(err, name) == NULL || strstr(err, "origin-x") == NULL) {
            fail_msg("%s=%s: error \"%s\" does not name the key and origin", cases[i].key,
                     cases[i].value, err);
        }
        config_deinit(&cfg);
    }
}

static void
secrets_never_appear_in_errors(void **state)
{
    static const struct {
        const char *key, *value, *secret;
    } cases[] = {
        {"REDIS_URL", "redis://:hunter2-secret@127.0.0.1:abc/0", "hunter2-secret"},
        {"REDIS_URL", "rediss://:hunter2-secret@h:1", "hunter2-secret"},
        {"SHOPIFY_ACCESS_TOKEN", "shpat_SECRET token", "shpat_SECRET"},
        {"API_KEYS", "fine,SECRETKEY with space", "SECRETKEY"},
        {"API_KEY", "SECRETKEY\x01", "SECRETKEY"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[CONFIG_ERR_MAX] = "";

        assert_int_equal(config_init(&cfg), RETAIL_OK);
        assert_int_equal(config_set(&cfg, cases[i].key, cases[i].value, "env", err, sizeof(err)),
                         RETAIL_ERR_INVALID);
        assert_non_null(strstr(err, cases[i].key));
        if (strstr(err, cases[i].secret) != NULL) {
            fail_msg("error leaks a secret: %s", err);
        }
        config_deinit(&cfg);
    }
}

static void
redis_urls_are_parsed(void **state)
{
    static const struct {
        const char *url;
        enum redis_kind kind;
        const char *host;
        int port, db;
        const char *user, *password, *path;
    } cases[] = {
        {"redis://127.0.0.1:6379/0", REDIS_TCP, "127.0.0.1", 6379, 0, NULL, NULL, NULL},
        {"redis://cache.internal", REDIS_TCP, "cache.internal", 6379, 0, NULL, NULL, NULL},
        {"redis://h:7000/", REDIS_TCP, "h", 7000, 0, NULL, NULL, NULL},
        {"redis://h:7000/15", REDIS_TCP, "h", 7000, 15, NULL, NULL, NULL},
        {"redis://:pa:ss@h:1/2", REDIS_TCP, "h", 1, 2, NULL, "pa:ss", NULL},
        {"redis://alice:pw@h/3", REDIS_TCP, "h", 6379, 3, "alice", "pw", NULL},
        {"redis://[::1]:6380/1", REDIS_TCP, "::1", 6380, 1, NULL, NULL, NULL},
        {"unix:///run/redis.sock", REDIS_UNIX, NULL, 0, 0, NULL, NULL, "/run/redis.sock"},
        {"unix:///run/redis.sock?db=4", REDIS_UNIX, NULL, 0, 4, NULL, NULL, "/run/redis.sock"},
        {"none", REDIS_NONE, NULL, 0, 0, NULL, NULL, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct redis_target t;
        char err[CONFIG_ERR_MAX] = "";

        if (config_parse_redis_url(cases[i].url, &t, err, sizeof(err)) != RETAIL_OK) {
            fail_msg("%s refused: %s", cases[i].url, err);
        }
        assert_int_equal(t.kind, cases[i].kind);
        assert_int_equal(t.db, cases[i].db);
        if (cases[i].kind == REDIS_TCP) {
            assert_string_equal(t.host, cases[i].host);
            assert_int_equal(t.port, cases[i].port);
        }
        if (cases[i].path != NULL) {
            assert_string_equal(t.path, cases[i].path);
        }
        if (cases[i].user != NULL) {
            assert_string_equal(t.username, cases[i].user);
        } else {
            assert_null(t.username);
        }
        if (cases[i].password != NULL) {
            assert_string_equal(t.password, cases[i].password);
        } else {
            assert_null(t.password);
        }
        config_redis_target_deinit(&t);
    }
}

static void
shop_urls_are_normalised(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"mystore.myshopify.com", "https://mystore.myshopify.com"},
        {"mystore.myshopify.com/", "https://mystore.myshopify.com"},
        {"https://mystore.myshopify.com/", "https://mystore.myshopify.com"},
        {"http://127.0.0.1:9100", "http://127.0.0.1:9100"},
        {"http://[::1]:9100/", "http://[::1]:9100"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[CONFIG_ERR_MAX];

        assert_int_equal(config_init(&cfg), RETAIL_OK);
        assert_int_equal(config_set(&cfg, "SHOPIFY_SHOP_URL", cases[i].in, "t", err, sizeof(err)),
                         RETAIL_OK);
        assert_string_equal(cfg.shop_url, cases[i].out);
        config_deinit(&cfg);
    }
}

static void
file_environment_and_flags_in_order(void **state)
{
    const char *path = "test_config_precedence.conf";
    static const char *const env[] = {"PORT",    "9001", "CACHE_TTL_SECONDS", "60", "API_KEYS",
                                      "env-key", NULL};
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    write_file(path, "# comment\n"
                     "; another comment\n"
                     "\n"
                     "  PORT = 9000\n"
                     "CACHE_TTL_SECONDS=120\n"
                     "LOG_LEVEL=\"warn\"\n"
                     "SHOPIFY_API_VERSION='2025-07'\n"
                     "API_KEYS=file-key-1,file-key-2\r\n"
                     "API_KEY=compat-key\n"
                     "FALLBACK_PRODUCTS_FILE=\"/path/with \\\"quote\\\".json\"\n");
    fake_env = env;
    assert_int_equal(config_init(&cfg), RETAIL_OK);
    assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), RETAIL_OK);
    assert_int_equal(cfg.port, 9000);
    assert_int_equal(config_load_env(&cfg, fake_getenv, err, sizeof(err)), RETAIL_OK);
    assert_int_equal(config_set(&cfg, "PORT", "9002", "--port", err, sizeof(err)), RETAIL_OK);
    assert_int_equal(config_finish(&cfg, err, sizeof(err)), RETAIL_OK);
    assert_int_equal(cfg.port, 9002);          /* flag beats environment beats file */
    assert_int_equal(cfg.cache_ttl_s, 60);     /* environment beats file */
    assert_int_equal(cfg.log_level, LOG_WARN); /* file only, quotes removed */
    assert_string_equal(cfg.api_version, "2025-07");
    assert_string_equal(cfg.fallback_file, "/path/with \"quote\".json");
    /* API_KEYS from the environment replaces the file's; API_KEY adds. */
    assert_int_equal(cfg.api_key_count, 2);
    assert_string_equal(cfg.api_keys[0], "env-key");
    assert_string_equal(cfg.api_keys[1], "compat-key");
    config_deinit(&cfg);
    fake_env = NULL;
    unlink(path);
}

static void
file_errors_give_the_line(void **state)
{
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"PORT=8000\nUNKNOWN_SETTING=1\n", ":2: unknown key \"UNKNOWN_SETTING\""},
        {"PORT=8000\n\njust text\n", ":3: expected KEY=VALUE"},
        {"lower=1\n", ":1: the key is not a name"},
        {"export PORT=1\n", ":1: the key is not a name"},
        {"CACHE_TTL_SECONDS=soon\n", ":1: CACHE_TTL_SECONDS"},
    };
    const char *path = "test_config_errors.conf";

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[CONFIG_ERR_MAX] = "";

        write_file(path, cases[i].text);
        assert_int_equal(config_init(&cfg), RETAIL_OK);
        assert_int_not_equal(config_load_file(&cfg, path, err, sizeof(err)), RETAIL_OK);
        if (strstr(err, cases[i].expect) == NULL) {
            fail_msg("error \"%s\" lacks \"%s\"", err, cases[i].expect);
        }
        config_deinit(&cfg);
    }
    unlink(path);
}

static void
a_missing_file_is_an_error(void **state)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    assert_int_equal(config_init(&cfg), RETAIL_OK);
    assert_int_equal(config_load_file(&cfg, "/nonexistent/retail.conf", err, sizeof(err)),
                     RETAIL_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/retail.conf"));
    config_deinit(&cfg);
}

static void
an_overlong_line_is_an_error(void **state)
{
    const char *path = "test_config_long.conf";
    FILE *f = fopen(path, "w");
    struct config cfg;
    char err[CONFIG_ERR_MAX] = "";

    (void)state;
    assert_non_null(f);
    fputs("API_KEYS=", f);
    for (int i = 0; i < 10000; i++) {
        fputc('a', f);
    }
    fputc('\n', f);
    fclose(f);
    assert_int_equal(config_init(&cfg), RETAIL_OK);
    assert_int_equal(config_load_file(&cfg, path, err, sizeof(err)), RETAIL_ERR_LIMIT);
    assert_non_null(strstr(err, ":1:"));
    assert_null(strstr(err, "aaaa"));
    config_deinit(&cfg);
    unlink(path);
}

static void
cross_checks(void **state)
{
    static const struct {
        const char *const settings[8];
        const char *expect; /* NULL: accepted */
    } cases[] = {
        {{"SHOPIFY_SHOP_URL", "s.myshopify.com", "SHOPIFY_CLIENT_ID", "id", "SHOPIFY_CLIENT_SECRET",
          "sec", NULL},
         NULL},
        {{"SHOPIFY_SHOP_URL", "s.myshopify.com", "SHOPIFY_CLIENT_ID", "id", NULL},
         "SHOPIFY_CLIENT_SECRET: required when SHOPIFY_CLIENT_ID"},
        {{"SHOPIFY_SHOP_URL", "s.myshopify.com", "SHOPIFY_CLIENT_SECRET", "sec", NULL},
         "SHOPIFY_CLIENT_ID: required when SHOPIFY_CLIENT_SECRET"},
        {{"SHOPIFY_ACCESS_TOKEN", "tok", "SHOPIFY_CLIENT_ID", "id", "SHOPIFY_CLIENT_SECRET", "sec",
          NULL},
         "not both"},
        {{"SHOPIFY_CLIENT_ID", "id", "SHOPIFY_CLIENT_SECRET", "sec", NULL},
         "SHOPIFY_SHOP_URL: required when SHOPIFY_CLIENT_ID"},
        {{"SHOPIFY_SHOP_URL", "s.myshopify.com", NULL}, "SHOPIFY_ACCESS_TOKEN: required"},
        {{"SHOPIFY_ACCESS_TOKEN", "tok", NULL}, "SHOPIFY_SHOP_URL: required"},
        {{"SHOPIFY_SHOP_URL", "s.myshopify.com", "SHOPIFY_ACCESS_TOKEN", "tok", NULL}, NULL},
        {{"SHOPIFY_CONNECT_TIMEOUT_MS", "3000", "SHOPIFY_TIMEOUT_MS", "2000", NULL},
         "SHOPIFY_CONNECT_TIMEOUT_MS"},
        {{"API_KEYS", ",,", NULL}, NULL}, /* empty entries are skipped: no keys */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[CONFIG_ERR_MAX] = "";
        int rc;

        assert_int_equal(config_init(&cfg), RETAIL_OK);
        for (size_t k = 0; cases[i].settings[k] != NULL; k += 2) {
            assert_int_equal(config_set(&cfg, cases[i].settings[k], cases[i].settings[k + 1], "t",
                                        err, sizeof(err)),
                             RETAIL_OK);
        }
        rc = config_finish(&cfg, err, sizeof(err));
        if (cases[i].expect == NULL) {
            assert_int_equal(rc, RETAIL_OK);
        } else {
            assert_int_equal(rc, RETAIL_ERR_INVALID);
            assert_non_null(strstr(err, cases[i].expect));
        }
        config_deinit(&cfg);
    }
}

static void
an_empty_value_restores_the_default(void **state)
{
    struct config cfg;
    char err[CONFIG_ERR_MAX];

    (void)state;
    assert_int_equal(config_init(&cfg), RETAIL_OK);
    assert_int_equal(config_set(&cfg, "PORT", "9", "t", err, sizeof(err)), RETAIL_OK);
    assert_int_equal(config_set(&cfg, "PORT", "", "t", err, sizeof(err)), RETAIL_OK);
    assert_int_equal(cfg.port, 8000);
    assert_int_equal(config_set(&cfg, "REDIS_URL", "none", "t", err, sizeof(err)), RETAIL_OK);
    assert_int_equal(config_set(&cfg, "REDIS_URL", "", "t", err, sizeof(err)), RETAIL_OK);
    assert_int_equal(cfg.redis.kind, REDIS_TCP);
    assert_int_equal(config_set(&cfg, "API_KEYS", "a", "t", err, sizeof(err)), RETAIL_OK);
    assert_int_equal(config_set(&cfg, "API_KEYS", "", "t", err, sizeof(err)), RETAIL_OK);
    assert_int_equal(config_finish(&cfg, err, sizeof(err)), RETAIL_OK);
    assert_int_equal(cfg.api_key_count, 0);
    config_deinit(&cfg);
}

static void
the_example_config_documents_every_key(void **state)
{
    FILE *f = fopen(SOURCE_DIR "/config/retail-api.conf.example", "r");
    char text[32768];
    size_t n;

    (void)state;
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    for (size_t i = 0; config_keys[i] != NULL; i++) {
        char needle[64];

        snprintf(needle, sizeof(needle), "\n%s=", config_keys[i]);
        if (strstr(text, needle) == NULL) {
            fail_msg("config/retail-api.conf.example does not document %s", config_keys[i]);
        }
    }
    /* And every key it documents is one the environment is read for. */
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        bool listed = false;

        if (line[0] == '#' || eq == NULL) {
            continue;
        }
        *eq = '\0';
        for (size_t i = 0; config_keys[i] != NULL; i++) {
            listed = listed || strcmp(config_keys[i], line) == 0;
        }
        if (!listed) {
            fail_msg("%s is documented but missing from config_keys", line);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_match_the_documentation),
        cmocka_unit_test(valid_values_are_taken),
        cmocka_unit_test(invalid_values_name_the_key),
        cmocka_unit_test(secrets_never_appear_in_errors),
        cmocka_unit_test(redis_urls_are_parsed),
        cmocka_unit_test(shop_urls_are_normalised),
        cmocka_unit_test(file_environment_and_flags_in_order),
        cmocka_unit_test(file_errors_give_the_line),
        cmocka_unit_test(a_missing_file_is_an_error),
        cmocka_unit_test(an_overlong_line_is_an_error),
        cmocka_unit_test(cross_checks),
        cmocka_unit_test(an_empty_value_restores_the_default),
        cmocka_unit_test(the_example_config_documents_every_key),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
