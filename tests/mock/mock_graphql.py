# SPDX-License-Identifier: MIT
"""The GraphQL side of the mock Shopify: a small GraphQL executor over the
mock's catalog, with Shopify's calculated query cost and its throttle.

What it understands is the part of the GraphQL language a catalog reader
needs: one operation (query or mutation) with variables, fields with
aliases and arguments (ints, strings, block strings, enums, variables),
inline fragments, and Relay connections (edges/node/cursor, nodes,
pageInfo). Fields the schema below does not have are refused the way a
GraphQL server refuses them (an error, data null).

Cost, as Shopify documents it: a scalar or an enum costs 0, an object 1,
a connection 2 plus `first` times the cost of one of its nodes. The
requested cost is computed from the query before it runs; a query over
LIMITS["max_cost"] (1,000) is refused (MAX_COST_EXCEEDED); a query whose requested cost
is more than the bucket holds is THROTTLED; otherwise the requested cost
is taken from the bucket, and the difference with the actual cost (from
what was returned) is given back. Both answers carry extensions.cost.
Python standard library only."""
import json
import re
import threading
import time

LIMITS = {"max_cost": 1000}  # Shopify's single-query limit (tests may lower it)


class GraphQLError(Exception):
    def __init__(self, message, code=None, **extensions):
        super().__init__(message)
        self.code = code
        self.extensions = extensions


# --- the language ---------------------------------------------------------
TOKEN = re.compile(r'''
    (?P<ws>[\s,]+|\#[^\n]*)
  | (?P<block>"""(?:[^"\\]|\\.|"(?!""))*""")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<spread>\.\.\.)
  | (?P<punct>[{}()\[\]:!$=@])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
''', re.VERBOSE)


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if m is None:
            raise GraphQLError(f"Parse error on {text[pos:pos + 10]!r} at {pos}")
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        value = m.group()
        if kind == "block":
            value = value[3:-3].replace('\\"""', '"""')
            kind = "string"
        elif kind == "string":
            value = json.loads(value)
        tokens.append((kind, value))
    tokens.append(("eof", None))
    return tokens


class Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, value=None):
        kind, v = self.tokens[self.i]
        return v == value if value is not None else (kind, v)

    def take(self, value=None):
        kind, v = self.tokens[self.i]
        if value is not None and v != value:
            raise GraphQLError(f"Parse error: expected {value!r}, got {v!r}")
        self.i += 1
        return kind, v

    def document(self):
        kind, v = self.peek()
        operation = "query"
        variables = []
        if kind == "name" and v in ("query", "mutation"):
            operation = self.take()[1]
            if self.peek()[0] == "name":
                self.take()
            if self.peek("("):
                self.take("(")
                while not self.peek(")"):
                    self.take("$")
                    name = self.take()[1]
                    self.take(":")
                    self.type_ref()
                    default = None
                    if self.peek("="):
                        self.take("=")
                        default = self.value()
                    variables.append((name, default))
                self.take(")")
        selection = self.selection_set()
        if self.peek()[0] != "eof":
            raise GraphQLError("Parse error: one operation per document")
        return operation, variables, selection

    def type_ref(self):
        if self.peek("["):
            self.take("[")
            self.type_ref()
            self.take("]")
        else:
            self.take()
        if self.peek("!"):
            self.take("!")

    def selection_set(self):
        self.take("{")
        fields = []
        while not self.peek("}"):
            if self.peek("..."):
                self.take("...")
                self.take("on")
                type_name = self.take()[1]
                fields.append(("fragment", type_name, self.selection_set()))
                continue
            kind, name = self.take()
            if kind != "name":
                raise GraphQLError(f"Parse error on {name!r}")
            alias = name
            if self.peek(":"):
                self.take(":")
                name = self.take()[1]
            args = {}
            if self.peek("("):
                self.take("(")
                while not self.peek(")"):
                    arg = self.take()[1]
                    self.take(":")
                    args[arg] = self.value()
                self.take(")")
            sub = self.selection_set() if self.peek("{") else None
            fields.append(("field", alias, name, args, sub))
        self.take("}")
        return fields

    def value(self):
        kind, v = self.take()
        if v == "$":
            return ("var", self.take()[1])
        if kind == "number":
            return float(v) if any(c in v for c in ".eE") else int(v)
        if kind == "string":
            return v
        if v == "[":
            items = []
            while not self.peek("]"):
                items.append(self.value())
            self.take("]")
            return items
        if v in ("true", "false"):
            return v == "true"
        if v == "null":
            return None
        return ("enum", v)


