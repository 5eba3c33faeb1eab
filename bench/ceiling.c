/* SPDX-License-Identifier: MIT */
/* The benchmark's ceiling: the smallest libmicrohttpd server that answers
 * every request with the same bytes from memory, with retail-api's
 * threading and connection settings (epoll, one pool thread per core it
 * may run on, the same idle timeout and per-connection memory). Nothing is parsed, checked
 * or logged, and one response object is reused for every answer; what
 * retail-api adds to this is what the benchmark's ratio measures.
 *
 * usage: retail-ceiling PORT BODY_FILE */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <microhttpd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct MHD_Response *response;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static char seen;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &seen; /* answering on the first call would cost keep-alive */
        return MHD_YES;
    }
    *upload_data_size = 0;
    return MHD_queue_response(connection, MHD_HTTP_OK, response);
}

int
main(int argc, char **argv)
{
    static char body[16 * 1024 * 1024];
    struct MHD_Daemon *daemon;
    sigset_t signals;
    size_t len;
    cpu_set_t set;
    long cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set)
                                                              : sysconf(_SC_NPROCESSORS_ONLN);
    FILE *f;
    int sig;

    if (argc != 3 || (f = fopen(argv[2], "rb")) == NULL) {
        fprintf(stderr, "usage: retail-ceiling PORT BODY_FILE\n");
        return 2;
    }
    len = fread(body, 1, sizeof(body), f);
    fclose(f);
    response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(response, "Content-Type", "application/json; charset=utf-8");
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    daemon = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, (unsigned short)atoi(argv[1]), NULL,
                              NULL, on_request, NULL, MHD_OPTION_THREAD_POOL_SIZE,
                              (unsigned)(cores > 0 ? cores : 1), MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384, MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "retail-ceiling: cannot listen on port %s\n", argv[1]);
        return 4;
    }
    sigwait(&signals, &sig);
    MHD_stop_daemon(daemon);
    MHD_destroy_response(response);
    return 0;
}
