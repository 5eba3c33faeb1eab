/* SPDX-License-Identifier: MIT */
/* The GraphQL Admin API transport: the products connection, page after
 * page, with the variants nested, paced by Shopify's query cost.
 *
 * Each product read is turned into the shape of a REST product (the fields
 * product.c reads, nothing else) and added to the catalog the same way, so
 * both transports give the same answers, byte for byte. */
#include "shopify_internal.h"

#include "retail/clock.h"
#include "retail/log.h"
#include "retail/product.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Page sizes, and what they cost. Shopify prices a query before running
 * it: 0 for a scalar or an enum, 1 for an object, and 2 + first x (the
 * cost of one node) for a connection; it refuses any single query over
 * 1,000 points (MAX_COST_EXCEEDED). One product node of PAGE_QUERY costs
 * 1 (the product) + 3 (featuredMedia, its preview, its image) + 2 + M x 2
 * (the variants connection: a variant and its inventoryItem), so 6 + 2M.
 * With M = 10 variants that is 26, and N = 34 products make 2 + 34 x 26 =
 * 886 points: under 1,000 with room for Shopify pricing a field a little
 * above what it documents. Most products have fewer than 10 variants; a
 * product with more gets the rest from its own variants connection, 250 at
 * a time (1 + 2 + 250 x 2 = 503 points). Should Shopify still refuse a
 * page as too expensive, N is halved and the page asked again. */
#define PRODUCTS_PER_PAGE 34
#define VARIANTS_PER_PRODUCT 10
#define VARIANTS_PER_PAGE 250
#define PAGE_COST(n, m) (2.0 + (double)(n) * (6.0 + 2.0 * (double)(m)))
#define VARIANTS_COST(m) (3.0 + 2.0 * (double)(m))
#define SHOP_COST 1.0
#define CURSOR_MAX 1024

#define VARIANT_FIELDS                                                                             \
    "id title sku price compareAtPrice inventoryQuantity inventoryPolicy inventoryItem { tracked " \
    "}"
#define PRODUCT_FIELDS                                                                             \
    "id title handle descriptionHtml vendor productType tags status "                              \
    "featuredMedia { preview { image { url } } }"

static const char PAGE_QUERY[] =
    "query CatalogPage($first: Int!, $after: String, $variants: Int!) { "
    "products(first: $first, after: $after) { pageInfo { hasNextPage endCursor } "
    "nodes { " PRODUCT_FIELDS " variants(first: $variants) { pageInfo { hasNextPage endCursor } "
    "nodes { " VARIANT_FIELDS " } } } } }";

static const char VARIANTS_QUERY[] =
    "query ProductVariants($id: ID!, $first: Int!, $after: String) { product(id: $id) { "
    "variants(first: $first, after: $after) { pageInfo { hasNextPage endCursor } "
    "nodes { " VARIANT_FIELDS " } } } }";

static const char SHOP_QUERY[] = "query Shop { shop { currencyCode } }";

/* How many products, to choose between paging and a bulk operation. */
static const char COUNT_QUERY[] = "query Count { productsCount { count precision } }";

/* A bulk operation reads the same fields, without page sizes; its result
 * is a JSONL file: a line for each product, then (after it, though not
 * necessarily right after) a line for each of its variants, which names
 * the product in __parentId. */
static const char BULK_MUTATION[] =
    "mutation RunBulk($query: String!) { bulkOperationRunQuery(query: $query) { "
    "bulkOperation { id status } userErrors { field message } } }";

static const char BULK_QUERY[] = "{ products { edges { node { " PRODUCT_FIELDS
                                 " variants { edges { node { " VARIANT_FIELDS " } } } } } } }";

static const char BULK_STATUS_QUERY[] =
    "query BulkStatus($id: ID!) { node(id: $id) { ... on BulkOperation { "
    "id status errorCode objectCount url } } }";

#define BULK_POLL_FIRST_MS 500
#define BULK_POLL_MAX_MS 5000
#define BULK_LINE_MAX (16u * 1024 * 1024)
#define BULK_FILE_MAX ((size_t)1024 * 1024 * 1024)

/* Milliseconds to restore points at the bucket's rate, within [0, 1 h]
 * whatever Shopify's numbers say. */
static int64_t
restore_ms(const struct shopify_client *c, double points)
{
    double ms = ceil(points * 1000.0 / c->cost_restore);

    if (!(ms > 0)) {
        return 0;
    }
    return ms > 3600000.0 ? 3600000 : (int64_t)ms;
}

/* The cost bucket as it stands now: what Shopify last reported, restored
 * since at its restore rate. */
