# SPDX-License-Identifier: MIT
"""Several instances on one Redis, and Redis failing under load."""
import os
import signal
import time
import unittest

from harness import Load, MockShopify, Redis, RetailApi, shopify_env, wait_until


def read_count(mock):
    """Catalog reads the mock served: one products.json page 1 each (the
    catalogs in these tests fit in one page)."""
    return mock.stats()["requests"]["products"]


class FleetTest(unittest.TestCase):
    def test_three_instances_read_shopify_once_per_ttl(self):
        redis = Redis()
        self.addCleanup(redis.stop)
        mock = MockShopify(products=100)
        self.addCleanup(mock.stop)
        env = shopify_env(mock, REDIS_URL=redis.url(), CACHE_TTL_SECONDS=2)
        servers = [RetailApi(env) for _ in range(3)]
        for server in servers:
            self.addCleanup(server.stop)
        for server in servers:
            wait_until(lambda s=server: s.health()["status"] == "healthy", 10, "a catalog")
        first = read_count(mock)
        started = time.monotonic()
        loads = [Load(server, clients=1) for server in servers]
        for load in loads:
            self.addCleanup(load.stop)
        time.sleep(8.0)  # a measuring window: four TTL cycles of 1.6 s, clients running
        window = time.monotonic() - started
        reads = read_count(mock) - first
        for load in loads:
            load.stop()
            self.assertEqual(load.errors, [])
            self.assertTrue(all(a[2] == 200 for a in load.answers))
        # One read per cycle for the fleet (one per 1.6 s), not three.
        cycles = window / 1.6
        self.assertLessEqual(reads, cycles + 2, f"{reads} reads in {window:.1f} s")
        self.assertGreaterEqual(reads, cycles - 2)
        readers = {s.health()["components"]["shopify"]["last_read_by"] for s in servers}
        self.assertIn("another_instance", readers)
        # All three serve the same catalog, read by one of them.
        bodies = {s.get("/v1/products?limit=3").json()["products"][0]["id"] for s in servers}
        self.assertEqual(len(bodies), 1)
        self.assertIn("picked up a catalog of 100 products from Redis",
                      "".join(s.log_text() for s in servers))
        print(f"\n  fleet: 3 instances, {reads} Shopify reads in {window:.1f} s "
              f"(one per TTL cycle would be {cycles:.1f})", end="")

    def test_a_cold_instance_waits_for_the_fleet_catalog(self):
        """Only one instance reads; a second one that starts cold is woken
        by the catalog arriving in Redis, not by its own read."""
        redis = Redis()
        self.addCleanup(redis.stop)
        mock = MockShopify(products=50)
        self.addCleanup(mock.stop)
        mock.set_mode("slow", delay_ms=700)
        env = shopify_env(mock, REDIS_URL=redis.url(), PRODUCTS_DEADLINE_MS=5000)
        first = RetailApi(env)
        self.addCleanup(first.stop)
        wait_until(lambda: redis.command("KEYS", "retail-api:v1:lock:*").startswith("*1"), 5,
                   "the first instance to take the lock")
        second = RetailApi(env)
        self.addCleanup(second.stop)
        r = second.get("/v1/products?limit=2")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-cache"), "MISS")
        self.assertEqual(r.json()["total"], 50)
        self.assertLess(r.elapsed, 4.0)
        self.assertEqual(mock.stats()["requests"]["products"], 1)
        self.assertEqual(second.health()["components"]["shopify"]["last_read_by"],
                         "another_instance")

    def test_an_expired_lock_is_taken_over_after_its_holder_is_killed(self):
        redis = Redis()
        self.addCleanup(redis.stop)
        mock = MockShopify(products=60)
        self.addCleanup(mock.stop)
        deadline_ms = 2000
        env = shopify_env(mock, REDIS_URL=redis.url(), CACHE_TTL_SECONDS=3,
                          SHOPIFY_REFRESH_DEADLINE_MS=deadline_ms, SHOPIFY_TIMEOUT_MS=1500)
        a = RetailApi(env)
        self.addCleanup(a.stop)
        b = RetailApi(env)
        self.addCleanup(b.stop)
        for server in (a, b):
            wait_until(lambda s=server: s.health()["components"]["cache"]["products"] == 60, 10,
                       "a catalog")
        mock.set_mode("hang")  # the next reader holds the lock, stuck in a read
        holder = wait_until(lambda: self.lock_holder(redis), 10, "a reader taking the lock")
        victim, survivor = (a, b) if f":{a.pid}:" in holder else (b, a)
        self.assertIn(f":{victim.pid}:", holder)
        os.kill(victim.pid, signal.SIGKILL)  # no chance to release the lock
        victim.popen.wait()
        killed = time.monotonic()
        mock.set_mode("ok")
        mock.set_catalog(61)
        wait_until(lambda: survivor.health()["components"]["cache"]["products"] == 61,
                   (deadline_ms + 5000) / 1000 + 8, "the survivor to take over the lock")
        took = time.monotonic() - killed
        self.assertEqual(survivor.health()["components"]["shopify"]["last_read_by"],
                         "this_instance")
        self.assertLess(took, (deadline_ms + 5000) / 1000 + 8)
        self.assertEqual(survivor.get("/v1/products?limit=1").status, 200)
        print(f"\n  lock: taken over {took:.1f} s after its holder was killed "
              f"(lock expiry {(deadline_ms + 5000) / 1000:.0f} s)", end="")

    @staticmethod
    def lock_holder(redis):
        keys = redis.command("KEYS", "retail-api:v1:lock:*")
        if not keys.startswith("*1"):
            return None
        name = keys.split("\r\n")[2]
        reply = redis.command("GET", name)
        return reply.split("\r\n")[1] if reply.startswith("$") and not reply.startswith("$-1") \
            else None


