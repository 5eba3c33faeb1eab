# SPDX-License-Identifier: MIT
"""Load test for retail-api, from the emergency hotfix's scenario.

RetailSystemUser is the hotfix's user: GET /v1/products/?limit=5 three times
for each GET /health, waiting 1 to 3 s between tasks. HeavyUser sends the
same mix without waiting, on locust's fast HTTP client, to find throughput.
The API key comes from RETAIL_API_KEY; there is no default key.

    RETAIL_API_KEY=... locust -f tests/load/locustfile.py --host http://localhost:8000 \
        RetailSystemUser
(scripts/loadtest.sh runs it headless and writes the report.)
"""
import os

from locust import FastHttpUser, HttpUser, between, task

API_KEY = os.environ.get("RETAIL_API_KEY", "")
if not API_KEY:
    raise SystemExit("locustfile: set RETAIL_API_KEY to a key the server accepts")


def check_products(response):
    """A products answer must be 200 JSON with products; anything else fails."""
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return
    try:
        doc = response.json()
    except ValueError:
        response.failure("not JSON")
        return
    if not isinstance(doc.get("products"), list) or not doc["products"]:
        response.failure("no products")
    elif doc.get("source") not in ("cache", "stale", "shopify", "fallback"):
        response.failure(f"unexpected source {doc.get('source')!r}")


def check_health(response):
    if response.status_code != 200:
        response.failure(f"HTTP {response.status_code}")
        return
    try:
        status = response.json().get("status")
    except ValueError:
        response.failure("not JSON")
        return
    if status not in ("healthy", "degraded"):
        response.failure(f"status {status!r}")


class RetailSystemUser(HttpUser):
    """The hotfix manual's user, as it was."""
    wait_time = between(1, 3)

    def on_start(self):
        self.headers = {"X-API-Key": API_KEY}

    @task(3)
    def get_products(self):
        with self.client.get("/v1/products/?limit=5", headers=self.headers,
                             catch_response=True) as response:
            check_products(response)

    @task(1)
    def health_check(self):
        with self.client.get("/health", catch_response=True) as response:
            check_health(response)


class HeavyUser(FastHttpUser):
    """The same mix without waiting, to find the server's throughput."""
    wait_time = between(0, 0)

    def on_start(self):
        self.headers = {"X-API-Key": API_KEY}

    @task(3)
    def get_products(self):
        with self.client.get("/v1/products/?limit=5", headers=self.headers,
                             catch_response=True) as response:
            check_products(response)

    @task(1)
    def health_check(self):
        with self.client.get("/health", catch_response=True) as response:
            check_health(response)