static double
cost_available_now(const struct shopify_client *c)
{
    double restored = (double)(clock_mono_ms() - c->cost_seen_ms) * c->cost_restore / 1000.0;
    double now = c->cost_available + restored;

    return now < c->cost_max ? now : c->cost_max;
}

/* Waits until the bucket holds cost points, so that Shopify never has to
 * throttle a query (and the bucket is never emptied by one). */
static int
cost_pace(struct shopify_client *c, double cost, int64_t deadline_ms, struct fetch_report *report)
{
    double available;
    int64_t wait;

    if (!c->cost_known) {
        return RETAIL_OK;
    }
    if (cost > c->cost_max) {
        cost = c->cost_max;
    }
    available = cost_available_now(c);
    if (available >= cost) {
        return RETAIL_OK;
    }
    wait = restore_ms(c, cost - available);
    if (clock_mono_ms() + wait >= deadline_ms) {
        return shopify_fail(report, FETCH_TIMEOUT, RETAIL_ERR_TIMEOUT,
                            "the refresh deadline leaves no time to wait for %.0f points of "
                            "Shopify's query cost",
                            cost);
    }
    log_debug("shopify", "pacing: %.0f of %.0f points available, %.0f needed, waiting %lld ms",
              available, c->cost_max, cost, (long long)wait);
    report->paced_ms += wait;
    return shopify_pause(c, wait, report);
}

/* Reads extensions.cost; returns the requested cost (0 when absent). */
static double
note_cost(struct shopify_client *c, const json_t *root)
{
    const json_t *cost = json_object_get(json_object_get(root, "extensions"), "cost");
    const json_t *status = json_object_get(cost, "throttleStatus");
    const json_t *max = json_object_get(status, "maximumAvailable");
    const json_t *available = json_object_get(status, "currentlyAvailable");
    const json_t *restore = json_object_get(status, "restoreRate");

    /* Believed only within sane bounds: a hostile answer cannot make the
     * client wait for ever, or not at all. */
    if (json_is_number(max) && json_is_number(available) && json_is_number(restore) &&
        json_number_value(max) > 0 && json_number_value(max) <= 1e9 &&
        fabs(json_number_value(available)) <= 1e9 && json_number_value(restore) > 0 &&
        json_number_value(restore) <= 1e9) {
        c->cost_max = json_number_value(max);
        c->cost_available = json_number_value(available);
        c->cost_restore = json_number_value(restore);
        c->cost_seen_ms = clock_mono_ms();
        c->cost_known = true;
    }
    return json_number_value(json_object_get(cost, "requestedQueryCost"));
}

/* The first error's code that is want (any code when want is NULL); ""
 * when there is none. */
static const char *
error_code(const json_t *errors, const char *want)
{
    size_t i;
    const json_t *e;

    json_array_foreach(errors, i, e)
    {
        const char *code =
            json_string_value(json_object_get(json_object_get(e, "extensions"), "code"));

        if (code != NULL && (want == NULL || strcmp(code, want) == 0)) {
            return code;
        }
    }
    return "";
}

static bool
has_error_code(const json_t *errors, const char *code)
{
    return error_code(errors, code)[0] != '\0';
}

/* The first error's message, made safe to log: printable ASCII only. */
static void
error_message(const json_t *errors, char *out, size_t cap)
{
    const json_t *first = json_array_get(errors, 0);
    const char *msg = json_string_value(json_object_get(first, "message"));
    size_t n = 0;

    if (msg == NULL) {
        msg = json_is_string(errors) ? json_string_value(errors) : "no message";
    }
    for (const char *p = msg; *p != '\0' && n + 1 < cap; p++) {
        out[n++] = isprint((unsigned char)*p) ? *p : '?';
    }
    out[n] = '\0';
}

/* One GraphQL query. *data receives the answer's data (a new reference)
 * when it has data and no error. THROTTLED waits what Shopify's bucket
 * needs and asks again inside the deadline; MAX_COST_EXCEEDED returns
 * RETAIL_ERR_LIMIT, for the caller to ask for less; any other error fails
 * the refresh, and so does data that comes with errors (partial data).
 * variables is taken (NULL, as from a json_pack that failed: out of
 * memory). */
