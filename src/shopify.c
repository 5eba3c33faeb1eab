/* SPDX-License-Identifier: MIT */
/* Shopify Admin API client on libcurl: requests, pacing, retries, and
 * the REST transport (products.json and its Link paging). The GraphQL
 * transport is in shopify_graphql.c. */
#include "retail/shopify.h"

#include "shopify_internal.h"

#include "retail/clock.h"
#include "retail/link.h"
#include "retail/log.h"
#include "retail/random.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RETRY_BASE_MS 250

int64_t
shopify_retry_after_ms(const char *value, size_t len)
{
    char text[32];
    char *end;
    double seconds;

    if (len == 0 || len >= sizeof(text)) {
        return -1;
    }
    memcpy(text, value, len);
    text[len] = '\0';
    seconds = strtod(text, &end);
    while (*end == ' ') {
        end++;
    }
    if (end == text || *end != '\0' || !isfinite(seconds) || seconds < 0) {
        return -1;
    }
    return seconds > 86400 ? 86400000 : (int64_t)(seconds * 1000.0);
}

bool
shopify_call_limit(const char *value, size_t len, int *used, int *size)
{
    char text[32];
    int a, b, n = 0;

    if (len == 0 || len >= sizeof(text)) {
        return false;
    }
    memcpy(text, value, len);
    text[len] = '\0';
    if (sscanf(text, "%d/%d%n", &a, &b, &n) != 2 || n != (int)len || a < 0 || b <= 0 ||
        b > 100000) {
        return false;
    }
    *used = a;
    *size = b;
    return true;
}

static size_t
on_body(char *data, size_t size, size_t count, void *arg)
{
    struct shopify_client *c = arg;
    size_t len = size * count;

    if (c->sink != NULL) {
        return c->sink(c->sink_arg, data, len) ? len : 0;
    }
    if (buf_append(&c->body, data, len) != RETAIL_OK) {
        return 0; /* over the cap: libcurl stops with CURLE_WRITE_ERROR */
    }
    return len;
}

/* The value of a "Name: value\r\n" header line if its name is name. */
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

static void
copy_value(char *dst, size_t cap, const char *value, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
    }
    memcpy(dst, value, len);
    dst[len] = '\0';
}

static size_t
on_header(char *data, size_t size, size_t count, void *arg)
{
    struct shopify_client *c = arg;
    size_t len = size * count;
    const char *value;
    size_t vlen;
    int used, bucket;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the last one's. */
        c->link_len = 0;
        c->link_overflow = false;
        c->version_seen[0] = '\0';
        c->deprecated[0] = '\0';
        c->retry_after_ms = -1;
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
    } else if (header_value(data, len, "x-shopify-api-version", &value, &vlen)) {
        copy_value(c->version_seen, sizeof(c->version_seen), value, vlen);
    } else if (header_value(data, len, "x-shopify-api-deprecated-reason", &value, &vlen)) {
        copy_value(c->deprecated, sizeof(c->deprecated), value, vlen);
    } else if (header_value(data, len, "retry-after", &value, &vlen)) {
        c->retry_after_ms = shopify_retry_after_ms(value, vlen);
    } else if (header_value(data, len, "x-shopify-shop-api-call-limit", &value, &vlen) &&
               shopify_call_limit(value, vlen, &used, &bucket)) {
        c->bucket_used = used;
        c->bucket_size = bucket;
        c->bucket_seen_ms = clock_mono_ms();
    }
    return len;
}

static void
free_headers(struct curl_slist *headers)
{
    for (struct curl_slist *h = headers; h != NULL; h = h->next) {
        explicit_bzero(h->data, strlen(h->data));
    }
    curl_slist_free_all(headers);
}

/* The headers every request sends, after the token's when there is one. */
static struct curl_slist *
common_headers(struct curl_slist *list)
{
    struct curl_slist *more = curl_slist_append(list, "Accept: application/json");

    if (more == NULL || curl_slist_append(more, "Content-Type: application/json") == NULL) {
        free_headers(more != NULL ? more : list);
        return NULL;
    }
    return more;
}

/* Sends token from now on (the old one is wiped). */
static bool
set_token(struct shopify_client *c, const char *token, size_t token_len)
{
    size_t len = strlen("X-Shopify-Access-Token: ") + token_len + 1;
    char *line = malloc(len);
    struct curl_slist *list;

    if (line == NULL) {
        return false;
    }
    snprintf(line, len, "X-Shopify-Access-Token: %.*s", (int)token_len, token);
    list = common_headers(curl_slist_append(NULL, line));
    explicit_bzero(line, len);
    free(line);
    if (list == NULL) {
        return false;
    }
    free_headers(c->headers);
    c->headers = list;
    return true;
}

