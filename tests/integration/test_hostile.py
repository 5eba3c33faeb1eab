# SPDX-License-Identifier: MIT
"""Hostile clients: malformed and abusive requests answered with a clear
status (a JSON error wherever the server itself answers), slow and idle
connections closed at their deadlines without starving anyone else, and
secrets that never show anywhere."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (API_KEY, BINARY, SOURCE_DIR, MockShopify, Redis, RetailApi, free_port,
                     shopify_env, wait_until)

KEY = API_KEY


def raw_exchange(port, data, host="127.0.0.1", timeout=5, source=None):
    """Sends data on a new connection and reads until the server closes it
    (or timeout). Returns (bytes read, how it ended: 'closed', 'reset' or
    'timeout')."""
    s = socket.socket()
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    out = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out, "closed"
            out += chunk
    except socket.timeout:
        return out, "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return out, "reset"
    finally:
        s.close()


def request_bytes(target, method="GET", headers=None, version="HTTP/1.1", body=b"",
                  key=KEY, close=True):
    fields = [("Host", "localhost")]
    if key is not None:
        fields.append(("X-API-Key", key))
    if close:
        fields.append(("Connection", "close"))
    fields += list((headers or {}).items()) if isinstance(headers, dict) else (headers or [])
    head = f"{method} {target} {version}\r\n".encode()
    for name, value in fields:
        head += name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        head += b"\r\n"
    return head + b"\r\n" + body


def parse_answers(data, first_only=False):
    """Splits a stream of HTTP/1.1 answers into (status, headers, body).
    (libmicrohttpd 0.9.75 writes the head of its own 413 twice: a single
    request's stream is read for its first answer only.)"""
    answers = []
    while data and not (first_only and answers):
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode()] = value.strip().decode(errors="replace")
        length = int(headers.get("content-length", "0"))
        answers.append((status, headers, rest[:length]))
        data = rest[length:]
    return answers


# (name, request bytes, expected status, expected JSON "error" (None: the
# answer comes from libmicrohttpd, which refuses in HTML what does not fit
# its per-connection memory, see the README's Security), extra check)
def p(query):
    return request_bytes("/v1/products?" + query)