static int
graphql(struct shopify_client *c, const char *query, json_t *variables, double estimate,
        const char *what, int64_t deadline_ms, struct fetch_report *report, json_t **data)
{
    char url[URL_MAX];
    json_t *request =
        variables != NULL ? json_pack("{s:s, s:o}", "query", query, "variables", variables) : NULL;
    char *text = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    int rc = RETAIL_OK;

    *data = NULL;
    c->cost_exceeded = false;
    json_decref(request);
    if (text == NULL) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
    }
    snprintf(url, sizeof(url), "%s/admin/api/%s/graphql.json", c->base_url, c->api_version);
    for (unsigned throttled = 0;; throttled++) {
        json_error_t error;
        json_t *root;
        const json_t *errors;
        json_t *got;
        double requested;
        char message[160];

        rc = cost_pace(c, estimate, deadline_ms, report);
        if (rc == RETAIL_OK) {
            rc = shopify_call(c, url, text, strlen(text), what, deadline_ms, report);
        }
        if (rc != RETAIL_OK) {
            break;
        }
        root = json_loadb(c->body.data != NULL ? c->body.data : "", c->body.len,
                          JSON_REJECT_DUPLICATES, &error);
        if (root == NULL) {
            rc = shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                              "%s: invalid JSON at line %d column %d: %s", what, error.line,
                              error.column, error.text);
            break;
        }
        requested = note_cost(c, root);
        errors = json_object_get(root, "errors");
        got = json_object_get(root, "data");
        if ((errors == NULL || json_is_null(errors) ||
             (json_is_array(errors) && json_array_size(errors) == 0)) &&
            json_is_object(got)) {
            *data = json_incref(got);
            json_decref(root);
            break;
        }
        error_message(errors, message, sizeof(message));
        if (has_error_code(errors, "THROTTLED")) {
            double need = requested > 0 ? requested : estimate;
            /* Without the bucket's numbers, a second. */
            int64_t wait = c->cost_known ? restore_ms(c, need - c->cost_available) : 1000;

            json_decref(root);
            if (clock_mono_ms() + wait >= deadline_ms || throttled >= 10) {
                rc = shopify_fail(report, FETCH_RATE_LIMITED, RETAIL_ERR_UPSTREAM,
                                  "%s: THROTTLED, and the refresh deadline leaves no time to "
                                  "wait %lld ms",
                                  what, (long long)wait);
                break;
            }
            log_info("shopify",
                     "%s: THROTTLED (%.0f points asked, %.0f available), waiting %lld ms", what,
                     need, c->cost_available, (long long)wait);
            report->retries++;
            report->paced_ms += wait;
            rc = shopify_pause(c, wait, report);
            if (rc != RETAIL_OK) {
                break;
            }
            continue;
        }
        if (has_error_code(errors, "MAX_COST_EXCEEDED")) {
            c->cost_exceeded = true;
            log_warn("shopify", "%s: refused as too expensive (%.0f points): %s", what, requested,
                     message);
            rc = shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_LIMIT, "%s: %s", what, message);
        } else if (!json_is_object(got)) {
            const char *code = error_code(errors, NULL);
            bool denied = strcmp(code, "ACCESS_DENIED") == 0;

            log_warn("shopify", "%s: GraphQL error %s: %s", what, code[0] ? code : "(no code)",
                     message);
            report->needs_person = denied;
            rc = shopify_fail(report,
                              denied                                       ? FETCH_REFUSED
                              : strcmp(code, "INTERNAL_SERVER_ERROR") == 0 ? FETCH_SERVER_ERROR
                                                                           : FETCH_BAD_DATA,
                              RETAIL_ERR_UPSTREAM, "%s: GraphQL error %s: %s%s", what,
                              code[0] ? code : "(no code)", message,
                              denied ? " (needs a person: check the app's read_products scope)"
                                     : "");
        } else {
            log_warn("shopify", "%s: data came with errors, refused (%s: %s)", what,
                     error_code(errors, NULL), message);
            rc = shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_UPSTREAM,
                              "%s: partial data with errors (%s: %s)", what,
                              error_code(errors, NULL), message);
        }
        json_decref(root);
        break;
    }
    free(text);
    return rc;
}

/* Lower case of an enum value ("ACTIVE" -> "active"), as REST spells it. */
static json_t *
lower(const json_t *value)
{
    const char *text = json_string_value(value);
    char small[32];
    size_t n;

    if (text == NULL || (n = strlen(text)) >= sizeof(small)) {
        return json_null();
    }
    for (size_t i = 0; i <= n; i++) {
        small[i] = (char)tolower((unsigned char)text[i]);
    }
    return json_string(small);
}

/* REST's name of a field, and GraphQL's. */
struct field_name {
    const char *rest;
    const char *graphql;
};

static const struct field_name variant_fields[] = {
    {"id", "id"},
    {"title", "title"},
    {"sku", "sku"},
    {"price", "price"},
    {"compare_at_price", "compareAtPrice"},
    {"inventory_quantity", "inventoryQuantity"},
};

static const struct field_name product_fields[] = {
    {"id", "id"},         {"title", "title"},
    {"handle", "handle"}, {"body_html", "descriptionHtml"},
    {"vendor", "vendor"}, {"product_type", "productType"},
};