struct shopify_client *
shopify_create(const struct shopify_settings *s)
{
    struct shopify_client *c = calloc(1, sizeof(*c));
    CURL *h;

    if (c == NULL) {
        return NULL;
    }
    buf_init(&c->body, s->max_body_bytes);
    c->base_url = strdup(s->base_url);
    c->api_version = strdup(s->api_version);
    c->max_pages = s->max_pages;
    c->api = s->api;
    c->max_body_bytes = s->max_body_bytes;
    c->bulk_threshold = s->bulk_threshold;
    c->observe = s->observe;
    c->observe_arg = s->observe_arg;
    shopify_set_limits(c, s);
    c->retry_after_ms = -1;
    c->multi = curl_multi_init();
    c->easy = curl_easy_init();
    c->plain_headers = common_headers(NULL);
    if (c->base_url == NULL || c->api_version == NULL || c->multi == NULL || c->easy == NULL ||
        c->plain_headers == NULL) {
        goto fail;
    }
    if (s->client_id != NULL && s->client_secret != NULL) {
        c->client_id = strdup(s->client_id);
        c->client_secret = strdup(s->client_secret);
        if (c->client_id == NULL || c->client_secret == NULL) {
            goto fail;
        }
    } else if (s->token == NULL || !set_token(c, s->token, strlen(s->token))) {
        goto fail;
    }
    h = c->easy;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
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
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_error);
    return c;
fail:
    shopify_destroy(c);
    return NULL;
}

void
shopify_set_limits(struct shopify_client *c, const struct shopify_settings *s)
{
    atomic_store(&c->connect_timeout_ms, s->connect_timeout_ms);
    atomic_store(&c->timeout_ms, s->timeout_ms);
    atomic_store(&c->max_retries, (long)s->max_retries);
    atomic_store(&c->drain_per_ms, (s->calls_per_second > 0 ? s->calls_per_second : 2) / 1000.0);
}

void
shopify_destroy(struct shopify_client *c)
{
    if (c == NULL) {
        return;
    }
    if (c->easy != NULL) {
        curl_easy_cleanup(c->easy);
    }
    if (c->multi != NULL) {
        curl_multi_cleanup(c->multi);
    }
    free_headers(c->headers);
    free_headers(c->plain_headers);
    if (c->client_secret != NULL) {
        explicit_bzero(c->client_secret, strlen(c->client_secret));
    }
    free(c->client_secret);
    free(c->client_id);
    buf_deinit(&c->body);
    free(c->base_url);
    free(c->api_version);
    free(c);
}

void
shopify_cancel(struct shopify_client *c)
{
    atomic_store(&c->cancelled, true);
    curl_multi_wakeup(c->multi); /* thread-safe: ends a poll in progress */
}

int
shopify_pause(struct shopify_client *c, int64_t ms, struct fetch_report *report)
{
    int64_t until = clock_mono_ms() + ms;

    while (!atomic_load(&c->cancelled)) {
        int64_t left = until - clock_mono_ms();

        if (left <= 0) {
            return RETAIL_OK;
        }
        curl_multi_poll(c->multi, NULL, 0, (int)(left > 1000 ? 1000 : left), NULL);
    }
    return shopify_fail(report, FETCH_CANCELLED, RETAIL_ERR_CANCELLED, "cancelled by shutdown");
}

/* Runs the easy handle to completion through the multi handle, so that
 * shopify_cancel can interrupt it at once. */
static CURLcode
perform(struct shopify_client *c)
{
    CURLcode result = CURLE_OK;
    int running = 1;
    CURLMsg *msg;
    int left;

    if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK) {
        return CURLE_FAILED_INIT;
    }
    while (running) {
        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            break;
        }
        if (!running) {
            break;
        }
        if (atomic_load(&c->cancelled)) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
    while (result == CURLE_OK && (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            result = msg->data.result;
        }
    }
    curl_multi_remove_handle(c->multi, c->easy);
    return result;
}

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

static bool
needs_person(long status)
{
    return status == 401 || status == 402 || status == 403 || status == 404 || status == 423;
}

