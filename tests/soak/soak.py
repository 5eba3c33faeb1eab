#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Soak: the real binary under mixed load for MINUTES while faults are
injected throughout, reporting failures, p99 and resident memory over time.

  soak.py --minutes 30 [--clients 8] [--out FILE] [--rss-out FILE]

Started here, each on a free loopback port and stopped by pid at the end:
a redis-server, the mock Shopify (1,000 products) and retail-api (the
binary in RETAIL_API_BIN) with a config file, a 2 s cache TTL and
Shopify's calls paced at 20 a second, so that the catalog is read again
and again all along.

Faults, on fixed periods from the start:
  every  4 s  Shopify's mode moves on: ok, slow (300 ms), ok, 500, ok, 429
              with Retry-After, slow past SHOPIFY_TIMEOUT_MS, ok, HTML 500,
              hang; then again
  every  7 s  SIGHUP, the config file alternating between one and two keys
  every 11 s  the catalog changes (1,000 or 1,100 products, new prices)
  every 30 s  redis-server is stopped and started again on its port

Load: CLIENTS threads on kept-alive connections, each request drawn from
a fixed mix: a page of 5 (40 %), a page of 50 at pages 1..20 (20 %), one
product by id (15 %), /health (15 %), /metrics (5 %), and no key (5 %,
which must get 401). A failure is any other status, a connection error,
a products answer that is not JSON with products, or an answer slower
than the hotfix's targets (2 s for products, 500 ms for /health).

Memory: VmRSS is read four times a second. (Judged from 10-minute runs on;
a shorter run only reports it.) The first 20 % of the run (at
least 20 s) is warm-up; growth is the median RSS over the last quarter of
the rest against the median over its first quarter, and must stay under
5 %. (Medians of many samples: RSS swings by a few per cent with each
catalog built and freed, every 2 s here.)

