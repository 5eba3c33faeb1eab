/* SPDX-License-Identifier: MIT */
/* Product mapping into the answer shape, with prices kept as exact decimals. */
#include "retail/product.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A product on its way out. Strings are *borrowed* from the source JSON. */
struct variant_fields {
    char id[PRODUCT_ID_MAX];
    const char *title;
    const char *sku;               /* NULL writes null */
    char price[PRODUCT_PRICE_MAX]; /* "" writes null */
    int64_t inventory_quantity;
};

struct product_fields {
    char id[PRODUCT_ID_MAX];
    const char *title;
    const char *handle;
    const char *description;
    const char *vendor;
    const char *category;
    const char *tags_csv;     /* Shopify: "a, b, c" */
    const json_t *tags_array; /* answer shape: ["a", "b"] */
    const char *status;
    char price[PRODUCT_PRICE_MAX];
    char compare_at_price[PRODUCT_PRICE_MAX];
    const char *currency;
    const char *image_url;
    bool in_stock;
    int64_t inventory_quantity;
    struct variant_fields *variants;
    size_t variant_count;
};

bool
product_price_valid(const char *text)
{
    const char *p = text;

    if (strlen(text) >= PRODUCT_PRICE_MAX) {
        return false;
    }
    if (*p == '-') {
        p++;
    }
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (isdigit((unsigned char)*p)) {
            p++;
        }
        if (p - text - (text[0] == '-') > PRODUCT_PRICE_DIGITS) {
            return false;
        }
    } else {
        return false;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    return *p == '\0';
}

