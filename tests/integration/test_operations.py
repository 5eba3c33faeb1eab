# SPDX-License-Identifier: MIT
"""Running it as a service: install, upgrade and roll back under --root,
SIGTERM with requests in flight, SIGHUP key rotation and bad reloads,
/metrics against the requests sent, JSON logs and request ids,
--check-config, and the systemd unit."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (API_KEY, BINARY, SOURCE_DIR, Load, MockShopify, RetailApi, free_port,
                     shopify_env, wait_until)

INSTALL = os.path.join(SOURCE_DIR, "scripts", "install.sh")
UNIT = os.path.join(SOURCE_DIR, "config", "retail-api.service")


def parse_metrics(text):
    """Parses the Prometheus text format strictly enough to catch a broken
    exposition: returns ({(name, labels): value}, {family: type})."""
    samples, types, helps = {}, {}, set()
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        match = line_re.match(line)
        assert match, f"not a sample line: {line!r}"
        name, _, labels_text, value = match.groups()
        labels = tuple(label_re.findall(labels_text or ""))
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert family in types or name in types, f"{name} has no TYPE line"
        assert (family if family in types else name) in helps, f"{name} has no HELP line"
        samples[(name, labels)] = float(value)
    for name, kind in types.items():
        if kind == "counter":
            assert name.endswith("_total"), f"counter {name} does not end in _total"
    return samples, types


def metric(samples, name, **labels):
    want = tuple(sorted(labels.items()))
    for (n, ls), value in samples.items():
        if n == name and tuple(sorted(ls)) == want:
            return value
    return 0.0


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def pid_running(pid):
    """True while pid runs (a zombie left to an init that does not reap counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class InstallTest(unittest.TestCase):
    """scripts/install.sh --root DIR --no-systemd: the whole cycle in a
    temporary directory, the server started and stopped by its pid file."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="retail-install-")
        self.port = free_port()
        self.conf = os.path.join(self.root, "etc", "retail-api", "retail-api.conf")
        os.makedirs(os.path.dirname(self.conf))
        # 127.0.0.2: install.sh must ask the address the server listens on.
        self.conf_text = (f"# the operator's own file\nPORT={self.port}\nHOST=127.0.0.2\n"
                          f"API_KEYS={API_KEY}\nREDIS_URL=none\n")
        write(self.conf, self.conf_text)
        self.addCleanup(self.cleanup)

    def cleanup(self):
        pidfile = os.path.join(self.root, "run", "retail-api.pid")
        if os.path.exists(pidfile):
            with open(pidfile, encoding="ascii") as f:
                text = f.read().strip()
            if text:
                pid = int(text)
                if pid_running(pid):
                    os.kill(pid, signal.SIGTERM)
                    wait_until(lambda: not pid_running(pid), 15, f"pid {pid} to stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def install(self, *args, binary=BINARY):
        done = subprocess.run(["bash", INSTALL, "--root", self.root, "--no-systemd", "--binary",
                               binary, "--ready-timeout", "20", *args],
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr

    def link(self, name):
        return os.readlink(os.path.join(self.root, "opt", "retail-api", name))

    def server_pid(self):
        with open(os.path.join(self.root, "run", "retail-api.pid"), encoding="ascii") as f:
            return int(f.read())

    def get(self, path, key=None):
        conn = http.client.HTTPConnection("127.0.0.2", self.port, timeout=10)
        try:
            conn.request("GET", path, headers={"X-API-Key": key} if key else {})
            reply = conn.getresponse()
            return reply.status, reply.read()
        finally:
            conn.close()

    def test_install_upgrade_status_rollback(self):
        code, out = self.install("--version", "v1")
        self.assertEqual(code, 0, out)
        self.assertIn("release v1 is ready", out)
        self.assertEqual(self.link("current"), "releases/v1")
        release = os.path.join(self.root, "opt", "retail-api", "releases", "v1")
        for part in ("bin/retail-api", "config/fallback_products.json",
                     "config/retail-api.service", "share/README.md"):
            self.assertTrue(os.path.exists(os.path.join(release, part)), part)
        self.assertTrue(os.path.exists(
            os.path.join(self.root, "etc", "systemd", "system", "retail-api.service")))
        with open(self.conf, encoding="utf-8") as f:
            self.assertEqual(f.read(), self.conf_text, "the existing config was changed")
        self.assertIn("keeping the existing configuration", out)
        self.assertEqual(self.get("/ready")[0], 200)
        self.assertEqual(self.get("/v1/products?limit=2", API_KEY)[0], 200)
        first_pid = self.server_pid()

        code, out = self.install("--install", "--version", "v2", "--test", "--report")
        self.assertEqual(code, 0, out)
        self.assertIn("smoke test passed", out)
        self.assertRegex(out, r"health: degraded \(serving fallback, .*Shopify is not configured")
        self.assertNotIn(API_KEY, out)
        self.assertEqual(self.link("current"), "releases/v2")
        self.assertEqual(self.link("previous"), "releases/v1")
        self.assertNotEqual(self.server_pid(), first_pid, "the server was not restarted")
        self.assertFalse(pid_running(first_pid), "the old server still runs")
        self.assertEqual(self.get("/ready")[0], 200)

        code, out = self.install("--status")
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"\* v2 \(current\)")
        self.assertRegex(out, r"v1 \(previous\)")
        self.assertIn("ready: yes", out)

        code, out = self.install("--version", "v2")
        self.assertNotEqual(code, 0, out)
        self.assertIn("already installed", out)
        self.assertEqual(self.link("current"), "releases/v2")

        code, out = self.install("--rollback")
        self.assertEqual(code, 0, out)
        self.assertIn("rolled back from v2 to v1", out)
        self.assertEqual(self.link("current"), "releases/v1")
        self.assertEqual(self.link("previous"), "releases/v2")
        self.assertEqual(self.get("/ready")[0], 200)
        self.assertEqual(self.get("/v1/products?limit=2", API_KEY)[0], 200)

    def test_a_release_that_never_gets_ready_is_rolled_back(self):
        code, out = self.install("--version", "good")
        self.assertEqual(code, 0, out)
        good_pid = self.server_pid()
        tools = tempfile.mkdtemp(prefix="retail-bad-")
        self.addCleanup(shutil.rmtree, tools, True)
        # The last one gets ready but refuses the configured key (the
        # environment beats the file): only --test's smoke test sees it.
        for name, body in (("hangs", "exec sleep 60\n"), ("crashes", "exit 3\n"),
                           ("refuses-key", f"API_KEYS=another-key exec {BINARY} \"$@\"\n")):
            bad = os.path.join(tools, name)
            write(bad, "#!/bin/sh\n" + body)
            os.chmod(bad, 0o755)
            with self.subTest(release=name):
                started = time.monotonic()
                code, out = self.install("--version", name, "--ready-timeout", "3", "--test",
                                         binary=bad)
                self.assertNotEqual(code, 0, out)
                self.assertIn(f"release {name} did not become ready", out)
                self.assertIn("rolled back to good, which is ready", out)
                self.assertEqual(self.link("current"), "releases/good")
                self.assertNotEqual(self.link("previous") if os.path.islink(
                    os.path.join(self.root, "opt", "retail-api", "previous")) else "",
                    f"releases/{name}", "the failed release became the rollback target")
                self.assertEqual(self.get("/ready")[0], 200)
                self.assertNotEqual(self.server_pid(), good_pid)
                self.assertLess(time.monotonic() - started, 60)
        with open(os.path.join(self.root, "opt", "retail-api", "history"), encoding="utf-8") as f:
            self.assertIn("good (automatic rollback from hangs)", f.read())

    def test_a_first_install_writes_a_config_with_a_random_key(self):
        os.unlink(self.conf)
        failing = os.path.join(self.root, "exits")
        write(failing, "#!/bin/sh\nexit 1\n")
        os.chmod(failing, 0o755)
        code, out = self.install("--version", "first", "--ready-timeout", "2", binary=failing)
        self.assertNotEqual(code, 0, out)
        self.assertIn("no earlier release to return to", out)
        with open(self.conf, encoding="utf-8") as f:
            text = f.read()
        keys = re.findall(r"^API_KEYS=([0-9a-f]+)$", text, re.M)
        self.assertEqual(len(keys), 1, text)
        self.assertEqual(len(keys[0]), 48)
        self.assertNotIn(keys[0], out, "the new key was printed")
        self.assertEqual(os.stat(self.conf).st_mode & 0o777, 0o640)
        self.assertIn("created", out)


class DrainTest(unittest.TestCase):
    """SIGTERM: no new connections, /ready 503 on kept-alive ones, requests
    in flight answered, exit 0, all within DRAIN_TIMEOUT_MS."""

    def start(self, deadline_ms, drain_ms):
        self.mock = MockShopify(products=20)
        self.addCleanup(self.mock.stop)
        self.mock.set_mode("hang")  # no catalog: product requests wait
        server = RetailApi(shopify_env(self.mock, PRODUCTS_DEADLINE_MS=deadline_ms,
                                       DRAIN_TIMEOUT_MS=drain_ms))
        self.addCleanup(server.stop)
        return server

    def send_waiting_requests(self, server, count):
        results = []

        def one():
            try:
                r = server.get("/v1/products?limit=3", timeout=60)
                results.append((r.status, r.json().get("source")))
            except (OSError, http.client.HTTPException, ValueError) as error:
                results.append(("error", repr(error)))

        threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
        for t in threads:
            t.start()

        def in_flight():
            samples, _ = parse_metrics(server.request("GET", "/metrics").body.decode())
            return metric(samples, "retail_http_requests_in_flight") >= count + 1

        wait_until(in_flight, 10, f"{count} requests to wait for a catalog")
        return threads, results

    def test_sigterm_lets_requests_in_flight_finish(self):
        server = self.start(deadline_ms=2500, drain_ms=15000)
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        self.addCleanup(kept.close)
        kept.request("GET", "/ready")
        reply = kept.getresponse()
        self.assertEqual((reply.status, reply.read()), (200, b'{"status":"ready"}'))
        threads, results = self.send_waiting_requests(server, 6)

        server.popen.send_signal(signal.SIGTERM)

        def ready_says_draining():
            kept.request("GET", "/ready")
            reply = kept.getresponse()
            body = reply.read()
            if reply.status == 503:
                self.assertEqual(json.loads(body), {"status": "draining"})
                self.assertEqual(reply.getheader("Connection"), "close")
                return True
            self.assertEqual(reply.status, 200)
            return False

        wait_until(ready_says_draining, 5, "/ready to answer 503 on a kept-alive connection")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        code = server.wait_exit(30)
        for t in threads:
            t.join(10)
        self.assertEqual(code, 0, server.log_text()[-2000:])
        self.assertEqual(len(results), 6)
        self.assertEqual(results, [(200, "fallback")] * 6, server.log_text()[-2000:])
        self.assertIn("stopped cleanly", server.log_text())

    def test_the_drain_is_bounded_by_its_setting(self):
        server = self.start(deadline_ms=30000, drain_ms=300)
        threads, results = self.send_waiting_requests(server, 3)
        started = time.monotonic()
        server.popen.send_signal(signal.SIGTERM)
        code = server.wait_exit(15)
        took = time.monotonic() - started
        for t in threads:
            t.join(10)
        self.assertEqual(code, 0)
        self.assertLess(took, 10, "the drain outlived its bound by far")
        self.assertIn("3 requests still in flight after 300 ms", server.log_text())
        # Cut short, they were still answered, from the fallback.
        self.assertEqual(results, [(200, "fallback")] * 3)


class NotifyTest(unittest.TestCase):
    """The sd_notify protocol, as systemd would see it: a datagram socket
    in NOTIFY_SOCKET, and a watchdog in WATCHDOG_USEC."""

    def test_ready_reloading_watchdog_stopping(self):
        dir_ = tempfile.mkdtemp(prefix="retail-notify-")
        self.addCleanup(shutil.rmtree, dir_, True)
        path = os.path.join(dir_, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        sock.settimeout(0.2)
        messages = []

        def count(needle, after=0):
            """Reads what arrived; how many messages from index after hold needle."""
            try:
                while True:
                    messages.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
            return sum(needle in m for m in messages[after:])

        def received(needle):
            return count(needle) > 0

        # On 127.0.0.2 only: the watchdog's own GET /live must go there,
        # not to 127.0.0.1.
        server = RetailApi({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000",
                            "HOST": "127.0.0.2"})
        self.addCleanup(server.stop)
        wait_until(lambda: received("READY=1"), 5, "READY=1")
        ready = next(m for m in messages if "READY=1" in m)
        self.assertIn(f"STATUS=serving on port {server.port}", ready)
        self.assertIn(f"MAINPID={server.pid}", ready)
        # The watchdog is fed (after a GET /live of its own) every 200 ms.
        wait_until(lambda: count("WATCHDOG=1") >= 3, 5, "three WATCHDOG=1")
        self.assertEqual(count("RELOADING=1"), 0)
        server.popen.send_signal(signal.SIGHUP)
        wait_until(lambda: received("RELOADING=1"), 5, "RELOADING=1")
        at = next(i for i, m in enumerate(messages) if "RELOADING=1" in m)
        wait_until(lambda: count("READY=1", after=at + 1) > 0, 5, "READY=1 after the reload")
        self.assertEqual(count("STOPPING=1"), 0)
        server.popen.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(15), 0)
        wait_until(lambda: received("STOPPING=1"), 5, "STOPPING=1")


class ReloadTest(unittest.TestCase):
    """SIGHUP re-reads the config file; a bad file changes nothing."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="retail-reload-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.conf = os.path.join(self.dir, "retail-api.conf")
        self.port = free_port()

    def configure(self, **values):
        base = {"PORT": self.port, "HOST": "127.0.0.1", "REDIS_URL": "none"}
        base.update(values)
        write(self.conf, "".join(f"{k}={v}\n" for k, v in base.items()))

    def start(self):
        server = RetailApi(args=["--config", self.conf], defaults=False, port=self.port)
        self.addCleanup(server.stop)
        return server

    def reload(self, server, done_text):
        before = server.log_text().count(done_text)
        server.popen.send_signal(signal.SIGHUP)
        wait_until(lambda: server.log_text().count(done_text) > before, 10,
                   f"the log to say {done_text!r}")

    def test_key_rotation_under_load_fails_no_request(self):
        key_a, key_b = "rotate-key-a-3f9c2e71d05b", "rotate-key-b-8e41a6c92f3d"
        self.configure(API_KEYS=key_a)
        server = self.start()
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        self.addCleanup(kept.close)
        kept.request("GET", "/v1/products?limit=1", headers={"X-API-Key": key_a})
        reply = kept.getresponse()
        reply.read()
        self.assertEqual(reply.status, 200)

        load_a = Load(server, clients=3, key=key_a)
        wait_until(lambda: len(load_a.answers) > 50, 10, "load with key A")
        self.configure(API_KEYS=f"{key_a},{key_b}")
        self.reload(server, "configuration reloaded: 2 API key(s)")
        self.assertEqual(server.get("/v1/products?limit=1", key=key_b).status, 200)
        load_b = Load(server, clients=3, key=key_b)
        wait_until(lambda: len(load_b.answers) > 50, 10, "load with key B")
        answers_a = load_a.stop()

        self.configure(API_KEYS=key_b)
        self.reload(server, "configuration reloaded: 1 API key(s)")
        count = len(load_b.answers)
        wait_until(lambda: len(load_b.answers) > count + 50, 10, "more load with key B")
        answers_b = load_b.stop()

        self.assertEqual(server.get("/v1/products?limit=1", key=key_a).status, 401)
        self.assertEqual(server.get("/v1/products?limit=1", key=key_b).status, 200)
        for name, load, answers in (("A", load_a, answers_a), ("B", load_b, answers_b)):
            self.assertEqual(load.errors, [], f"key {name}: connection errors")
            statuses = {a[2] for a in answers}
            self.assertEqual(statuses, {200}, f"key {name}: {len(answers)} answers")
        # The connection opened before the reloads still serves, with key B.
        kept.request("GET", "/v1/products?limit=1", headers={"X-API-Key": key_b})
        self.assertEqual(kept.getresponse().status, 200)
        log = server.log_text()
        for secret in (key_a, key_b):
            self.assertNotIn(secret, log)

    def test_a_bad_reload_keeps_the_running_config(self):
        key = "good-key-5a1b2c3d4e5f6a7b"
        self.configure(API_KEYS=key, CACHE_TTL_SECONDS=300)
        server = self.start()
        self.configure(API_KEYS="other-key-9f8e7d6c5b4a", CACHE_TTL_SECONDS=0, CACHE_TTL=5)
        self.reload(server, "reload refused, the running configuration stays")
        log = server.log_text()
        self.assertIn("CACHE_TTL_SECONDS", log)
        self.assertEqual(server.get("/v1/products?limit=1", key=key).status, 200)
        self.assertEqual(server.get("/v1/products?limit=1", key="other-key-9f8e7d6c5b4a").status,
                         401)
        os.unlink(self.conf)
        self.reload(server, "reload refused, the running configuration stays")
        self.assertEqual(server.get("/v1/products?limit=1", key=key).status, 200)
        # A good file afterwards is applied, with what it changes.
        self.configure(API_KEYS=key, LOG_LEVEL="debug", PORT=self.port + 1)
        self.reload(server, "configuration reloaded")
        self.assertIn("only a restart applies them: PORT", server.log_text())
        server.request("GET", "/health", headers={"X-Request-Id": "after-reload-1"})
        wait_until(lambda: "[after-reload-1]" in server.log_text(), 5,
                   "the debug access line after LOG_LEVEL=debug was reloaded")
        self.assertNotIn("other-key-9f8e7d6c5b4a", server.log_text())


class MetricsTest(unittest.TestCase):
    def test_counters_match_the_requests_sent(self):
        mock = MockShopify(products=30)
        self.addCleanup(mock.stop)
        server = RetailApi(shopify_env(mock))
        self.addCleanup(server.stop)
        wait_until(lambda: server.get("/v1/products?limit=1").header("X-Cache") == "HIT", 10,
                   "a catalog from Shopify")
        ids = [p["id"] for p in server.get("/v1/products?limit=2").json()["products"]]

        def settled():
            """The metrics once every earlier answer is counted: an answer
            is counted when libmicrohttpd reports it complete, which can
            come just after the client has read it, and only then leaves
            the in-flight gauge (where /metrics itself is the one left)."""
            text = server.request("GET", "/metrics").body.decode()
            samples, _ = parse_metrics(text)
            return text if metric(samples, "retail_http_requests_in_flight") == 1 else None

        before, _ = parse_metrics(wait_until(settled, 5, "earlier answers to be counted"))
        sent = {("products", "200"): 0, ("products", "401"): 0, ("products", "400"): 0,
                ("product", "200"): 0, ("product", "404"): 0, ("health", "200"): 0,
                ("other", "404"): 0, ("live", "200"): 0, ("products", "405"): 0}
        plan = [("/v1/products?limit=5", API_KEY, "products", 200, 7),
                ("/v1/products?limit=5", None, "products", 401, 3),
                ("/v1/products?limit=0", API_KEY, "products", 400, 2),
                (f"/v1/products/{ids[0]}", API_KEY, "product", 200, 2),
                ("/v1/products/999999999999", API_KEY, "product", 404, 1),
                ("/health", None, "health", 200, 4),
                ("/live", None, "live", 200, 1),
                ("/nowhere", None, "other", 404, 2)]
        for path, key, route, status, times in plan:
            for _ in range(times):
                self.assertEqual(server.get(path, key=key).status, status, path)
                sent[(route, str(status))] += 1
        self.assertEqual(server.request("POST", "/v1/products", {"X-API-Key": API_KEY}).status,
                         405)
        sent[("products", "405")] += 1
        text = wait_until(settled, 5, "every answer to be counted")
        after, types = parse_metrics(text)

        for (route, status), count in sent.items():
            delta = (metric(after, "retail_http_requests_total", route=route, status=status)
                     - metric(before, "retail_http_requests_total", route=route, status=status))
            self.assertEqual(delta, count, f"{route} {status}")
        # The histogram counts each answer once, cumulatively.
        self.assertEqual(types["retail_http_request_duration_seconds"], "histogram")
        for route in ("products", "product", "health"):
            buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in after.items()
                              if n == "retail_http_request_duration_seconds_bucket"
                              and dict(ls)["route"] == route), key=lambda b: b[0])
            values = [v for _, v in buckets]
            self.assertEqual(values, sorted(values), f"{route}: buckets not cumulative")
            self.assertEqual(buckets[-1][0], float("inf"))
            total = sum(v for (n, ls), v in after.items()
                        if n == "retail_http_requests_total" and dict(ls)["route"] == route)
            self.assertEqual(buckets[-1][1], total, route)
            self.assertEqual(metric(after, "retail_http_request_duration_seconds_count",
                                    route=route), total)
        # 7 pages, 2 products and 1 product not found, answered from the
        # fresh catalog; the refused and bad requests never reached it.
        self.assertEqual(metric(after, "retail_cache_answers_total", tier="hit")
                         - metric(before, "retail_cache_answers_total", tier="hit"), 10)
        stats = mock.stats()["requests"]
        self.assertEqual(metric(after, "retail_shopify_requests_total", outcome="ok"),
                         stats["products"] + stats["shop"])
        self.assertEqual(metric(after, "retail_shopify_request_duration_seconds_count"),
                         sum(v for (n, ls), v in after.items()
                             if n == "retail_shopify_requests_total"))
        self.assertEqual(metric(after, "retail_refreshes_total", outcome="ok"), 1)
        self.assertEqual(metric(after, "retail_catalog_products"), 30)
        self.assertEqual(metric(after, "retail_breaker_state", state="closed"), 1)
        self.assertEqual(metric(after, "retail_redis_up"), 0)
        self.assertEqual(metric(after, "retail_draining"), 0)
        self.assertGreaterEqual(metric(after, "retail_catalog_age_seconds"), 0)
        self.assertIn(("retail_build_info", (("version", server_version()),)), after)
        for secret in (API_KEY, shopify_env(mock)["SHOPIFY_ACCESS_TOKEN"]):
            self.assertNotIn(secret, text)
        self.assertEqual(server.request("GET", "/metrics").header("Content-Type"),
                         "text/plain; version=0.0.4; charset=utf-8")