int
shopify_fail(struct fetch_report *report, enum fetch_failure failure, int rc, const char *fmt, ...)
{
    va_list ap;

    report->failure = failure;
    va_start(ap, fmt);
    vsnprintf(report->error, sizeof(report->error), fmt, ap);
    va_end(ap);
    return rc;
}

/* The wait (ms) until the estimated use of Shopify's bucket (the last
 * reported use, drained since) drops to target calls. */
static int64_t
drain_wait(const struct shopify_client *c, double target)
{
    double used = c->bucket_used -
                  (double)(clock_mono_ms() - c->bucket_seen_ms) * atomic_load(&c->drain_per_ms);

    return used + 1 <= target ? 0
                              : (int64_t)ceil((used + 1 - target) / atomic_load(&c->drain_per_ms));
}

/* Paces requests by Shopify's bucket: keeps half of it free when the
 * deadline allows, and never lets it overflow. */
static int
pace(struct shopify_client *c, int64_t deadline_ms, struct fetch_report *report)
{
    int64_t wait;

    if (c->bucket_size <= 0) {
        return RETAIL_OK;
    }
    wait = drain_wait(c, c->bucket_size / 2.0);
    if (wait > 0 && clock_mono_ms() + wait >= deadline_ms) {
        wait = drain_wait(c, c->bucket_size - 1.0); /* late: just below full */
    }
    if (wait == 0) {
        return RETAIL_OK;
    }
    if (clock_mono_ms() + wait >= deadline_ms) {
        return shopify_fail(report, FETCH_TIMEOUT, RETAIL_ERR_TIMEOUT,
                            "the refresh deadline leaves no time to wait for Shopify's call limit");
    }
    log_debug("shopify", "pacing: %d of %d calls in use, waiting %lld ms", c->bucket_used,
              c->bucket_size, (long long)wait);
    report->paced_ms += wait;
    return shopify_pause(c, wait, report);
}

static void
note_headers(struct shopify_client *c, const char *what)
{
    if (c->version_seen[0] != '\0' && strcmp(c->version_seen, c->api_version) != 0 &&
        !c->version_noted) {
        log_warn("shopify", "asked for API version %s, Shopify answered with %s (%s)",
                 c->api_version, c->version_seen, what);
        c->version_noted = true;
    }
    if (c->deprecated[0] != '\0' && !c->deprecation_noted) {
        log_warn("shopify", "Shopify reports a deprecated call on %s: %s", what, c->deprecated);
        c->deprecation_noted = true;
    }
}

#define METHOD(c) ((c)->post != NULL ? "POST" : "GET")

/* One request, bounded by timeout_ms. RETAIL_OK only for a 200 whose body
 * is in c->body; otherwise the report says what class of failure it was. */
static int
get_once_unobserved(struct shopify_client *c, const char *url, const char *what, int64_t timeout_ms,
                    struct fetch_report *report)
{
    int64_t started = clock_mono_ms();
    long status = 0;
    CURLcode code;
    int64_t took;

