#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A mock of Shopify's Admin API (REST and GraphQL) for retail-api's tests
and benchmarks.

Serves a generated catalog of any size, in the shape of Shopify's REST
products.json (see tests/fixtures/shopify), with real Link pagination
(opaque page_info cursors; other parameters beside page_info are refused
with 400, as Shopify does). It checks X-Shopify-Access-Token, and can be
told to misbehave. Python standard library only.

Like Shopify, it meters calls with a leaky bucket (default 40 calls
draining at 20 a second, Plus-like, so tests run fast): every Admin API
answer carries X-Shopify-Shop-Api-Call-Limit, and a call that would
overflow the bucket gets 429 with Retry-After.

GraphQL (POST /admin/api/<version>/graphql.json, see mock_graphql.py)
serves the same catalog: the products connection with nested variants,
productsCount, shop, node(id:) for bulk operations, and the
bulkOperationRunQuery mutation, whose JSONL result is served at
/__mock/bulk/<n>.jsonl without a token (like Shopify's signed URLs). Every
answer carries extensions.cost; queries over 1,000 points get
MAX_COST_EXCEEDED and queries the cost bucket cannot pay get THROTTLED
(HTTP 200, as Shopify answers). The client-credentials grant (POST
/admin/oauth/access_token, JSON or form) issues tokens that expire; the
GraphQL side accepts them or the fixed token.

Control endpoints (no token needed), all JSON:
  POST /__mock/mode     {"mode": MODE, "delay_ms": 800, "status": 429, "retry_after": "2.0"}
      ok            answer normally
      hang          accept, then never answer (until the mode changes)
      slow          answer after delay_ms
      stall_body    send the headers and half the body, then stall
      reset         close the connection with a TCP reset, answering nothing
      status        answer `status` with Shopify's JSON error body
                    (429 carries Retry-After: `retry_after`)
      html500       500 with an HTML page, as Shopify's edge sends
      invalid_json  200 whose body is not JSON
      broken_json   200 whose JSON is cut in half (also: truncated_json)
      loop_link     a Link whose "next" leads back to the first page
      raw           products.json and graphql.json answer 200 with the bytes POSTed
                    to /__mock/raw
      graphql_error GraphQL answers 200 with an INTERNAL_SERVER_ERROR error, data null
      graphql_partial  GraphQL answers its data with an ACCESS_DENIED error beside it
      huge_body     products.json streams a body of `size` bytes (default 1 GiB)
                    that is never valid JSON, until the client stops reading;
                    with "declared": false in chunks, without a Content-Length
  POST /__mock/bucket   {"size": 40, "leak_per_second": 2}   size 0 turns metering off
  POST /__mock/catalog  {"products": 1000, "seed": 1, "many_variants": 0}   regenerate the
                        catalog (many_variants: the second product's variant count)
  GET  /__mock/catalog  the products as served (Shopify shape)
  GET  /__mock/stats    {"requests": {"products": n, "shop": n, "other": n},
                         "throttled": n, "max_in_use": n, "mode": ...}
  POST /__mock/graphql  {"maximum": 1000, "restore": 1000, "max_cost": 1000}  the cost
                        bucket (refilled), its restore rate a second, the single-query limit
  POST /__mock/tokens   {"client_id": ..., "client_secret": ..., "expires_in": 86399,
                         "revoke": false}   the grant's credentials and token lifetime
  POST /__mock/bulk     {"delay_ms": 300, "mode": "ok"}   how long an operation runs;
                        mode fail ends it FAILED, hang never ends it
  POST /__mock/reset    mode ok, counters zero
  POST /__mock/raw      store the request body for mode raw
  POST /__mock/fixed    store the request body; GET /__mock/fixed/... then answers it
                        (for the benchmark: the bytes nginx caches in front of "Shopify")

Start: mock_shopify.py --port 0 --products 100 --token T
       [--client-id ID --client-secret S] [--cost-bucket 1000 --restore-rate 1000]
It prints "READY port=<n>" on stdout once listening.
"""
import argparse
import base64
import json
import random
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import mock_graphql

HANG_LIMIT_S = 120  # a hung request is dropped after this, so nothing hangs forever
STARTED = time.monotonic()

STATE = {
    "lock": threading.Lock(),
    "mode": "ok",
    "delay_ms": 0,
    "status": 500,
    "products": [],
    "counts": {"products": 0, "shop": 0, "other": 0},
    "token": "",
    "generation": 0,
    "retry_after": "2.0",
    "size": 1 << 30,
    "log": [],  # (seconds since start, kind) of the last Admin API calls
    "bucket": {"size": 40, "leak": 20.0, "level": 0.0, "at": 0.0, "throttled": 0, "max": 0},
    # GraphQL: the cost bucket, the tokens the client-credentials grant
    # issued (token -> expiry, monotonic), bulk operations.
    "cost_bucket": None,
    "client_id": "", "client_secret": "",
    "tokens": {}, "token_ttl": 86399, "tokens_issued": 0,
    "bulk": {}, "bulk_delay_ms": 300, "bulk_mode": "ok", "bulk_files": {},
    "graphql": {"requests": 0, "max_requested": 0, "queries": []},
}


def meter_call():
    """Shopify's leaky bucket: returns (allowed, calls in use, bucket size, wait s)."""
    with STATE["lock"]:
        b = STATE["bucket"]
        if b["size"] <= 0:
            return True, 0, 0, 0.0
        now = time.monotonic()
        b["level"] = max(0.0, b["level"] - (now - b["at"]) * b["leak"])
        b["at"] = now
        if b["level"] + 1 > b["size"]:
            b["throttled"] += 1
            return False, b["size"], b["size"], (b["level"] + 1 - b["size"]) / b["leak"]
        b["level"] += 1
        b["max"] = max(b["max"], int(b["level"] + 0.999))
        return True, int(b["level"] + 0.999), b["size"], 0.0

CATEGORIES = ["Snowboard", "Apparel", "Footwear", "Home & Kitchen", "Electronics", "Beauty",
              "Cult Products", "Accessories"]
VENDORS = ["Burton", "Apple", "Northwind", "Harbor & Pine", "Voltline", "Petal & Stone"]
NOUNS = ["Board", "Jacket", "Boots", "Kettle", "Speaker", "Serum", "iPod", "Wallet", "Lamp"]


def make_catalog(count, seed, many_variants=0):
    """Products in Shopify's REST shape. Ids start past 2**53 so that any
    loss of precision shows; prices are decimal strings such as "29.99".
    With many_variants, the second product has that many variants (REST
    answers at most 100 of them, as Shopify does)."""
    rng = random.Random(seed)
    products = []
    base = 2 ** 53 + 1
    for n in range(count):
        pid = base + n * 2
        category = CATEGORIES[n % len(CATEGORIES)]
        title = f"{rng.choice(['Classic', 'Pro', 'Mini', 'Ultra', 'Eco'])} {NOUNS[n % len(NOUNS)]} {n + 1}"
        variants = []
        for k in range(many_variants if n == 1 and many_variants else 1 + n % 3):
            whole = rng.randint(1, 500)
            cents = rng.choice(["99", "95", "00", "50", "10"])
            quantity = rng.choice([0, 0, 1, 5, 10, 20])
            vid = pid * 10 + k if k < 3 else 5 * 10 ** 17 + k
            variants.append({
                "id": vid,
                "product_id": pid,
                "title": ["Default Title", "Red", "Blue"][k] if k < 3 else f"Size {k}",
                "price": f"{whole}.{cents}",
                "sku": f"SKU-{n}-{k}" if k != 2 else None,
                "position": k + 1,
                "inventory_policy": "deny",
                "compare_at_price": f"{whole + 10}.{cents}" if k == 0 and n % 4 == 0 else None,
                "inventory_management": "shopify",
                "inventory_quantity": quantity,
                "old_inventory_quantity": quantity,
                "presentment_prices": [
                    {"price": {"amount": f"{whole}.{cents}", "currency_code": "USD"},
                     "compare_at_price": None}
                ],
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{vid}",
            })
        images = []
        if n % 5 != 0:
            images.append({"id": pid + 7, "product_id": pid, "position": 1,
                           "src": f"https://cdn.shopify.com/s/files/mock/{pid}.jpg"})
        products.append({
            "id": pid,
            "title": title,
            "body_html": f"<p>{title}: a \"mock\" product &amp; friends.</p>",
            "vendor": VENDORS[n % len(VENDORS)],
            "product_type": category,
            "created_at": "2025-04-02T11:29:59-05:00",
            "handle": f"{title.lower().replace(' ', '-')}",
            "updated_at": "2025-04-02T11:29:59-05:00",
            "published_at": "2025-04-02T11:29:59-05:00",
            "template_suffix": None,
            "published_scope": "web",
            "tags": ", ".join(rng.sample(["sale", "new", "winter", "gift", "eco", "bestseller"], 2)),
            "status": "active",
            "admin_graphql_api_id": f"gid://shopify/Product/{pid}",
            "variants": variants,
            "options": [{"id": pid + 3, "product_id": pid, "name": "Title", "position": 1,
                         "values": [v["title"] for v in variants]}],
            "images": images,
            "image": images[0] if images else None,
        })
    return products


def encode_cursor(offset, generation):
    raw = json.dumps({"o": offset, "g": generation}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text):
    padded = text + "=" * (-len(text) % 4)
    data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    return int(data["o"])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-shopify/1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def send_json(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_bytes(status, data, "application/json; charset=utf-8", headers)

    def send_bytes(self, status, data, content_type, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def read_raw(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    # --- control -----------------------------------------------------------
    def do_POST(self):
        path = urlsplit(self.path).path
        if path == "/admin/oauth/access_token":
            return self.grant_token()
        parts = path.split("/")
        if len(parts) == 5 and parts[1:3] == ["admin", "api"] and parts[4] == "graphql.json":
            return self.graphql(parts[3])
        if path == "/__mock/graphql":
            body = self.read_body()
            STATE["cost_bucket"].set(body.get("maximum", 1000), body.get("restore", 1000))
            mock_graphql.LIMITS["max_cost"] = int(body.get("max_cost", 1000))
            return self.send_json(200, {"ok": True})
        if path == "/__mock/tokens":
            body = self.read_body()
            with STATE["lock"]:
                STATE["client_id"] = body.get("client_id", STATE["client_id"])
                STATE["client_secret"] = body.get("client_secret", STATE["client_secret"])
                STATE["token_ttl"] = float(body.get("expires_in", STATE["token_ttl"]))
                if body.get("revoke"):
                    STATE["tokens"].clear()
            return self.send_json(200, {"ok": True})
        if path == "/__mock/bulk":
            body = self.read_body()
            with STATE["lock"]:
                STATE["bulk_delay_ms"] = int(body.get("delay_ms", STATE["bulk_delay_ms"]))
                STATE["bulk_mode"] = body.get("mode", STATE["bulk_mode"])
            return self.send_json(200, {"ok": True})
        if path == "/__mock/fixed":
            STATE["fixed"] = self.read_raw()
            return self.send_json(200, {"ok": True})
        if path == "/__mock/raw":
            STATE["raw"] = self.read_raw()
            return self.send_json(200, {"ok": True})
        body = self.read_body()
        with STATE["lock"]:
            if path == "/__mock/mode":
                STATE["mode"] = body.get("mode", "ok")
                STATE["delay_ms"] = int(body.get("delay_ms", 0))
                STATE["status"] = int(body.get("status", 500))
                STATE["retry_after"] = str(body.get("retry_after", "2.0"))
                STATE["size"] = int(body.get("size", 1 << 30))
                STATE["declared"] = bool(body.get("declared", True))
            elif path == "/__mock/bucket":
                b = STATE["bucket"]
                b["size"] = int(body.get("size", 40))
                b["leak"] = float(body.get("leak_per_second", 2))
                b["level"] = 0.0
                b["at"] = time.monotonic()
            elif path == "/__mock/catalog":
                STATE["products"] = make_catalog(int(body.get("products", 100)),
                                                 int(body.get("seed", 1)),
                                                 int(body.get("many_variants", 0)))
                STATE["generation"] += 1
            elif path == "/__mock/reset":
                STATE["mode"] = "ok"
                STATE["delay_ms"] = 0
                for key in STATE["counts"]:
                    STATE["counts"][key] = 0
                STATE["log"].clear()
                STATE["bucket"]["throttled"] = 0
                STATE["bucket"]["max"] = 0
                STATE["graphql"] = {"requests": 0, "max_requested": 0, "queries": []}
                STATE["tokens_issued"] = 0
            else:
                return self.send_json(404, {"errors": "Not Found"})
        self.send_json(200, {"ok": True})

    def control_get(self, path):
        if path.startswith("/__mock/bulk/"):
            with STATE["lock"]:
                data = STATE["bulk_files"].get(path.rsplit("/", 1)[1])
            if data is None:
                return self.send_json(404, {"errors": "Not Found"})
            return self.send_bytes(200, data, "application/jsonl")
        if path.startswith("/__mock/fixed"):
            return self.send_json(200, STATE.get("fixed", b"{}"),
                                  {"Cache-Control": "public, max-age=3600"})
        with STATE["lock"]:
            if path == "/__mock/stats":
                return self.send_json(200, {"requests": dict(STATE["counts"]),
                                            "mode": STATE["mode"],
                                            "throttled": STATE["bucket"]["throttled"],
                                            "max_in_use": STATE["bucket"]["max"],
                                            "bucket_size": STATE["bucket"]["size"],
                                            "log": list(STATE["log"]),
                                            "huge_sent": STATE.get("huge_sent", 0),
                                            "graphql": {
                                                "requests": STATE["graphql"]["requests"],
                                                "unauthorized": STATE["graphql"].get("unauthorized", 0),
                                                "max_requested": STATE["graphql"]["max_requested"],
                                                "queries": STATE["graphql"]["queries"][-50:],
                                                "throttled": STATE["cost_bucket"].throttled,
                                                "lowest_available": STATE["cost_bucket"].lowest,
                                                "tokens_issued": STATE["tokens_issued"],
                                                "bulk_operations": len(STATE["bulk"])},
                                            "products": len(STATE["products"])})
            if path == "/__mock/catalog":
                return self.send_json(200, {"products": STATE["products"]})
        return self.send_json(404, {"errors": "Not Found"})

    # --- the Admin API -----------------------------------------------------
    def misbehave(self):
        """Applies the current mode; returns True when the answer was given."""
        with STATE["lock"]:
            mode, delay, status = STATE["mode"], STATE["delay_ms"], STATE["status"]
            retry_after = STATE["retry_after"]
        if mode == "hang":
            self.wait_while(mode)
            self.close_connection = True
            return True
        if mode == "reset":
            # SO_LINGER with a zero timeout turns close() into a TCP reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return True
        if mode == "stall_body":
            body = json.dumps({"products": STATE["products"][:50]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.wait_while(mode)
            self.close_connection = True
            return True
        if mode == "invalid_json":
            self.send_json(200, b"<html><body>Not JSON at all</body></html>")
            return True
        if mode == "slow":
            time.sleep(delay / 1000.0)
            return False
        if mode == "huge_body":
            size, declared = STATE["size"], STATE.get("declared", True)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if declared:
                self.send_header("Content-Length", str(size))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b'{"products":[{"id":1,"title":"' + b"x" * (1 << 20)
            sent = 0
            try:
                while sent < size:
                    piece = chunk[: min(len(chunk), size - sent)]
                    if declared:
                        self.wfile.write(piece)
                    else:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    sent += len(piece)
                    chunk = b"x" * (1 << 20)
            except OSError:
                pass  # the client stopped reading, as it should
            self.close_connection = True
            with STATE["lock"]:
                STATE["huge_sent"] = max(STATE.get("huge_sent", 0), sent)
            return True
        if mode == "html500":
            page = b"<html><body><h1>500 Internal Server Error</h1></body></html>"
            self.send_bytes(500, page, "text/html")
            return True
        if mode == "status":
            headers = {"Retry-After": retry_after} if status == 429 else {}
            messages = {401: "[API] Invalid API key or access token (unrecognized login or wrong password)",
                        402: "Unavailable Shop", 404: "Not Found",
                        429: "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}
            self.send_json(status, {"errors": messages.get(status, "Error")}, headers)
            return True
        return False

    def wait_while(self, mode):
        """Blocks while the mode stays `mode`, at most HANG_LIMIT_S."""
        deadline = time.monotonic() + HANG_LIMIT_S
        while time.monotonic() < deadline:
            with STATE["lock"]:
                if STATE["mode"] != mode:
                    return
            time.sleep(0.05)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/__mock/"):
            return self.control_get(url.path)
        parts = url.path.split("/")
        # /admin/api/<version>/<resource>.json
        if len(parts) != 5 or parts[1] != "admin" or parts[2] != "api":
            return self.send_json(404, {"errors": "Not Found"})
        version, resource = parts[3], parts[4]
        kind = {"products.json": "products", "shop.json": "shop"}.get(resource, "other")
        with STATE["lock"]:
            STATE["counts"][kind] += 1
            token = STATE["token"]
            STATE["log"].append((round(time.monotonic() - STARTED, 3), kind))
            del STATE["log"][:-500]
        if self.headers.get("X-Shopify-Access-Token") != token:
            return self.send_json(401, {"errors": "[API] Invalid API key or access token "
                                                  "(unrecognized login or wrong password)"},
                                  {"WWW-Authenticate": 'Basic Realm="Shopify API Authentication"'})
        if self.misbehave():
            return None
        allowed, in_use, size, wait = meter_call()
        headers = {"X-Shopify-API-Version": version}
        if size:
            headers["X-Shopify-Shop-Api-Call-Limit"] = f"{in_use}/{size}"
        if not allowed:
            headers["Retry-After"] = f"{max(wait, 0.1):.1f}"
            return self.send_json(429, {"errors": "Exceeded 2 calls per second for api client. "
                                                  "Reduce request rates to resume uninterrupted "
                                                  "service."}, headers)
        if kind == "shop":
            return self.send_json(200, {"shop": {"id": 548380009, "name": "Mock Shop",
                                                 "currency": "USD"}}, headers)
        if kind != "products":
            return self.send_json(404, {"errors": "Not Found"})
        return self.products(url, version, headers)

    # --- the GraphQL Admin API and the client-credentials grant -----------
    def token_valid(self, token):
        with STATE["lock"]:
            if token and token == STATE["token"]:
                return True
            expiry = STATE["tokens"].get(token)
            return expiry is not None and time.monotonic() < expiry

    def grant_token(self):
        raw = self.read_raw().decode("utf-8", "replace")
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                form = json.loads(raw or "{}")
            except ValueError:
                form = {}
        else:
            form = {k: v[0] for k, v in parse_qs(raw).items()}
        with STATE["lock"]:
            good = (form.get("grant_type") == "client_credentials" and STATE["client_id"]
                    and form.get("client_id") == STATE["client_id"]
                    and form.get("client_secret") == STATE["client_secret"])
            if good:
                STATE["tokens_issued"] += 1
                token = f"shpat_issued_{STATE['tokens_issued']}_{random.getrandbits(64):016x}"
                ttl = STATE["token_ttl"]
                STATE["tokens"][token] = time.monotonic() + ttl
        if not good:
            return self.send_json(400, {"error": "invalid_client",
                                        "error_description": "Client authentication failed"})
        return self.send_json(200, {"access_token": token, "scope": "read_products",
                                    "expires_in": int(ttl)})

    def refresh_bulk(self):
        """Moves bulk operations along by time (under STATE's lock)."""
        now = time.monotonic()
        for op in STATE["bulk"].values():
            if op["status"] not in ("CREATED", "RUNNING") or op["_mode"] == "hang":
                if op["status"] == "CREATED":
                    op["status"] = "RUNNING"
                continue
            if now < op["_done_at"]:
                op["status"] = "RUNNING"
            elif op["_mode"] == "fail":
                op["status"], op["errorCode"] = "FAILED", "INTERNAL_SERVER_ERROR"
            else:
                op["status"] = "COMPLETED"
                op["url"] = op["_url"]
                op["completedAt"] = "2026-12-05T00:00:00Z"

    def bulk_run(self, query):
        with STATE["lock"]:
            self.refresh_bulk()
            if any(op["status"] in ("CREATED", "RUNNING") for op in STATE["bulk"].values()):
                return {"bulkOperation": None, "userErrors": [
                    {"field": None, "message": "A bulk query operation for this app and shop "
                                               "is already in progress: ..."}]}
            products = STATE["products"]
            number = len(STATE["bulk"]) + 1
            delay, mode = STATE["bulk_delay_ms"], STATE["bulk_mode"]
        try:
            lines = mock_graphql.bulk_lines(products, query or "")
        except mock_graphql.GraphQLError as error:
            return {"bulkOperation": None,
                    "userErrors": [{"field": ["query"], "message": str(error)}]}
        name = f"{number}.jsonl"
        data = ("\n".join(lines) + "\n").encode() if lines else b""
        op = {"__typename": "BulkOperation", "id": f"gid://shopify/BulkOperation/{number}",
              "status": "CREATED", "errorCode": None, "objectCount": str(len(lines)),
              "rootObjectCount": str(len(products)), "fileSize": str(len(data)), "url": None,
              "partialDataUrl": None, "createdAt": "2026-12-05T00:00:00Z", "completedAt": None,
              "query": query, "type": "QUERY",
              "_done_at": time.monotonic() + delay / 1000.0, "_mode": mode,
              "_url": f"http://{self.headers.get('Host')}/__mock/bulk/{name}"}
        with STATE["lock"]:
            STATE["bulk"][op["id"]] = op
            STATE["bulk_files"][name] = data
        return {"bulkOperation": op, "userErrors": []}

    def graphql(self, version):
        raw = self.read_raw()
        with STATE["lock"]:
            STATE["graphql"]["requests"] += 1
            STATE["log"].append((round(time.monotonic() - STARTED, 3), "graphql"))
            del STATE["log"][:-500]
            mode = STATE["mode"]
        if not self.token_valid(self.headers.get("X-Shopify-Access-Token")):
            with STATE["lock"]:
                STATE["graphql"]["unauthorized"] = STATE["graphql"].get("unauthorized", 0) + 1
            return self.send_json(401, {"errors": "[API] Invalid API key or access token "
                                                  "(unrecognized login or wrong password)"})
        if self.misbehave():
            return None
        headers = {"X-Shopify-API-Version": version}
        if mode == "raw":
            return self.send_json(200, STATE.get("raw", b""), headers)
        try:
            body = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"errors": "Invalid JSON in request body"}, headers)
        if mode == "graphql_error":
            return self.send_json(200, {"errors": [{"message": "Internal error. Looks like "
                                                               "something went wrong on our end.",
                                                    "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
                                        "data": None}, headers)
        with STATE["lock"]:
            self.refresh_bulk()
            state = {"products": STATE["products"], "bulk": dict(STATE["bulk"]),
                     "bulk_run": self.bulk_run}
        answer = mock_graphql.execute(state, STATE["cost_bucket"], body)
        cost = answer.get("extensions", {}).get("cost", {})
        with STATE["lock"]:
            g = STATE["graphql"]
            g["max_requested"] = max(g["max_requested"], cost.get("requestedQueryCost") or 0)
            g["queries"].append({"cost": cost.get("requestedQueryCost"),
                                 "actual": cost.get("actualQueryCost"),
                                 "available": cost.get("throttleStatus", {}).get("currentlyAvailable"),
                                 "errors": [e.get("extensions", {}).get("code")
                                            for e in answer.get("errors", [])],
                                 "variables": body.get("variables") if isinstance(body, dict) else None})
            del g["queries"][:-500]
        if mode == "graphql_partial" and answer.get("data"):
            answer["errors"] = [{"message": "Access denied for inventoryItem field.",
                                 "extensions": {"code": "ACCESS_DENIED"}}]
        data = json.dumps(answer).encode()
        if mode in ("broken_json", "truncated_json"):
            data = data[: len(data) // 2]
        if mode == "invalid_json":
            data = b"<html><body>Not JSON at all</body></html>"
        return self.send_json(200, data, headers)

    def products(self, url, version, headers):
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            limit = int(query.get("limit", ["50"])[0])
        except ValueError:
            return self.send_json(400, {"errors": {"limit": "invalid"}})
        limit = max(1, min(250, limit))
        offset = 0
        if "page_info" in query:
            extra = sorted(set(query) - {"page_info", "limit"})
            if extra:
                return self.send_json(400, {"errors": {extra[0]: f"{extra[0]} cannot be passed when page_info is present. See https://shopify.dev/api/usage/pagination-rest for more information."}})
            try:
                offset = decode_cursor(query["page_info"][0])
            except Exception:
                return self.send_json(400, {"errors": {"page_info": "Invalid value."}})
        with STATE["lock"]:
            products = STATE["products"]
            generation = STATE["generation"]
            mode = STATE["mode"]
        # REST answers at most 100 variants a product (GraphQL has them all).
        page = [dict(p, variants=p["variants"][:100]) if len(p["variants"]) > 100 else p
                for p in products[offset:offset + limit]]
        base = f"http://{self.headers.get('Host')}/admin/api/{version}/products.json?limit={limit}"
        links = []
        if offset > 0:
            links.append(f'<{base}&page_info={encode_cursor(max(0, offset - limit), generation)}>; rel="previous"')
        if mode == "loop_link":
            # A broken upstream: "next" leads back to the first page, forever.
            links.append(f'<{base}&page_info={encode_cursor(0, generation)}>; rel="next"')
        elif offset + limit < len(products):
            links.append(f'<{base}&page_info={encode_cursor(offset + limit, generation)}>; rel="next"')
        if links and mode != "raw":  # a raw answer is the only page
            headers["Link"] = ", ".join(links)
        body = json.dumps({"products": page}).encode()
        if mode == "raw":
            body = STATE.get("raw", b"")
        if mode in ("broken_json", "truncated_json"):
            body = body[: len(body) // 2]
        self.send_json(200, body, headers)


def main():
    parser = argparse.ArgumentParser(description="mock Shopify REST Admin API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default="shpat_mock_token")
    parser.add_argument("--cost-bucket", type=float, default=1000.0,
                        help="GraphQL: points the cost bucket holds")
    parser.add_argument("--restore-rate", type=float, default=1000.0,
                        help="GraphQL: points restored a second (Plus-like, so tests run fast)")
    parser.add_argument("--client-id", default="", help="for the client-credentials grant")
    parser.add_argument("--client-secret", default="")
    args = parser.parse_args()
    STATE["token"] = args.token
    STATE["products"] = make_catalog(args.products, args.seed)
    STATE["bucket"]["at"] = time.monotonic()
    STATE["cost_bucket"] = mock_graphql.Bucket(args.cost_bucket, args.restore_rate)
    STATE["client_id"], STATE["client_secret"] = args.client_id, args.client_secret
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"READY port={server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
