#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""retail-api's benchmark, side by side in one run: retail-api, nginx with
proxy_cache in front of the mock Shopify, and the ceiling (bench/ceiling.c),
measured with wrk on loopback; then catalogs of growing size, and answers
while Shopify hangs. Prints a table and writes bench/results/latest.md.

Run it through scripts/bench.sh, which installs and builds what it needs.

Fairness: on a machine with n cores, the contenders are pinned to the first
half and wrk to the second (with one core, they share it), so the load
generator never steals a contender's core; every contender gets the same
cores, one worker per core (retail-api and the ceiling size their thread
pools from their CPU affinity; nginx gets worker_processes to match).
Rounds alternate the contenders' order; the table shows medians.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("RETAIL_BUILD_DIR", os.path.join(ROOT, "build"))
SERVER = os.path.join(BUILD, "retail-api")
CEILING = os.path.join(BUILD, "retail-ceiling")
MOCK = os.path.join(ROOT, "tests", "mock", "mock_shopify.py")
KEY = "bench-" + secrets.token_hex(16)  # a fresh key per run; never a shared default
TOKEN = "shpat_bench_" + secrets.token_hex(8)
PRODUCTS_PATH = "/v1/products/?limit=5"
CONNECTIONS = 50


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_split():
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return cpus, cpus
    half = len(cpus) // 2
    return cpus[:half], cpus[half:]


SERVER_CPUS, LOAD_CPUS = cpu_split()


def cpulist(cpus):
    return ",".join(str(c) for c in cpus)


class Procs:
    """Every process the benchmark starts, stopped by pid at the end."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.running = []

    def start(self, name, args, env=None, pinned=True):
        log = open(os.path.join(self.workdir, name + ".log"), "wb")
        cmd = (["taskset", "-c", cpulist(SERVER_CPUS)] if pinned else []) + list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        proc.name, proc.logfile = name, log.name
        self.running.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self):
        for proc in list(reversed(self.running)):
            self.stop(proc)


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise SystemExit(f"bench: timed out after {timeout} s waiting for {what}")


def get(port, path, key=KEY, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"X-API-Key": key} if key else {})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def health(port):
    return json.loads(get(port, "/health")[2])


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_latency(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk(port, path, seconds, key=KEY):
    """One wrk run; returns requests/s, p50 and p99 in ms, and errors."""
    cmd = ["taskset", "-c", cpulist(LOAD_CPUS), "wrk", "-t", str(len(LOAD_CPUS)),
           "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency",
           "-H", f"X-API-Key: {key}", f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "99"):
        result["p" + pct] = parse_latency(re.search(rf"\s{pct}%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = (int(errors.group(1)) if errors else 0) + \
        (sum(int(x) for x in sock.groups()) if sock else 0)
    return result


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99", "errors")}


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        rss_kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return cpu_s, rss_kb * 1024


class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="retail-bench-")
        os.chmod(self.workdir, 0o711)  # nginx's workers (nobody) reach their cache below it
        self.procs = Procs(self.workdir)
        self.lines = []

    # --- the pieces ---------------------------------------------------------
    def start_mock(self, products):
        port = free_port()
        self.procs.start("mock", [sys.executable, MOCK, "--port", str(port), "--products",
                                  str(products), "--token", TOKEN], pinned=False)
        wait_until(lambda: get(port, "/__mock/stats")[0] == 200, 30, "the mock Shopify")
        self.mock_post(port, "/__mock/bucket", {"size": 0})  # no metering: measure us, not it
        return port

    def mock_post(self, port, path, payload):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        finally:
            conn.close()

    def start_redis(self):
        port = free_port()
        self.procs.start("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", self.workdir],
                         pinned=False)
        wait_until(lambda: socket.create_connection(("127.0.0.1", port), 1).close() or True, 10,
                   "redis-server")
        return port

    def start_server(self, name, mock_port, redis_port=None, **settings):
        port = free_port()
        env = {"PORT": str(port), "HOST": "127.0.0.1", "API_KEYS": KEY, "LOG_LEVEL": "info",
               "SHOPIFY_SHOP_URL": f"http://127.0.0.1:{mock_port}",
               "SHOPIFY_ACCESS_TOKEN": TOKEN,
               "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0" if redis_port else "none",
               "CACHE_TTL_SECONDS": "3600", "SHOPIFY_CALLS_PER_SECOND": "1000",
               "SHOPIFY_TIMEOUT_MS": "60000", "SHOPIFY_REFRESH_DEADLINE_MS": "900000",
               # REST: the refresh figures stay comparable across runs (GraphQL
               # reads the same catalog into the same bytes; test_graphql.py).
               "SHOPIFY_API": "rest"}
        env.update({k: str(v) for k, v in settings.items()})
        proc = self.procs.start(name, [SERVER], env)
        proc.port = port
        wait_until(lambda: get(port, "/health")[0] == 200, 20, f"{name} to answer")
        return proc

    def start_nginx(self, mock_port):
        port = free_port()
        prefix = os.path.join(self.workdir, "nginx")
        os.makedirs(os.path.join(prefix, "cache"), exist_ok=True)
        os.chmod(prefix, 0o777)
        os.chmod(os.path.join(prefix, "cache"), 0o777)
        conf = os.path.join(prefix, "nginx.conf")
        temps = "\n".join(f"  {t}_temp_path {prefix}/{t};" for t in
                          ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(conf, "w") as f:
            f.write(f"""# nginx with proxy_cache in front of the mock Shopify, as a good operator