    buf_reset(&c->body);
    c->link_len = 0;
    c->link[0] = '\0';
    c->link_overflow = false;
    c->curl_error[0] = '\0';
    c->retry_after_ms = -1;
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->use_plain ? c->plain_headers : c->headers);
    if (c->post != NULL) {
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->post);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->post_len);
    } else {
        curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(atomic_load(&c->connect_timeout_ms) < timeout_ms
                                ? atomic_load(&c->connect_timeout_ms)
                                : timeout_ms));
    code = perform(c);
    took = clock_mono_ms() - started;
    report->requests++;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    report->http_status = (int)status;
    if (code == CURLE_ABORTED_BY_CALLBACK || atomic_load(&c->cancelled)) {
        return shopify_fail(report, FETCH_CANCELLED, RETAIL_ERR_CANCELLED, "cancelled by shutdown");
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
        log_warn("shopify",
                 "Shopify API TIMEOUT: %s %s after %lld ms (connect limit %ld ms, limit for "
                 "this request %lld ms): %s",
                 METHOD(c), what, (long long)took, atomic_load(&c->connect_timeout_ms),
                 (long long)timeout_ms, c->curl_error);
        return shopify_fail(report, FETCH_TIMEOUT, RETAIL_ERR_TIMEOUT,
                            "timeout after %lld ms on %s", (long long)took, what);
    }
    if (code == CURLE_WRITE_ERROR && c->sink != NULL) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                            "%s: refused while reading it", what);
    }
    if (code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED) {
        log_warn("shopify", "%s %s: body larger than %zu bytes, refused after %lld ms", METHOD(c),
                 what, c->body.max, (long long)took);
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_LIMIT,
                            "response to %s larger than %zu bytes", what, c->body.max);
    }
    if (code != CURLE_OK) {
        const char *why = c->curl_error[0] != '\0' ? c->curl_error : curl_easy_strerror(code);

        log_warn("shopify", "%s %s failed after %lld ms: %s", METHOD(c), what, (long long)took,
                 why);
        return shopify_fail(report, FETCH_NETWORK, RETAIL_ERR_IO, "network error on %s: %.160s",
                            what, why);
    }
    note_headers(c, what);
    if (status == 200) {
        curl_off_t size = 0;

        curl_easy_getinfo(c->easy, CURLINFO_SIZE_DOWNLOAD_T, &size);
        log_info("shopify", "%s %s: HTTP 200, %lld bytes in %lld ms", METHOD(c), what,
                 (long long)size, (long long)took);
        return RETAIL_OK;
    }
    /* Checked before any parsing: error bodies are often HTML. */
    log_warn("shopify", "%s %s: HTTP %ld (%s) after %lld ms", METHOD(c), what, status,
             status_meaning(status), (long long)took);
    if (status == 429) {
        /* The retry waits Retry-After; the bucket estimate stays what the
         * headers said, so pacing and Retry-After do not add up. */
        return shopify_fail(report, FETCH_RATE_LIMITED, RETAIL_ERR_UPSTREAM, "HTTP 429 on %s: %s",
                            what, status_meaning(status));
    }
    if (needs_person(status)) {
        report->needs_person = true;
        return shopify_fail(report, FETCH_REFUSED, RETAIL_ERR_UPSTREAM,
                            "HTTP %ld on %s: %s (needs a person)", status, what,
                            status_meaning(status));
    }
    return shopify_fail(report, status >= 500 ? FETCH_SERVER_ERROR : FETCH_HTTP_ERROR,
                        RETAIL_ERR_UPSTREAM, "HTTP %ld on %s: %s", status, what,
                        status_meaning(status));
}

/* get_once_unobserved, told to the observer. */
static int
get_once(struct shopify_client *c, const char *url, const char *what, int64_t timeout_ms,
         struct fetch_report *report)
{
    int64_t started = clock_mono_ms();
    int rc = get_once_unobserved(c, url, what, timeout_ms, report);

    if (c->observe != NULL) {
        c->observe(c->observe_arg, rc == RETAIL_OK ? FETCH_OK : report->failure,
                   clock_mono_ms() - started);
    }
    return rc;
}

static bool
retryable(enum fetch_failure failure)
{
    return failure == FETCH_TIMEOUT || failure == FETCH_NETWORK || failure == FETCH_SERVER_ERROR ||
           failure == FETCH_RATE_LIMITED;
}

static int renew_token(struct shopify_client *c, int64_t deadline_ms, struct fetch_report *report);

/* One request with pacing and bounded retries, inside deadline_ms. */
static int
call(struct shopify_client *c, const char *url, const char *what, int64_t deadline_ms,
     struct fetch_report *report)
{
    bool renewed = false;