CASES = [
    ("limit not a number", p("limit=abc"), 400, "invalid_parameter"),
    ("limit negative", p("limit=-1"), 400, "invalid_parameter"),
    ("limit zero", p("limit=0"), 400, "invalid_parameter"),
    ("limit of 20 digits", p("limit=99999999999999999999"), 400, "invalid_parameter"),
    ("limit a float", p("limit=2.5"), 400, "invalid_parameter"),
    ("limit in exponent form", p("limit=1e2"), 400, "invalid_parameter"),
    ("limit in hex", p("limit=0x10"), 400, "invalid_parameter"),
    ("limit with a plus sign", p("limit=%2B5"), 400, "invalid_parameter"),
    ("limit with a space", p("limit=%205"), 400, "invalid_parameter"),
    ("limit empty", p("limit="), 400, "invalid_parameter"),
    ("limit above 250", p("limit=251"), 400, "invalid_parameter"),
    ("page not a number", p("page=abc"), 400, "invalid_parameter"),
    ("page zero", p("page=0"), 400, "invalid_parameter"),
    ("page negative", p("page=-3"), 400, "invalid_parameter"),
    ("page of 20 digits", p("page=99999999999999999999"), 400, "invalid_parameter"),
    ("page a float", p("page=1.5"), 400, "invalid_parameter"),
    ("offset negative", p("offset=-1"), 400, "invalid_parameter"),
    ("offset of 20 digits", p("offset=99999999999999999999"), 400, "invalid_parameter"),
    ("offset a float", p("offset=1.0"), 400, "invalid_parameter"),
    ("limit given twice", p("limit=5&limit=6"), 400, "invalid_parameter"),
    ("page given twice", p("page=1&page=1"), 400, "invalid_parameter"),
    ("category given twice", p("category=a&category=b"), 400, "invalid_parameter"),
    ("category of 257 bytes", p("category=" + "c" * 257), 400, "invalid_parameter"),
    ("percent-encoded NUL in a parameter", p("category=%00"), 400, "invalid_request"),
    ("percent-encoded NUL in the path", request_bytes("/v1/products/%00"), 400,
     "invalid_request"),
    ("invalid UTF-8 in a parameter", p("category=%ff%fe"), 200, None),
    ("a broken percent escape", p("category=%zz"), 200, None),
    ("dot segments", request_bytes("/v1/products/../health"), 404, "not_found"),
    ("doubled slashes", request_bytes("//v1//products"), 404, "not_found"),
    ("encoded dots as an id", request_bytes("/v1/products/%2e%2e"), 404, "not_found"),
    ("a letter id", request_bytes("/v1/products/abc"), 404, "not_found"),
    ("an id of 29 digits", request_bytes("/v1/products/" + "9" * 29), 404, "not_found"),
    ("a path below a product", request_bytes("/v1/products/1/extra"), 404, "not_found"),
    ("upper case path", request_bytes("/V1/PRODUCTS"), 404, "not_found"),
    ("invalid UTF-8 in the path", request_bytes("/%ff%fe"), 404, "not_found"),
    ("an encoded slash", request_bytes("/v1/products%2F1"), 404, "not_found"),
    ("a URI of 9,000 bytes", request_bytes("/health?x=" + "a" * 9000), 414, "uri_too_long"),
    ("a URI of 40,000 bytes", request_bytes("/health?x=" + "a" * 40000), 414, None),
    ("70 query parameters", p("&".join(f"x{i}=1" for i in range(70))), 414,
     "too_many_parameters"),
    ("70 header fields", request_bytes("/health", headers=[(f"X-H{i}", "v") for i in range(70)]),
     431, "headers_too_large"),
    ("a header of 40,000 bytes", request_bytes("/health", headers={"X-Big": "b" * 40000}), 431,
     None),
    ("a body on GET", request_bytes("/v1/products", headers={"Content-Length": "5"},
                                    body=b"hello"), 400, "unexpected_body"),
    ("a chunked body on GET", request_bytes("/v1/products",
                                            headers={"Transfer-Encoding": "chunked"},
                                            body=b"5\r\nhello\r\n0\r\n\r\n"), 400,
     "unexpected_body"),
    ("a Content-Length of 20 digits", request_bytes(
        "/v1/products", headers={"Content-Length": "99999999999999999999"}), 413, None),
    ("POST", request_bytes("/v1/products", method="POST", headers={"Content-Length": "0"}), 405,
     "method_not_allowed"),
    ("PUT", request_bytes("/v1/products/1", method="PUT", headers={"Content-Length": "0"}), 405,
     "method_not_allowed"),
    ("DELETE", request_bytes("/v1/products/1", method="DELETE"), 405, "method_not_allowed"),
    ("OPTIONS", request_bytes("/health", method="OPTIONS"), 405, "method_not_allowed"),
    ("PATCH", request_bytes("/ready", method="PATCH"), 405, "method_not_allowed"),
    ("TRACE", request_bytes("/live", method="TRACE"), 405, "method_not_allowed"),
    ("an invented method", request_bytes("/metrics", method="BREW"), 405, "method_not_allowed"),
    ("HTTP/2.0 in a request line", request_bytes("/health", version="HTTP/2.0"), 505, None),
    ("no HTTP version", b"GET /health\r\n\r\n", 400, None),
    ("a key one character short", p("limit=1").replace(KEY.encode(), KEY[:-1].encode()), 401,
     "invalid_api_key"),
    ("a key one character long", p("limit=1").replace(KEY.encode(), KEY.encode() + b"x"), 401,
     "invalid_api_key"),
    ("a key wrong only at its end", p("limit=1").replace(KEY.encode(), KEY[:-1].encode() + b"#"),
     401, "invalid_api_key"),
    ("a key of 5,000 bytes", request_bytes("/v1/products", key="k" * 5000), 401,
     "invalid_api_key"),
    ("a key in invalid UTF-8", request_bytes("/v1/products", key=None,
                                             headers={"X-API-Key": b"\xff\xfe\x00x"}), 401, None),
    ("no key", request_bytes("/v1/products", key=None), 401, "missing_api_key"),
    ("an empty key", request_bytes("/v1/products", key=""), 401, "missing_api_key"),
    ("a wrong key first, the right one second", request_bytes(
        "/v1/products", key=None, headers=[("X-API-Key", "wrong"), ("X-API-Key", KEY)]), 401,
     "invalid_api_key"),
    ("the absolute form", request_bytes("http://localhost/v1/products?limit=1"), 200, None),
    ("HTTP/1.0", request_bytes("/v1/products?limit=1", version="HTTP/1.0", close=False), 200,
     None),
]


class HostileRequestsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RetailApi({"CLIENT_HEADER_TIMEOUT_MS": "3000"})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_each_is_answered_and_the_server_keeps_serving(self):
        self.assertGreaterEqual(len(CASES), 40)
        for name, data, status, error in CASES:
            with self.subTest(name):
                out, ended = raw_exchange(self.server.port, data)
                self.assertTrue(out, f"no answer ({ended})")
                got, headers, body = parse_answers(out, first_only=True)[0]
                self.assertEqual(got, status, body[:200])
                if error is not None:
                    self.assertTrue(headers["content-type"].startswith("application/json"))
                    doc = json.loads(body)
                    self.assertEqual(doc["error"], error)
                    self.assertTrue(doc["detail"])
                    if error == "invalid_parameter":
                        self.assertIn(doc["parameter"], ("limit", "page", "offset", "category"))
                elif status == 200:
                    json.loads(body)
                if status == 405:
                    self.assertEqual(headers["allow"], "GET, HEAD")
                if status == 401:
                    self.assertEqual(headers["www-authenticate"], "ApiKey")
                # And the server still answers everyone else.
                self.assertEqual(self.server.request("GET", "/live").status, 200)
        self.assertTrue(self.server.alive())

    def test_pipelined_requests_are_answered_in_order(self):
        data = (request_bytes("/live", close=False) + request_bytes("/v1/products?limit=1",
                                                                    close=False)
                + request_bytes("/nowhere", close=False) + request_bytes("/ready"))
        out, ended = raw_exchange(self.server.port, data)
        self.assertEqual([a[0] for a in parse_answers(out)], [200, 200, 404, 200])
        self.assertEqual(ended, "closed")

    def test_http_1_0_gets_its_connection_closed(self):
        out, ended = raw_exchange(self.server.port,
                                  request_bytes("/live", version="HTTP/1.0", close=False))
        self.assertEqual(parse_answers(out, first_only=True)[0][0], 200)
        self.assertEqual(ended, "closed")

    def test_too_many_parameters_for_libmicrohttpd_close_the_connection_quickly(self):
        # 300 parameters exhaust libmicrohttpd's memory for the request
        # before the server sees it; it cannot answer, but the connection
        # is closed within about a second instead of hanging.
        started = time.monotonic()
        out, ended = raw_exchange(self.server.port,
                                  p("&".join(f"y{i}=1" for i in range(300))), timeout=10)
        self.assertIn(ended, ("closed", "reset"))
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(self.server.request("GET", "/live").status, 200)


