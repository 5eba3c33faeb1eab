/* SPDX-License-Identifier: MIT */
/* Immutable product catalog: builder, indexes, page rendering, serialisation. */
#include "retail/catalog.h"

#include "retail/product.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATALOG_CATEGORY_MAX 256 /* longer categories never match a query */
#define CATALOG_MAGIC "RETAIL-CATALOG 1\n"
#define ID_PREFIX "{\"id\":\""
#define ID_PREFIX_LEN (sizeof(ID_PREFIX) - 1)

struct catalog_item {
    size_t offset; /* of the product's JSON in the arena */
    uint32_t len;
    uint32_t id_len;   /* the id is at offset + ID_PREFIX_LEN */
    size_t cat_offset; /* lower-cased category in the names pool */
    uint32_t cat_len;
};

struct catalog_category {
    size_t name_offset;
    uint32_t name_len;
    uint32_t first; /* into members */
    uint32_t count;
};

struct catalog {
    _Atomic unsigned refs;
    enum catalog_origin origin;
    int64_t fetched_at_ms;
    char *arena;
    size_t arena_len;
    char *names; /* lower-cased categories */
    struct catalog_item *items;
    uint32_t count;
    uint32_t *id_table; /* item index + 1; 0 is empty */
    uint32_t id_mask;
    struct catalog_category *categories;
    uint32_t category_count;
    uint32_t *members; /* item indexes grouped by category, in catalog order */
};

struct catalog_builder {
    struct buf arena;
    struct buf names;
    struct catalog_item *items;
    size_t count;
    size_t cap;
};

struct catalog_builder *
catalog_builder_create(size_t max_bytes)
{
    struct catalog_builder *b = calloc(1, sizeof(*b));

    if (b == NULL) {
        return NULL;
    }
    buf_init(&b->arena, max_bytes);
    buf_init(&b->names, max_bytes);
    return b;
}

void
catalog_builder_destroy(struct catalog_builder *b)
{
    if (b == NULL) {
        return;
    }
    buf_deinit(&b->arena);
    buf_deinit(&b->names);
    free(b->items);
    free(b);
}

size_t
catalog_builder_count(const struct catalog_builder *b)
{
    return b->count;
}

static char
lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Records the product the arena holds from start on. */
static int
builder_commit(struct catalog_builder *b, size_t start, const char *id, const char *category)
{
    struct catalog_item *item;
    size_t cat_len = category != NULL ? strlen(category) : 0;

    if (b->count >= CATALOG_PRODUCTS_MAX || b->arena.len - start > UINT32_MAX) {
        return RETAIL_ERR_LIMIT;
    }
    if (b->count == b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap * 2;
        struct catalog_item *grown = realloc(b->items, cap * sizeof(*grown));

        if (grown == NULL) {
            return RETAIL_ERR_NOMEM;
        }
        b->items = grown;
        b->cap = cap;
    }
    item = &b->items[b->count];
    item->offset = start;
    item->len = (uint32_t)(b->arena.len - start);
    item->id_len = (uint32_t)strlen(id);
    item->cat_offset = b->names.len;
    item->cat_len = cat_len > CATALOG_CATEGORY_MAX ? 0 : (uint32_t)cat_len;
    for (size_t i = 0; i < item->cat_len; i++) {
        char c = lower_ascii(category[i]);

        buf_append(&b->names, &c, 1);
    }
    if (buf_status(&b->names) != RETAIL_OK) {
        return buf_status(&b->names);
    }
    b->count++;
    return RETAIL_OK;
}

int
catalog_builder_add_shopify(struct catalog_builder *b, const json_t *product,
                            const char *shop_currency)
{
    struct product_key key;
    size_t start = b->arena.len;
    int rc = product_from_shopify(product, shop_currency, &b->arena, &key);

    if (rc == RETAIL_OK) {
        rc = builder_commit(b, start, key.id, key.category);
    }
    if (rc == RETAIL_ERR_INVALID) {
        b->arena.len = start;
    }
    return rc;
}

int
catalog_builder_add_answer(struct catalog_builder *b, const json_t *product, char *err,
                           size_t errlen)
{
    struct product_key key;
    size_t start = b->arena.len;
    int rc = product_from_answer(product, &b->arena, &key, err, errlen);

    if (rc == RETAIL_OK) {
        rc = builder_commit(b, start, key.id, key.category);
    }
    if (rc == RETAIL_ERR_INVALID) {
        b->arena.len = start;
    }
    return rc;
}