/* Copies the fields that from has, under their REST names. */
static void
copy_fields(json_t *to, const json_t *from, const struct field_name *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        json_t *value = json_object_get(from, names[i].graphql);

        if (value != NULL) {
            json_object_set(to, names[i].rest, value);
        }
    }
}

/* A GraphQL ProductVariant as REST's variant. */
static json_t *
rest_variant(const json_t *v)
{
    json_t *out = json_object();
    const json_t *item = json_object_get(v, "inventoryItem");

    if (out == NULL || !json_is_object(v)) {
        json_decref(out);
        return json_null();
    }
    copy_fields(out, v, variant_fields, sizeof(variant_fields) / sizeof(variant_fields[0]));
    json_object_set_new(out, "inventory_policy", lower(json_object_get(v, "inventoryPolicy")));
    if (json_is_object(item)) {
        /* REST says "shopify" for a tracked variant and null otherwise. */
        json_object_set_new(out, "inventory_management",
                            json_is_true(json_object_get(item, "tracked")) ? json_string("shopify")
                                                                           : json_null());
    }
    return out;
}

/* REST's tags: one string, "a, b, c". */
static json_t *
rest_tags(const json_t *tags)
{
    struct buf joined;
    size_t i;
    const json_t *tag;
    json_t *out;

    if (!json_is_array(tags)) {
        return json_null();
    }
    buf_init(&joined, 1024 * 1024);
    json_array_foreach(tags, i, tag)
    {
        const char *text = json_string_value(tag);

        if (text == NULL) {
            continue;
        }
        if ((joined.len > 0 && buf_append(&joined, ", ", 2) != RETAIL_OK) ||
            buf_append(&joined, text, strlen(text)) != RETAIL_OK) {
            buf_deinit(&joined);
            return json_null();
        }
    }
    out = json_stringn(joined.data != NULL ? joined.data : "", joined.len);
    buf_deinit(&joined);
    return out != NULL ? out : json_null();
}

/* A GraphQL Product (with all its variants in variants) as REST's product. */
static json_t *
rest_product(const json_t *p, const json_t *variants)
{
    json_t *out = json_object();
    json_t *list = json_array();
    const json_t *url = json_object_get(
        json_object_get(json_object_get(json_object_get(p, "featuredMedia"), "preview"), "image"),
        "url");
    size_t i;
    const json_t *v;

    if (out == NULL || list == NULL) {
        json_decref(out);
        json_decref(list);
        return NULL;
    }
    copy_fields(out, p, product_fields, sizeof(product_fields) / sizeof(product_fields[0]));
    json_object_set_new(out, "tags", rest_tags(json_object_get(p, "tags")));
    json_object_set_new(out, "status", lower(json_object_get(p, "status")));
    if (json_is_string(url)) {
        json_object_set_new(out, "image", json_pack("{s:O}", "src", url));
    }
    json_array_foreach(variants, i, v)
    {
        json_array_append_new(list, rest_variant(v));
    }
    json_object_set_new(out, "variants", list);
    return out;
}

/* Copies pageInfo's endCursor when hasNextPage; false at the end. */
static bool
next_cursor(const json_t *connection, char out[CURSOR_MAX])
{
    const json_t *info = json_object_get(connection, "pageInfo");
    const char *cursor = json_string_value(json_object_get(info, "endCursor"));

    if (!json_is_true(json_object_get(info, "hasNextPage")) || cursor == NULL ||
        strlen(cursor) >= CURSOR_MAX) {
        return false;
    }
    memcpy(out, cursor, strlen(cursor) + 1);
    return true;
}

/* The variants past the first page of a product with many, appended to
 * all, from its own variants connection. */
static int
more_variants(struct shopify_client *c, const json_t *product, const json_t *first_page,
              json_t *all, int64_t deadline_ms, struct fetch_report *report)
{
    const json_t *id = json_object_get(product, "id");
    char cursor[CURSOR_MAX];
    char last[CURSOR_MAX] = "";
    int per_page = VARIANTS_PER_PAGE;
    int rc = RETAIL_OK;

    if (c == NULL || !json_is_string(id) || !next_cursor(first_page, cursor)) {
        return RETAIL_OK; /* no client: mapping only (shopify_graphql_map_page) */
    }
    while (json_array_size(all) < PRODUCT_VARIANTS_MAX) {
        json_t *data = NULL;
        const json_t *conn;

        rc = graphql(c, VARIANTS_QUERY,
                     json_pack("{s:O, s:i, s:s}", "id", id, "first", per_page, "after", cursor),
                     VARIANTS_COST(per_page), "product variants", deadline_ms, report, &data);
        if (rc == RETAIL_ERR_LIMIT && c->cost_exceeded && per_page > 1) {
            per_page /= 2; /* priced above what this code expects: ask for less */
            report->failure = FETCH_OK;
            report->error[0] = '\0';
            continue;
        }
        if (rc != RETAIL_OK) {
            return rc;
        }
        conn = json_object_get(json_object_get(data, "product"), "variants");
        json_array_extend(all, json_object_get(conn, "nodes"));
        memcpy(last, cursor, sizeof(last));
        if (!next_cursor(conn, cursor) || strcmp(cursor, last) == 0) {
            json_decref(data);
            break;
        }
        json_decref(data);
    }
    return rc;
}