def resolve_args(args, variables):
    out = {}
    for name, value in args.items():
        if isinstance(value, tuple) and value[0] == "var":
            value = variables.get(value[1])
        elif isinstance(value, tuple):
            value = value[1]
        out[name] = value
    return out


# --- the schema -----------------------------------------------------------
# Each type: field -> kind. Kinds: "scalar", ("object", Type),
# ("connection", Type), ("list", kind).
SCHEMA = {
    "QueryRoot": {"products": ("connection", "Product"), "product": ("object", "Product"),
                  "shop": ("object", "Shop"), "node": ("object", "Node"),
                  "bulkOperation": ("object", "BulkOperation"),
                  "productsCount": ("object", "Count")},
    "Mutation": {"bulkOperationRunQuery": ("object", "BulkOperationRunQueryPayload")},
    "Shop": {"name": "scalar", "currencyCode": "scalar", "id": "scalar"},
    "Count": {"count": "scalar", "precision": "scalar"},
    "Product": {"id": "scalar", "legacyResourceId": "scalar", "title": "scalar",
                "handle": "scalar", "descriptionHtml": "scalar", "vendor": "scalar",
                "productType": "scalar", "tags": "scalar", "status": "scalar",
                "createdAt": "scalar", "updatedAt": "scalar",
                "featuredMedia": ("object", "Media"), "variantsCount": ("object", "Count"),
                "variants": ("connection", "ProductVariant")},
    "Media": {"id": "scalar", "preview": ("object", "MediaPreviewImage")},
    "MediaPreviewImage": {"image": ("object", "Image"), "status": "scalar"},
    "Image": {"url": "scalar", "altText": "scalar", "id": "scalar"},
    "ProductVariant": {"id": "scalar", "legacyResourceId": "scalar", "title": "scalar",
                       "sku": "scalar", "price": "scalar", "compareAtPrice": "scalar",
                       "inventoryQuantity": "scalar", "inventoryPolicy": "scalar",
                       "position": "scalar", "inventoryItem": ("object", "InventoryItem"),
                       "product": ("object", "Product")},
    "InventoryItem": {"id": "scalar", "tracked": "scalar"},
    "PageInfo": {"hasNextPage": "scalar", "hasPreviousPage": "scalar", "endCursor": "scalar",
                 "startCursor": "scalar"},
    "BulkOperation": {"id": "scalar", "status": "scalar", "errorCode": "scalar",
                      "objectCount": "scalar", "rootObjectCount": "scalar",
                      "fileSize": "scalar", "url": "scalar", "partialDataUrl": "scalar",
                      "createdAt": "scalar", "completedAt": "scalar", "query": "scalar",
                      "type": "scalar"},
    "BulkOperationRunQueryPayload": {"bulkOperation": ("object", "BulkOperation"),
                                     "userErrors": ("list", ("object", "UserError"))},
    "UserError": {"field": "scalar", "message": "scalar", "code": "scalar"},
    "Node": {"id": "scalar"},  # and inline fragments on the concrete types
}


def field_kind(type_name, name):
    if name == "__typename":
        return "scalar"
    kind = SCHEMA.get(type_name, {}).get(name)
    if kind is None:
        raise GraphQLError(f"Field '{name}' doesn't exist on type '{type_name}'",
                           "undefinedField")
    return kind


