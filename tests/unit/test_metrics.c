/* SPDX-License-Identifier: MIT */
/* Unit tests: the Prometheus exposition, its buckets and its shards. */
#include "helpers.h"

#include "retail/metrics.h"

#include <pthread.h>

static char *
render(struct metrics *m, struct health *h, bool draining, unsigned in_flight)
{
    struct metrics_inputs in = {.health = h,
                                .draining = draining,
                                .in_flight = in_flight,
                                .connections = 3,
                                .connections_timed_out = 2};
    struct buf out;
    char *text;

    buf_init(&out, 1 << 20);
    assert_int_equal(metrics_render(m, &in, &out), RETAIL_OK);
    assert_int_equal(buf_append(&out, "", 1), RETAIL_OK);
    text = strdup(out.data);
    buf_deinit(&out);
    return text;
}

static void
assert_line(const char *text, const char *line)
{
    char *want = malloc(strlen(line) + 3);

    sprintf(want, "\n%s\n", line);
    if (strstr(text, want) == NULL) {
        fail_msg("missing line \"%s\" in:\n%s", line, text);
    }
    free(want);
}

/* A latency lands in the first bucket whose bound it does not pass, and
 * every bucket counts all answers up to it (le is "less or equal"). */
static void
histogram_buckets_are_cumulative_with_inclusive_bounds(void **state)
{
    struct metrics *m = metrics_create();
    struct health *h = health_create(false, HEALTH_REDIS_DISABLED);
    char *text;

    (void)state;
    metrics_http(m, METRICS_ROUTE_PRODUCTS, 200, 100);     /* exactly 100 us */
    metrics_http(m, METRICS_ROUTE_PRODUCTS, 200, 101);     /* just over */
    metrics_http(m, METRICS_ROUTE_PRODUCTS, 401, 5000000); /* past the last bound */
    metrics_http(m, METRICS_ROUTE_HEALTH, 200, -3);        /* a clock step: counted as 0 */
    text = render(m, h, false, 1);
    assert_line(text, "retail_http_requests_total{route=\"products\",status=\"200\"} 2");
    assert_line(text, "retail_http_requests_total{route=\"products\",status=\"401\"} 1");
    assert_line(text,
                "retail_http_request_duration_seconds_bucket{route=\"products\",le=\"0.0001\"} 1");
    assert_line(text,
                "retail_http_request_duration_seconds_bucket{route=\"products\",le=\"0.00025\"} 2");
    assert_line(text,
                "retail_http_request_duration_seconds_bucket{route=\"products\",le=\"2.5\"} 2");
    assert_line(text,
                "retail_http_request_duration_seconds_bucket{route=\"products\",le=\"+Inf\"} 3");
    assert_line(text, "retail_http_request_duration_seconds_count{route=\"products\"} 3");
    assert_line(text, "retail_http_request_duration_seconds_sum{route=\"products\"} 5.000201");
    assert_line(text, "retail_http_request_duration_seconds_sum{route=\"health\"} 0.000000");
    /* Routes without answers show no series. */
    assert_null(strstr(text, "route=\"metrics\""));
    assert_line(text, "retail_http_requests_in_flight 1");
    assert_line(text, "retail_http_connections 3");
    assert_line(text, "retail_http_connections_timed_out_total 2");
    assert_line(text, "retail_draining 0");
    assert_line(text, "retail_redis_up 0");
    free(text);
    health_destroy(h);
    metrics_destroy(m);
}

static void
statuses_outside_the_list_are_other(void **state)
{
    struct metrics *m = metrics_create();
    struct health *h = health_create(false, HEALTH_REDIS_UP);
    char *text;

    (void)state;
    metrics_http(m, METRICS_ROUTE_OTHER, 418, 10);
    metrics_http(m, METRICS_ROUTE_PRODUCTS, 499, 10);
    metrics_shopify(m, FETCH_TIMEOUT, 5000);
    metrics_shopify(m, FETCH_OK, 40);
    metrics_refresh(m, FETCH_TIMEOUT);
    text = render(m, h, true, 0);
    assert_line(text, "retail_http_requests_total{route=\"other\",status=\"other\"} 1");
    assert_line(text, "retail_http_requests_total{route=\"products\",status=\"499\"} 1");
    assert_line(text, "retail_shopify_requests_total{outcome=\"timeout\"} 1");
    assert_line(text, "retail_shopify_requests_total{outcome=\"ok\"} 1");
    assert_line(text, "retail_shopify_request_duration_seconds_bucket{le=\"0.05\"} 1");
    assert_line(text, "retail_shopify_request_duration_seconds_bucket{le=\"5\"} 2");
    assert_line(text, "retail_shopify_request_duration_seconds_sum 5.040");
    assert_line(text, "retail_refreshes_total{outcome=\"timeout\"} 1");
    assert_line(text, "retail_draining 1");
    assert_line(text, "retail_redis_up 1");
    assert_string_equal(metrics_route_name(METRICS_ROUTE_PRODUCT), "product");
    assert_string_equal(metrics_route_name(METRICS_ROUTES), "other");
    free(text);
    health_destroy(h);
    metrics_destroy(m);
}

#define THREADS 6
#define PER_THREAD 20000

static void *
record(void *arg)
{
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_http(arg, METRICS_ROUTE_PRODUCT, 404, 1);
    }
    return NULL;
}

/* Threads count on shards of their own; the sum loses nothing. */
static void
shards_from_many_threads_add_up(void **state)
{
    struct metrics *m = metrics_create();
    struct health *h = health_create(false, HEALTH_REDIS_DISABLED);
    pthread_t threads[THREADS];
    char *text;
    char want[128];

    (void)state;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, record, m), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    text = render(m, h, false, 0);
    snprintf(want, sizeof(want), "retail_http_requests_total{route=\"product\",status=\"404\"} %d",
             THREADS * PER_THREAD);
    assert_line(text, want);
    free(text);
    health_destroy(h);
    metrics_destroy(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_buckets_are_cumulative_with_inclusive_bounds),
        cmocka_unit_test(statuses_outside_the_list_are_other),
        cmocka_unit_test(shards_from_many_threads_add_up),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