# would set it up: cache lock, stale answers while updating, background
# updates, keep-alive to the upstream, the API key checked, no access log.
worker_processes {len(SERVER_CPUS)};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temps}
  keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s;
  proxy_cache_path {prefix}/cache levels=1:2 keys_zone=catalog:10m max_size=256m
                   inactive=60m use_temp_path=off;
  map $http_x_api_key $api_key_ok {{ default 0; "{KEY}" 1; }}
  upstream shopify {{ server 127.0.0.1:{mock_port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{port};
    location /v1/products/ {{
      if ($api_key_ok = 0) {{ return 401; }}
      proxy_pass http://shopify/__mock/fixed/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache catalog;
      proxy_cache_key $request_uri;
      proxy_cache_valid 200 10m;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 2s;
      proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
      proxy_cache_background_update on;
      add_header X-Cache $upstream_cache_status;
    }}
  }}
}}
""")
        proc = self.procs.start("nginx", ["nginx", "-p", prefix, "-e", f"{prefix}/error.log",
                                          "-c", conf, "-g", "daemon off;"])
        proc.port = port
        wait_until(lambda: get(port, PRODUCTS_PATH)[0] == 200, 10, "nginx")
        return proc

    def start_ceiling(self, name, body):
        port = free_port()
        path = os.path.join(self.workdir, name + ".body")
        with open(path, "wb") as f:
            f.write(body)
        proc = self.procs.start(name, [CEILING, str(port), path])
        proc.port = port
        wait_until(lambda: get(port, "/")[0] == 200, 10, name)
        return proc

    # --- the sections -------------------------------------------------------
    def contenders(self, mock_port, redis_port):
        server = self.start_server("retail-api", mock_port, redis_port)
        wait_until(lambda: health(server.port)["status"] == "healthy", 60, "the first catalog")
        status, headers, body = get(server.port, PRODUCTS_PATH)
        assert status == 200 and headers.get("x-cache") == "HIT", (status, headers)
        self.mock_post(mock_port, "/__mock/fixed", body)
        nginx = self.start_nginx(mock_port)
        for _ in range(3):
            status, headers, cached = get(nginx.port, PRODUCTS_PATH)
        assert headers.get("x-cache") == "HIT", f"nginx does not cache: {headers}"
        assert cached == body, "nginx does not serve the same bytes"
        ceiling = self.start_ceiling("ceiling", body)
        health_body = get(server.port, "/health")[2]
        health_ceiling = self.start_ceiling("ceiling-health", health_body)

        runs = {"retail-api": [], "nginx": [], "ceiling": [], "health": [], "health-ceiling": []}
        order = [("retail-api", server.port, PRODUCTS_PATH), ("nginx", nginx.port, PRODUCTS_PATH),
                 ("ceiling", ceiling.port, PRODUCTS_PATH), ("health", server.port, "/health"),
                 ("health-ceiling", health_ceiling.port, "/health")]
        for _, port, path in order:
            wrk(port, path, 1)  # warm-up, not counted
        for r in range(self.args.rounds):
            shift = r % len(order)
            for name, port, path in order[shift:] + order[:shift]:
                runs[name].append(wrk(port, path, self.args.duration))
            print(f"bench: round {r + 1} of {self.args.rounds} done", file=sys.stderr)
        self.results = {name: median_of(r) for name, r in runs.items()}
        self.body_size = len(body)
        self.procs.stop(nginx)
        self.procs.stop(ceiling)
        self.procs.stop(health_ceiling)
        return server

    def scale(self, mock_port):
        """One server per catalog size, each loaded in turn (the mock serves
        one catalog at a time), then measured in alternating rounds."""
        servers = []
        for size in self.args.sizes:
            self.mock_post(mock_port, "/__mock/catalog", {"products": size, "seed": 7})
            server = self.start_server(f"retail-api-{size}", mock_port)
            wait_until(lambda: health(server.port)["components"]["cache"]["products"] == size,
                       600, f"a catalog of {size} products")
            with open(server.logfile, encoding="utf-8", errors="replace") as f:
                m = re.search(r"read (\d+) products from Shopify in (\d+) ms", f.read())
            server.refresh_ms = int(m.group(2))
            server.cpu_s, _ = proc_stats(server.pid)  # start-up is a few ms; the rest is the read
            server.bytes = health(server.port)["components"]["cache"]["bytes"]
            server.size = size
            servers.append(server)
            print(f"bench: catalog of {size} loaded", file=sys.stderr)
        runs = {s.size: [] for s in servers}
        for server in servers:
            wrk(server.port, PRODUCTS_PATH, 1)  # warm-up, not counted
        for r in range(self.args.rounds):
            shift = r % len(servers)
            for server in servers[shift:] + servers[:shift]:
                runs[server.size].append(wrk(server.port, PRODUCTS_PATH, self.args.duration))
                if os.environ.get("BENCH_VERBOSE"):
                    print(f"bench: {server.size}: {runs[server.size][-1]}", file=sys.stderr)
        rows = []
        for server in servers:
            _, rss = proc_stats(server.pid)
            rows.append({"size": server.size, "bytes": server.bytes,
                         "refresh_ms": server.refresh_ms, "cpu_s": server.cpu_s, "rss": rss,
                         **median_of(runs[server.size])})
            self.procs.stop(server)
        self.scale_rows = rows

    def failure(self, mock_port, hit_rps):
        self.mock_post(mock_port, "/__mock/catalog", {"products": 1000, "seed": 1})
        self.mock_post(mock_port, "/__mock/mode", {"mode": "ok"})
        warm = self.start_server("retail-api-warm", mock_port, CACHE_TTL_SECONDS=1,
                                 SHOPIFY_TIMEOUT_MS=1000, SHOPIFY_CONNECT_TIMEOUT_MS=500,
                                 SHOPIFY_REFRESH_DEADLINE_MS=5000)
        wait_until(lambda: health(warm.port)["components"]["cache"]["products"] == 1000, 30,
                   "a warm catalog")
        self.mock_post(mock_port, "/__mock/mode", {"mode": "hang"})
        wait_until(lambda: health(warm.port)["components"]["shopify"]["breaker"]["state"]
                   == "open", 60, "the breaker to open")
        cold = self.start_server("retail-api-cold", mock_port, SHOPIFY_TIMEOUT_MS=1000,
                                 SHOPIFY_CONNECT_TIMEOUT_MS=500, SHOPIFY_REFRESH_DEADLINE_MS=5000)
        wait_until(lambda: health(cold.port)["components"]["shopify"]["breaker"]["state"]
                   == "open", 60, "the breaker to open")
        rows = []
        for name, server, source in (("stale, Shopify hanging", warm, "stale"),
                                     ("fallback, Shopify hanging", cold, "fallback")):
            got = json.loads(get(server.port, PRODUCTS_PATH)[2])["source"]
            assert got == source, (name, got)
            wrk(server.port, PRODUCTS_PATH, 1)  # warm-up, not counted
            runs = [wrk(server.port, PRODUCTS_PATH, self.args.duration)
                    for _ in range(self.args.rounds)]
            rows.append({"name": name, **median_of(runs), "vs_hit": 0})
            rows[-1]["vs_hit"] = rows[-1]["rps"] / hit_rps
        self.mock_post(mock_port, "/__mock/mode", {"mode": "ok"})
        self.procs.stop(warm)
        self.procs.stop(cold)
        self.failure_rows = rows

    # --- the report ---------------------------------------------------------
    def report(self):
        r = self.results
        api, nginx, ceiling = r["retail-api"], r["nginx"], r["ceiling"]
        versions = {
            "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
            "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip(),
        }
        out = []
        out.append(f"# retail-api benchmark\n")
        out.append(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
                   f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
                   f"{platform.system()} {platform.release()}; {versions['nginx']}; "
                   f"{versions['wrk']}.  ")
        out.append(f"Contenders pinned to CPU {cpulist(SERVER_CPUS)}, wrk to CPU "
                   f"{cpulist(LOAD_CPUS)} ({len(LOAD_CPUS)} thread(s), {CONNECTIONS} keep-alive "
                   f"connections); medians of {self.args.rounds} round(s) of "
                   f"{self.args.duration} s, contenders alternating.  ")
        out.append(f"`GET {PRODUCTS_PATH}` with a valid key, catalog of 1,000 products cached; "
                   f"every contender serves the same {self.body_size} bytes.\n")
        out.append("| contender | requests/s | p50 ms | p99 ms | errors | vs nginx | vs ceiling |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for name in ("retail-api", "nginx", "ceiling"):
            x = r[name]
            out.append(f"| {name} | {x['rps']:,.0f} | {x['p50']:.3f} | {x['p99']:.3f} | "
                       f"{x['errors']:.0f} | {x['rps'] / nginx['rps']:.2f} | "
                       f"{x['rps'] / ceiling['rps']:.2f} |")
        h, hc = r["health"], r["health-ceiling"]
        out.append("")
        out.append("| `GET /health` | requests/s | p50 ms | p99 ms | vs ceiling |")
        out.append("|---|---:|---:|---:|---:|")
        out.append(f"| retail-api | {h['rps']:,.0f} | {h['p50']:.3f} | {h['p99']:.3f} | "
                   f"{h['rps'] / hc['rps']:.2f} |")
        out.append(f"| ceiling | {hc['rps']:,.0f} | {hc['p50']:.3f} | {hc['p99']:.3f} | 1.00 |")
        if getattr(self, "scale_rows", None):
            base = self.scale_rows[0]
            out.append("")
            out.append("| catalog | serialised | refresh | refresh CPU | RSS | RSS limit | "
                       "requests/s | vs smallest | p99 ms | vs smallest |")
            out.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
            for row in self.scale_rows:
                limit = 2 * row["bytes"] + 20 * 1024 * 1024
                out.append(f"| {row['size']:,} | {row['bytes'] / 1048576:.1f} MiB | "
                           f"{row['refresh_ms'] / 1000:.2f} s | {row['cpu_s']:.2f} s | "
                           f"{row['rss'] / 1048576:.1f} MiB | {limit / 1048576:.1f} MiB | "
                           f"{row['rps']:,.0f} | {row['rps'] / base['rps']:.2f} | "
                           f"{row['p99']:.3f} | {row['p99'] / base['p99']:.2f} |")
        if getattr(self, "failure_rows", None):
            out.append("")
            out.append("| while Shopify hangs (breaker open) | requests/s | p99 ms | "
                       "vs cache hits |")
            out.append("|---|---:|---:|---:|")
            for row in self.failure_rows:
                out.append(f"| {row['name']} | {row['rps']:,.0f} | {row['p99']:.3f} | "
                           f"{row['vs_hit']:.2f} |")
        out.append("")
        out.append("Reproduce: `scripts/bench.sh` (add `--quick` for a few-second smoke run).")
        return "\n".join(out) + "\n"

    def run(self):
        try:
            mock_port = self.start_mock(1000)
            redis_port = self.start_redis()
            server = self.contenders(mock_port, redis_port)
            self.procs.stop(server)
            if not self.args.skip_scale:
                self.scale(mock_port)
            self.failure(mock_port, self.results["retail-api"]["rps"])
        except BaseException:
            print(f"bench: failed; the logs are in {self.workdir}", file=sys.stderr)
            raise
        finally:
            self.procs.stop_all()
        text = self.report()
        print(text)
        if self.args.output:
            os.makedirs(os.path.dirname(self.args.output), exist_ok=True)
            with open(self.args.output, "w") as f:
                f.write(text)
            print(f"bench: wrote {self.args.output}", file=sys.stderr)
        shutil.rmtree(self.workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one round of 2 s, catalogs of 100 and 5,000: a smoke run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--sizes", default="100,5000,50000")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results", "latest.md"))
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.sizes = 1, 2, "100,5000"
        if args.output == parser.get_default("output"):
            args.output = os.path.join(ROOT, "bench", "results", "quick.md")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    for tool in ("wrk", "nginx", "redis-server", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench: {tool} is missing; run scripts/bench.sh, which installs it")
    for binary in (SERVER, CEILING):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"bench: {binary} is missing; run scripts/bench.sh, which builds it")
    Bench(args).run()


if __name__ == "__main__":
    main()