    for (unsigned attempt = 0;; attempt++) {
        int64_t left, pause;
        int rc;

        if (atomic_load(&c->cancelled)) {
            return shopify_fail(report, FETCH_CANCELLED, RETAIL_ERR_CANCELLED,
                                "cancelled by shutdown");
        }
        rc = pace(c, deadline_ms, report);
        if (rc != RETAIL_OK) {
            return rc;
        }
        left = deadline_ms - clock_mono_ms();
        if (left <= 0) {
            return shopify_fail(report, FETCH_TIMEOUT, RETAIL_ERR_TIMEOUT,
                                "the refresh deadline passed before %s", what);
        }
        report->failure = FETCH_OK;
        rc = get_once(c, url, what,
                      left < atomic_load(&c->timeout_ms) ? left : atomic_load(&c->timeout_ms),
                      report);
        if (rc != RETAIL_OK && report->http_status == 401 && c->client_id != NULL &&
            !c->use_plain && !renewed) {
            /* A token from the grant was refused before its time: get
             * another, once, and ask again. */
            log_warn("shopify", "%s: the access token was refused; asking for a new one", what);
            renewed = true;
            report->needs_person = false;
            rc = renew_token(c, deadline_ms, report);
            if (rc != RETAIL_OK) {
                return rc;
            }
            attempt--;
            continue;
        }
        if (rc == RETAIL_OK || !retryable(report->failure) ||
            attempt >= (unsigned)atomic_load(&c->max_retries)) {
            return rc;
        }
        if (report->failure == FETCH_RATE_LIMITED && c->retry_after_ms >= 0) {
            pause = c->retry_after_ms < SHOPIFY_RETRY_AFTER_MAX_MS ? c->retry_after_ms
                                                                   : SHOPIFY_RETRY_AFTER_MAX_MS;
            pause += random_between(0, pause / 4 + 50);
        } else {
            pause = (int64_t)RETRY_BASE_MS << attempt;
            pause = pause / 2 + random_between(0, pause / 2);
        }
        if (clock_mono_ms() + pause >= deadline_ms) {
            return rc; /* no time left to try again */
        }
        log_info("shopify", "retrying %s %s in %lld ms (retry %u of %u)", METHOD(c), what,
                 (long long)pause, attempt + 1, (unsigned)atomic_load(&c->max_retries));
        report->retries++;
        if (shopify_pause(c, pause, report) != RETAIL_OK) {
            return RETAIL_ERR_CANCELLED;
        }
    }
}

int
shopify_call(struct shopify_client *c, const char *url, const char *post, size_t post_len,
             const char *what, int64_t deadline_ms, struct fetch_report *report)
{
    int rc;

    c->post = post;
    c->post_len = post_len;
    rc = call(c, url, what, deadline_ms, report);
    c->post = NULL;
    c->post_len = 0;
    return rc;
}

static int
get(struct shopify_client *c, const char *url, const char *what, int64_t deadline_ms,
    struct fetch_report *report)
{
    return shopify_call(c, url, NULL, 0, what, deadline_ms, report);
}

int
shopify_download(struct shopify_client *c, const char *url,
                 bool (*sink)(void *arg, const char *data, size_t len), void *arg, size_t max_bytes,
                 const char *what, int64_t deadline_ms, struct fetch_report *report)
{
    int rc;

    c->use_plain = true; /* the token is for Shopify, not for where the file is */
    c->sink = sink;
    c->sink_arg = arg;
    curl_easy_setopt(c->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
    rc = shopify_call(c, url, NULL, 0, what, deadline_ms, report);
    curl_easy_setopt(c->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body_bytes);
    c->sink = NULL;
    c->sink_arg = NULL;
    c->use_plain = false;
    return rc;
}

/* Asks for an access token with the client-credentials grant (POST
 * /admin/oauth/access_token with the client id and secret) and sends it
 * from then on. The token lives in the request headers only; it and the
 * answer that held it are wiped once read, and never logged. */
static int
renew_token(struct shopify_client *c, int64_t deadline_ms, struct fetch_report *report)
{
    char url[URL_MAX];
    json_t *request = json_pack("{s:s, s:s, s:s}", "client_id", c->client_id, "client_secret",
                                c->client_secret, "grant_type", "client_credentials");
    char *text = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    json_t *root = NULL;
    const json_t *token;
    const json_t *expires;
    int64_t lifetime_ms, margin_ms;
    int rc;

    if (request != NULL) {
        /* jansson copied the secret into request: wipe that copy too. */
        const char *copy = json_string_value(json_object_get(request, "client_secret"));

        explicit_bzero((char *)(uintptr_t)copy, strlen(copy));
    }
    json_decref(request);
    if (text == NULL) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
    }
    snprintf(url, sizeof(url), "%s/admin/oauth/access_token", c->base_url);
    c->use_plain = true;
    rc = shopify_call(c, url, text, strlen(text), "access token", deadline_ms, report);
    c->use_plain = false;
    explicit_bzero(text, strlen(text));
    free(text);
    if (rc != RETAIL_OK) {
        if (report->http_status == 400 || report->http_status == 401 ||
            report->http_status == 403) {
            report->needs_person = true;
            return shopify_fail(report, FETCH_REFUSED, rc,
                                "HTTP %d on the access token: the client credentials were "
                                "refused (needs a person: check SHOPIFY_CLIENT_ID and "
                                "SHOPIFY_CLIENT_SECRET, and that the app is installed)",
                                report->http_status);
        }
        return rc;
    }
    root = json_loadb(c->body.data != NULL ? c->body.data : "", c->body.len, 0, NULL);
    if (c->body.data != NULL) {
        explicit_bzero(c->body.data, c->body.len);
    }
    token = json_object_get(root, "access_token");
    expires = json_object_get(root, "expires_in");
    if (!json_is_string(token) || json_string_length(token) == 0 ||
        json_string_length(token) > 4096 ||
        strspn(json_string_value(token), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789-_.~+/=") != json_string_length(token)) {
        json_decref(root);
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                            "the access token answer holds no usable access_token");
    }
    if (!set_token(c, json_string_value(token), json_string_length(token))) {
        explicit_bzero((char *)(uintptr_t)json_string_value(token), json_string_length(token));
        json_decref(root);
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
    }
    explicit_bzero((char *)(uintptr_t)json_string_value(token), json_string_length(token));
    /* Renewed a tenth of its life before it ends (at least a minute, at
     * most half of it); without expires_in, only when refused. */
    lifetime_ms = json_is_integer(expires) && json_integer_value(expires) > 0
                      ? (int64_t)json_integer_value(expires) * 1000
                      : INT64_MAX / 4;
    margin_ms = lifetime_ms / 10 > 60000 ? lifetime_ms / 10 : 60000;
    if (margin_ms > lifetime_ms / 2) {
        margin_ms = lifetime_ms / 2;
    }
    c->token_renew_at_ms = clock_mono_ms() + lifetime_ms - margin_ms;
    if (json_is_integer(expires)) {
        log_info("shopify",
                 "obtained an access token (client-credentials grant), valid for %lld s; "
                 "renewing it in %lld s",
                 (long long)(lifetime_ms / 1000), (long long)((lifetime_ms - margin_ms) / 1000));
    } else {
        log_info("shopify", "obtained an access token (client-credentials grant), no expiry given");
    }
    json_decref(root);
    return RETAIL_OK;
}

