# SPDX-License-Identifier: MIT
"""The GraphQL Admin API transport: the same answers as REST, byte for
byte, by paging and by bulk operation; Shopify's query cost (never
throttled when paced, THROTTLED waited out, MAX_COST_EXCEEDED answered
with smaller pages); GraphQL errors; and tokens from the
client-credentials grant that expire, renewed before they do and once on a
401, never logged."""
import http.client
import json
import os
import re
import time
import unittest

from harness import (API_KEY, SOURCE_DIR, TOKEN, MockShopify, RetailApi, shopify_env,
                     wait_until)

FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "shopify", "graphql")
CLIENT_ID = "it-client-7d1f0c2e"
CLIENT_SECRET = "it-secret-b84e9a1f63d2c507"


def all_pages(server, total):
    """Every page of 250, as the bytes the server sent."""
    pages = []
    for page in range(1, (total + 249) // 250 + 1):
        r = server.get(f"/v1/products?limit=250&page={page}")
        assert r.status == 200, r.body[:200]
        pages.append(r.body)
    return pages


def catalog_size(server):
    return server.health()["components"]["cache"]["products"]


class SameAnswersTest(unittest.TestCase):
    """One catalog, three ways of reading it, one set of answers."""

    def test_rest_graphql_pages_and_bulk_give_the_same_bytes(self):
        mock = MockShopify(products=10)
        self.addCleanup(mock.stop)
        # The second product has 60 variants: past the 10 asked with each
        # product, so GraphQL pages through its own variants connection.
        mock.set_catalog(1000, seed=3, many_variants=60)
        answers = {}
        for name, extra in [("rest", {"SHOPIFY_API": "rest"}),
                            ("graphql", {"SHOPIFY_API": "graphql",
                                         "SHOPIFY_BULK_THRESHOLD": "0"}),
                            ("bulk", {"SHOPIFY_API": "graphql",
                                      "SHOPIFY_BULK_THRESHOLD": "500"})]:
            before = mock.stats()
            server = RetailApi(shopify_env(mock, SHOPIFY_CALLS_PER_SECOND=20, **extra))
            self.addCleanup(server.stop)
            wait_until(lambda: catalog_size(server) == 1000, 30, f"the catalog through {name}")
            pages = all_pages(server, 1000)
            product = server.get("/v1/products/9007199254740995")  # the one with 60 variants
            self.assertEqual(product.status, 200)
            answers[name] = pages + [product.body]
            self.assertEqual(len(json.loads(product.body)["product"]["variants"]), 60, name)
            after = mock.stats()
            log = server.log_text()
            server.stop()
            if name == "rest":
                self.assertGreater(after["requests"]["products"], before["requests"]["products"])
            else:
                self.assertEqual(after["requests"]["products"], before["requests"]["products"])
                self.assertGreater(after["graphql"]["requests"], before["graphql"]["requests"])
                self.assertLessEqual(after["graphql"]["max_requested"], 1000)
            if name == "graphql":
                self.assertEqual(after["graphql"]["bulk_operations"],
                                 before["graphql"]["bulk_operations"])
                # The long product's variants came from its own connection.
                self.assertTrue(any(q["variables"] and q["variables"].get("id")
                                    for q in after["graphql"]["queries"]))
            if name == "bulk":
                self.assertEqual(after["graphql"]["bulk_operations"],
                                 before["graphql"]["bulk_operations"] + 1)
                self.assertIn("reading them with a bulk operation", log)
        self.assertEqual(answers["graphql"], answers["rest"])
        self.assertEqual(answers["bulk"], answers["rest"])


class GraphQLTestCase(unittest.TestCase):
    """A mock Shopify of `products` for each test, and servers that read it
    by GraphQL with SHOPIFY_BULK_THRESHOLD=`bulk_threshold`."""
    products = 100
    bulk_threshold = 10000

    def setUp(self):
        self.mock = MockShopify(products=self.products)
        self.addCleanup(self.mock.stop)

    def start(self, **extra):
        extra.setdefault("SHOPIFY_BULK_THRESHOLD", str(self.bulk_threshold))
        server = RetailApi(shopify_env(self.mock, SHOPIFY_API="graphql", **extra))
        self.addCleanup(server.stop)
        return server


class CostTest(GraphQLTestCase):
    products = 400
    bulk_threshold = 0  # pages only

    def test_paced_by_the_cost_bucket_it_is_never_throttled(self):
        # A small restore rate: each page asks for up to 886 points and
        # uses a few hundred, so after the first the pages wait for the
        # bucket to hold 886 again.
        self.mock.set_graphql(maximum=1000, restore=400)
        server = self.start(SHOPIFY_REFRESH_DEADLINE_MS="60000")
        wait_until(lambda: catalog_size(server) == 400, 60, "the catalog, paced")
        stats = self.mock.stats()["graphql"]
        self.assertEqual(stats["throttled"], 0)
        self.assertGreaterEqual(stats["lowest_available"], 0)
        self.assertLessEqual(stats["max_requested"], 1000)
        pages = [q for q in stats["queries"] if q["variables"] and "first" in q["variables"]
                 and "id" not in q["variables"]]
        self.assertGreaterEqual(len(pages), 400 // 34)
        paced = re.search(r"read 400 products from Shopify in \d+ ms \(\d+ requests, 0 retries, "
                          r"(\d+) ms paced", server.log_text())
        self.assertIsNotNone(paced)
        self.assertGreater(int(paced.group(1)), 0)  # it did wait for the bucket

    def test_throttled_waits_what_shopify_says_then_reads(self):
        # Shopify's own THROTTLED answer (HTTP 200): 752 points asked, 666
        # available, 50 restored a second, so (752 - 666) / 50 = 1.72 s.
        with open(os.path.join(FIXTURES, "throttled_response_community_example.json"),
                  "rb") as f:
            throttled = f.read()
        conn = http.client.HTTPConnection("127.0.0.1", self.mock.port, timeout=10)
        conn.request("POST", "/__mock/raw", throttled)
        conn.getresponse().read()
        conn.close()
        self.mock.set_mode("raw")
        server = self.start(SHOPIFY_REFRESH_DEADLINE_MS="20000")
        wait_until(lambda: server.log_text().count("THROTTLED") >= 2, 15,
                   "two THROTTLED answers")
        self.mock.set_mode("ok")
        wait_until(lambda: catalog_size(server) == 400, 30, "the catalog after THROTTLED")
        log = server.log_text()
        self.assertIn("THROTTLED (752 points asked, 666 available), waiting 1720 ms", log)
        times = [t for t, kind in self.mock.stats()["log"] if kind == "graphql"]
        self.assertGreaterEqual(times[1] - times[0], 1.6)

    def test_a_query_priced_over_the_limit_is_asked_again_smaller(self):
        self.mock.set_graphql(max_cost=500)  # a page of 34 costs 886
        server = self.start()
        wait_until(lambda: catalog_size(server) == 400, 30, "the catalog in smaller pages")
        self.assertIn("asking for 17 products a page from now on", server.log_text())
        self.assertLessEqual(max(q["cost"] or 0 for q in self.mock.stats()["graphql"]["queries"]
                                 if not q["errors"]), 500)


class GraphQLErrorsTest(GraphQLTestCase):
    products = 50

    def test_errors_fail_the_refresh_and_the_catalog_stays(self):
        mock = self.mock
        server = self.start(CACHE_TTL_SECONDS="1", REFRESH_BACKOFF_MAX_SECONDS="1",
                            SHOPIFY_MAX_RETRIES="0")
        wait_until(lambda: catalog_size(server) == 50, 15, "the first catalog")
        before = server.get("/v1/products?limit=250").body
        for mode, text, kind in [
                ("graphql_error", "GraphQL error INTERNAL_SERVER_ERROR", "server_error"),
                ("graphql_partial", "partial data with errors (ACCESS_DENIED", "bad_data"),
                ("truncated_json", "invalid JSON", "bad_data")]:
            with self.subTest(mode):
                mock.set_mode(mode)
                wait_until(lambda: text in server.log_text(), 15, f"a refresh failing on {mode}")
                wait_until(lambda: server.health()["components"]["shopify"]["last_error_class"]
                           == kind, 10, f"/health to say {kind}")
                r = server.get("/v1/products?limit=250")
                self.assertEqual(r.status, 200)
                self.assertEqual(json.loads(r.body)["products"], json.loads(before)["products"])
        mock.set_mode("ok")


class ExpiringTokensTest(unittest.TestCase):
    def setUp(self):
        self.mock = MockShopify(products=30, token="fixed-token-never-used",
                                client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        self.addCleanup(self.mock.stop)

    def start(self, secret=CLIENT_SECRET, **extra):
        env = {"SHOPIFY_SHOP_URL": self.mock.url, "SHOPIFY_API": "graphql",
               "SHOPIFY_CLIENT_ID": CLIENT_ID, "SHOPIFY_CLIENT_SECRET": secret}
        env.update(extra)
        server = RetailApi(env)
        self.addCleanup(server.stop)
        return server

    def test_tokens_are_renewed_before_they_expire_and_once_on_a_401(self):
        self.mock.set_tokens(expires_in=3)  # renewed 1.5 s into their life
        server = self.start(CACHE_TTL_SECONDS="1", REFRESH_BACKOFF_MAX_SECONDS="1")
        wait_until(lambda: catalog_size(server) == 30, 15, "the catalog with a granted token")
        wait_until(lambda: self.mock.stats()["graphql"]["tokens_issued"] >= 3, 15,
                   "tokens renewed as they near their end")
        self.assertEqual(self.mock.stats()["graphql"]["unauthorized"], 0)
        # A long-lived token next, then revoked early (rotated by the shop's
        # owner, say): one 401, one new token, and the refresh still succeeds.
        self.mock.set_tokens(expires_in=3600)
        wait_until(lambda: "valid for 3600 s" in server.log_text(), 15, "a long-lived token")
        issued = self.mock.stats()["graphql"]["tokens_issued"]
        self.mock.set_tokens(revoke=True)
        wait_until(lambda: "the access token was refused; asking for a new one"
                   in server.log_text(), 15, "a 401 and a renewal")
        wait_until(lambda: self.mock.stats()["graphql"]["tokens_issued"] == issued + 1, 10,
                   "one new token")
        refreshed = server.log_text().count("published")
        wait_until(lambda: server.log_text().count("published") > refreshed, 15,
                   "a refresh with the new token")
        log = server.log_text()
        self.assertNotIn(CLIENT_SECRET, log)
        self.assertNotIn("shpat_issued", log)
        self.assertNotIn("shpat_issued", server.get("/metrics").body.decode())
        self.assertNotIn(CLIENT_SECRET, json.dumps(server.health()))

    def test_refused_credentials_need_a_person(self):
        server = self.start(secret="wrong-secret-123")
        wait_until(lambda: server.health()["components"]["shopify"]["status"] == "failing", 15,
                   "the refresh to fail")
        shopify = server.health()["components"]["shopify"]
        self.assertEqual(shopify["last_error_class"], "refused")
        self.assertIn("client credentials were refused", server.log_text())
        self.assertNotIn("wrong-secret-123", server.log_text())
        # Still answering, from the fallback.
        self.assertEqual(server.get("/v1/products?limit=1").status, 200)

    def test_a_fixed_token_keeps_working(self):
        mock = MockShopify(products=20)
        self.addCleanup(mock.stop)
        server = RetailApi(shopify_env(mock, SHOPIFY_API="graphql"))
        self.addCleanup(server.stop)
        wait_until(lambda: catalog_size(server) == 20, 15, "the catalog with a fixed token")
        self.assertEqual(mock.stats()["graphql"]["tokens_issued"], 0)
        self.assertNotIn(TOKEN, server.log_text())


class BulkTest(GraphQLTestCase):
    products = 120
    bulk_threshold = 100

    def test_a_failed_bulk_operation_fails_the_refresh_and_keeps_the_catalog(self):
        server = self.start(CACHE_TTL_SECONDS="1", REFRESH_BACKOFF_MAX_SECONDS="1")
        wait_until(lambda: catalog_size(server) == 120, 15, "the catalog in bulk")
        self.mock.set_bulk(mode="fail")
        wait_until(lambda: "ended FAILED (INTERNAL_SERVER_ERROR)" in server.log_text(), 15,
                   "a failed bulk operation")
        self.assertEqual(server.get("/v1/products?limit=5").status, 200)
        self.assertEqual(catalog_size(server), 120)
        self.mock.set_bulk(mode="ok")

    def test_a_slow_bucket_turns_a_small_store_to_bulk(self):
        # 120 products (far below the threshold) at 10 points a second
        # would take minutes to page through: a bulk operation instead.
        self.mock.set_graphql(maximum=1000, restore=10)
        server = self.start(SHOPIFY_BULK_THRESHOLD="10000", SHOPIFY_REFRESH_DEADLINE_MS="20000")
        wait_until(lambda: catalog_size(server) == 120, 15, "the catalog in bulk")
        self.assertIn("120 products would take about 144 s to page through at 10 points a second",
                      server.log_text())
        self.assertEqual(self.mock.stats()["graphql"]["bulk_operations"], 1)

    def test_a_bulk_operation_that_never_ends_is_bounded_by_the_deadline(self):
        self.mock.set_bulk(mode="hang")
        started = time.monotonic()
        server = self.start(SHOPIFY_REFRESH_DEADLINE_MS="3000")
        wait_until(lambda: "still running at the refresh deadline" in server.log_text(), 10,
                   "the deadline to end the wait")
        self.assertLess(time.monotonic() - started, 8)
        self.assertEqual(server.health()["components"]["shopify"]["last_error_class"], "timeout")


if __name__ == "__main__":
    unittest.main()
