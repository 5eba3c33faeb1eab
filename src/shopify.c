/* SPDX-License-Identifier: MIT */
/* Shopify REST Admin API client on libcurl: products.json with Link paging. */
#include "retail/shopify.h"

#include "retail/clock.h"
#include "retail/link.h"
#include "retail/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINK_HEADER_MAX 8192
#define URL_MAX 2048
#define CURRENCY_MAX 8

struct shopify_client {
    char *base_url;
    char *api_version;
    long connect_timeout_ms;
    long timeout_ms;
    unsigned max_pages;
    CURL *curl;
    struct curl_slist *headers; /* holds the token: wiped before it is freed */
    atomic_bool cancelled;
    struct buf body;
    char link[LINK_HEADER_MAX];
    size_t link_len;
    bool link_overflow;
    char version_seen[32];
    char curl_error[CURL_ERROR_SIZE];
};

static size_t
on_body(char *data, size_t size, size_t count, void *arg)
{
    struct shopify_client *c = arg;
    size_t len = size * count;

    if (buf_append(&c->body, data, len) != RETAIL_OK) {
        return 0; /* over the cap: libcurl stops with CURLE_WRITE_ERROR */
    }
    return len;
}

/* Copies the value of a "Name: value\r\n" header line if its name is name. */
static bool
header_value(const char *line, size_t len, const char *name, const char **value, size_t *value_len)
{
    size_t n = strlen(name);
    const char *v;
    const char *end = line + len;

    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':') {
        return false;
    }
    v = line + n + 1;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
        end--;
    }
    *value = v;
    *value_len = (size_t)(end - v);
    return true;
}

static size_t
on_header(char *data, size_t size, size_t count, void *arg)
{
    struct shopify_client *c = arg;
    size_t len = size * count;
    const char *value;
    size_t vlen;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the last one's. */
        c->link_len = 0;
        c->link_overflow = false;
        c->version_seen[0] = '\0';
    } else if (header_value(data, len, "link", &value, &vlen)) {
        size_t sep = c->link_len > 0 ? 2 : 0;

        if (c->link_len + sep + vlen >= sizeof(c->link)) {
            c->link_overflow = true;
        } else {
            memcpy(c->link + c->link_len, ", ", sep);
            memcpy(c->link + c->link_len + sep, value, vlen);
            c->link_len += sep + vlen;
            c->link[c->link_len] = '\0';
        }
    } else if (header_value(data, len, "x-shopify-api-version", &value, &vlen) &&
               vlen < sizeof(c->version_seen)) {
        memcpy(c->version_seen, value, vlen);
        c->version_seen[vlen] = '\0';
    }
    return len;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct shopify_client *c = arg;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(&c->cancelled) ? 1 : 0;
}

static void
free_headers(struct curl_slist *headers)
{
    for (struct curl_slist *h = headers; h != NULL; h = h->next) {
        explicit_bzero(h->data, strlen(h->data));
    }
    curl_slist_free_all(headers);
}

struct shopify_client *
shopify_create(const struct shopify_settings *s)
{
    struct shopify_client *c = calloc(1, sizeof(*c));
    struct curl_slist *list = NULL;
    char *token_header = NULL;
    size_t token_len = strlen("X-Shopify-Access-Token: ") + strlen(s->token) + 1;

    if (c == NULL) {
        return NULL;
    }
    buf_init(&c->body, s->max_body_bytes);
    c->base_url = strdup(s->base_url);
    c->api_version = strdup(s->api_version);
    c->connect_timeout_ms = s->connect_timeout_ms;
    c->timeout_ms = s->timeout_ms;
    c->max_pages = s->max_pages;
    c->curl = curl_easy_init();
    token_header = malloc(token_len);
    if (c->base_url == NULL || c->api_version == NULL || c->curl == NULL || token_header == NULL) {
        goto fail;
    }
    snprintf(token_header, token_len, "X-Shopify-Access-Token: %s", s->token);
    list = curl_slist_append(NULL, token_header);
    explicit_bzero(token_header, token_len);
    free(token_header);
    if (list == NULL) {
        goto fail;
    }
    c->headers = list;
    list = curl_slist_append(c->headers, "Accept: application/json");
    if (list == NULL) {
        goto fail;
    }
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "retail-api/" RETAIL_VERSION);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max_body_bytes);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_error);
    return c;
fail:
    shopify_destroy(c);
    return NULL;
}

void
shopify_destroy(struct shopify_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }
    free_headers(c->headers);
    buf_deinit(&c->body);
    free(c->base_url);
    free(c->api_version);
    free(c);
}

void
shopify_cancel(struct shopify_client *c)
{
    atomic_store(&c->cancelled, true);
}

