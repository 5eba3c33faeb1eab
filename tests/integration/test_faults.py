# SPDX-License-Identifier: MIT
"""Fault injection: every way Shopify misbehaves, with clients sending
requests throughout. For each fault: every answer is 200 with the right
source, none waits longer than PRODUCTS_DEADLINE_MS plus a margin (and
with a catalog in memory, none waits at all), the mock sees no more
requests than the rules allow, and the server recovers by itself."""
import time
import unittest

from harness import Load, MockShopify, RetailApi, shopify_env, wait_until

DEADLINE_MS = 800
MARGIN_S = 0.25
RETRIES = 2
BACKOFF_MAX_S = 4
FAULT_MIN_S = 5.0

SETTINGS = dict(CACHE_TTL_SECONDS=2, CACHE_STALE_SECONDS=600, PRODUCTS_DEADLINE_MS=DEADLINE_MS,
                SHOPIFY_TIMEOUT_MS=500, SHOPIFY_CONNECT_TIMEOUT_MS=300,
                SHOPIFY_REFRESH_DEADLINE_MS=4000, SHOPIFY_MAX_RETRIES=RETRIES,
                REFRESH_BACKOFF_MAX_SECONDS=BACKOFF_MAX_S)

# What each fault costs per refresh attempt, by the rules: retryable faults
# are tried 1 + RETRIES times on shop.json; a refusal once; invalid JSON
# loses only shop.json's currency, then fails on the first products page;
# a Link loop reads page 1 twice.
FAULTS = {
    "hang": ({"mode": "hang"}, 1 + RETRIES, False),
    "stall_body": ({"mode": "stall_body"}, 1 + RETRIES, False),
    "reset": ({"mode": "reset"}, 1 + RETRIES, False),
    "html500": ({"mode": "html500"}, 1 + RETRIES, False),
    "429": ({"mode": "status", "status": 429, "retry_after": "0.5"}, 1 + RETRIES, False),
    "401": ({"mode": "status", "status": 401}, 1, True),
    "invalid_json": ({"mode": "invalid_json"}, 2, False),
    "truncated_json": ({"mode": "truncated_json"}, 2, False),
    "loop_link": ({"mode": "loop_link"}, 3, False),
}


def max_attempts(window_s, needs_person):
    """The most refresh attempts the breaker allows in window_s seconds:
    one right away, then one after each pause, the shortest pauses being
    half of 1, 2, 4… seconds (equal jitter), capped at half the maximum."""
    attempts, elapsed, pause = 1, 0.0, 1.0
    while True:
        shortest = (BACKOFF_MAX_S if needs_person else min(pause, BACKOFF_MAX_S)) / 2
        elapsed += shortest
        if elapsed > window_s:
            return attempts
        attempts += 1
        pause *= 2


def admin_calls(stats):
    return sum(stats["requests"].values())