/* A token from the grant when there is none yet or it is due for renewal. */
static int
ensure_token(struct shopify_client *c, int64_t deadline_ms, struct fetch_report *report)
{
    if (c->client_id == NULL ||
        (c->token_renew_at_ms != 0 && clock_mono_ms() < c->token_renew_at_ms)) {
        return RETAIL_OK;
    }
    return renew_token(c, deadline_ms, report);
}

/* The shop's currency from shop.json ("" when unknown). A refusal that is
 * about this resource alone (403, 404, another 4xx, bad JSON) only loses
 * the currency; anything that would fail products.json too fails now. */
static int
fetch_currency(struct shopify_client *c, char out[CURRENCY_MAX], int64_t deadline_ms,
               struct fetch_report *report)
{
    char url[URL_MAX];
    json_t *root;
    const char *code;
    int rc;

    out[0] = '\0';
    snprintf(url, sizeof(url), "%s/admin/api/%s/shop.json", c->base_url, c->api_version);
    rc = get(c, url, "shop.json", deadline_ms, report);
    if (rc != RETAIL_OK) {
        bool local = report->failure == FETCH_HTTP_ERROR || report->failure == FETCH_BAD_DATA ||
                     (report->failure == FETCH_REFUSED &&
                      (report->http_status == 403 || report->http_status == 404));

        if (!local) {
            return rc;
        }
        report->failure = FETCH_OK;
        report->needs_person = false;
        report->error[0] = '\0';
        return RETAIL_OK;
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
    /* Duplicate keys are refused: which one counts is up to the parser. */
    json_t *root = json_loadb(c->body.data != NULL ? c->body.data : "", c->body.len,
                              JSON_REJECT_DUPLICATES, &error);
    const json_t *products = json_object_get(root, "products");
    const json_t *product;
    size_t i;
    int rc = RETAIL_OK;

    if (root == NULL) {
        rc = shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                          "page %u: invalid JSON at line %d column %d: %s", page, error.line,
                          error.column, error.text);
        goto out;
    }
    if (!json_is_array(products)) {
        rc = shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                          "page %u: no \"products\" array", page);
        goto out;
    }
    json_array_foreach(products, i, product)
    {
        rc = catalog_builder_add_shopify(builder, product, currency[0] != '\0' ? currency : NULL);
        if (rc == RETAIL_ERR_INVALID) {
            report->skipped++;
            rc = RETAIL_OK;
        } else if (rc != RETAIL_OK) {
            rc = shopify_fail(report, FETCH_BAD_DATA, rc, "page %u: %s", page,
                              retail_status_str(rc));
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

int
shopify_next_cursor(const struct shopify_client *c, uint64_t *seen, unsigned page,
                    const char *cursor, const char *via, struct fetch_report *report)
{
    /* FNV-1a of the cursor: a cursor that leads back to a page already
     * read would otherwise walk Shopify up to max_pages. */
    uint64_t h = 14695981039346656037ULL;

    for (const char *p = cursor; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
    }
    seen[page - 1] = h;
    for (unsigned i = 0; i + 1 < page; i++) {
        if (seen[i] == h) {
            return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                                "page %u: %s leads back to a page already read", page, via);
        }
    }
    if (page >= c->max_pages) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_LIMIT,
                            "more than %u pages (SHOPIFY_MAX_PAGES)", c->max_pages);
    }
    return RETAIL_OK;
}