/* What a refused request means, in words a person can act on. */
static const char *
status_meaning(long status)
{
    switch (status) {
    case 401:
        return "the access token was refused";
    case 402:
        return "the shop is unavailable (payment required)";
    case 403:
        return "the token lacks the read_products scope";
    case 404:
        return "the shop or API version was not found";
    case 423:
        return "the shop is locked";
    case 429:
        return "rate limited";
    default:
        return status >= 500 ? "Shopify server error" : "unexpected status";
    }
}

/* One GET. RETAIL_OK only for a 200 whose body is in c->body. */
static int
shopify_get(struct shopify_client *c, const char *url, const char *what,
            struct fetch_report *report)
{
    int64_t started = clock_mono_ms();
    long status = 0;
    CURLcode code;
    int64_t took;

    if (atomic_load(&c->cancelled)) {
        snprintf(report->error, sizeof(report->error), "cancelled by shutdown");
        return RETAIL_ERR_CANCELLED;
    }
    buf_reset(&c->body);
    c->link_len = 0;
    c->link[0] = '\0';
    c->link_overflow = false;
    c->curl_error[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    code = curl_easy_perform(c->curl);
    took = clock_mono_ms() - started;
    report->requests++;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    report->http_status = (int)status;
    if (code == CURLE_OPERATION_TIMEDOUT) {
        log_warn("shopify",
                 "Shopify API TIMEOUT: GET %s after %lld ms (connect limit %ld ms, "
                 "request limit %ld ms): %s",
                 what, (long long)took, c->connect_timeout_ms, c->timeout_ms, c->curl_error);
        snprintf(report->error, sizeof(report->error), "timeout after %lld ms on %s",
                 (long long)took, what);
        return RETAIL_ERR_TIMEOUT;
    }
    if (code == CURLE_ABORTED_BY_CALLBACK) {
        snprintf(report->error, sizeof(report->error), "cancelled by shutdown");
        return RETAIL_ERR_CANCELLED;
    }
    if (code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED) {
        log_warn("shopify", "GET %s: body larger than %zu bytes, refused after %lld ms", what,
                 c->body.max, (long long)took);
        snprintf(report->error, sizeof(report->error), "response to %s larger than %zu bytes", what,
                 c->body.max);
        return RETAIL_ERR_LIMIT;
    }
    if (code != CURLE_OK) {
        const char *why = c->curl_error[0] != '\0' ? c->curl_error : curl_easy_strerror(code);

        log_warn("shopify", "GET %s failed after %lld ms: %s", what, (long long)took, why);
        snprintf(report->error, sizeof(report->error), "network error on %s: %.160s", what, why);
        return RETAIL_ERR_IO;
    }
    if (c->version_seen[0] != '\0' && strcmp(c->version_seen, c->api_version) != 0) {
        log_warn("shopify", "asked for API version %s, Shopify answered with %s", c->api_version,
                 c->version_seen);
    }
    if (status != 200) {
        /* Checked before parsing: error bodies are often HTML. */
        log_warn("shopify", "GET %s: HTTP %ld (%s) after %lld ms", what, status,
                 status_meaning(status), (long long)took);
        snprintf(report->error, sizeof(report->error), "HTTP %ld on %s: %s", status, what,
                 status_meaning(status));
        return RETAIL_ERR_UPSTREAM;
    }
    log_info("shopify", "GET %s: HTTP 200, %zu bytes in %lld ms", what, c->body.len,
             (long long)took);
    return RETAIL_OK;
}

/* The shop's currency from shop.json ("" when unknown). A refused or
 * unparsable answer is no reason to fail the refresh; a network failure or
 * timeout is, since products.json would go the same way. */
static int
fetch_currency(struct shopify_client *c, char out[CURRENCY_MAX], struct fetch_report *report)
{
    char url[URL_MAX];
    json_t *root;
    const char *code;
    int rc;

    out[0] = '\0';
    snprintf(url, sizeof(url), "%s/admin/api/%s/shop.json", c->base_url, c->api_version);
    rc = shopify_get(c, url, "shop.json", report);
    if (rc == RETAIL_ERR_UPSTREAM || rc == RETAIL_ERR_LIMIT) {
        report->error[0] = '\0';
        return RETAIL_OK;
    }
    if (rc != RETAIL_OK) {
        return rc;
    }
    root = json_loadb(c->body.data, c->body.len, 0, NULL);
    code = json_string_value(json_object_get(json_object_get(root, "shop"), "currency"));
    if (code != NULL && strlen(code) < CURRENCY_MAX) {
        memcpy(out, code, strlen(code) + 1);
    }
    json_decref(root);
    return RETAIL_OK;
}

/* Adds the products of the page in c->body. */
static int
add_page(struct shopify_client *c, struct catalog_builder *builder, const char *currency,
         unsigned page, struct fetch_report *report)
{
    json_error_t error;
    json_t *root = json_loadb(c->body.data != NULL ? c->body.data : "", c->body.len, 0, &error);
    const json_t *products = json_object_get(root, "products");
    const json_t *product;
    size_t i;
    int rc = RETAIL_OK;

    if (root == NULL) {
        snprintf(report->error, sizeof(report->error),
                 "page %u: invalid JSON at line %d column %d: %s", page, error.line, error.column,
                 error.text);
        rc = RETAIL_ERR_PARSE;
        goto out;
    }
    if (!json_is_array(products)) {
        snprintf(report->error, sizeof(report->error), "page %u: no \"products\" array", page);
        rc = RETAIL_ERR_PARSE;
        goto out;
    }
    json_array_foreach(products, i, product)
    {
        rc = catalog_builder_add_shopify(builder, product, currency[0] != '\0' ? currency : NULL);
        if (rc == RETAIL_ERR_INVALID) {
            report->skipped++;
            rc = RETAIL_OK;
        } else if (rc != RETAIL_OK) {
            snprintf(report->error, sizeof(report->error), "page %u: %s", page,
                     retail_status_str(rc));
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

/* FNV-1a of a page_info, to notice a Link that leads back to a page
 * already read (which would otherwise walk Shopify up to max_pages). */
static uint64_t
cursor_hash(const char *page_info)
{
    uint64_t h = 14695981039346656037ULL;

    for (const char *p = page_info; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    return h;
}

int
shopify_fetch_catalog(struct shopify_client *c, struct catalog_builder *builder,
                      struct fetch_report *report)
{
    char url[URL_MAX];
    char what[64];
    char page_info[LINK_PAGE_INFO_MAX];
    char currency[CURRENCY_MAX];
    uint64_t *seen = NULL;
    unsigned page;
    int rc;

    memset(report, 0, sizeof(*report));
    seen = calloc(c->max_pages, sizeof(*seen));
    if (seen == NULL) {
        snprintf(report->error, sizeof(report->error), "out of memory");
        return RETAIL_ERR_NOMEM;
    }
    rc = fetch_currency(c, currency, report);
    if (rc != RETAIL_OK) {
        goto out;
    }
    snprintf(url, sizeof(url), "%s/admin/api/%s/products.json?limit=%d", c->base_url,
             c->api_version, SHOPIFY_PAGE_LIMIT);
    for (page = 1; page <= c->max_pages; page++) {
        snprintf(what, sizeof(what), "products.json page %u", page);
        rc = shopify_get(c, url, what, report);
        if (rc == RETAIL_OK) {
            rc = add_page(c, builder, currency, page, report);
        }
        if (rc != RETAIL_OK) {
            goto out;
        }
        if (c->link_overflow) {
            snprintf(report->error, sizeof(report->error), "page %u: Link header too long", page);
            rc = RETAIL_ERR_PARSE;
            goto out;
        }
        rc = link_next_page_info(c->link, c->link_len, page_info, sizeof(page_info));
        if (rc == RETAIL_ERR_NOT_FOUND) {
            rc = RETAIL_OK;
            goto out;
        }
        if (rc != RETAIL_OK) {
            snprintf(report->error, sizeof(report->error),
                     "page %u: malformed Link header or page_info", page);
            rc = RETAIL_ERR_PARSE;
            goto out;
        }
        seen[page - 1] = cursor_hash(page_info);
        for (unsigned i = 0; i + 1 < page; i++) {
            if (seen[i] == seen[page - 1]) {
                snprintf(report->error, sizeof(report->error),
                         "page %u: the Link header leads back to a page already read", page);
                rc = RETAIL_ERR_PARSE;
                goto out;
            }
        }
        /* Shopify refuses other parameters beside page_info, limit aside. */
        snprintf(url, sizeof(url), "%s/admin/api/%s/products.json?limit=%d&page_info=%s",
                 c->base_url, c->api_version, SHOPIFY_PAGE_LIMIT, page_info);
    }
    snprintf(report->error, sizeof(report->error), "more than %u pages", c->max_pages);
    rc = RETAIL_ERR_LIMIT;
out:
    free(seen);
    return rc;
}

static int
source_fetch(void *ctx, struct catalog_builder *builder, struct fetch_report *report)
{
    return shopify_fetch_catalog(ctx, builder, report);
}

static void
source_cancel(void *ctx)
{
    shopify_cancel(ctx);
}

struct catalog_source
shopify_source(struct shopify_client *client)
{
    struct catalog_source source = {client, source_fetch, source_cancel};

    return source;
}