static bool
all_digits(const char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool
product_id_text(const json_t *id, char out[PRODUCT_ID_MAX])
{
    if (json_is_integer(id)) {
        json_int_t value = json_integer_value(id);

        if (value <= 0) {
            return false;
        }
        snprintf(out, PRODUCT_ID_MAX, "%" JSON_INTEGER_FORMAT, value);
        return true;
    }
    if (json_is_string(id)) {
        const char *text = json_string_value(id);
        size_t len = json_string_length(id);
        const char *slash;

        if (strncmp(text, "gid://shopify/", 14) == 0 && (slash = strrchr(text, '/')) != NULL) {
            len -= (size_t)(slash + 1 - text);
            text = slash + 1;
        }
        if (len >= PRODUCT_ID_MAX || !all_digits(text, len) || (len > 1 && text[0] == '0')) {
            return false;
        }
        memcpy(out, text, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

static const char *
string_or_null(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key)); /* NULL unless a string */
}

/* 10^PRODUCT_PRICE_DIGITS: the first price too large to write. */
#define PRICE_LIMIT 1000000000000000LL

/* Copies a Shopify price (a decimal string, or a JSON number for older
 * payloads) into out as text; leaves out empty when there is none. */
static void
price_text(const json_t *value, char out[PRODUCT_PRICE_MAX])
{
    out[0] = '\0';
    /* A negative price (even "-0") is not a price a catalog shows: null. */
    if (json_is_string(value) && product_price_valid(json_string_value(value)) &&
        json_string_value(value)[0] != '-') {
        memcpy(out, json_string_value(value), json_string_length(value) + 1);
    } else if (json_is_integer(value) && json_integer_value(value) >= 0 &&
               json_integer_value(value) < PRICE_LIMIT) {
        snprintf(out, PRODUCT_PRICE_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
    } else if (json_is_real(value) && isfinite(json_real_value(value)) &&
               !signbit(json_real_value(value)) && json_real_value(value) < PRICE_LIMIT) {
        double d = json_real_value(value);

        /* The shortest fixed-point text that reads back as the same double,
         * so 29.99 stays 29.99 and 30.0 becomes 30; exponent form only for
         * tiny values that fixed point cannot hold in the buffer. */
        for (int digits = 0; digits <= 12; digits++) {
            int n = snprintf(out, PRODUCT_PRICE_MAX, "%.*f", digits, d);

            if (n > 0 && n < PRODUCT_PRICE_MAX && strtod(out, NULL) == d) {
                return;
            }
        }
        snprintf(out, PRODUCT_PRICE_MAX, "%.17g", d);
    }
}

static int
json_key(struct buf *out, const char *literal)
{
    return buf_append_str(out, literal);
}

static void
write_string_or(struct buf *out, const char *value, const char *absent)
{
    if (value != NULL) {
        buf_append_json_string(out, value, strlen(value));
    } else {
        buf_append_str(out, absent);
    }
}

static void
write_number_text(struct buf *out, const char *text)
{
    buf_append_str(out, text[0] != '\0' ? text : "null");
}

/* Splits Shopify's comma-separated tags, trimming blanks, dropping empties. */
static void
write_tags_csv(struct buf *out, const char *csv)
{
    bool first = true;
    const char *p = csv;

    while (*p != '\0') {
        const char *start, *end;

        while (*p == ' ' || *p == ',' || *p == '\t') {
            p++;
        }
        start = p;
        while (*p != '\0' && *p != ',') {
            p++;
        }
        end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if (end > start) {
            if (!first) {
                buf_append(out, ",", 1);
            }
            buf_append_json_string(out, start, (size_t)(end - start));
            first = false;
        }
    }
}

static bool
short_enough(const char *text, size_t max)
{
    return text == NULL || strnlen(text, max + 1) <= max;
}

/* False when a field is too long or there are too many tags. */
static bool
fields_fit(const struct product_fields *p)
{
    const char *texts[] = {p->title,  p->handle,    p->vendor,  p->category,
                           p->status, p->image_url, p->currency};
    size_t tags = 0;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        if (!short_enough(texts[i], PRODUCT_TEXT_MAX)) {
            return false;
        }
    }
    if (!short_enough(p->description, PRODUCT_DESCRIPTION_MAX) ||
        !short_enough(p->tags_csv, PRODUCT_TAGS_MAX * (PRODUCT_TEXT_MAX + 2))) {
        return false;
    }
    if (p->tags_csv != NULL) {
        for (const char *c = p->tags_csv; *c != '\0'; c++) {
            tags += *c == ',';
        }
        tags++;
    } else if (p->tags_array != NULL) {
        tags = json_array_size(p->tags_array);
    }
    for (size_t i = 0; i < p->variant_count; i++) {
        if (!short_enough(p->variants[i].title, PRODUCT_TEXT_MAX) ||
            !short_enough(p->variants[i].sku, PRODUCT_TEXT_MAX)) {
            return false;
        }
    }
    return tags <= PRODUCT_TAGS_MAX;
}

static int
product_write(const struct product_fields *p, struct buf *out)
{
    size_t i;

    if (!fields_fit(p)) {
        return RETAIL_ERR_INVALID;
    }
    json_key(out, "{\"id\":");
    buf_append_json_string(out, p->id, strlen(p->id));
    json_key(out, ",\"title\":");
    write_string_or(out, p->title, "\"\"");
    json_key(out, ",\"handle\":");
    write_string_or(out, p->handle, "\"\"");
    json_key(out, ",\"description\":");
    write_string_or(out, p->description, "\"\"");
    json_key(out, ",\"vendor\":");
    write_string_or(out, p->vendor, "\"\"");
    json_key(out, ",\"category\":");
    write_string_or(out, p->category, "\"\"");
    json_key(out, ",\"tags\":[");
    if (p->tags_csv != NULL) {
        write_tags_csv(out, p->tags_csv);
    } else if (p->tags_array != NULL) {
        for (i = 0; i < json_array_size(p->tags_array); i++) {
            const json_t *tag = json_array_get(p->tags_array, i);

            if (i > 0) {
                buf_append(out, ",", 1);
            }
            buf_append_json_string(out, json_string_value(tag), json_string_length(tag));
        }
    }
    json_key(out, "],\"status\":");
    write_string_or(out, p->status, "\"active\"");
    json_key(out, ",\"price\":");
    write_number_text(out, p->price);
    json_key(out, ",\"compare_at_price\":");
    write_number_text(out, p->compare_at_price);
    json_key(out, ",\"currency\":");
    write_string_or(out, p->currency, "null");
    json_key(out, ",\"image_url\":");
    write_string_or(out, p->image_url, "null");
    json_key(out, p->in_stock ? ",\"in_stock\":true" : ",\"in_stock\":false");
    json_key(out, ",\"inventory_quantity\":");
    buf_append_int(out, p->inventory_quantity);
    json_key(out, ",\"variants\":[");
    for (i = 0; i < p->variant_count; i++) {
        const struct variant_fields *v = &p->variants[i];

        json_key(out, i == 0 ? "{\"id\":" : ",{\"id\":");
        buf_append_json_string(out, v->id, strlen(v->id));
        json_key(out, ",\"title\":");
        write_string_or(out, v->title, "\"\"");
        json_key(out, ",\"sku\":");
        write_string_or(out, v->sku, "null");
        json_key(out, ",\"price\":");
        write_number_text(out, v->price);
        json_key(out, ",\"inventory_quantity\":");
        buf_append_int(out, v->inventory_quantity);
        buf_append(out, "}", 1);
    }
    return buf_append(out, "]}", 2);
}

static const char *
image_url_of(const json_t *src)
{
    const json_t *image = json_object_get(src, "image");
    const json_t *images = json_object_get(src, "images");
    const char *url = json_is_object(image) ? string_or_null(image, "src") : NULL;

    if (url == NULL && json_is_array(images) && json_array_size(images) > 0) {
        url = string_or_null(json_array_get(images, 0), "src");
    }
    return url;
}

/* The currency of a Shopify variant's price: the presentment price whose
 * amount matches it, else the first presentment price's currency. */
static const char *
variant_currency(const json_t *variant, const char *price)
{
    const json_t *list = json_object_get(variant, "presentment_prices");
    const char *first = NULL;
    size_t i;
    const json_t *entry;

    json_array_foreach(list, i, entry)
    {
        const json_t *money = json_object_get(entry, "price");
        const char *code = string_or_null(money, "currency_code");
        const char *amount = string_or_null(money, "amount");

        if (code == NULL) {
            continue;
        }
        if (amount != NULL && strcmp(amount, price) == 0) {
            return code;
        }
        if (first == NULL) {
            first = code;
        }
    }
    return first;
}

static int64_t
clamp_quantity(const json_t *value)
{
    json_int_t q = json_integer_value(value); /* 0 unless an integer */

    if (q > INT32_MAX) {
        return INT32_MAX;
    }
    if (q < INT32_MIN) {
        return INT32_MIN;
    }
    return (int64_t)q;
}

/* Fills the variant list, lowest price, stock and currency from Shopify's
 * variants. Variants without a usable id are left out. */
static int
shopify_variants(const json_t *src, struct product_fields *p, const char **currency)
{
    const json_t *variants = json_object_get(src, "variants");
    size_t n = json_array_size(variants);
    double lowest = 0;
    size_t i;

    if (n > PRODUCT_VARIANTS_MAX) {
        n = PRODUCT_VARIANTS_MAX;
    }
    if (n == 0) {
        return RETAIL_OK;
    }
    p->variants = calloc(n, sizeof(*p->variants));
    if (p->variants == NULL) {
        return RETAIL_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        const json_t *v = json_array_get(variants, i);
        struct variant_fields *out = &p->variants[p->variant_count];
        const char *policy = string_or_null(v, "inventory_policy");
        const json_t *managed = json_object_get(v, "inventory_management");

        if (!json_is_object(v) || !product_id_text(json_object_get(v, "id"), out->id)) {
            continue;
        }
        out->title = string_or_null(v, "title");
        out->sku = string_or_null(v, "sku");
        price_text(json_object_get(v, "price"), out->price);
        out->inventory_quantity = clamp_quantity(json_object_get(v, "inventory_quantity"));
        p->inventory_quantity += out->inventory_quantity;
        /* Sellable if stock is positive, the variant is not tracked, or
         * it may be sold when out of stock. */
        if (out->inventory_quantity > 0 || (managed != NULL && json_is_null(managed)) ||
            (policy != NULL && strcmp(policy, "continue") == 0)) {
            p->in_stock = true;
        }
        if (out->price[0] != '\0') {
            double value = strtod(out->price, NULL);

            if (p->price[0] == '\0' || value < lowest) {
                lowest = value;
                memcpy(p->price, out->price, sizeof(p->price));
                price_text(json_object_get(v, "compare_at_price"), p->compare_at_price);
                *currency = variant_currency(v, out->price);
            }
        }
        p->variant_count++;
    }
    return RETAIL_OK;
}

int
product_from_shopify(const json_t *src, const char *shop_currency, struct buf *out,
                     struct product_key *key)
{
    struct product_fields p;
    const char *variant_cur = NULL;
    int rc;

    memset(&p, 0, sizeof(p));
    if (!json_is_object(src) || !product_id_text(json_object_get(src, "id"), p.id)) {
        return RETAIL_ERR_INVALID;
    }
    p.title = string_or_null(src, "title");
    p.handle = string_or_null(src, "handle");
    p.description = string_or_null(src, "body_html");
    p.vendor = string_or_null(src, "vendor");
    p.category = string_or_null(src, "product_type");
    p.tags_csv = string_or_null(src, "tags");
    p.status = string_or_null(src, "status");
    p.image_url = image_url_of(src);
    rc = shopify_variants(src, &p, &variant_cur);
    if (rc == RETAIL_OK) {
        p.currency = shop_currency != NULL ? shop_currency : variant_cur;
        rc = product_write(&p, out);
    }
    if (rc == RETAIL_OK) {
        memcpy(key->id, p.id, sizeof(key->id));
        key->category = p.category;
    }
    free(p.variants);
    return rc;
}

/* Type checks for the answer shape. Each returns false and fills err. */
static bool
want_string(const json_t *obj, const char *field, bool nullable, const char **out, const char *who,
            char *err, size_t errlen)
{
    const json_t *value = json_object_get(obj, field);

    *out = NULL;
    if (value == NULL || (nullable && json_is_null(value))) {
        return true;
    }
    if (!json_is_string(value)) {
        snprintf(err, errlen, "%s: \"%s\" must be a string%s", who, field,
                 nullable ? " or null" : "");
        return false;
    }
    *out = json_string_value(value);
    return true;
}

static bool
want_price(const json_t *obj, const char *field, char out[PRODUCT_PRICE_MAX], const char *who,
           char *err, size_t errlen)
{
    const json_t *value = json_object_get(obj, field);

    out[0] = '\0';
    if (value == NULL || json_is_null(value)) {
        return true;
    }
    price_text(value, out);
    if (out[0] == '\0' || strtod(out, NULL) < 0) {
        snprintf(err, errlen, "%s: \"%s\" must be a non-negative number below 10^15, or null", who,
                 field);
        return false;
    }
    return true;
}

static bool
want_quantity(const json_t *obj, int64_t *out, const char *who, char *err, size_t errlen)
{
    const json_t *value = json_object_get(obj, "inventory_quantity");

    *out = 0;
    if (value == NULL) {
        return true;
    }
    if (!json_is_integer(value)) {
        snprintf(err, errlen, "%s: \"inventory_quantity\" must be an integer", who);
        return false;
    }
    *out = clamp_quantity(value);
    return true;
}

static bool
answer_variants(const json_t *src, struct product_fields *p, char *err, size_t errlen)
{
    const json_t *variants = json_object_get(src, "variants");
    char who[128];
    size_t i;

    if (variants == NULL) {
        return true;
    }
    if (!json_is_array(variants) || json_array_size(variants) > PRODUCT_VARIANTS_MAX) {
        snprintf(err, errlen, "product %s: \"variants\" must be an array of at most %d", p->id,
                 PRODUCT_VARIANTS_MAX);
        return false;
    }
    p->variants = calloc(json_array_size(variants) + 1, sizeof(*p->variants));
    if (p->variants == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (i = 0; i < json_array_size(variants); i++) {
        const json_t *v = json_array_get(variants, i);
        struct variant_fields *out = &p->variants[i];

        snprintf(who, sizeof(who), "product %s variant %zu", p->id, i + 1);
        if (!json_is_object(v) || !product_id_text(json_object_get(v, "id"), out->id)) {
            snprintf(err, errlen, "%s: must be an object with a numeric \"id\"", who);
            return false;
        }
        if (!want_string(v, "title", false, &out->title, who, err, errlen) ||
            !want_string(v, "sku", true, &out->sku, who, err, errlen) ||
            !want_price(v, "price", out->price, who, err, errlen) ||
            !want_quantity(v, &out->inventory_quantity, who, err, errlen)) {
            return false;
        }
        p->variant_count++;
    }
    return true;
}

int
product_from_answer(const json_t *src, struct buf *out, struct product_key *key, char *err,
                    size_t errlen)
{
    struct product_fields p;
    const json_t *tags, *in_stock;
    char who[128];
    int rc = RETAIL_ERR_INVALID;
    size_t i;

    memset(&p, 0, sizeof(p));
    if (!json_is_object(src) || !product_id_text(json_object_get(src, "id"), p.id)) {
        snprintf(err, errlen, "must be an object with a numeric \"id\"");
        goto out;
    }
    snprintf(who, sizeof(who), "product %s", p.id);
    if (!want_string(src, "title", false, &p.title, who, err, errlen) ||
        !want_string(src, "handle", false, &p.handle, who, err, errlen) ||
        !want_string(src, "description", true, &p.description, who, err, errlen) ||
        !want_string(src, "vendor", true, &p.vendor, who, err, errlen) ||
        !want_string(src, "category", true, &p.category, who, err, errlen) ||
        !want_string(src, "status", false, &p.status, who, err, errlen) ||
        !want_string(src, "currency", true, &p.currency, who, err, errlen) ||
        !want_string(src, "image_url", true, &p.image_url, who, err, errlen) ||
        !want_price(src, "price", p.price, who, err, errlen) ||
        !want_price(src, "compare_at_price", p.compare_at_price, who, err, errlen) ||
        !want_quantity(src, &p.inventory_quantity, who, err, errlen)) {
        goto out;
    }
    if (p.title == NULL || p.title[0] == '\0') {
        snprintf(err, errlen, "%s: \"title\" is required", who);
        goto out;
    }
    tags = json_object_get(src, "tags");
    if (tags != NULL) {
        if (!json_is_array(tags)) {
            snprintf(err, errlen, "%s: \"tags\" must be an array of strings", who);
            goto out;
        }
        for (i = 0; i < json_array_size(tags); i++) {
            if (!json_is_string(json_array_get(tags, i))) {
                snprintf(err, errlen, "%s: \"tags\" must be an array of strings", who);
                goto out;
            }
        }
        p.tags_array = tags;
    }
    in_stock = json_object_get(src, "in_stock");
    if (in_stock != NULL && !json_is_boolean(in_stock)) {
        snprintf(err, errlen, "%s: \"in_stock\" must be true or false", who);
        goto out;
    }
    p.in_stock = in_stock != NULL ? json_is_true(in_stock) : p.inventory_quantity > 0;
    if (!answer_variants(src, &p, err, errlen)) {
        goto out;
    }
    rc = product_write(&p, out);
    if (rc == RETAIL_OK) {
        memcpy(key->id, p.id, sizeof(key->id));
        key->category = p.category;
    } else {
        snprintf(err, errlen, "%s: %s", who, retail_status_str(rc));
    }
out:
    free(p.variants);
    return rc;
}
