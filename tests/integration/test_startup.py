# SPDX-License-Identifier: MIT
"""Start-up, configuration errors and exit codes, the no-Shopify mode,
shutdown, and secrets that must never show."""
import os
import socket
import subprocess
import tempfile
import unittest

from harness import (API_KEY, BINARY, SOURCE_DIR, MockShopify, Redis, RetailApi, free_port,
                     shopify_env, wait_until)


def run_binary(args=(), env=None, timeout=10):
    """Runs the binary to completion; returns (exit code, stderr + stdout)."""
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REDIS_URL": "none",
            "API_KEYS": API_KEY, "HOST": "127.0.0.1", "PORT": str(free_port())}
    full.update(env or {})
    done = subprocess.run([BINARY, *args], env=full, cwd=SOURCE_DIR, capture_output=True,
                          text=True, timeout=timeout)
    return done.returncode, done.stderr + done.stdout


def write_temp(text, suffix=".conf"):
    f = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False)
    f.write(text)
    f.close()
    return f.name


class StartupErrorsTest(unittest.TestCase):
    def assert_refused(self, code, output, want_code, *needles):
        self.assertEqual(code, want_code, output)
        lines = [line for line in output.splitlines() if line.strip()]
        self.assertTrue(lines, "no message")
        for needle in needles:
            self.assertIn(needle, output)

    def test_no_api_key(self):
        code, out = run_binary(env={"API_KEYS": ""})
        self.assert_refused(code, out, 2, "API_KEYS")

    def test_bad_values_name_the_key(self):
        cases = {"PORT": "eighty", "CACHE_TTL_SECONDS": "0", "SHOPIFY_TIMEOUT_MS": "-5",
                 "LOG_LEVEL": "loud", "REDIS_URL": "mysql://x", "HOST": "not-an-ip",
                 "PRODUCTS_DEADLINE_MS": "1.5", "SHOPIFY_API_VERSION": "yesterday"}
        for key, value in cases.items():
            code, out = run_binary(env={key: value})
            self.assert_refused(code, out, 2, key)
            self.assertEqual(len(out.strip().splitlines()), 1, out)

    def test_unknown_key_in_the_file_gives_file_and_line(self):
        path = write_temp("PORT=8100\n# fine\nCACHE_TTL=5\n")
        self.addCleanup(os.unlink, path)
        code, out = run_binary(["--config", path])
        self.assert_refused(code, out, 2, f"{path}:3", "CACHE_TTL")

    def test_missing_config_file(self):
        code, out = run_binary(["--config", "/nonexistent/retail-api.conf"])
        self.assert_refused(code, out, 2, "/nonexistent/retail-api.conf")

    def test_shop_without_token(self):
        code, out = run_binary(env={"SHOPIFY_SHOP_URL": "mystore.myshopify.com"})
        self.assert_refused(code, out, 2, "SHOPIFY_ACCESS_TOKEN")

    def test_unusable_fallback_files(self):
        broken = write_temp('[{"id": "1", "title": "ok"}, {"id": "2"', ".json")
        self.addCleanup(os.unlink, broken)
        invalid = write_temp('[{"id": "1", "title": "ok"}, {"id": "2", "title": 5}]', ".json")
        self.addCleanup(os.unlink, invalid)
        repeated = write_temp('[{"id": "1", "title": "a"}, {"id": "1", "title": "b"}]', ".json")
        self.addCleanup(os.unlink, repeated)
        empty = write_temp("[]", ".json")
        self.addCleanup(os.unlink, empty)
        for path, needle in ((broken, "invalid JSON"), (invalid, "product #2"),
                             (repeated, "repeat an id"), (empty, "non-empty"),
                             ("/nonexistent/fallback.json", "No such file")):
            code, out = run_binary(env={"FALLBACK_PRODUCTS_FILE": path})
            self.assert_refused(code, out, 3, path, needle)

    def test_port_taken(self):
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            code, out = run_binary(["--port", str(port)])
        self.assert_refused(code, out, 4, str(port), "Address already in use")

    def test_flags(self):
        code, out = run_binary(["--version"])
        self.assertEqual(code, 0)
        self.assertIn("retail-api ", out)
        code, out = run_binary(["--help"])
        self.assertEqual(code, 0)
        self.assertIn("--config", out)
        code, out = run_binary(["--bogus"])
        self.assertEqual(code, 2)
        code, out = run_binary(["--port"])
        self.assertEqual(code, 2)
        code, out = run_binary(["--port", "70000"])
        self.assert_refused(code, out, 2, "--port", "PORT")

    def test_flags_beat_environment_beat_file(self):
        file_port, env_port, flag_port = free_port(), free_port(), free_port()
        path = write_temp(f"PORT={file_port}\nLOG_LEVEL=warn\n")
        self.addCleanup(os.unlink, path)
        server = RetailApi({"PORT": str(env_port)}, args=["--config", path], wait_ready=False,
                           port=env_port)
        self.addCleanup(server.stop)
        wait_until(lambda: server.request("GET", "/health").status == 200, 10, "env port")
        server.stop()
        server = RetailApi({"PORT": str(env_port)}, args=["--config", path, "--port",
                                                          str(flag_port)], port=flag_port)
        self.addCleanup(server.stop)
        self.assertEqual(server.request("GET", "/health").status, 200)
        # LOG_LEVEL=warn from the file: no INFO lines.
        self.assertNotIn(" INFO ", server.log_text())