def requested_cost(type_name, selection, variables):
    """Shopify's static cost of a selection on type_name."""
    total = 0
    for item in selection:
        if item[0] == "fragment":
            total += requested_cost(item[1], item[2], variables)
            continue
        _, _, name, args, sub = item
        kind = field_kind(type_name, name)
        if kind == "scalar":
            continue
        if kind[0] == "list":
            kind = kind[1]
        if kind[0] == "object":
            total += 1 + requested_cost(kind[1], sub or [], variables)
        elif kind[0] == "connection":
            first = resolve_args(args, variables).get("first")
            if not isinstance(first, int) or not 1 <= first <= 250:
                raise GraphQLError("you must provide one of first or last, from 1 to 250",
                                   "argumentLiteralsIncompatible")
            total += 2 + first * connection_node_cost(kind[1], sub or [], variables)
    return total


def connection_node_cost(node_type, selection, variables):
    cost = 0
    for item in selection:
        if item[0] != "field":
            continue
        _, _, name, _, sub = item
        if name == "edges":
            for e in sub or []:
                if e[0] == "field" and e[2] == "node":
                    cost = max(cost, 1 + requested_cost(node_type, e[4] or [], variables))
        elif name == "nodes":
            cost = max(cost, 1 + requested_cost(node_type, sub or [], variables))
    return cost


# --- the data -------------------------------------------------------------
def gid(kind, number):
    return f"gid://shopify/{kind}/{number}"


def product_node(p):
    """A REST-shaped mock product as the GraphQL Product it stands for."""
    image = p.get("image") or (p.get("images") or [None])[0]
    tags = [t.strip() for t in (p.get("tags") or "").split(",") if t.strip()]
    return {
        "__typename": "Product",
        "id": gid("Product", p["id"]), "legacyResourceId": str(p["id"]),
        "title": p.get("title"), "handle": p.get("handle"),
        "descriptionHtml": p.get("body_html") or "", "vendor": p.get("vendor"),
        "productType": p.get("product_type"), "tags": tags,
        "status": (p.get("status") or "active").upper(),
        "createdAt": p.get("created_at"), "updatedAt": p.get("updated_at"),
        "featuredMedia": ({"__typename": "MediaImage", "id": gid("MediaImage", image["id"]),
                           "preview": {"__typename": "MediaPreviewImage", "status": "READY",
                                       "image": {"__typename": "Image", "url": image["src"],
                                                 "altText": None, "id": None}}}
                          if image else None),
        "variantsCount": {"__typename": "Count", "count": len(p.get("variants") or []),
                          "precision": "EXACT"},
        "_variants": [variant_node(v) for v in p.get("variants") or []],
    }


def variant_node(v):
    return {
        "__typename": "ProductVariant",
        "id": gid("ProductVariant", v["id"]), "legacyResourceId": str(v["id"]),
        "title": v.get("title"), "sku": v.get("sku"), "price": v.get("price"),
        "compareAtPrice": v.get("compare_at_price"),
        "inventoryQuantity": v.get("inventory_quantity"),
        "inventoryPolicy": (v.get("inventory_policy") or "deny").upper(),
        "position": v.get("position"),
        "inventoryItem": {"__typename": "InventoryItem",
                          "id": gid("InventoryItem", v["id"]),
                          "tracked": v.get("inventory_management") is not None},
    }


def encode_cursor(offset):
    return f"c{offset}"


def decode_cursor(text):
    if text is None:
        return 0
    if not isinstance(text, str) or not re.fullmatch(r"c\d+", text):
        raise GraphQLError("Invalid cursor for current pagination sort.", "BAD_USER_INPUT")
    return int(text[1:])


