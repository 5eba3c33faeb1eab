# SPDX-License-Identifier: MIT
"""Processes for the integration tests: a real redis-server, the mock
Shopify and the real retail-api binary, each on a free loopback port, each
stopped by its process id when the test ends (pass or fail).

Waits are for conditions, with deadlines; nothing sleeps a fixed time
hoping something happened."""
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get("RETAIL_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY = os.environ.get("RETAIL_API_BIN", os.path.join(SOURCE_DIR, "build", "retail-api"))
MOCK = os.path.join(SOURCE_DIR, "tests", "mock", "mock_shopify.py")
# RETAIL_VALGRIND=1 runs every retail-api under valgrind's memcheck; a
# memory error or a definite leak fails the test that started it.
VALGRIND = os.environ.get("RETAIL_VALGRIND") == "1"
API_KEY = "it-key-4f1e2d3c4b5a69788796a5b4"
TOKEN = "shpat_it_token_0a1b2c3d4e5f"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout, what, interval=0.02):
    """Polls condition() until it returns a true value, or fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (OSError, http.client.HTTPException, ValueError) as error:
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


class Process:
    """A child process that is stopped by pid: SIGTERM, then SIGKILL."""

    def __init__(self, popen):
        self.popen = popen

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=10):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        code = self.popen.wait()
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self.closed()
        return code

    def closed(self):
        """Releases what the subclass holds once the process is gone."""


class Redis(Process):
    def __init__(self, port=None, password=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="retail-redis-")
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--enable-debug-command", "local"]
        if password:
            args += ["--requirepass", password]
        self.password = password
        super().__init__(subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        wait_until(self.ping, 10, f"redis-server on port {self.port}")

    def command(self, *words):
        """Sends one command in RESP and returns the first reply line."""
        payload = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            if self.password:
                s.sendall(f"*2\r\n$4\r\nAUTH\r\n${len(self.password)}\r\n{self.password}\r\n".encode())
                s.recv(64)
            s.sendall(payload.encode())
            return s.recv(65536).decode(errors="replace")

    def ping(self):
        return self.alive() and self.command("PING").startswith("+PONG")

    def url(self):
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"


class MockShopify(Process):
    def __init__(self, products=100, token=TOKEN, seed=1, client_id="", client_secret=""):
        popen = subprocess.Popen([sys.executable, MOCK, "--port", "0", "--products",
                                  str(products), "--token", token, "--seed", str(seed),
                                  "--client-id", client_id, "--client-secret", client_secret],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        super().__init__(popen)
        ready, _, _ = select.select([popen.stdout], [], [], 15)
        line = popen.stdout.readline() if ready else ""
        if not line.startswith("READY port="):
            self.stop()
            raise AssertionError(f"mock Shopify did not start: {line!r}")
        self.port = int(line.strip().split("=")[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _call(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None,
                         {"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def set_mode(self, mode, **extra):
        self._call("POST", "/__mock/mode", {"mode": mode, **extra})

    def set_bucket(self, size, leak_per_second):
        self._call("POST", "/__mock/bucket", {"size": size, "leak_per_second": leak_per_second})

    def reset(self):
        self._call("POST", "/__mock/reset", {})

    def set_catalog(self, products, seed=1, many_variants=0):
        self._call("POST", "/__mock/catalog", {"products": products, "seed": seed,
                                               "many_variants": many_variants})

    def set_graphql(self, maximum=1000, restore=1000, max_cost=1000):
        self._call("POST", "/__mock/graphql", {"maximum": maximum, "restore": restore,
                                               "max_cost": max_cost})

    def set_tokens(self, **settings):
        self._call("POST", "/__mock/tokens", settings)

    def set_bulk(self, **settings):
        self._call("POST", "/__mock/bulk", settings)

    def stats(self):
        return self._call("GET", "/__mock/stats")

    def catalog(self):
        return self._call("GET", "/__mock/catalog")["products"]


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def json(self, **kw):
        return json.loads(self.body, **kw)

    def header(self, name):
        return self.headers.get(name.lower())


class RetailApi(Process):
    """The real binary. env adds to a minimal environment; the log (stderr)
    goes to a temporary file that tests may read."""

    def __init__(self, env=None, args=(), wait_ready=True, port=None, defaults=True):
        """defaults=False leaves the environment to env (and PATH): a test
        whose settings live in a config file passes --config and the port."""
        self.port = port or free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="retail-api-", suffix=".log", delete=False)
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if defaults:
            full_env.update({"PORT": str(self.port), "HOST": "127.0.0.1", "API_KEYS": API_KEY,
                             "REDIS_URL": "none"})
        full_env.update(env or {})
        self.env = full_env
        # Where to reach it: the address it listens on, unless a wildcard.
        self.host = full_env.get("HOST", "127.0.0.1")
        if self.host in ("0.0.0.0", "localhost", ""):
            self.host = "127.0.0.1"
        command = [BINARY, *args]
        if VALGRIND:
            command = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                       "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite",
                       "--num-callers=30", f"--log-file={self.log.name}.valgrind", *command]
        super().__init__(subprocess.Popen(command, env=full_env, cwd=SOURCE_DIR,
                                          stdout=self.log, stderr=self.log))
        if wait_ready:
            wait_until(lambda: self.request("GET", "/health").status == 200,
                       60 if VALGRIND else 10,
                       f"retail-api on port {self.port} to answer /health")

    def request(self, method, path, headers=None, body=None, timeout=10):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            started = time.monotonic()
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            data = reply.read()
            elapsed = time.monotonic() - started
            headers = {k.lower(): v for k, v in reply.getheaders()}
            return Response(reply.status, headers, data, elapsed)
        finally:
            conn.close()

    def get(self, path, key=API_KEY, **kw):
        headers = {"X-API-Key": key} if key is not None else {}
        return self.request("GET", path, headers, **kw)

    def health(self):
        return self.request("GET", "/health").json()

    def log_text(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_exit(self, timeout=10):
        code = self.popen.wait(timeout)
        self.closed()
        return code

    def closed(self):
        self.log.close()
        text = self.log_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                raise AssertionError(f"retail-api on port {self.port}: {marker}\n{text[-4000:]}")
        if VALGRIND:
            self.check_valgrind()

    def check_valgrind(self):
        """memcheck's report: no error and no definite leak. A process killed
        with SIGKILL (by a test, or after a stop timed out) writes no summary:
        then no error may have been reported before it died."""
        if not os.path.exists(self.log.name + ".valgrind"):
            return  # checked already (stopped, then closed again)
        with open(self.log.name + ".valgrind", encoding="utf-8", errors="replace") as f:
            report = f.read()
        errors = [line for line in report.splitlines()
                  if any(k in line for k in ("Invalid ", "uninitialised", "Mismatched free",
                                             "definitely lost in", "Syscall param"))]
        if self.popen.returncode == -signal.SIGKILL:
            ok = not errors
        else:
            ok = "ERROR SUMMARY: 0 errors" in report and not errors
        if not ok:
            raise AssertionError(f"retail-api on port {self.port}: valgrind found errors "
                                 f"(exit {self.popen.returncode})\n{report[-6000:]}")
        os.unlink(self.log.name + ".valgrind")


class Load:
    """Clients that send requests in a loop from threads until stopped,
    keeping every answer: (started, elapsed, status, source)."""

    def __init__(self, server, path="/v1/products?limit=5", clients=4, key=API_KEY):
        import threading
        self.server, self.path, self.key = server, path, key
        self.answers = []
        self.errors = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                r = self.server.get(self.path, key=self.key, timeout=10)
                source = json.loads(r.body).get("source") if r.status == 200 else None
                with self.lock:
                    self.answers.append((started, r.elapsed, r.status, source))
            except (OSError, http.client.HTTPException, ValueError) as error:
                with self.lock:
                    self.errors.append(repr(error))
                time.sleep(0.01)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(15)
        return self.answers

    def since(self, t0):
        with self.lock:
            return [a for a in self.answers if a[0] >= t0]


def shopify_env(mock, **extra):
    """The settings that point a server at mock. REST unless extra says
    otherwise: the contract, fault and fleet suites count and break the
    REST side's calls; test_graphql.py covers the GraphQL transport (the
    default) against the same catalog."""
    env = {"SHOPIFY_SHOP_URL": mock.url, "SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_API": "rest"}
    env.update({k: str(v) for k, v in extra.items()})
    return env