static uint64_t
hash_bytes(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static const char *
item_id(const struct catalog *c, const struct catalog_item *item)
{
    return c->arena + item->offset + ID_PREFIX_LEN;
}

/* Slot of id in the table: where it is, or the empty slot where it goes. */
static uint32_t
id_slot(const struct catalog *c, const char *id, size_t len)
{
    uint32_t slot = (uint32_t)hash_bytes(id, len) & c->id_mask;

    for (;;) {
        uint32_t entry = c->id_table[slot];
        const struct catalog_item *item;

        if (entry == 0) {
            return slot;
        }
        item = &c->items[entry - 1];
        if (item->id_len == len && memcmp(item_id(c, item), id, len) == 0) {
            return slot;
        }
        slot = (slot + 1) & c->id_mask;
    }
}

/* Builds the id table, dropping repeated ids (the first one stays). */
static int
index_ids(struct catalog *c, size_t *duplicates)
{
    uint32_t size = 16;
    uint32_t kept = 0;

    while (size < c->count * 2) {
        size *= 2;
    }
    c->id_table = calloc(size, sizeof(uint32_t));
    if (c->id_table == NULL) {
        return RETAIL_ERR_NOMEM;
    }
    c->id_mask = size - 1;
    for (uint32_t i = 0; i < c->count; i++) {
        struct catalog_item item = c->items[i];
        uint32_t slot;

        /* Compacting in place is safe: kept <= i, and the table only refers
         * to items below kept. */
        c->items[kept] = item;
        slot = id_slot(c, item_id(c, &c->items[kept]), item.id_len);
        if (c->id_table[slot] != 0) {
            continue;
        }
        c->id_table[slot] = kept + 1;
        kept++;
    }
    *duplicates = c->count - kept;
    c->count = kept;
    return RETAIL_OK;
}

struct sort_entry {
    const char *name;
    uint32_t len;
    uint32_t index;
};

static int
compare_by_category(const void *a, const void *b)
{
    const struct sort_entry *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int cmp = memcmp(x->name, y->name, n);

    if (cmp != 0) {
        return cmp;
    }
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    return x->index < y->index ? -1 : 1; /* keep catalog order inside a category */
}

static int
index_categories(struct catalog *c)
{
    struct sort_entry *entries;
    uint32_t groups = 0;

    if (c->count == 0) {
        return RETAIL_OK;
    }
    entries = malloc(c->count * sizeof(*entries));
    c->members = malloc(c->count * sizeof(uint32_t));
    c->categories = malloc(c->count * sizeof(*c->categories));
    if (entries == NULL || c->members == NULL || c->categories == NULL) {
        free(entries);
        return RETAIL_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < c->count; i++) {
        entries[i].name = c->names + c->items[i].cat_offset;
        entries[i].len = c->items[i].cat_len;
        entries[i].index = i;
    }
    qsort(entries, c->count, sizeof(*entries), compare_by_category);
    for (uint32_t i = 0; i < c->count; i++) {
        struct catalog_category *last = groups > 0 ? &c->categories[groups - 1] : NULL;

        c->members[i] = entries[i].index;
        if (last != NULL && last->name_len == entries[i].len &&
            memcmp(c->names + last->name_offset, entries[i].name, entries[i].len) == 0) {
            last->count++;
            continue;
        }
        c->categories[groups].name_offset = (size_t)(entries[i].name - c->names);
        c->categories[groups].name_len = entries[i].len;
        c->categories[groups].first = i;
        c->categories[groups].count = 1;
        groups++;
    }
    c->category_count = groups;
    free(entries);
    return RETAIL_OK;
}

struct catalog *
catalog_builder_finish(struct catalog_builder *b, enum catalog_origin origin, int64_t fetched_at_ms,
                       size_t *duplicates)
{
    struct catalog *c = NULL;
    size_t dropped = 0;

    if (buf_status(&b->arena) != RETAIL_OK || buf_status(&b->names) != RETAIL_OK) {
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        goto out;
    }
    atomic_init(&c->refs, 1);
    c->origin = origin;
    c->fetched_at_ms = fetched_at_ms;
    c->arena_len = b->arena.len;
    c->arena = buf_steal(&b->arena, NULL);
    c->names = buf_steal(&b->names, NULL);
    c->items = b->items;
    c->count = (uint32_t)b->count;
    b->items = NULL;
    if (c->arena == NULL || c->names == NULL || index_ids(c, &dropped) != RETAIL_OK ||
        index_categories(c) != RETAIL_OK) {
        catalog_unref(c);
        c = NULL;
    }
out:
    if (duplicates != NULL) {
        *duplicates = dropped;
    }
    catalog_builder_destroy(b);
    return c;
}

struct catalog *
catalog_ref(struct catalog *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void
catalog_unref(struct catalog *c)
{
    if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    free(c->arena);
    free(c->names);
    free(c->items);
    free(c->id_table);
    free(c->categories);
    free(c->members);
    free(c);
}

size_t
catalog_count(const struct catalog *c)
{
    return c->count;
}

int64_t
catalog_fetched_at_ms(const struct catalog *c)
{
    return c->fetched_at_ms;
}

enum catalog_origin
catalog_origin(const struct catalog *c)
{
    return c->origin;
}

size_t
catalog_bytes(const struct catalog *c)
{
    return c->arena_len;
}

static const struct catalog_category *
find_category(const struct catalog *c, const char *name, size_t len)
{
    char lowered[CATALOG_CATEGORY_MAX];
    uint32_t lo = 0, hi = c->category_count;

    if (len > CATALOG_CATEGORY_MAX) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        lowered[i] = lower_ascii(name[i]);
    }
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct catalog_category *cat = &c->categories[mid];
        uint32_t n = cat->name_len < len ? cat->name_len : (uint32_t)len;
        int cmp = memcmp(c->names + cat->name_offset, lowered, n);

        if (cmp == 0 && cat->name_len != len) {
            cmp = cat->name_len < len ? -1 : 1;
        }
        if (cmp == 0) {
            return cat;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

int
catalog_render_page(const struct catalog *c, const struct catalog_page *page, const char *source,
                    struct buf *out)
{
    const uint32_t *members = NULL;
    uint64_t total = c->count;
    uint64_t start, end, k;
    size_t bytes = 128;

    if (page->category != NULL && page->category_len > 0) {
        const struct catalog_category *cat = find_category(c, page->category, page->category_len);

        total = cat != NULL ? cat->count : 0;
        members = cat != NULL ? c->members + cat->first : NULL;
    }
    start = page->offset < total ? page->offset : total;
    end = total - start > page->limit ? start + page->limit : total;
    for (k = start; k < end; k++) {
        bytes += c->items[members != NULL ? members[k] : k].len + 1;
    }
    if (buf_reserve(out, bytes) != RETAIL_OK) {
        return buf_status(out);
    }
    buf_append(out, "{\"products\":[", 13);
    for (k = start; k < end; k++) {
        const struct catalog_item *item = &c->items[members != NULL ? members[k] : k];

        if (k > start) {
            buf_append(out, ",", 1);
        }
        buf_append(out, c->arena + item->offset, item->len);
    }
    /* The trailer by hand: printf costs more than the whole page copy. */
    buf_append(out, "],\"total\":", 10);
    buf_append_uint(out, total);
    buf_append(out, ",\"page\":", 8);
    buf_append_uint(out, page->page);
    buf_append(out, ",\"limit\":", 9);
    buf_append_uint(out, page->limit);
    buf_append_str(out, end < total ? ",\"has_next\":true,\"source\":\""
                                    : ",\"has_next\":false,\"source\":\"");
    buf_append_str(out, source);
    return buf_append(out, "\"}", 2);
}

int
catalog_render_product(const struct catalog *c, const char *id, struct buf *out)
{
    size_t len = strlen(id);
    uint32_t entry;
    const struct catalog_item *item;

    if (c->id_table == NULL || len == 0) {
        return RETAIL_ERR_NOT_FOUND;
    }
    entry = c->id_table[id_slot(c, id, len)];
    if (entry == 0) {
        return RETAIL_ERR_NOT_FOUND;
    }
    item = &c->items[entry - 1];
    buf_append(out, "{\"product\":", 11);
    buf_append(out, c->arena + item->offset, item->len);
    return buf_append(out, "}", 1);
}

int
catalog_serialize(const struct catalog *c, struct buf *out)
{
    buf_append_str(out, CATALOG_MAGIC);
    buf_appendf(out, "fetched_at_ms %" PRId64 "\nproducts %" PRIu32 "\n", c->fetched_at_ms,
                c->count);
    for (uint32_t i = 0; i < c->count; i++) {
        const struct catalog_item *item = &c->items[i];

        buf_appendf(out, "%" PRIu32 "\n", item->len);
        buf_append(out, c->arena + item->offset, item->len);
        buf_append(out, "\n", 1);
    }
    return buf_status(out);
}

/* Reads "<label> <number>\n" or "<number>\n" (label NULL) at *pos. */
static bool
read_number_line(const char *data, size_t len, size_t *pos, const char *label, uint64_t max,
                 uint64_t *value)
{
    size_t p = *pos;
    uint64_t v = 0;
    size_t digits = 0;

    if (label != NULL) {
        size_t n = strlen(label);

        if (len - p < n + 1 || memcmp(data + p, label, n) != 0 || data[p + n] != ' ') {
            return false;
        }
        p += n + 1;
    }
    while (p < len && data[p] >= '0' && data[p] <= '9' && digits < 19) {
        v = v * 10 + (uint64_t)(data[p] - '0');
        p++;
        digits++;
    }
    if (digits == 0 || p >= len || data[p] != '\n' || v > max) {
        return false;
    }
    *pos = p + 1;
    *value = v;
    return true;
}

/* Adds one stored product after checking that its bytes are a JSON object
 * that starts with {"id":"<id>" as product_write makes them. */
static int
add_stored(struct catalog_builder *b, const char *json, size_t len)
{
    json_error_t error;
    json_t *parsed = json_loadb(json, len, 0, &error);
    struct product_key key;
    size_t start = b->arena.len;
    size_t id_len;
    int rc = RETAIL_ERR_INVALID;

    if (!json_is_object(parsed) || !product_id_text(json_object_get(parsed, "id"), key.id)) {
        goto out;
    }
    id_len = strlen(key.id);
    if (len < ID_PREFIX_LEN + id_len + 1 || memcmp(json, ID_PREFIX, ID_PREFIX_LEN) != 0 ||
        memcmp(json + ID_PREFIX_LEN, key.id, id_len) != 0 || json[ID_PREFIX_LEN + id_len] != '"') {
        goto out;
    }
    key.category = json_string_value(json_object_get(parsed, "category"));
    rc = buf_append(&b->arena, json, len);
    if (rc == RETAIL_OK) {
        rc = builder_commit(b, start, key.id, key.category);
    }
out:
    json_decref(parsed);
    return rc;
}

struct catalog *
catalog_deserialize(const char *data, size_t len, size_t max_bytes, char *err, size_t errlen)
{
    struct catalog_builder *b = NULL;
    uint64_t fetched_at = 0, count = 0, size = 0;
    size_t pos = sizeof(CATALOG_MAGIC) - 1;
    int rc;

    if (len < pos || memcmp(data, CATALOG_MAGIC, pos) != 0) {
        snprintf(err, errlen, "not a catalog of this version");
        return NULL;
    }
    if (!read_number_line(data, len, &pos, "fetched_at_ms", INT64_MAX, &fetched_at) ||
        !read_number_line(data, len, &pos, "products", CATALOG_PRODUCTS_MAX, &count)) {
        snprintf(err, errlen, "bad header");
        return NULL;
    }
    b = catalog_builder_create(max_bytes);
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (!read_number_line(data, len, &pos, NULL, UINT32_MAX, &size) || len - pos < size + 1 ||
            data[pos + size] != '\n') {
            snprintf(err, errlen, "product %" PRIu64 ": truncated entry", i + 1);
            catalog_builder_destroy(b);
            return NULL;
        }
        rc = add_stored(b, data + pos, (size_t)size);
        if (rc != RETAIL_OK) {
            snprintf(err, errlen, "product %" PRIu64 ": %s", i + 1,
                     rc == RETAIL_ERR_INVALID ? "not a valid product" : retail_status_str(rc));
            catalog_builder_destroy(b);
            return NULL;
        }
        pos += (size_t)size + 1;
    }
    if (pos != len) {
        snprintf(err, errlen, "trailing bytes after %" PRIu64 " products", count);
        catalog_builder_destroy(b);
        return NULL;
    }
    return catalog_builder_finish(b, CATALOG_ORIGIN_STORE, (int64_t)fetched_at, NULL);
}