class Executor:
    """Runs one operation against a snapshot of the catalog."""

    def __init__(self, state, variables):
        self.state = state
        self.variables = variables
        self.actual = 0

    def connection(self, items, args, node_type, selection):
        first = args.get("first")
        offset = decode_cursor(args.get("after"))
        page = items[offset:offset + first]
        self.actual += 2 + len(page)
        out = {}
        for item in selection:
            if item[0] != "field":
                continue
            _, alias, name, _, sub = item
            if name == "edges":
                edges = []
                for n, node in enumerate(page):
                    edge = {}
                    for e in sub or []:
                        if e[0] != "field":
                            continue
                        if e[2] == "cursor":
                            edge[e[1]] = encode_cursor(offset + n + 1)
                        elif e[2] == "node":
                            edge[e[1]] = self.obj(node, node_type, e[4] or [])
                        else:
                            raise GraphQLError(f"Field '{e[2]}' doesn't exist on type "
                                               f"'{node_type}Edge'", "undefinedField")
                    edges.append(edge)
                out[alias] = edges
            elif name == "nodes":
                out[alias] = [self.obj(node, node_type, sub or []) for node in page]
            elif name == "pageInfo":
                info = {"hasNextPage": offset + first < len(items),
                        "hasPreviousPage": offset > 0,
                        "startCursor": encode_cursor(offset + 1) if page else None,
                        "endCursor": encode_cursor(offset + len(page)) if page else None}
                out[alias] = self.obj(info, "PageInfo", sub or [])
            else:
                raise GraphQLError(f"Field '{name}' doesn't exist on type "
                                   f"'{node_type}Connection'", "undefinedField")
        return out

    def obj(self, value, type_name, selection):
        if value is None:
            return None
        out = {}
        for item in selection:
            if item[0] == "fragment":
                if value.get("__typename") == item[1] or type_name == item[1]:
                    out.update(self.obj(value, item[1], item[2]))
                continue
            _, alias, name, args, sub = item
            kind = field_kind(type_name, name)
            args = resolve_args(args, self.variables)
            if kind == "scalar":
                out[alias] = value.get(name, type_name if name == "__typename" else None)
                continue
            resolver = getattr(self, f"resolve_{type_name}_{name}", None)
            if kind[0] == "connection":
                items = resolver(value, args) if resolver else value.get("_" + name, [])
                out[alias] = self.connection(items, args, kind[1], sub or [])
            elif kind[0] == "list":
                items = resolver(value, args) if resolver else value.get(name) or []
                out[alias] = [self.obj(i, kind[1][1], sub or []) for i in items]
            else:
                child = resolver(value, args) if resolver else value.get(name)
                if child is not None:
                    self.actual += 1
                out[alias] = self.obj(child, kind[1], sub or [])
        return out

    # Root fields.
    def resolve_QueryRoot_products(self, _root, _args):
        return [product_node(p) for p in self.state["products"]]

    def resolve_QueryRoot_product(self, _root, args):
        for p in self.state["products"]:
            if gid("Product", p["id"]) == args.get("id"):
                return product_node(p)
        return None

    def resolve_QueryRoot_shop(self, _root, _args):
        return {"__typename": "Shop", "name": "Mock Shop", "currencyCode": "USD",
                "id": gid("Shop", 548380009)}

    def resolve_QueryRoot_productsCount(self, _root, args):
        # As Shopify: counted up to limit (default 10,000), then AT_LEAST.
        limit = args.get("limit", 10000)
        total = len(self.state["products"])
        if limit is not None and total > limit:
            return {"__typename": "Count", "count": limit, "precision": "AT_LEAST"}
        return {"__typename": "Count", "count": total, "precision": "EXACT"}

    def resolve_QueryRoot_node(self, _root, args):
        return self.state["bulk"].get(args.get("id"))

    resolve_QueryRoot_bulkOperation = resolve_QueryRoot_node


class Bucket:
    """Shopify's cost bucket: maximumAvailable points restored at restoreRate a second."""

    def __init__(self, maximum=1000.0, restore=100.0):
        self.lock = threading.Lock()
        self.set(maximum, restore)

    def set(self, maximum, restore):
        with self.lock:
            self.maximum, self.restore = float(maximum), float(restore)
            self.available, self.at = self.maximum, time.monotonic()
            self.throttled = 0
            self.lowest = self.maximum

    def refill(self):
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.at) * self.restore)
        self.at = now

    def status(self):
        return {"maximumAvailable": self.maximum,
                "currentlyAvailable": round(self.available, 1),
                "restoreRate": self.restore}

    def take(self, cost):
        with self.lock:
            self.refill()
            if cost > self.available:
                self.throttled += 1
                return False, self.status()
            self.available -= cost
            self.lowest = min(self.lowest, self.available)
            return True, self.status()

    def give_back(self, points):
        with self.lock:
            self.refill()
            self.available = min(self.maximum, self.available + points)
            return self.status()