/* One product (node, with all its variants) into builder. */
static int
add_product(struct catalog_builder *builder, const json_t *node, const json_t *variants,
            const char *currency, const char *where, struct fetch_report *report)
{
    json_t *product = json_is_object(node) ? rest_product(node, variants) : json_null();
    int rc;

    if (product == NULL) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
    }
    rc = catalog_builder_add_shopify(builder, product, currency[0] != '\0' ? currency : NULL);
    json_decref(product);
    if (rc == RETAIL_ERR_INVALID) {
        report->skipped++;
        return RETAIL_OK;
    }
    if (rc != RETAIL_OK) {
        return shopify_fail(report, FETCH_BAD_DATA, rc, "%s: %s", where, retail_status_str(rc));
    }
    return RETAIL_OK;
}

/* The products of one page into builder. */
static int
add_products(struct shopify_client *c, struct catalog_builder *builder, const json_t *nodes,
             const char *currency, unsigned page, int64_t deadline_ms, struct fetch_report *report)
{
    char where[32];
    size_t i;
    const json_t *node;

    snprintf(where, sizeof(where), "page %u", page);
    if (!json_is_array(nodes)) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                            "page %u: no products.nodes array", page);
    }
    json_array_foreach(nodes, i, node)
    {
        const json_t *conn = json_object_get(node, "variants");
        json_t *variants = json_array();
        int rc;

        if (variants == NULL) {
            return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
        }
        json_array_extend(variants, json_object_get(conn, "nodes"));
        rc = json_is_object(node) ? more_variants(c, node, conn, variants, deadline_ms, report)
                                  : RETAIL_OK;
        if (rc == RETAIL_OK) {
            rc = add_product(builder, node, variants, currency, where, report);
        }
        json_decref(variants);
        if (rc != RETAIL_OK) {
            return rc;
        }
    }
    return RETAIL_OK;
}

/* --- bulk operations ----------------------------------------------------- */

/* The result file, read line by line as it arrives: products in file
 * order, each holding its variants (in "__variants") as they come. */
struct bulk_reader {
    struct buf line;
    json_t *products; /* array */
    json_t *by_id;    /* product id -> the same objects */
    size_t lines;
    size_t orphans; /* variants whose product never came before them */
    char error[160];
};

static bool
bulk_line(struct bulk_reader *r, const char *text, size_t len)
{
    json_error_t error;
    json_t *row;
    const char *parent;
    const char *id;

    if (len == 0) {
        return true;
    }
    row = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object(row)) {
        snprintf(r->error, sizeof(r->error), "line %zu: %.100s", r->lines + 1,
                 row == NULL ? error.text : "not a JSON object");
        json_decref(row);
        return false;
    }
    r->lines++;
    parent = json_string_value(json_object_get(row, "__parentId"));
    if (parent != NULL) {
        json_t *product = json_object_get(r->by_id, parent);
        json_t *list = json_object_get(product, "__variants");

        if (product == NULL) {
            r->orphans++;
        } else if (list == NULL) {
            json_object_set_new(product, "__variants", json_pack("[O]", row));
        } else if (json_array_size(list) < PRODUCT_VARIANTS_MAX) {
            json_array_append(list, row);
        }
        json_decref(row);
        return true;
    }
    json_object_del(row, "__variants"); /* only the variant lines make that */
    id = json_string_value(json_object_get(row, "id"));
    if (id != NULL) {
        json_object_set(r->by_id, id, row);
    }
    return json_array_append_new(r->products, row) == 0;
}

static bool
bulk_sink(void *arg, const char *data, size_t len)
{
    struct bulk_reader *r = arg;

    while (len > 0) {
        const char *newline = memchr(data, '\n', len);
        size_t part = newline != NULL ? (size_t)(newline - data) : len;

        if (buf_append(&r->line, data, part) != RETAIL_OK) {
            snprintf(r->error, sizeof(r->error), "line %zu is longer than %u bytes", r->lines + 1,
                     BULK_LINE_MAX);
            return false;
        }
        if (newline == NULL) {
            return true;
        }
        if (!bulk_line(r, r->line.data, r->line.len)) {
            return false;
        }
        buf_reset(&r->line);
        data += part + 1;
        len -= part + 1;
    }
    return true;
}