class CleanEndTest(unittest.TestCase):
    def test_a_read_in_flight_at_shutdown_is_abandoned_at_once(self):
        redis = Redis()
        self.addCleanup(redis.stop)
        mock = MockShopify(products=300)
        self.addCleanup(mock.stop)
        server = RetailApi(shopify_env(mock, REDIS_URL=redis.url(), CACHE_TTL_SECONDS=1,
                                       SHOPIFY_TIMEOUT_MS=30000))
        self.addCleanup(server.stop)
        wait_until(lambda: "stored 300 products in Redis" in server.log_text(), 10,
                   "a catalog in Redis")
        version = redis.command("KEYS", "retail-api:v1:version:*").split("\r\n")[2]
        stored = redis.command("GET", version)
        calls = sum(mock.stats()["requests"].values())
        mock.set_catalog(290)
        mock.set_mode("stall_body")  # the next read gets half a page, then nothing
        wait_until(lambda: sum(mock.stats()["requests"].values()) > calls, 10,
                   "a read in flight")
        started = time.monotonic()
        server.popen.send_signal(signal.SIGTERM)
        code = server.popen.wait(10)
        took = time.monotonic() - started
        self.assertEqual(code, 0)
        self.assertLess(took, 1.0)  # not the 30 s the stalled request could take
        self.assertEqual(redis.command("GET", version), stored)  # nothing of it was written
        self.assertNotIn("published 290", server.log_text())
        print(f"\n  shutdown: a stalled read abandoned, exit in {took * 1000:.0f} ms", end="")

    def test_a_wait_before_retrying_is_cut_short_at_shutdown(self):
        mock = MockShopify(products=10)
        self.addCleanup(mock.stop)
        mock.set_mode("status", status=429, retry_after="30")
        server = RetailApi(shopify_env(mock, SHOPIFY_REFRESH_DEADLINE_MS=120000))
        self.addCleanup(server.stop)
        wait_until(lambda: "retrying GET" in server.log_text(), 10, "a wait before a retry")
        started = time.monotonic()
        server.popen.send_signal(signal.SIGTERM)
        code = server.popen.wait(10)
        took = time.monotonic() - started
        self.assertEqual(code, 0)
        self.assertLess(took, 2.0)  # not the 30 s Shopify asked for
        self.assertNotIn("published", server.log_text())
        print(f"\n  shutdown: a 30 s wait cut short, exit in {took * 1000:.0f} ms", end="")


class RedisUnderLoadTest(unittest.TestCase):
    def test_redis_stopped_slow_and_restarted_under_load(self):
        redis = Redis()
        self.addCleanup(redis.stop)
        mock = MockShopify(products=80)
        self.addCleanup(mock.stop)
        server = RetailApi(shopify_env(mock, REDIS_URL=redis.url(), CACHE_TTL_SECONDS=2))
        self.addCleanup(server.stop)
        wait_until(lambda: server.health()["status"] == "healthy", 10, "a catalog")
        wait_until(lambda: server.health()["components"]["redis"]["status"] == "up", 10, "Redis")
        load = Load(server)
        self.addCleanup(load.stop)

        # Slow: DEBUG SLEEP blocks Redis for 2 s; answers do not slow down.
        slow_started = time.monotonic()
        reply = redis.command("DEBUG", "SLEEP", "2")
        self.assertTrue(reply.startswith("+OK"), reply)
        self.assertGreaterEqual(time.monotonic() - slow_started, 1.9)  # Redis really slept
        slow_answers = load.since(slow_started)

        # Stopped, then restarted on the same port.
        redis.stop()
        stopped = time.monotonic()
        wait_until(lambda: server.health()["components"]["redis"]["status"] == "down", 10,
                   "Redis reported down")
        time.sleep(2.0)  # clients keep running against a server without Redis
        revived = Redis(port=redis.port)
        self.addCleanup(revived.stop)
        restarted = time.monotonic()
        wait_until(lambda: server.health()["components"]["redis"]["status"] == "up", 10,
                   "the server to reconnect by itself")
        reconnected = time.monotonic() - restarted
        wait_until(lambda: revived.command("KEYS", "retail-api:v1:catalog:*").startswith("*1"),
                   10, "catalogs written to the revived Redis")
        answers = load.stop()
        self.assertEqual(load.errors, [])
        self.assertTrue(all(a[2] == 200 for a in answers))
        self.assertGreater(len(slow_answers), 20)
        self.assertLess(max(a[1] for a in slow_answers), 0.1)
        down = [a for a in answers if stopped <= a[0] < restarted]
        self.assertGreater(len(down), 20)
        self.assertLess(max(a[1] for a in down), 0.1)
        self.assertLess(reconnected, 5.0)
        print(f"\n  redis: worst answer {max(a[1] for a in answers) * 1000:.1f} ms over "
              f"{len(answers)} answers; reconnected {reconnected:.1f} s after the restart", end="")


if __name__ == "__main__":
    unittest.main()