class SlowClientsTest(unittest.TestCase):
    """Idle and slow-loris clients from several addresses: limited per
    address, closed at their deadlines, and never in the way of others."""

    def test_slow_and_idle_clients_cannot_starve_others(self):
        server = RetailApi({"MAX_CONNECTIONS": "200", "MAX_CONNECTIONS_PER_CLIENT": "20",
                            "CLIENT_HEADER_TIMEOUT_MS": "1500", "CLIENT_IDLE_TIMEOUT_MS": "3000"})
        self.addCleanup(server.stop)
        attackers = []
        for address in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            for i in range(30):
                s = socket.socket()
                s.bind((address, 0))
                s.settimeout(5)
                s.connect(("127.0.0.1", server.port))
                attackers.append((address, i, s))
        self.addCleanup(lambda: [a[2].close() for a in attackers])
        stop = threading.Event()

        def drip():
            # Half the attackers send a request's headers a byte at a time.
            text = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
            for n in range(len(text)):
                if stop.is_set():
                    return
                for address, i, s in attackers:
                    if i % 2 == 0:
                        try:
                            s.send(text[n:n + 1])
                        except OSError:
                            pass
                stop.wait(0.1)

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        self.addCleanup(stop.set)

        # Everyone else is served, promptly, throughout.
        started = time.monotonic()
        slowest, count = 0.0, 0
        while time.monotonic() - started < 3.5:
            r = server.get("/v1/products?limit=5")
            self.assertEqual(r.status, 200)
            slowest = max(slowest, r.elapsed)
            count += 1
        self.assertLess(slowest, 1.0, f"the slowest of {count} answers")

        def closed(s):
            try:
                s.settimeout(0.05)
                return s.recv(1) == b""
            except socket.timeout:
                return False
            except OSError:
                return True

        # Every attacker connection is closed: past the per-address limit
        # at once, the rest at the header timeout, however they dripped.
        wait_until(lambda: all(closed(a[2]) for a in attackers), 10,
                   "every slow or idle connection to be closed")
        samples = server.request("GET", "/metrics").body.decode()
        timed_out = [line for line in samples.splitlines()
                     if line.startswith("retail_http_connections_timed_out_total ")]
        self.assertEqual(len(timed_out), 1)
        # 20 per address were accepted and then timed out.
        self.assertGreaterEqual(float(timed_out[0].split()[1]), 60)
        self.assertIn("did not send a request's headers in time", server.log_text())

    def test_connection_limits_per_address_and_in_all(self):
        held = []
        self.addCleanup(lambda: [s.close() for s in held])

        def open_from(server, address):
            s = socket.socket()
            s.bind((address, 0))
            s.connect(("127.0.0.1", server.port))
            held.append(s)
            return s

        def state(s):
            """'open' while the server keeps it, 'closed' once it closed it."""
            try:
                s.settimeout(0.05)
                return "closed" if s.recv(1) == b"" else "open"
            except socket.timeout:
                return "open"
            except OSError:
                return "closed"

        # Past the limit per address, a connection is closed at once.
        server = RetailApi({"MAX_CONNECTIONS_PER_CLIENT": "5"})
        self.addCleanup(server.stop)
        # (Which ones: the server's threads accept in no fixed order.)
        first = [open_from(server, "127.0.0.2") for _ in range(8)]
        wait_until(lambda: [state(s) for s in first].count("closed") == 3, 5,
                   "connections past 5 from one address to be closed")
        self.assertEqual([state(s) for s in first].count("open"), 5)
        other = open_from(server, "127.0.0.3")
        other.sendall(request_bytes("/live"))
        other.settimeout(5)
        self.assertIn(b"200 OK", other.recv(65536))

        # Past the limit in all, connections wait in the listen queue and
        # are served as others close.
        server = RetailApi({"MAX_CONNECTIONS": "12", "MAX_CONNECTIONS_PER_CLIENT": "0"})
        self.addCleanup(server.stop)
        clients = [open_from(server, "127.0.0.4") for _ in range(20)]
        for s in clients:
            s.sendall(request_bytes("/live", close=False))
        answered = []

        def collect():
            for s in clients:
                if s not in answered:
                    try:
                        s.settimeout(0.02)
                        if b"200 OK" in s.recv(65536):
                            answered.append(s)
                    except socket.timeout:
                        pass
            return len(answered) >= 12

        wait_until(collect, 5, "12 connections to be served")
        self.assertFalse(collect() and len(answered) > 12,
                         f"{len(answered)} served at once with MAX_CONNECTIONS=12")
        for s in answered:
            s.close()
        wait_until(lambda: collect() and len(answered) == 20, 10,
                   "the waiting connections to be served once others closed")

    def test_an_idle_kept_alive_connection_is_closed_and_a_busy_one_is_not(self):
        server = RetailApi({"CLIENT_HEADER_TIMEOUT_MS": "1000", "CLIENT_IDLE_TIMEOUT_MS": "1500"})
        self.addCleanup(server.stop)
        busy = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        self.addCleanup(busy.close)
        self.addCleanup(idle.close)
        idle.sendall(request_bytes("/live", close=False))
        self.assertIn(b"200 OK", idle.recv(65536))
        # The busy one sends a request every 0.3 s for 3 s, twice the idle
        # timeout: each answer restarts its deadline.
        for _ in range(10):
            busy.sendall(request_bytes("/live", close=False))
            self.assertIn(b"200 OK", busy.recv(65536))
            time.sleep(0.3)
        idle.settimeout(5)
        self.assertEqual(idle.recv(1), b"", "the idle connection was not closed")