class WarmFaultsTest(unittest.TestCase):
    """A catalog is in memory when each fault starts."""

    @classmethod
    def setUpClass(cls):
        cls.mock = MockShopify(products=300)
        cls.addClassCleanup(cls.mock.stop)
        cls.server = RetailApi(shopify_env(cls.mock, **SETTINGS))
        cls.addClassCleanup(cls.server.stop)
        wait_until(lambda: cls.server.health()["status"] == "healthy", 10, "the first catalog")
        cls.figures = {}

    @classmethod
    def tearDownClass(cls):
        for mode, (worst, calls, bound, recovery) in sorted(cls.figures.items()):
            print(f"\n  fault {mode:15} worst answer {worst * 1000:7.1f} ms, "
                  f"Shopify calls {calls:3} (rules allow {bound:3}), recovered in {recovery:.1f} s",
                  end="")

    def check_fault(self, name):
        settings, per_attempt, needs_person = FAULTS[name]
        server, mock = self.server, self.mock
        wait_until(lambda: server.health()["status"] == "healthy", 20, "a healthy start")
        load = Load(server)
        self.addCleanup(load.stop)
        before = admin_calls(mock.stats())
        failures = server.health()["components"]["shopify"]["consecutive_failures"]
        started = time.monotonic()
        mock.set_mode(**settings)
        wait_until(lambda: server.health()["components"]["shopify"]["consecutive_failures"]
                   >= failures + 2, 30, f"two failed refreshes under {name}")
        shopify = server.health()["components"]["shopify"]
        self.assertEqual(shopify["needs_person"], needs_person, shopify)
        self.assertIn(shopify["breaker"]["state"], ("open", "half_open"))
        while time.monotonic() - started < FAULT_MIN_S:
            time.sleep(0.05)  # keep the fault on for a while, clients running
        calls = admin_calls(mock.stats()) - before
        window = time.monotonic() - started
        mock.set_mode("ok")
        healed = time.monotonic()
        wait_until(lambda: server.health()["status"] == "healthy", BACKOFF_MAX_S + 10,
                   f"recovery after {name}")
        recovery = time.monotonic() - healed
        answers = load.stop()
        self.assertEqual(load.errors, [])
        during = [a for a in answers if started <= a[0] < healed]
        self.assertGreater(len(during), 50)
        for _, elapsed, status, source in answers:
            self.assertEqual(status, 200)
            self.assertIn(source, ("cache", "stale"))  # never the fallback: a catalog exists
        worst = max(a[1] for a in answers)
        times = sorted(a[1] for a in during)
        self.assertLess(worst, DEADLINE_MS / 1000 + MARGIN_S)
        self.assertLess(times[int(len(times) * 0.99)], 0.05)  # nobody waits: a few ms
        self.assertIn("stale", [a[3] for a in during])  # the catalog outlived its TTL of 2 s
        bound = per_attempt * max_attempts(window, needs_person)
        self.assertLessEqual(calls, bound, f"{name}: {calls} calls in {window:.1f} s")
        # Each failed refresh asked Shopify: none failed without trying.
        self.assertGreaterEqual(calls, 2)
        self.figures[name] = (worst, calls, bound, recovery)

    def test_hang(self):
        self.check_fault("hang")

    def test_stall_body(self):
        self.check_fault("stall_body")

    def test_reset(self):
        self.check_fault("reset")

    def test_html500(self):
        self.check_fault("html500")

    def test_429(self):
        self.check_fault("429")

    def test_401(self):
        self.check_fault("401")
        self.assertIn("needs a person", self.server.log_text())

    def test_invalid_json(self):
        self.check_fault("invalid_json")

    def test_truncated_json(self):
        self.check_fault("truncated_json")

    def test_loop_link(self):
        self.check_fault("loop_link")
        self.assertIn("leads back to a page already read", self.server.log_text())


class ColdFaultsTest(unittest.TestCase):
    """No catalog at all when Shopify misbehaves from the start."""

    def check_cold(self, settings):
        mock = MockShopify(products=300)
        self.addCleanup(mock.stop)
        mock.set_mode(**settings)
        server = RetailApi(shopify_env(mock, **SETTINGS))
        self.addCleanup(server.stop)
        load = Load(server)
        self.addCleanup(load.stop)
        wait_until(lambda: server.health()["components"]["shopify"]["consecutive_failures"] >= 1,
                   15, "the first failed refresh")
        opened = time.monotonic()
        wait_until(lambda: server.health()["components"]["shopify"]["consecutive_failures"] >= 3,
                   30, "three failed refreshes")
        mock.set_mode("ok")
        wait_until(lambda: server.health()["status"] == "healthy", BACKOFF_MAX_S + 10, "recovery")
        healed = time.monotonic()
        answers = load.stop()
        self.assertEqual(load.errors, [])
        for started, elapsed, status, source in answers:
            self.assertEqual(status, 200)
            self.assertLess(elapsed, DEADLINE_MS / 1000 + MARGIN_S)
            if started < opened:
                self.assertIn(source, ("fallback", "shopify"))
        backoff = sorted(a[1] for a in answers if opened + 0.1 < a[0] < healed - 0.5)
        self.assertGreater(len(backoff), 50)
        self.assertEqual({a[3] for a in answers if opened + 0.1 < a[0] < healed - 0.5},
                         {"fallback"})
        # During back-off and half-open probes nobody waits: a few ms.
        self.assertLess(backoff[int(len(backoff) * 0.99)], 0.05, backoff[-10:])
        self.assertEqual(server.get("/v1/products").json()["source"], "cache")
        return server

    def test_cold_hang(self):
        self.check_cold({"mode": "hang"})

    def test_cold_reset(self):
        self.check_cold({"mode": "reset"})

    def test_cold_401(self):
        server = self.check_cold({"mode": "status", "status": 401})
        self.assertIn("needs a person", server.log_text())


