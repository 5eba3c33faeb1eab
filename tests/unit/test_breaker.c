/* SPDX-License-Identifier: MIT */
/* Unit tests: the circuit breaker's states, pauses and jitter. */
#include "helpers.h"

#include "retail/breaker.h"

static void
pauses_double_up_to_the_cap(void **state)
{
    (void)state;
    assert_int_equal(breaker_pause_ms(1000, 60000, 1, false), 1000);
    assert_int_equal(breaker_pause_ms(1000, 60000, 2, false), 2000);
    assert_int_equal(breaker_pause_ms(1000, 60000, 3, false), 4000);
    assert_int_equal(breaker_pause_ms(1000, 60000, 7, false), 60000);
    assert_int_equal(breaker_pause_ms(1000, 60000, 4000000000u, false), 60000);
    assert_int_equal(breaker_pause_ms(1000, 60000, 1, true), 60000); /* needs a person */
}

static void
a_failure_opens_with_jitter_and_a_probe_half_opens(void **state)
{
    struct breaker *b = breaker_create(1000, 8000);
    struct breaker_view view;
    int64_t pause;

    (void)state;
    assert_true(breaker_allows(b, 0));
    assert_false(breaker_should_wait(b));
    breaker_begin(b);
    assert_true(breaker_should_wait(b)); /* closed and in flight: worth waiting for */
    pause = breaker_failed(b, 10000, false);
    assert_true(pause >= 500 && pause <= 1000); /* equal jitter on 1 s */
    view = breaker_view(b);
    assert_int_equal(view.state, BREAKER_OPEN);
    assert_int_equal(view.failures, 1);
    assert_int_equal(view.next_attempt_ms, 10000 + pause);
    assert_false(breaker_should_wait(b));
    assert_false(breaker_allows(b, 10000 + pause - 1));
    assert_true(breaker_allows(b, 10000 + pause));
    breaker_begin(b);
    assert_int_equal(breaker_view(b).state, BREAKER_HALF_OPEN);
    assert_false(breaker_should_wait(b)); /* nobody waits on a probe */
    pause = breaker_failed(b, 20000, false);
    assert_true(pause >= 1000 && pause <= 2000);
    assert_int_equal(breaker_view(b).failures, 2);
    breaker_begin(b);
    breaker_succeeded(b);
    view = breaker_view(b);
    assert_int_equal(view.state, BREAKER_CLOSED);
    assert_int_equal(view.failures, 0);
    assert_false(view.in_flight);
    breaker_destroy(b);
}

static void
jitter_spreads_the_pauses(void **state)
{
    int64_t low = INT64_MAX, high = 0;

    (void)state;
    for (int i = 0; i < 200; i++) {
        struct breaker *b = breaker_create(8000, 8000);
        int64_t pause = breaker_failed(b, 0, false);

        low = pause < low ? pause : low;
        high = pause > high ? pause : high;
        breaker_destroy(b);
    }
    assert_true(low >= 4000 && high <= 8000);
    assert_true(high - low > 1000); /* 200 draws over a 4 s range */
}

static void
needs_person_waits_the_longest(void **state)
{
    struct breaker *b = breaker_create(1000, 60000);
    int64_t pause;

    (void)state;
    breaker_begin(b);
    pause = breaker_failed(b, 0, true);
    assert_true(pause >= 30000 && pause <= 60000);
    breaker_destroy(b);
}

static void
abandon_and_hold(void **state)
{
    struct breaker *b = breaker_create(1000, 60000);
    struct breaker_view view;

    (void)state;
    breaker_begin(b);
    breaker_abandon(b);
    view = breaker_view(b);
    assert_int_equal(view.state, BREAKER_CLOSED);
    assert_false(view.in_flight);
    breaker_begin(b);
    breaker_hold(b, 5000, 9000); /* the fleet pauses: no failure counted here */
    view = breaker_view(b);
    assert_int_equal(view.state, BREAKER_OPEN);
    assert_int_equal(view.failures, 0);
    assert_int_equal(view.next_attempt_ms, 9000);
    assert_int_equal(view.opened_for_ms, 4000);
    assert_false(breaker_allows(b, 8999));
    assert_true(breaker_allows(b, 9000));
    assert_string_equal(breaker_state_name(view.state), "open");
    breaker_destroy(b);
    breaker_destroy(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pauses_double_up_to_the_cap),
        cmocka_unit_test(a_failure_opens_with_jitter_and_a_probe_half_opens),
        cmocka_unit_test(jitter_spreads_the_pauses),
        cmocka_unit_test(needs_person_waits_the_longest),
        cmocka_unit_test(abandon_and_hold),
    };
    return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
