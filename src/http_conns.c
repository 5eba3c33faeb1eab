/* SPDX-License-Identifier: MIT */
/* The deadlines of client connections, kept by one thread that closes the
 * connections that miss them. */
#include "http_internal.h"

#include "retail/clock.h"

#include <errno.h>
#include <sys/socket.h>
#include <time.h>

/* How often the sweeper looks, at most and at least. */
#define SWEEP_MIN_MS 50
#define SWEEP_MAX_MS 1000
#define TIMEOUT_LOG_INTERVAL_MS 10000

static int64_t
sweep_interval_ms(const struct http_server *s)
{
    int64_t shortest = s->deps.header_timeout_ms < s->deps.idle_timeout_ms
                           ? s->deps.header_timeout_ms
                           : s->deps.idle_timeout_ms;
    int64_t every = shortest / 4;

    return every < SWEEP_MIN_MS ? SWEEP_MIN_MS : every > SWEEP_MAX_MS ? SWEEP_MAX_MS : every;
}

/* Closes (for reading and writing; MHD then sees the end of the stream and
 * frees the connection in its own thread) every connection past its
 * deadline. The list lock keeps each fd open meanwhile: MHD tells
 * http_conns_closed, which takes the lock, before it closes the socket. */
static unsigned
sweep(struct http_server *s, int64_t now)
{
    unsigned closed = 0;

    for (struct conn *c = s->conns; c != NULL; c = c->next) {
        int64_t deadline = atomic_load_explicit(&c->deadline_ms, memory_order_relaxed);

        if (deadline != 0 && now > deadline && c->fd >= 0) {
            if (shutdown(c->fd, SHUT_RDWR) == 0 || errno == ENOTCONN) {
                closed++;
            }
            atomic_store_explicit(&c->deadline_ms, 0, memory_order_relaxed);
        }
    }
    return closed;
}

static void *
sweeper_main(void *arg)
{
    struct http_server *s = arg;
    int64_t every = sweep_interval_ms(s);

    pthread_mutex_lock(&s->conns_lock);
    while (!s->sweeper_stop) {
        struct timespec until;
        unsigned closed;
        uint64_t suppressed = 0;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(every / 1000);
        until.tv_nsec += (long)(every % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&s->sweeper_wake, &s->conns_lock, &until);
        if (s->sweeper_stop) {
            break;
        }
        closed = sweep(s, clock_mono_ms());
        if (closed > 0) {
            atomic_fetch_add_explicit(&s->timed_out, closed, memory_order_relaxed);
            if (log_ratelimit_allow(&s->timeout_log, TIMEOUT_LOG_INTERVAL_MS, &suppressed)) {
                log_warn("http",
                         "closed %u connection(s) that did not send a request's headers in time "
                         "(CLIENT_HEADER_TIMEOUT_MS %lld, CLIENT_IDLE_TIMEOUT_MS %lld; %llu more "
                         "since the last line)",
                         closed, (long long)s->deps.header_timeout_ms,
                         (long long)s->deps.idle_timeout_ms, (unsigned long long)suppressed);
            }
        }
    }
    pthread_mutex_unlock(&s->conns_lock);
    return NULL;
}

int
http_conns_start(struct http_server *s)
{
    pthread_condattr_t attr;

    if (pthread_mutex_init(&s->conns_lock, NULL) != 0) {
        return RETAIL_ERR_NOMEM;
    }
    if (pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&s->sweeper_wake, &attr) != 0) {
        pthread_mutex_destroy(&s->conns_lock);
        return RETAIL_ERR_NOMEM;
    }
    pthread_condattr_destroy(&attr);
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
        pthread_cond_destroy(&s->sweeper_wake);
        pthread_mutex_destroy(&s->conns_lock);
        return RETAIL_ERR_NOMEM;
    }
    s->sweeper_running = true;
    return RETAIL_OK;
}

void
http_conns_stop(struct http_server *s)
{
    if (!s->sweeper_running) {
        return;
    }
    pthread_mutex_lock(&s->conns_lock);
    s->sweeper_stop = true;
    pthread_cond_signal(&s->sweeper_wake);
    pthread_mutex_unlock(&s->conns_lock);
    pthread_join(s->sweeper, NULL);
    s->sweeper_running = false;
    pthread_cond_destroy(&s->sweeper_wake);
    pthread_mutex_destroy(&s->conns_lock);
}

void
http_conns_opened(struct http_server *s, struct MHD_Connection *connection, struct conn *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);

    conn->fd = info != NULL ? info->connect_fd : -1;
    atomic_store_explicit(&conn->deadline_ms, clock_mono_ms() + s->deps.header_timeout_ms,
                          memory_order_relaxed);
    pthread_mutex_lock(&s->conns_lock);
    conn->prev = NULL;
    conn->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = conn;
    }
    s->conns = conn;
    pthread_mutex_unlock(&s->conns_lock);
    atomic_fetch_add_explicit(&s->connections, 1, memory_order_relaxed);
}

void
http_conns_closed(struct http_server *s, struct conn *conn)
{
    pthread_mutex_lock(&s->conns_lock);
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        s->conns = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    conn->fd = -1;
    pthread_mutex_unlock(&s->conns_lock);
    atomic_fetch_sub_explicit(&s->connections, 1, memory_order_relaxed);
}

void
http_conns_request_began(struct conn *conn)
{
    atomic_store_explicit(&conn->deadline_ms, 0, memory_order_relaxed);
}

void
http_conns_request_ended(struct http_server *s, struct conn *conn, int64_t now_ms)
{
    atomic_store_explicit(&conn->deadline_ms, now_ms + s->deps.idle_timeout_ms,
                          memory_order_relaxed);
}