static int
bulk_reader_init(struct bulk_reader *r, struct fetch_report *report)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->line, BULK_LINE_MAX);
    r->products = json_array();
    r->by_id = json_object();
    if (r->products == NULL || r->by_id == NULL) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
    }
    return RETAIL_OK;
}

/* After the last byte (rc: how the reading went): the last line, if it
 * had no newline, and what the reader refused. */
static int
bulk_reader_end(struct bulk_reader *r, int rc, struct fetch_report *report)
{
    if (rc == RETAIL_OK && r->line.len > 0 && !bulk_line(r, r->line.data, r->line.len)) {
        rc = RETAIL_ERR_PARSE;
    }
    if (rc != RETAIL_OK && r->error[0] != '\0') {
        rc = shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE, "bulk operation result: %s",
                          r->error);
    }
    buf_deinit(&r->line);
    json_decref(r->by_id); /* the products hold their variants */
    r->by_id = NULL;
    return rc;
}

static void
bulk_reader_deinit(struct bulk_reader *r)
{
    buf_deinit(&r->line);
    json_decref(r->by_id);
    json_decref(r->products);
    r->by_id = NULL;
    r->products = NULL;
}

/* The products read, each with its variants, into builder. */
static int
bulk_add(struct bulk_reader *r, struct catalog_builder *builder, const char *currency,
         struct fetch_report *report)
{
    size_t i;
    const json_t *product;

    json_array_foreach(r->products, i, product)
    {
        int rc = add_product(builder, product, json_object_get(product, "__variants"), currency,
                             "bulk operation result", report);

        if (rc != RETAIL_OK) {
            return rc;
        }
    }
    return RETAIL_OK;
}

/* Starts the bulk operation; its id into id. */
static int
bulk_start(struct shopify_client *c, char *id, size_t cap, int64_t deadline_ms,
           struct fetch_report *report)
{
    json_t *data = NULL;
    const json_t *payload;
    const json_t *errors;
    const char *got;
    int rc;

    rc = graphql(c, BULK_MUTATION, json_pack("{s:s}", "query", BULK_QUERY), 10,
                 "bulk operation start", deadline_ms, report, &data);
    if (rc != RETAIL_OK) {
        return rc;
    }
    payload = json_object_get(data, "bulkOperationRunQuery");
    errors = json_object_get(payload, "userErrors");
    got = json_string_value(json_object_get(json_object_get(payload, "bulkOperation"), "id"));
    if (json_array_size(errors) > 0 || got == NULL || strlen(got) >= cap) {
        char message[160];

        error_message(errors, message, sizeof(message));
        json_decref(data);
        log_warn("shopify", "bulk operation refused: %s", message);
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_UPSTREAM,
                            "bulk operation refused: %s", message);
    }
    memcpy(id, got, strlen(got) + 1);
    json_decref(data);
    return RETAIL_OK;
}

/* Polls the operation until it ends; its result URL into url ("" when it
 * found nothing). */
static int
bulk_wait(struct shopify_client *c, const char *id, char *url, size_t cap, int64_t deadline_ms,
          struct fetch_report *report)
{
    int64_t wait = BULK_POLL_FIRST_MS;
    int64_t started = clock_mono_ms();

    for (;;) {
        json_t *data = NULL;
        const json_t *op;
        const char *status;
        const char *code;
        const char *link;
        int rc;

        if (clock_mono_ms() + wait >= deadline_ms) {
            return shopify_fail(report, FETCH_TIMEOUT, RETAIL_ERR_TIMEOUT,
                                "bulk operation %s still running at the refresh deadline (after "
                                "%lld ms)",
                                id, (long long)(clock_mono_ms() - started));
        }
        report->paced_ms += wait;
        if (shopify_pause(c, wait, report) != RETAIL_OK) {
            return RETAIL_ERR_CANCELLED;
        }
        wait = wait * 3 / 2 < BULK_POLL_MAX_MS ? wait * 3 / 2 : BULK_POLL_MAX_MS;
        rc = graphql(c, BULK_STATUS_QUERY, json_pack("{s:s}", "id", id), 2, "bulk operation status",
                     deadline_ms, report, &data);
        if (rc != RETAIL_OK) {
            return rc;
        }
        op = json_object_get(data, "node");
        status = json_string_value(json_object_get(op, "status"));
        code = json_string_value(json_object_get(op, "errorCode"));
        link = json_string_value(json_object_get(op, "url"));
        if (status == NULL) {
            json_decref(data);
            return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                                "bulk operation %s: no status", id);
        }
        if (strcmp(status, "COMPLETED") == 0) {
            if (link != NULL && strlen(link) >= cap) {
                json_decref(data);
                return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_LIMIT,
                                    "bulk operation %s: result URL too long", id);
            }
            snprintf(url, cap, "%s", link != NULL ? link : "");
            log_info("shopify", "bulk operation %s completed in %lld ms", id,
                     (long long)(clock_mono_ms() - started));
            json_decref(data);
            return RETAIL_OK;
        }
        if (strcmp(status, "CREATED") != 0 && strcmp(status, "RUNNING") != 0) {
            bool denied = code != NULL && strcmp(code, "ACCESS_DENIED") == 0;
            int result;

            report->needs_person = denied;
            log_warn("shopify", "bulk operation %s ended %s (%s)", id, status,
                     code != NULL ? code : "no error code");
            result = shopify_fail(report, denied ? FETCH_REFUSED : FETCH_SERVER_ERROR,
                                  RETAIL_ERR_UPSTREAM, "bulk operation %s ended %s (%s)", id,
                                  status, code != NULL ? code : "no error code");
            json_decref(data);
            return result;
        }
        json_decref(data);
    }
}

