# SPDX-License-Identifier: MIT
"""docs/openapi.yaml stays true: its paths are the server's routes, every
answer the real server gives (status, content type, headers, body) is one
the document describes, and its parameter bounds are the ones enforced."""
import datetime
import os
import re
import unittest

import yaml

from harness import API_KEY, SOURCE_DIR, MockShopify, RetailApi, shopify_env, wait_until

SPEC_PATH = os.path.join(SOURCE_DIR, "docs", "openapi.yaml")
ROUTES_SOURCE = os.path.join(SOURCE_DIR, "src", "http.c")


def load_spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def server_routes():
    """The paths in src/http.c's routes[] table."""
    with open(ROUTES_SOURCE, encoding="utf-8") as f:
        source = f.read()
    table = re.search(r"routes\[\] = \{(.*?)\n\};", source, re.S)
    assert table, "routes[] not found in src/http.c"
    return set(re.findall(r'\{"(/[^"]*)", ROUTE_', table.group(1)))


class Validator:
    """Checks a JSON value against an OpenAPI 3.0 schema: the subset the
    document uses, each keyword strictly."""

    def __init__(self, spec):
        self.spec = spec

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            target = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def check(self, value, schema, where="$"):
        schema = self.resolve(schema)
        known = {"type", "nullable", "required", "properties", "additionalProperties", "items",
                 "enum", "minimum", "maximum", "pattern", "format", "description", "oneOf",
                 "maxLength", "default"}
        unknown = set(schema) - known
        assert not unknown, f"{where}: the validator does not know {unknown}"
        if value is None:
            assert schema.get("nullable"), f"{where}: null where {schema.get('type')} is required"
            return
        if "oneOf" in schema:
            errors = []
            for option in schema["oneOf"]:
                try:
                    self.check(value, option, where)
                except AssertionError as error:
                    errors.append(str(error))
            assert len(errors) == len(schema["oneOf"]) - 1, f"{where}: matches no one of {errors}"
            return
        kind = schema.get("type")
        checks = {"object": lambda v: isinstance(v, dict),
                  "array": lambda v: isinstance(v, list),
                  "string": lambda v: isinstance(v, str),
                  "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
                  "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                  "boolean": lambda v: isinstance(v, bool)}
        if kind is not None:
            assert checks[kind](value), f"{where}: {value!r} is not {kind}"
        if "enum" in schema:
            assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
        if "minimum" in schema:
            assert value >= schema["minimum"], f"{where}: {value} < {schema['minimum']}"
        if "maximum" in schema:
            assert value <= schema["maximum"], f"{where}: {value} > {schema['maximum']}"
        if "pattern" in schema:
            assert re.search(schema["pattern"], value), f"{where}: {value!r} !~ {schema['pattern']}"
        if "maxLength" in schema:
            assert len(value) <= schema["maxLength"], f"{where}: longer than allowed"
        if schema.get("format") == "date-time":
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if kind == "object":
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                assert name in value, f"{where}: {name} is missing"
            if schema.get("additionalProperties") is False:
                extra = set(value) - set(props)
                assert not extra, f"{where}: undocumented {sorted(extra)}"
            for name, sub in props.items():
                if name in value:
                    self.check(value[name], sub, f"{where}.{name}")
        if kind == "array":
            for i, item in enumerate(value):
                self.check(item, schema.get("items", {}), f"{where}[{i}]")


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spec = load_spec()
        cls.validator = Validator(cls.spec)

    def operation(self, path):
        self.assertIn(path, self.spec["paths"], f"{path} is not in docs/openapi.yaml")
        return self.spec["paths"][path]["get"]

    def check_answer(self, spec_path, reply, what):
        """The answer is one the document describes for spec_path (None:
        an unknown path, described by the common Error schema)."""
        content_type = reply.header("Content-Type") or ""
        if spec_path is None:
            self.assertEqual(reply.status, 404, what)
            schema = {"$ref": "#/components/schemas/Error"}
            self.assertTrue(content_type.startswith("application/json"), what)
        else:
            responses = self.operation(spec_path)["responses"]
            self.assertIn(str(reply.status), responses,
                          f"{what}: status {reply.status} is not documented for {spec_path}")
            response = self.validator.resolve(responses[str(reply.status)])
            media = content_type.split(";")[0]
            self.assertIn(media, response["content"], f"{what}: {content_type}")
            schema = response["content"][media]["schema"]
            for name, header in response.get("headers", {}).items():
                value = reply.header(name)
                self.assertIsNotNone(value, f"{what}: header {name} is missing")
                header = self.validator.resolve(header)
                if header["schema"].get("type") == "integer":
                    value = int(value)
                self.validator.check(value, header["schema"], f"{what} header {name}")
        if reply.body == b"":
            return
        body = reply.body.decode() if content_type.startswith("text/") else reply.json()
        try:
            self.validator.check(body, schema)
        except AssertionError as error:
            raise AssertionError(f"{what}: {error}") from None

    def test_the_paths_are_the_servers_routes(self):
        self.assertEqual(set(self.spec["paths"]), server_routes())
        for path, item in self.spec["paths"].items():
            self.assertEqual(set(item) - {"parameters"}, {"get"}, path)
            op = item["get"]
            self.assertIn("405", op["responses"], path)
            for status, response in op["responses"].items():
                response = self.validator.resolve(response)
                self.assertIn("description", response, f"{path} {status}")

    def test_every_answer_matches_the_document(self):
        mock = MockShopify(products=40)
        self.addCleanup(mock.stop)
        server = RetailApi(shopify_env(mock, CACHE_TTL_SECONDS=1, CACHE_STALE_SECONDS=3600))
        self.addCleanup(server.stop)
        wait_until(lambda: server.get("/v1/products?limit=1").header("X-Cache") == "HIT", 10,
                   "a catalog from Shopify")
        product_id = server.get("/v1/products?limit=1").json()["products"][0]["id"]
        key = {"X-API-Key": API_KEY}
        cases = [
            ("GET", "/health", {}, None, "/health", 200),
            ("GET", "/live", {}, None, "/live", 200),
            ("GET", "/ready", {}, None, "/ready", 200),
            ("GET", "/metrics", {}, None, "/metrics", 200),
            ("GET", "/v1/products?limit=5", key, None, "/v1/products", 200),
            ("GET", "/v1/products/?limit=3&page=2&category=", key, None, "/v1/products/", 200),
            ("GET", "/v1/products?offset=7&limit=250", key, None, "/v1/products", 200),
            ("GET", "/v1/products?limit=0", key, None, "/v1/products", 400),
            ("GET", "/v1/products?page=two", key, None, "/v1/products", 400),
            ("GET", "/v1/products?limit=5", {}, None, "/v1/products", 401),
            ("GET", "/v1/products?limit=5", {"X-API-Key": "wrong"}, None, "/v1/products", 401),
            ("POST", "/v1/products", key, None, "/v1/products", 405),
            ("GET", "/v1/products", key, b"{}", "/v1/products", 400),
            ("GET", f"/v1/products/{product_id}", key, None, "/v1/products/{id}", 200),
            ("GET", "/v1/products/1", key, None, "/v1/products/{id}", 404),
            ("GET", f"/v1/products/{product_id}", {}, None, "/v1/products/{id}", 401),
            ("DELETE", f"/v1/products/{product_id}", key, None, "/v1/products/{id}", 405),
            ("PUT", "/health", {}, None, "/health", 405),
            ("GET", "/health", {}, b"x", "/health", 400),
            ("GET", "/v1/products?category=%00", key, None, "/v1/products", 400),
            ("GET", f"/v1/products/{product_id}%00", key, None, "/v1/products/{id}", 400),
            ("GET", "/live?" + "&".join(f"a{i}=1" for i in range(70)), {}, None, "/live", 414),
            ("GET", "/ready?x=" + "r" * 9000, {}, None, "/ready", 414),
            ("GET", "/metrics", {f"X-H{i}": "v" for i in range(70)}, None, "/metrics", 431),
            ("GET", "/nowhere", {}, None, None, 404),
        ]

        def run(label):
            for method, path, headers, body, spec_path, status in cases:
                what = f"{label}: {method} {path}"
                reply = server.request(method, path, headers, body=body)
                self.assertEqual(reply.status, status, f"{what}: {reply.body[:200]!r}")
                self.check_answer(spec_path, reply, what)
                if method == "GET" and body is None:
                    head = server.request("HEAD", path, headers)
                    self.assertEqual(head.status, status, f"HEAD {what}")
                    self.assertEqual(head.body, b"", f"HEAD {what}")
                if status == 405:
                    self.assertEqual(reply.header("Allow"), "GET, HEAD", what)
                if status == 401:
                    self.assertEqual(reply.header("WWW-Authenticate"), "ApiKey", what)

        run("fresh")
        # Shopify fails and the catalog goes stale: /health shows the
        # breaker and the error, the products say so.
        mock.set_mode("html500")
        wait_until(lambda: server.get("/v1/products?limit=1").header("X-Cache") == "STALE", 10,
                   "stale answers")
        wait_until(lambda: server.health()["components"]["shopify"].get("last_error"), 10,
                   "the failure in /health")
        self.assertEqual(server.health()["status"], "degraded")
        run("stale")
        # And without Shopify at all: the fallback.
        alone = RetailApi()
        self.addCleanup(alone.stop)
        server = alone
        cases = [c for c in cases if str(product_id) not in c[1]]
        run("fallback")

    def test_parameter_bounds_are_enforced(self):
        server = RetailApi()
        self.addCleanup(server.stop)
        params = self.operation("/v1/products")["parameters"]
        for param in params:
            schema = param["schema"]
            name = param["name"]
            if schema["type"] == "integer":
                good = [schema["minimum"], schema["maximum"]]
                bad = [schema["minimum"] - 1, schema["maximum"] + 1, "1x", ""]
                good_values, bad_values = [str(v) for v in good], [str(v) for v in bad]
            else:
                good_values = ["", "x" * schema["maxLength"]]
                bad_values = ["x" * (schema["maxLength"] + 1)]
            for value in good_values:
                reply = server.get(f"/v1/products?{name}={value}")
                self.assertEqual(reply.status, 200, f"{name}={value[:20]}: {reply.body[:200]!r}")
            for value in bad_values:
                reply = server.get(f"/v1/products?{name}={value}")
                self.assertEqual(reply.status, 400, f"{name}={value[:20]}")
                self.assertEqual(reply.json()["parameter"], name)
            if "default" in schema:
                page = server.get("/v1/products").json()
                if name in page:
                    self.assertEqual(page[name], schema["default"], name)


if __name__ == "__main__":
    unittest.main()