def server_version():
    out = subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=10)
    return out.stdout.split()[1]


class LogsTest(unittest.TestCase):
    def test_json_lines_carry_the_request_id(self):
        server = RetailApi({"LOG_FORMAT": "json", "LOG_LEVEL": "debug"})
        self.addCleanup(server.stop)
        r = server.request("GET", "/v1/products?limit=2",
                           {"X-API-Key": API_KEY, "X-Request-Id": "ops-test-42"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Request-Id"), "ops-test-42")
        bad_id = "has spaces and is not kept"
        r = server.request("GET", "/v1/products/nope", {"X-API-Key": API_KEY,
                                                       "X-Request-Id": bad_id})
        self.assertEqual(r.status, 404)
        self.assertIsNone(r.header("X-Request-Id"))
        server.request("GET", "/live")

        paths = ["/v1/products", "/v1/products/nope", "/live"]

        def access_lines():
            lines = [json.loads(line) for line in server.log_text().splitlines()]
            found = {line["fields"]["path"]: line for line in lines if line["event"] == "access"}
            return [found[p] for p in paths] if all(p in found for p in paths) else None

        access = wait_until(access_lines, 5, "the access lines of three requests")
        for line in server.log_text().splitlines():
            obj = json.loads(line)  # every line is one JSON object
            self.assertLessEqual({"time", "level", "event", "msg"}, set(obj), line)
            self.assertIn(obj["level"], ("debug", "info", "warn", "error"))
        first = access[0]
        self.assertEqual(first["request_id"], "ops-test-42")
        self.assertEqual(first["fields"]["status"], 200)
        self.assertEqual(first["fields"]["route"], "products")
        self.assertEqual(first["fields"]["path"], "/v1/products")
        self.assertIsInstance(first["fields"]["duration_us"], int)
        # Without a usable id, the server makes one up, different each time.
        self.assertRegex(access[1]["request_id"], r"^r[0-9a-f]{8}-\d+$")
        self.assertNotEqual(access[1]["request_id"], access[2]["request_id"])
        self.assertNotIn(bad_id, server.log_text())
        self.assertNotIn(API_KEY, server.log_text())

    def test_text_is_the_default(self):
        server = RetailApi()
        self.addCleanup(server.stop)
        first = server.log_text().splitlines()[0]
        self.assertRegex(first, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  startup: ")


class CheckConfigTest(unittest.TestCase):
    def run_check(self, text):
        path = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
        path.write(text)
        path.close()
        self.addCleanup(os.unlink, path.name)
        done = subprocess.run([BINARY, "--check-config", path.name], capture_output=True,
                              text=True, timeout=10, cwd=SOURCE_DIR,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        return done.returncode, done.stdout + done.stderr, path.name

    def test_a_good_file(self):
        with open(os.path.join(SOURCE_DIR, "config", "retail-api.conf.example"),
                  encoding="utf-8") as f:
            example = f.read()
        code, out, path = self.run_check(example.replace("\nAPI_KEYS=\n", "\nAPI_KEYS=k1,k2\n"))
        self.assertEqual(code, 0, out)
        self.assertEqual(out.strip(), f"{path}: configuration OK")

    def test_every_problem_is_printed(self):
        code, out, path = self.run_check(
            "PORT=eighty\nCACHE_TTL=5\nAPI_KEYS=\nCACHE_TTL_SECONDS=0\n"
            "FALLBACK_PRODUCTS_FILE=/nonexistent/fallback.json\nLOG_FORMAT=xml\nnot a pair\n")
        self.assertEqual(code, 2, out)
        for needle in (f"{path}:1", "PORT", f"{path}:2", "CACHE_TTL", "CACHE_TTL_SECONDS",
                       "/nonexistent/fallback.json", "LOG_FORMAT", f"{path}:7", "API_KEYS"):
            self.assertIn(needle, out)
        self.assertIn(f"{path}: 7 problems", out)


class UnitFileTest(unittest.TestCase):
    """systemd-analyze on a copy of the unit whose paths point into this tree."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="retail-unit-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def copy(self, *replacements):
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        text = text.replace("/opt/retail-api/current/bin/retail-api", BINARY)
        text = text.replace("WorkingDirectory=/opt/retail-api/current",
                            f"WorkingDirectory={SOURCE_DIR}")
        for old, new in replacements:
            self.assertIn(old, text)
            text = text.replace(old, new)
        path = os.path.join(self.dir, "retail-api.service")
        write(path, text)
        return path

    def analyze(self, *args):
        done = subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                              timeout=60)
        return done.returncode, done.stdout + done.stderr

    def test_verify_passes(self):
        code, out = self.analyze("verify", self.copy())
        self.assertEqual(code, 0, out)
        self.assertNotIn("retail-api.service:", out)
        # The check can fail: a broken copy does.
        code, out = self.analyze("verify", self.copy(("Type=notify", "Type=notified")))
        self.assertIn("retail-api.service", out)

    def test_security_rating_is_ok(self):
        code, out = self.analyze("security", "--offline=yes", self.copy())
        self.assertEqual(code, 0, out)
        match = re.search(r"Overall exposure level for retail-api\.service: (\d+\.\d+) (\w+)", out)
        self.assertIsNotNone(match, out)
        self.assertLessEqual(float(match.group(1)), 2.0, out)
        self.assertEqual(match.group(2), "OK")
        for setting in ("Type=notify", "WatchdogSec=", "EnvironmentFile=", "Restart=on-failure",
                        "ProtectSystem=strict", "NoNewPrivileges=yes", "MemoryDenyWriteExecute=yes",
                        "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n"):
            with open(UNIT, encoding="utf-8") as f:
                self.assertIn(setting, f.read())


if __name__ == "__main__":
    unittest.main()