/* The whole catalog with a bulk operation: start it, wait for it, read
 * its JSONL result as it downloads, then add the products. */
static int
bulk_fetch(struct shopify_client *c, struct catalog_builder *builder, const char *currency,
           int64_t deadline_ms, struct fetch_report *report)
{
    char id[256];
    char url[URL_MAX];
    struct bulk_reader r;
    int rc;

    rc = bulk_start(c, id, sizeof(id), deadline_ms, report);
    if (rc == RETAIL_OK) {
        log_info("shopify", "started bulk operation %s", id);
        rc = bulk_wait(c, id, url, sizeof(url), deadline_ms, report);
    }
    if (rc != RETAIL_OK || url[0] == '\0') {
        return rc; /* no URL: the operation found no product */
    }
    rc = bulk_reader_init(&r, report);
    if (rc == RETAIL_OK) {
        rc = shopify_download(c, url, bulk_sink, &r, BULK_FILE_MAX, "bulk operation result",
                              deadline_ms, report);
        rc = bulk_reader_end(&r, rc, report);
    }
    if (rc == RETAIL_OK) {
        log_info("shopify", "bulk operation %s: %zu lines, %zu products%s", id, r.lines,
                 json_array_size(r.products),
                 r.orphans > 0 ? ", some variants named no product read before them" : "");
        rc = bulk_add(&r, builder, currency, report);
    }
    bulk_reader_deinit(&r);
    return rc;
}

/* What reading one product by pages actually costs, about: the product,
 * its featured media's three objects, its variants connection and a
 * variant and its inventory item for each of a few variants (the mock,
 * which counts as Shopify documents, measures 12 to 13). */
#define POINTS_PER_PRODUCT 12.0

/* True when the store has more products than the bulk threshold, or when
 * paging through them at the bucket's restore rate would take more than
 * half the time the refresh has left (on a Standard plan, 100 points a
 * second, that is a few hundred products a minute). */
static int
wants_bulk(struct shopify_client *c, bool *bulk, int64_t deadline_ms, struct fetch_report *report)
{
    json_t *data = NULL;
    const json_t *count;
    const char *precision;
    int rc;

    *bulk = false;
    if (c->bulk_threshold == 0) {
        return RETAIL_OK;
    }
    rc = graphql(c, COUNT_QUERY, json_object(), 1, "products count", deadline_ms, report, &data);
    if (rc != RETAIL_OK) {
        return rc;
    }
    count = json_object_get(json_object_get(data, "productsCount"), "count");
    precision =
        json_string_value(json_object_get(json_object_get(data, "productsCount"), "precision"));
    /* Shopify counts up to a limit and then says AT_LEAST. */
    *bulk =
        json_is_integer(count) && ((unsigned long)json_integer_value(count) > c->bulk_threshold ||
                                   (precision != NULL && strcmp(precision, "AT_LEAST") == 0 &&
                                    (unsigned long)json_integer_value(count) >= c->bulk_threshold));
    if (*bulk) {
        log_info("shopify",
                 "%lld%s products, more than SHOPIFY_BULK_THRESHOLD (%lu): reading "
                 "them with a bulk operation",
                 (long long)json_integer_value(count),
                 precision != NULL && strcmp(precision, "AT_LEAST") == 0 ? " or more" : "",
                 c->bulk_threshold);
    } else if (json_is_integer(count) && c->cost_known) {
        double paging_ms =
            (double)json_integer_value(count) * POINTS_PER_PRODUCT * 1000.0 / c->cost_restore;

        if (paging_ms > (double)(deadline_ms - clock_mono_ms()) / 2) {
            log_info("shopify",
                     "%lld products would take about %.0f s to page through at %.0f points a "
                     "second, more than half the refresh deadline: reading them with a bulk "
                     "operation",
                     (long long)json_integer_value(count), paging_ms / 1000.0, c->cost_restore);
            *bulk = true;
        }
    }
    json_decref(data);
    return RETAIL_OK;
}