Exit 0 when there was no failure, every reload took effect, growth stayed
under 5 % and the server exited 0 on SIGTERM; 1 otherwise."""
import argparse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import MockShopify, Redis, RetailApi, free_port, wait_until  # noqa: E402

KEY_A = "soak-key-a-61c0e9d2b7a4f385"
KEY_B = "soak-key-b-0d93f1ae6c52b847"
TOKEN = "shpat_soak_token_7e2c90d1a4b3"
FIRST_ID = 2 ** 53 + 1  # the mock's ids: FIRST_ID + 2n
SHOPIFY_MODES = [("ok", {}), ("slow", {"delay_ms": 300}), ("ok", {}), ("status", {"status": 500}),
                 ("ok", {}), ("status", {"status": 429, "retry_after": "1.0"}),
                 ("slow", {"delay_ms": 1500}), ("ok", {}), ("html500", {}), ("hang", {})]
LIMITS = {"products": 2.0, "health": 0.5, "metrics": 2.0, "nokey": 2.0}


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Window:
    """What happened in one reporting window."""

    def __init__(self, start):
        self.start = start
        self.latencies = []
        self.requests = 0
        self.failures = 0
        self.events = []


class Soak:
    def __init__(self, args):
        self.args = args
        self.duration = args.minutes * 60.0
        self.window_s = max(5.0, self.duration / 30.0)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.windows = []
        self.failure_samples = []
        self.sources = {}
        self.reloads_sent = 0
        self.rss = []  # (seconds since the start, KiB)

    # --- the processes ----------------------------------------------------
    def start(self):
        self.redis = Redis()
        self.mock = MockShopify(products=1000, token=TOKEN)
        self.mock.set_bucket(80, 40)
        self.dir = tempfile.mkdtemp(prefix="retail-soak-")
        self.conf = os.path.join(self.dir, "retail-api.conf")
        self.port = free_port()
        self.write_config([KEY_A])
        self.server = RetailApi(args=["--config", self.conf], defaults=False, port=self.port)
        wait_until(lambda: self.server.health()["components"]["cache"]["products"] == 1000, 30,
                   "the first catalog from the mock Shopify")

    def write_config(self, keys):
        values = {"HOST": "127.0.0.1", "PORT": self.port, "API_KEYS": ",".join(keys),
                  "REDIS_URL": self.redis.url(), "SHOPIFY_SHOP_URL": self.mock.url,
                  "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_CONNECT_TIMEOUT_MS": 500,
                  "SHOPIFY_TIMEOUT_MS": 1000, "SHOPIFY_CALLS_PER_SECOND": 20,
                  "SHOPIFY_REFRESH_DEADLINE_MS": 10000, "REFRESH_BACKOFF_MAX_SECONDS": 4,
                  "CACHE_TTL_SECONDS": 2, "PRODUCTS_DEADLINE_MS": 1500, "LOG_LEVEL": "info"}
        tmp = self.conf + ".new"
        with open(tmp, "w", encoding="ascii") as f:
            f.write("".join(f"{k}={v}\n" for k, v in values.items()))
        os.replace(tmp, self.conf)

    def stop(self):
        code = None
        for name in ("server", "mock", "redis"):
            proc = getattr(self, name, None)
            if proc is not None:
                result = proc.stop(timeout=15)
                if name == "server":
                    code = result
        return code

    # --- bookkeeping ------------------------------------------------------
    def window(self, now):
        """The window for time now (relative to the start), created on demand."""
        index = int(now // self.window_s)
        while len(self.windows) <= index:
            self.windows.append(Window(len(self.windows) * self.window_s))
        return self.windows[index]

    def record(self, kind, elapsed, ok, detail=None):
        now = time.monotonic() - self.t0
        with self.lock:
            w = self.window(now)
            w.requests += 1
            w.latencies.append(elapsed)
            if not ok or elapsed > LIMITS[kind]:
                w.failures += 1
                if len(self.failure_samples) < 20:
                    self.failure_samples.append(
                        f"{now:7.1f} s {kind}: {detail or 'ok'} in {elapsed * 1000:.0f} ms")

    def event(self, text):
        now = time.monotonic() - self.t0
        with self.lock:
            self.window(now).events.append(text)

    # --- load -------------------------------------------------------------
    def client(self, seed):
        rng = random.Random(seed)
        conn = None
        while not self.stopping.is_set():
            roll = rng.random()
            headers = {"X-API-Key": KEY_A}
            if roll < 0.40:
                kind, path = "products", "/v1/products?limit=5"
            elif roll < 0.60:
                kind, path = "products", f"/v1/products?limit=50&page={rng.randint(1, 20)}"
            elif roll < 0.75:
                kind, path = "products", f"/v1/products/{FIRST_ID + 2 * rng.randrange(1000)}"
            elif roll < 0.90:
                kind, path, headers = "health", "/health", {}
            elif roll < 0.95:
                kind, path, headers = "metrics", "/metrics", {}
            else:
                kind, path, headers = "nokey", "/v1/products?limit=5", {}
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", path, headers=headers)
                reply = conn.getresponse()
                body = reply.read()
                elapsed = time.monotonic() - started
                ok, detail = self.judge(kind, path, reply.status, body)
                self.record(kind, elapsed, ok, detail)
                if reply.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as error:
                self.record(kind, time.monotonic() - started, False, f"{path}: {error!r}")
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def judge(self, kind, path, status, body):
        want = 401 if kind == "nokey" else 200
        if status != want:
            return False, f"{path}: status {status}"
        if kind == "products":
            try:
                doc = json.loads(body)
            except ValueError:
                return False, f"{path}: not JSON"
            if "/v1/products/" in path:
                if not isinstance(doc.get("product"), dict) or "id" not in doc["product"]:
                    return False, f"{path}: no product"
            elif not isinstance(doc.get("products"), list) or not doc["products"]:
                return False, f"{path}: no products"
            else:
                with self.lock:
                    self.sources[doc.get("source")] = self.sources.get(doc.get("source"), 0) + 1
        return True, None

    # --- faults -----------------------------------------------------------
    def faults(self):
        next_mode, next_reload, next_catalog, next_redis = 4.0, 7.0, 11.0, 30.0
        mode_index, catalog_round = 0, 0
        while not self.stopping.is_set():
            now = time.monotonic() - self.t0
            if now >= next_mode:
                mode_index = (mode_index + 1) % len(SHOPIFY_MODES)
                mode, extra = SHOPIFY_MODES[mode_index]
                self.mock.set_mode(mode, **extra)
                self.event(mode + (f"{extra.get('status') or extra.get('delay_ms')}" if extra else ""))
                next_mode += 4.0
            if now >= next_reload:
                self.reloads_sent += 1
                self.write_config([KEY_A, KEY_B] if self.reloads_sent % 2 else [KEY_A])
                self.server.popen.send_signal(signal.SIGHUP)
                self.event("HUP")
                next_reload += 7.0
            if now >= next_catalog:
                catalog_round += 1
                self.mock.set_catalog(1000 + 100 * (catalog_round % 2), seed=catalog_round)
                self.event("catalog")
                next_catalog += 11.0
            if now >= next_redis:
                port = self.redis.port
                self.redis.stop()
                self.event("redis-restart")
                self.redis = Redis(port=port)
                next_redis += 30.0
            self.stopping.wait(0.05)

    def sample_memory(self):
        while not self.stopping.is_set():
            kib = rss_kib(self.server.pid)
            now = time.monotonic() - self.t0
            with self.lock:
                self.rss.append((now, kib))
            self.stopping.wait(0.25)

    # --- the run ----------------------------------------------------------
    def run(self):
        self.t0 = time.monotonic()
        threads = [threading.Thread(target=self.client, args=(n,), daemon=True)
                   for n in range(self.args.clients)]
        threads.append(threading.Thread(target=self.faults, daemon=True))
        threads.append(threading.Thread(target=self.sample_memory, daemon=True))
        for t in threads:
            t.start()
        self.stopping.wait(self.duration)
        self.stopping.set()
        for t in threads:
            t.join(30)
        self.mock.set_mode("ok")  # release hung requests before stopping
        self.reloads_done = self.server.log_text().count("configuration reloaded")
        self.shopify_stats = self.mock.stats()

    def report(self, exit_code):
        lines = []
        out = lines.append
        out(f"soak: {self.args.minutes:g} min, {self.args.clients} clients, "
            f"{self.window_s:g} s windows")
        out("")
        out("| from (s) | requests | failures | p50 (ms) | p99 (ms) | max (ms) | RSS (MiB) | faults |")
        out("|---:|---:|---:|---:|---:|---:|---:|---|")
        windows = [w for w in self.windows if w.start < self.duration]
        for w in windows:
            lat = sorted(w.latencies)
            q = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000) if lat else (lambda p: 0)
            rss = [kib for at, kib in self.rss if w.start <= at < w.start + self.window_s]
            rss = statistics.median(rss) / 1024 if rss else 0
            out(f"| {w.start:.0f} | {w.requests} | {w.failures} | {q(0.50):.2f} | {q(0.99):.2f} | "
                f"{(lat[-1] * 1000 if lat else 0):.1f} | {rss:.1f} | {' '.join(w.events)} |")
        total = sum(w.requests for w in windows)
        failures = sum(w.failures for w in windows)
        warm = max(20.0, self.duration * 0.2)
        # Over a short run RSS growth is noise (each refresh leaves the heap
        # at a slightly different level: +-10 % in one minute): it is judged
        # from 10 minutes on, and only reported before (valgrind and
        # LeakSanitizer are the leak checks of the test suite).
        judged = self.duration >= 600
        quarter = (self.duration - warm) / 4
        first = [kib for at, kib in self.rss if warm <= at < warm + quarter]
        last = [kib for at, kib in self.rss if at >= self.duration - quarter]
        baseline = statistics.median(first) if first else 0
        final = statistics.median(last) if last else 0
        growth = (final / baseline - 1) * 100 if baseline else float("inf")
        peak = max((kib for _, kib in self.rss), default=0)
        reloads, stats = self.reloads_done, self.shopify_stats
        worst_p99 = max((sorted(w.latencies)[int(0.99 * len(w.latencies))] * 1000
                         for w in windows if w.latencies), default=0)
        out("")
        out(f"requests: {total} ({total / self.duration:.0f}/s), failures: {failures}")
        out(f"products answers by source: {json.dumps(self.sources, sort_keys=True)}")
        out(f"p99 per window: worst {worst_p99:.2f} ms")
        out(f"RSS (median): {baseline / 1024:.2f} MiB in the first quarter after warm-up "
            f"({warm:.0f} s), {final / 1024:.2f} MiB in the last quarter: growth {growth:+.1f} % "
            f"(limit 5 %{'' if judged else ', judged from 10 min on'}); peak {peak / 1024:.1f} MiB")
        out(f"reloads: {reloads} of {self.reloads_sent} took effect; Shopify calls: "
            f"{json.dumps(stats.get('requests', {}))}, throttled {stats.get('throttled', '?')}")
        out(f"exit code on SIGTERM: {exit_code}")
        for sample in self.failure_samples:
            out(f"  failure at {sample}")
        if self.args.rss_out:
            with open(self.args.rss_out, "w", encoding="ascii") as f:
                f.write("".join(f"{at:.2f} {kib}\n" for at, kib in self.rss))
        passed = (failures == 0 and (growth < 5.0 or not judged) and reloads == self.reloads_sent
                  and exit_code == 0 and total > 0)
        out(f"soak: {'PASS' if passed else 'FAIL'}")
        return passed, "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", help="also write the report to this file")
    parser.add_argument("--rss-out", help="write every RSS sample (seconds, KiB) to this file")
    args = parser.parse_args()
    if not 0 < args.minutes <= 24 * 60 or not 1 <= args.clients <= 64:
        parser.error("--minutes must be in (0, 1440] and --clients in [1, 64]")
    soak = Soak(args)
    ran = False
    try:
        soak.start()
        soak.run()
        ran = True
    finally:
        code = soak.stop()
    passed, text = soak.report(code) if ran else (False, "soak: did not run\n")
    sys.stdout.write(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
