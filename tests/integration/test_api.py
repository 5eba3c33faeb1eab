# SPDX-License-Identifier: MIT
"""The HTTP contract, end to end: the real binary, a real redis-server and
the mock Shopify serving 1,000 products."""
import json
import unittest
from decimal import Decimal

from harness import API_KEY, MockShopify, Redis, RetailApi, shopify_env, wait_until


def expected_product(src):
    """What retail-api must make of one Shopify REST product (see README)."""
    variants = src.get("variants") or []
    cheapest = None
    for v in variants:
        if cheapest is None or Decimal(v["price"]) < Decimal(cheapest["price"]):
            cheapest = v
    image = src.get("image") or (src.get("images") or [None])[0]
    return {
        "id": str(src["id"]),
        "title": src["title"],
        "handle": src["handle"],
        "description": src["body_html"],
        "vendor": src["vendor"],
        "category": src["product_type"],
        "tags": [t.strip() for t in src["tags"].split(",") if t.strip()],
        "status": src["status"],
        "price": cheapest["price"] if cheapest else None,
        "compare_at_price": cheapest["compare_at_price"] if cheapest else None,
        "currency": "USD",
        "image_url": image["src"] if image else None,
        "in_stock": any(v["inventory_quantity"] > 0 for v in variants),
        "inventory_quantity": sum(v["inventory_quantity"] for v in variants),
        "variants": [{"id": str(v["id"]), "title": v["title"], "sku": v["sku"],
                      "price": v["price"], "inventory_quantity": v["inventory_quantity"]}
                     for v in variants],
    }


def exact(body):
    """Parses an answer keeping number text: prices as Decimal, so 49.50 stays 49.50."""
    return json.loads(body, parse_float=Decimal)


def as_text(product):
    """Turns Decimal prices into their exact text for comparison."""
    out = dict(product)
    for key in ("price", "compare_at_price"):
        if out[key] is not None:
            out[key] = str(out[key])
    out["variants"] = [dict(v, price=str(v["price"]) if v["price"] is not None else None)
                       for v in out["variants"]]
    return out


class ContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis()
        cls.addClassCleanup(cls.redis.stop)
        cls.mock = MockShopify(products=1000)
        cls.addClassCleanup(cls.mock.stop)
        cls.server = RetailApi(shopify_env(cls.mock, REDIS_URL=cls.redis.url()))
        cls.addClassCleanup(cls.server.stop)
        wait_until(lambda: cls.server.health()["components"]["cache"]["products"] == 1000, 20,
                   "the first catalog")
        cls.shopify = {str(p["id"]): p for p in cls.mock.catalog()}

    def test_health_shape(self):
        r = self.server.request("GET", "/health")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/json; charset=utf-8")
        doc = r.json()
        self.assertEqual(doc["status"], "healthy")
        for key in ("version", "uptime_seconds", "timestamp", "components"):
            self.assertIn(key, doc)
        components = doc["components"]
        self.assertEqual(set(components), {"redis", "shopify", "cache", "fallback"})
        for name, component in components.items():
            self.assertIn("status", component, name)
        self.assertEqual(components["redis"]["status"], "up")
        self.assertEqual(components["shopify"]["status"], "ok")
        self.assertTrue(components["shopify"]["configured"])
        self.assertIsNotNone(components["shopify"]["last_success"])
        cache = components["cache"]
        for key in ("products", "age_seconds", "hits", "misses", "hit_ratio"):
            self.assertIn(key, cache)
        self.assertEqual(components["fallback"]["products"], 100)
        self.assertIn("served", components["fallback"])

    def test_health_needs_no_key_and_ignores_a_wrong_one(self):
        r = self.server.request("GET", "/health", {"X-API-Key": "wrong"})
        self.assertEqual(r.status, 200)

    def test_products_default_page(self):
        r = self.server.get("/v1/products")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/json; charset=utf-8")
        doc = r.json()
        self.assertEqual(len(doc["products"]), 10)
        self.assertEqual(doc["total"], 1000)
        self.assertEqual(doc["page"], 1)
        self.assertEqual(doc["limit"], 10)
        self.assertTrue(doc["has_next"])
        self.assertEqual(doc["source"], "cache")
        self.assertEqual(r.header("x-cache"), "HIT")
        self.assertTrue(r.header("age").isdigit())

    def test_slash_and_no_slash_give_the_same_answer(self):
        a = self.server.get("/v1/products/?limit=5&page=3")
        b = self.server.get("/v1/products?limit=5&page=3")
        self.assertEqual(a.status, 200)
        self.assertEqual(a.body, b.body)
        self.assertEqual(len(a.json()["products"]), 5)

    def test_every_product_matches_shopify_exactly(self):
        seen = {}
        for page in range(1, 5):
            doc = exact(self.server.get(f"/v1/products?limit=250&page={page}").body)
            for product in doc["products"]:
                seen[product["id"]] = product
        self.assertEqual(set(seen), set(self.shopify))
        for pid, product in seen.items():
            self.assertEqual(as_text(product), expected_product(self.shopify[pid]), pid)
        # Ids past 2^53 survive exactly.
        self.assertTrue(any(int(pid) > 2 ** 53 for pid in seen))

    def test_walking_pages_visits_every_product_once(self):
        for limit in (100, 7):
            ids, page = [], 1
            while True:
                doc = self.server.get(f"/v1/products/?limit={limit}&page={page}").json()
                ids.extend(p["id"] for p in doc["products"])
                self.assertEqual(doc["total"], 1000)
                if not doc["has_next"]:
                    break
                page += 1
            self.assertEqual(len(ids), 1000, f"limit {limit}")
            self.assertEqual(set(ids), set(self.shopify))
            self.assertEqual(page, -(-1000 // limit))

    def test_offset_overrides_page(self):
        by_offset = self.server.get("/v1/products?limit=10&offset=25&page=9").json()
        walk = self.server.get("/v1/products?limit=50&page=1").json()
        self.assertEqual([p["id"] for p in by_offset["products"]],
                         [p["id"] for p in walk["products"][25:35]])
        self.assertEqual(by_offset["page"], 3)

    def test_page_past_the_end_is_empty(self):
        doc = self.server.get("/v1/products?limit=250&page=5").json()
        self.assertEqual(doc["products"], [])
        self.assertFalse(doc["has_next"])
        self.assertEqual(doc["total"], 1000)

    def test_category_matches_product_type_ignoring_case(self):
        want = [pid for pid, p in self.shopify.items() if p["product_type"] == "Home & Kitchen"]
        got, page = [], 1
        while True:
            doc = self.server.get(f"/v1/products?category=home%20%26%20KITCHEN&limit=50&page={page}").json()
            self.assertEqual(doc["total"], len(want))
            got.extend(p["id"] for p in doc["products"])
            self.assertTrue(all(p["category"] == "Home & Kitchen" for p in doc["products"]))
            if not doc["has_next"]:
                break
            page += 1
        self.assertEqual(sorted(got), sorted(want))
        none = self.server.get("/v1/products?category=nothing-like-this").json()
        self.assertEqual((none["total"], none["products"]), (0, []))

    def test_unknown_parameters_are_ignored(self):
        a = self.server.get("/v1/products?limit=3&sort=price&foo")
        self.assertEqual(a.status, 200)
        self.assertEqual(a.body, self.server.get("/v1/products?limit=3").body)

    def test_bad_parameters_are_400_naming_them(self):
        cases = {
            "limit=0": "limit", "limit=251": "limit", "limit=abc": "limit", "limit=-5": "limit",
            "limit=2.5": "limit", "limit=": "limit", "limit=99999999999999999999": "limit",
            "page=0": "page", "page=x": "page", "page=-1": "page",
            "offset=-1": "offset", "offset=1.5": "offset",
            "limit=5&limit=6": "limit",
        }
        for query, name in cases.items():
            r = self.server.get(f"/v1/products?{query}")
            self.assertEqual(r.status, 400, query)
            doc = r.json()
            self.assertEqual(doc["error"], "invalid_parameter", query)
            self.assertEqual(doc["parameter"], name, query)
            self.assertIn(name, doc["detail"], query)

    def test_single_product(self):
        pid = next(iter(self.shopify))
        r = self.server.get(f"/v1/products/{pid}")
        self.assertEqual(r.status, 200)
        self.assertEqual(as_text(exact(r.body)["product"]), expected_product(self.shopify[pid]))
        for missing in ("123", "99999999999999999999999", "abc", "0123", "%20"):
            r = self.server.get(f"/v1/products/{missing}")
            self.assertEqual(r.status, 404, missing)
            self.assertEqual(r.json()["error"], "not_found")

    def test_keys(self):
        cases = [(None, "missing_api_key"), ("", "missing_api_key"), ("wrong", "invalid_api_key"),
                 (API_KEY[:-1], "invalid_api_key"), (API_KEY[:-1] + "X", "invalid_api_key"),
                 (API_KEY + "X", "invalid_api_key")]
        for path in ("/v1/products", "/v1/products/", f"/v1/products/{next(iter(self.shopify))}"):
            for key, code in cases:
                r = self.server.get(path, key=key)
                self.assertEqual(r.status, 401, (path, key))
                self.assertEqual(r.header("www-authenticate"), "ApiKey")
                self.assertEqual(r.json()["error"], code)
                self.assertIn("detail", r.json())

    def test_unknown_paths_are_404(self):
        for path in ("/", "/v1", "/v1/products/1/variants", "/health/", "/v2/products",
                     "//v1//products", "/v1/products/../health"):
            r = self.server.get(path)
            self.assertEqual(r.status, 404, path)
            self.assertEqual(r.json()["error"], "not_found")

    def test_other_methods_are_405_with_allow(self):
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            for path in ("/health", "/v1/products"):
                r = self.server.request(method, path, {"X-API-Key": API_KEY})
                self.assertEqual(r.status, 405, (method, path))
                self.assertEqual(r.header("allow"), "GET, HEAD")
                self.assertEqual(r.json()["error"], "method_not_allowed")

    def test_head_answers_like_get_without_a_body(self):
        for path in ("/v1/products?limit=4", "/health"):
            get = self.server.get(path)
            head = self.server.request("HEAD", path, {"X-API-Key": API_KEY})
            self.assertEqual(head.status, 200)
            self.assertEqual(head.body, b"")
            self.assertEqual(head.header("content-type"), get.header("content-type"))
            if path != "/health":  # /health changes between calls (uptime, timestamp)
                self.assertEqual(int(head.header("content-length")), len(get.body))
                self.assertEqual(head.header("x-cache"), "HIT")

    def test_a_body_on_get_is_refused(self):
        r = self.server.request("GET", "/v1/products", {"X-API-Key": API_KEY}, body=b"{}")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"], "unexpected_body")

    def test_cache_hits_touch_neither_shopify_nor_redis(self):
        before_shopify = self.mock.stats()["requests"]
        before_redis = self.redis.command("INFO", "commandstats")
        for i in range(200):
            self.assertEqual(self.server.get(f"/v1/products?limit=5&page={i % 50 + 1}").status, 200)
        self.assertEqual(self.mock.stats()["requests"], before_shopify)
        after_redis = self.redis.command("INFO", "commandstats")
        for command in ("cmdstat_get:", "cmdstat_set:"):
            self.assertEqual([l for l in before_redis.splitlines() if l.startswith(command)],
                             [l for l in after_redis.splitlines() if l.startswith(command)])
        health = self.server.health()["components"]["cache"]
        self.assertGreaterEqual(health["hits"], 200)
        self.assertGreater(health["hit_ratio"], 0.5)


if __name__ == "__main__":
    unittest.main()