/* The shop's currency ("" when the answer has none). */
static int
shop_currency(struct shopify_client *c, char out[CURRENCY_MAX], int64_t deadline_ms,
              struct fetch_report *report)
{
    json_t *data = NULL;
    const char *code;
    int rc;

    out[0] = '\0';
    rc = graphql(c, SHOP_QUERY, json_object(), SHOP_COST, "shop", deadline_ms, report, &data);
    if (rc != RETAIL_OK) {
        return rc;
    }
    code = json_string_value(json_object_get(json_object_get(data, "shop"), "currencyCode"));
    if (code != NULL && strlen(code) < CURRENCY_MAX) {
        memcpy(out, code, strlen(code) + 1);
    }
    json_decref(data);
    return RETAIL_OK;
}

int
shopify_graphql_fetch(struct shopify_client *c, struct catalog_builder *builder,
                      int64_t deadline_ms, struct fetch_report *report)
{
    char currency[CURRENCY_MAX];
    char cursor[CURSOR_MAX] = "";
    uint64_t *seen = calloc(c->max_pages, sizeof(*seen));
    unsigned first = PRODUCTS_PER_PAGE;
    unsigned page = 1;
    int rc;

    if (seen == NULL) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
    }
    rc = shop_currency(c, currency, deadline_ms, report);
    if (rc == RETAIL_OK) {
        bool bulk;

        rc = wants_bulk(c, &bulk, deadline_ms, report);
        if (rc == RETAIL_OK && bulk) {
            free(seen);
            return bulk_fetch(c, builder, currency, deadline_ms, report);
        }
    }
    while (rc == RETAIL_OK) {
        /* "after": null on the first page. */
        json_t *vars = json_pack("{s:i, s:i, s:s?}", "first", (int)first, "variants",
                                 VARIANTS_PER_PRODUCT, "after", cursor[0] != '\0' ? cursor : NULL);
        json_t *data = NULL;
        const json_t *conn;
        char what[64];

        snprintf(what, sizeof(what), "products page %u", page);
        rc = graphql(c, PAGE_QUERY, vars, PAGE_COST(first, VARIANTS_PER_PRODUCT), what, deadline_ms,
                     report, &data);
        if (rc == RETAIL_ERR_LIMIT && c->cost_exceeded && first > 1) {
            first /= 2; /* priced above what this code expects: ask for less */
            log_info("shopify", "asking for %u products a page from now on", first);
            report->failure = FETCH_OK;
            report->error[0] = '\0';
            rc = RETAIL_OK;
            continue;
        }
        if (rc != RETAIL_OK) {
            break;
        }
        conn = json_object_get(data, "products");
        rc = add_products(c, builder, json_object_get(conn, "nodes"), currency, page, deadline_ms,
                          report);
        if (rc == RETAIL_OK && next_cursor(conn, cursor)) {
            rc = shopify_next_cursor(c, seen, page, cursor, "the cursor", report);
            page++;
            json_decref(data);
            continue;
        }
        json_decref(data);
        break;
    }
    free(seen);
    return rc;
}

int
shopify_graphql_map_page(struct catalog_builder *builder, const char *data, size_t len,
                         struct fetch_report *report)
{
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *conn = json_object_get(json_object_get(root, "data"), "products");
    int rc = add_products(NULL, builder, json_object_get(conn, "nodes"), "USD", 1, 0, report);

    json_decref(root);
    return rc;
}

int
shopify_graphql_map_bulk(struct catalog_builder *builder, const char *data, size_t len,
                         size_t chunk, struct fetch_report *report)
{
    struct bulk_reader r;
    int rc = bulk_reader_init(&r, report);

    if (chunk == 0) {
        chunk = 1;
    }
    for (size_t at = 0; rc == RETAIL_OK && at < len; at += chunk) {
        size_t n = len - at < chunk ? len - at : chunk;

        if (!bulk_sink(&r, data + at, n)) {
            rc = RETAIL_ERR_PARSE;
        }
    }
    rc = bulk_reader_end(&r, rc, report);
    if (rc == RETAIL_OK) {
        rc = bulk_add(&r, builder, "USD", report);
    }
    bulk_reader_deinit(&r);
    return rc;
}
