/* SPDX-License-Identifier: MIT */
/* Unit tests: publication of catalogs, references, listener, threads. */
#include "helpers.h"

#include "retail/cache.h"

#include <pthread.h>
#include <stdatomic.h>

static struct catalog *
tiny_catalog(int64_t fetched_at)
{
    struct catalog_builder *b = catalog_builder_create(1 << 16);
    json_t *p = json_pack("{s:s, s:s}", "id", "1", "title", "t");
    char err[128];

    assert_int_equal(catalog_builder_add_answer(b, p, err, sizeof(err)), RETAIL_OK);
    json_decref(p);
    return catalog_builder_finish(b, CATALOG_ORIGIN_SHOPIFY, fetched_at, NULL);
}

static void
count_calls(void *arg)
{
    (*(int *)arg)++;
}

static void
publishes_and_hands_out_references(void **state)
{
    struct cache *cache = cache_create();
    struct catalog *held, *current;
    int published = 0;

    (void)state;
    cache_set_listener(cache, count_calls, &published);
    assert_null(cache_acquire(cache));
    cache_publish(cache, tiny_catalog(1));
    assert_int_equal(published, 1);
    held = cache_acquire(cache);
    assert_int_equal(catalog_fetched_at_ms(held), 1);
    cache_publish(cache, tiny_catalog(2));
    assert_int_equal(published, 2);
    /* The old catalog stays valid for its holder after it is replaced. */
    assert_int_equal(catalog_fetched_at_ms(held), 1);
    assert_int_equal(catalog_count(held), 1);
    catalog_unref(held);
    current = cache_acquire(cache);
    assert_int_equal(catalog_fetched_at_ms(current), 2);
    catalog_unref(current);
    cache_destroy(cache);
    cache_destroy(NULL);
}

struct reader_args {
    struct cache *cache;
    atomic_bool stop;
    bool saw_bad;
};

static void *
reader(void *arg)
{
    struct reader_args *a = arg;

    while (!atomic_load(&a->stop)) {
        struct catalog *c = cache_acquire(a->cache);

        if (c != NULL) {
            if (catalog_count(c) != 1 || catalog_fetched_at_ms(c) <= 0) {
                a->saw_bad = true;
            }
            catalog_unref(c);
        }
    }
    return NULL;
}

static void
readers_never_see_a_freed_catalog(void **state)
{
    struct reader_args args = {cache_create(), false, false};
    pthread_t threads[3];

    (void)state;
    cache_publish(args.cache, tiny_catalog(1));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, reader, &args), 0);
    }
    for (int64_t i = 2; i < 3000; i++) {
        cache_publish(args.cache, tiny_catalog(i));
    }
    atomic_store(&args.stop, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
    }
    assert_false(args.saw_bad);
    cache_destroy(args.cache);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publishes_and_hands_out_references),
        cmocka_unit_test(readers_never_see_a_freed_catalog),
    };
    return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