class ShrinkTest(unittest.TestCase):
    def test_a_catalog_that_suddenly_shrinks_waits_for_confirmation(self):
        mock = MockShopify(products=300)
        self.addCleanup(mock.stop)
        server = RetailApi(shopify_env(mock, **SETTINGS))
        self.addCleanup(server.stop)
        wait_until(lambda: server.health()["components"]["cache"]["products"] == 300, 10,
                   "the first catalog")
        load = Load(server, path="/v1/products?limit=1")
        self.addCleanup(load.stop)
        mock.set_catalog(100)  # two thirds gone
        wait_until(lambda: "suspect catalog: Shopify listed 100 products, 300 are in service"
                   in server.log_text(), 10, "the suspect read")
        suspect = server.health()["components"]["shopify"]["suspect_catalog"]
        self.assertEqual(suspect, {"products": 100, "in_service": 300})
        self.assertEqual(server.get("/v1/products?limit=1").json()["total"], 300)
        wait_until(lambda: server.get("/v1/products?limit=1").json()["total"] == 100, 10,
                   "the confirmed smaller catalog")
        self.assertIn("a second read confirms the smaller catalog: 100 products (was 300)",
                      server.log_text())
        self.assertIsNone(server.health()["components"]["shopify"]["suspect_catalog"])
        answers = load.stop()
        self.assertTrue(all(a[2] == 200 for a in answers))


class PacingTest(unittest.TestCase):
    def test_paced_by_the_call_limit_without_a_single_429(self):
        mock = MockShopify(products=5000)  # 20 pages
        self.addCleanup(mock.stop)
        mock.set_bucket(size=10, leak_per_second=5)
        server = RetailApi(shopify_env(mock, SHOPIFY_CALLS_PER_SECOND=5,
                                       SHOPIFY_REFRESH_DEADLINE_MS=60000))
        self.addCleanup(server.stop)
        wait_until(lambda: server.health()["components"]["cache"]["products"] == 5000, 30,
                   "a paced read of 20 pages")
        stats = mock.stats()
        self.assertEqual(stats["throttled"], 0)
        self.assertLessEqual(stats["max_in_use"], 6)  # half the bucket, plus the call itself
        self.assertEqual(stats["requests"]["products"], 20)
        self.assertIn("ms paced", server.log_text())

    def test_a_429_waits_retry_after(self):
        mock = MockShopify(products=10)
        self.addCleanup(mock.stop)
        mock.set_mode("status", status=429, retry_after="0.6")
        server = RetailApi(shopify_env(mock, SHOPIFY_MAX_RETRIES=2, REFRESH_BACKOFF_MAX_SECONDS=30))
        self.addCleanup(server.stop)
        wait_until(lambda: server.health()["components"]["shopify"]["consecutive_failures"] >= 1,
                   10, "a refresh that gives up on 429s")
        times = [t for t, kind in mock.stats()["log"]][:3]
        self.assertEqual(len(times), 3)  # one try and two retries, then the breaker
        for earlier, later in zip(times, times[1:]):
            # Retry-After, plus at most a quarter of it and 50 ms of jitter
            self.assertGreaterEqual(later - earlier, 0.6)
            self.assertLess(later - earlier, 0.6 * 1.25 + 0.05 + 0.2)
        self.assertEqual(server.health()["components"]["shopify"]["last_error_class"],
                         "rate_limited")


if __name__ == "__main__":
    unittest.main()