/* The next page's URL into url, or RETAIL_ERR_NOT_FOUND after the last. */
static int
next_page(struct shopify_client *c, unsigned page, uint64_t *seen, char *url, size_t cap,
          struct fetch_report *report)
{
    char page_info[LINK_PAGE_INFO_MAX];
    int rc;

    if (c->link_overflow) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                            "page %u: Link header too long", page);
    }
    rc = link_next_page_info(c->link, c->link_len, page_info, sizeof(page_info));
    if (rc == RETAIL_ERR_NOT_FOUND) {
        return rc;
    }
    if (rc != RETAIL_OK) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_PARSE,
                            "page %u: malformed Link header or page_info", page);
    }
    rc = shopify_next_cursor(c, seen, page, page_info, "the Link header", report);
    if (rc != RETAIL_OK) {
        return rc;
    }
    /* Shopify refuses other parameters beside page_info, limit aside. */
    snprintf(url, cap, "%s/admin/api/%s/products.json?limit=%d&page_info=%s", c->base_url,
             c->api_version, SHOPIFY_PAGE_LIMIT, page_info);
    return RETAIL_OK;
}

/* The REST transport: products.json, page after page. */
static int
rest_fetch(struct shopify_client *c, struct catalog_builder *builder, int64_t deadline_ms,
           struct fetch_report *report)
{
    char url[URL_MAX];
    char what[64];
    char currency[CURRENCY_MAX];
    uint64_t *seen = NULL;
    int rc;

    seen = calloc(c->max_pages, sizeof(*seen));
    if (seen == NULL) {
        return shopify_fail(report, FETCH_BAD_DATA, RETAIL_ERR_NOMEM, "out of memory");
    }
    rc = fetch_currency(c, currency, deadline_ms, report);
    snprintf(url, sizeof(url), "%s/admin/api/%s/products.json?limit=%d", c->base_url,
             c->api_version, SHOPIFY_PAGE_LIMIT);
    for (unsigned page = 1; rc == RETAIL_OK; page++) {
        snprintf(what, sizeof(what), "products.json page %u", page);
        rc = get(c, url, what, deadline_ms, report);
        if (rc == RETAIL_OK) {
            rc = add_page(c, builder, currency, page, report);
        }
        if (rc == RETAIL_OK) {
            rc = next_page(c, page, seen, url, sizeof(url), report);
            if (rc == RETAIL_ERR_NOT_FOUND) {
                rc = RETAIL_OK;
                break;
            }
        }
    }
    free(seen);
    return rc;
}

int
shopify_fetch_catalog(struct shopify_client *c, struct catalog_builder *builder,
                      int64_t deadline_ms, struct fetch_report *report)
{
    int rc;

    memset(report, 0, sizeof(*report));
    c->version_noted = false;
    c->deprecation_noted = false;
    rc = ensure_token(c, deadline_ms, report);
    if (rc == RETAIL_OK) {
        rc = c->api == SHOPIFY_API_GRAPHQL ? shopify_graphql_fetch(c, builder, deadline_ms, report)
                                           : rest_fetch(c, builder, deadline_ms, report);
    }
    /* The last answer's buffer (up to max_body_bytes after a hostile
     * answer) is not kept between refreshes. */
    buf_deinit(&c->body);
    if (rc == RETAIL_OK) {
        report->failure = FETCH_OK;
        report->error[0] = '\0';
    }
    return rc;
}

static int
source_fetch(void *ctx, struct catalog_builder *builder, int64_t deadline_ms,
             struct fetch_report *report)
{
    return shopify_fetch_catalog(ctx, builder, deadline_ms, report);
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