class WithoutShopifyTest(unittest.TestCase):
    def test_serves_the_bundled_catalog_at_once(self):
        server = RetailApi({"PRODUCTS_DEADLINE_MS": "1500"})
        self.addCleanup(server.stop)
        r = server.get("/v1/products/?limit=5")
        self.assertEqual(r.status, 200)
        self.assertLess(r.elapsed, 0.5)  # nothing to wait for
        doc = r.json()
        self.assertEqual(doc["source"], "fallback")
        self.assertEqual(r.header("x-cache"), "FALLBACK")
        self.assertEqual(doc["total"], 100)
        self.assertEqual(len(doc["products"]), 5)
        health = server.health()
        self.assertEqual(health["status"], "degraded")
        self.assertIn("not configured", health["reason"])
        self.assertEqual(health["components"]["shopify"]["status"], "not_configured")
        self.assertEqual(health["components"]["redis"]["status"], "disabled")
        self.assertEqual(health["components"]["fallback"]["served"], 1)
        self.assertIn("Shopify is not configured", server.log_text())
        product = doc["products"][0]
        one = server.get(f"/v1/products/{product['id']}")
        self.assertEqual(one.status, 200)
        self.assertEqual(one.json()["product"], product)

    def test_sigterm_stops_cleanly(self):
        server = RetailApi()
        self.assertEqual(server.stop(), 0)
        self.assertIn("stopped cleanly", server.log_text())


class SecretsTest(unittest.TestCase):
    def test_no_secret_in_any_log_line_or_answer(self):
        api_key = "apikey-SECRET-7d1c9e0b5a2f4e6d"
        other_key = "apikey-SECRET-second-0c0ffee"
        token = "shpat_SECRET_token_91b2c3d4"
        password = "redispass-SECRET-4af0"
        redis = Redis(password=password)
        self.addCleanup(redis.stop)
        mock = MockShopify(products=20, token=token)
        self.addCleanup(mock.stop)
        env = {"SHOPIFY_SHOP_URL": mock.url, "SHOPIFY_ACCESS_TOKEN": token,
               "API_KEYS": f"{api_key},{other_key}", "REDIS_URL": redis.url(),
               "LOG_LEVEL": "debug"}
        server = RetailApi(env)
        self.addCleanup(server.stop)
        wait_until(lambda: server.health()["components"]["cache"]["products"] == 20, 10,
                   "a catalog through the password-protected Redis")
        self.assertEqual(server.health()["components"]["redis"]["status"], "up")
        answers = []
        for key in (api_key, other_key, api_key[:-1], api_key + "x", "apikey-SECRET", None):
            for path in ("/v1/products?limit=2", "/v1/products/1", "/v1/products?limit=x",
                         "/nope", "/health"):
                r = server.get(path, key=key)
                answers.append(repr(r.headers) + r.body.decode())
        # A wrong token at Shopify, and a wrong Redis password, must not leak either.
        mock.stop()
        bad = RetailApi({"SHOPIFY_SHOP_URL": "http://127.0.0.1:1", "SHOPIFY_ACCESS_TOKEN": token,
                         "API_KEYS": api_key, "LOG_LEVEL": "debug",
                         "REDIS_URL": f"redis://:{password}-wrong@127.0.0.1:{redis.port}/0"})
        self.addCleanup(bad.stop)
        wait_until(lambda: bad.health()["components"]["redis"]["status"] == "down", 10,
                   "the wrong Redis password refused")
        answers.append(bad.request("GET", "/health").body.decode())
        server.stop()
        bad.stop()
        code, out = run_binary(env={"REDIS_URL": f"rediss://:{password}@h:1", "API_KEYS": api_key})
        self.assertEqual(code, 2)
        texts = answers + [server.log_text(), bad.log_text(), out]
        for secret in (api_key, other_key, token, password, "apikey-SECRET", "SECRET"):
            for text in texts:
                self.assertNotIn(secret, text)


if __name__ == "__main__":
    unittest.main()