class SecretsLeakNowhereTest(unittest.TestCase):
    """Distinctive keys, token and password, then a search of every answer
    (/metrics, /health, errors), every log line (text and JSON, debug),
    --check-config's output and a refused reload for them."""

    def test_no_secret_anywhere(self):
        api_key = "apikey-LEAKCHECK-1f2e3d4c5b6a"
        old_key = "apikey-LEAKCHECK-old-99aa88bb"
        token = "shpat_LEAKCHECK_token_5e6f7a8b"
        password = "redis-LEAKCHECK-pw-3c4d"
        redis = Redis(password=password)
        self.addCleanup(redis.stop)
        mock = MockShopify(products=10, token=token)
        self.addCleanup(mock.stop)
        directory = tempfile.mkdtemp(prefix="retail-leak-")
        conf = os.path.join(directory, "retail-api.conf")
        port = free_port()

        def configure(keys, extra=""):
            with open(conf, "w", encoding="utf-8") as f:
                f.write(f"PORT={port}\nHOST=127.0.0.1\nAPI_KEYS={keys}\nREDIS_URL={redis.url()}\n"
                        f"SHOPIFY_SHOP_URL={mock.url}\nSHOPIFY_ACCESS_TOKEN={token}\n"
                        f"LOG_LEVEL=debug\nLOG_FORMAT=json\n{extra}")

        configure(f"{old_key},{api_key}")
        server = RetailApi(args=["--config", conf], defaults=False, port=port)
        self.addCleanup(server.stop)
        wait_until(lambda: server.health()["components"]["cache"]["products"] == 10, 10,
                   "a catalog")
        texts = []
        for key in (api_key, old_key, api_key[:-1], api_key + "0", "apikey-LEAKCHECK", None):
            for path in ("/v1/products?limit=1", "/v1/products/1", "/v1/products?limit=x",
                         "/nope", "/health", "/metrics", "/ready"):
                r = server.request("GET", path, {"X-API-Key": key} if key else {})
                texts.append(repr(r.headers) + r.body.decode(errors="replace"))
        # A refused reload whose file carries the secrets beside a mistake.
        configure(api_key, "CACHE_TTL_SECONDS=zero\n")
        server.popen.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in server.log_text(), 10, "the refused reload")
        configure(api_key)
        server.popen.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in server.log_text(), 10, "the reload")
        self.assertEqual(server.get("/v1/products?limit=1", key=old_key).status, 401)
        texts.append(server.request("GET", "/metrics").body.decode())
        server.stop()
        for line in server.log_text().splitlines():
            json.loads(line)
        texts.append(server.log_text())
        # --check-config on a file with the secrets and problems.
        configure(f"{api_key},{'x' * 300}", "PORT=eighty\n")
        done = subprocess.run([BINARY, "--check-config", conf], capture_output=True, text=True,
                              timeout=10, cwd=SOURCE_DIR)
        self.assertEqual(done.returncode, 2)
        texts.append(done.stdout + done.stderr)
        for secret in (api_key, old_key, token, password, "LEAKCHECK"):
            for text in texts:
                self.assertNotIn(secret, text)


if __name__ == "__main__":
    unittest.main()