def execute(state, bucket, body):
    """Runs a GraphQL request body (a dict with query and variables); returns
    the answer document. state: {"products": [...], "bulk": {...}, "bulk_run": fn}."""
    query = body.get("query") if isinstance(body, dict) else None
    variables = body.get("variables") or {} if isinstance(body, dict) else {}
    if not isinstance(query, str) or not isinstance(variables, dict):
        return {"errors": [{"message": "Parameter Missing or Invalid",
                            "extensions": {"code": "BAD_REQUEST"}}]}
    try:
        operation, declared, selection = Parser(query).document()
        for name, default in declared:
            variables.setdefault(name, default)
        root = "Mutation" if operation == "mutation" else "QueryRoot"
        cost = requested_cost(root, selection, variables) + (10 if root == "Mutation" else 0)
    except GraphQLError as error:
        return {"errors": [{"message": str(error),
                            "extensions": {"code": error.code or "GRAPHQL_PARSE_FAILED"}}]}
    if cost > LIMITS["max_cost"]:
        return {"errors": [{"message": f"Query cost is {cost}, which exceeds the single query "
                                       f"max cost limit ({LIMITS['max_cost']}).",
                            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost,
                                           "maxCost": LIMITS["max_cost"]}}],
                "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                        "throttleStatus": bucket.status()}}}
    allowed, status = bucket.take(cost)
    if not allowed:
        return {"errors": [{"message": "Throttled",
                            "extensions": {"code": "THROTTLED",
                                           "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                        "throttleStatus": status}}}
    executor = Executor(state, variables)
    try:
        if root == "Mutation":
            data = {}
            for item in selection:
                _, alias, name, args, sub = item
                field_kind("Mutation", name)
                payload = state["bulk_run"](resolve_args(args, variables).get("query"))
                data[alias] = executor.obj(payload, "BulkOperationRunQueryPayload", sub or [])
            actual = 10
        else:
            data = executor.obj({}, "QueryRoot", selection)
            actual = executor.actual
    except GraphQLError as error:
        bucket.give_back(cost)
        return {"errors": [{"message": str(error), "extensions": {"code": error.code}}],
                "data": None}
    status = bucket.give_back(max(0, cost - actual))
    return {"data": data,
            "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": actual,
                                    "throttleStatus": status}}}


def bulk_lines(products, query):
    """The JSONL a bulk query's result file holds: every product line, then
    every variant line with __parentId (after its parent, not right after
    it, as Shopify allows), the fields the bulk query selected."""
    operation, _, selection = Parser(query).document()
    if operation != "query":
        raise GraphQLError("bulk queries must be queries")
    products_field = next((f for f in selection if f[0] == "field" and f[2] == "products"), None)
    if products_field is None:
        raise GraphQLError("the bulk query must read products")
    node_sel = []
    for f in products_field[4] or []:
        if f[0] == "field" and f[2] == "edges":
            node_sel = next((e[4] for e in f[4] or [] if e[2] == "node"), [])
    variant_sel, product_sel = [], []
    for f in node_sel:
        if f[0] == "field" and f[2] == "variants":
            for e in f[4] or []:
                if e[0] == "field" and e[2] == "edges":
                    variant_sel = next((x[4] for x in e[4] or [] if x[2] == "node"), [])
        else:
            product_sel.append(f)
    executor = Executor({"products": products, "bulk": {}}, {})
    lines, children = [], []
    for p in products:
        node = product_node(p)
        lines.append(json.dumps(executor.obj(node, "Product", product_sel)))
        for v in node["_variants"]:
            row = executor.obj(v, "ProductVariant", variant_sel)
            row["__parentId"] = node["id"]
            children.append(json.dumps(row))
    return lines + children
