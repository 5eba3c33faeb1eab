/* SPDX-License-Identifier: MIT */
/* Fuzzes the config file parser and the Redis URL parser: the first line
 * of the input is a REDIS_URL, the rest a config file (read through a
 * memory file, as from disk). */
#define _GNU_SOURCE /* memfd_create */
#include "retail/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
count_problem(void *arg, const char *problem)
{
    if (problem == NULL || problem[0] == '\0') {
        abort(); /* every problem says something */
    }
    (*(unsigned *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *newline = memchr(data, '\n', size);
    size_t first = newline != NULL ? (size_t)(newline - data) : size;
    char *url = malloc(first + 1);
    struct redis_target target;
    struct config cfg;
    char path[64];
    char err[CONFIG_ERR_MAX];
    unsigned problems = 0;
    int fd;

    if (url == NULL) {
        return 0;
    }
    memcpy(url, data, first);
    url[first] = '\0';
    memset(&target, 0, sizeof(target));
    if (config_parse_redis_url(url, &target, err, sizeof(err)) == RETAIL_OK) {
        config_redis_target_deinit(&target);
    }
    free(url);

    fd = memfd_create("config", 0);
    if (fd < 0) {
        return 0;
    }
    if (newline != NULL &&
        write(fd, newline + 1, size - first - 1) != (ssize_t)(size - first - 1)) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (config_init(&cfg) == RETAIL_OK) {
        unsigned seen = 0;

        problems = config_check_file(&cfg, path, count_problem, &seen);
        if (problems != seen) {
            abort(); /* the count it returns is the problems it reported */
        }
        config_deinit(&cfg);
    }
    if (config_init(&cfg) == RETAIL_OK) {
        bool good = config_load_file(&cfg, path, err, sizeof(err)) == RETAIL_OK &&
                    config_finish(&cfg, err, sizeof(err)) == RETAIL_OK;

        if (good != (problems == 0)) {
            abort(); /* the check and the load agree on the file */
        }
        config_deinit(&cfg);
    }
    close(fd);
    return 0;
}
