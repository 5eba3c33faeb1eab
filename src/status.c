/* SPDX-License-Identifier: MIT */
/* Messages for the project's status codes and fetch failures, in one place. */
#include "retail/status.h"

#include "retail/upstream.h"

const char *
retail_status_str(int status)
{
    switch (status) {
    case RETAIL_OK:
        return "ok";
    case RETAIL_ERR_NOMEM:
        return "out of memory";
    case RETAIL_ERR_INVALID:
        return "invalid input";
    case RETAIL_ERR_LIMIT:
        return "size limit exceeded";
    case RETAIL_ERR_IO:
        return "i/o error";
    case RETAIL_ERR_TIMEOUT:
        return "timeout";
    case RETAIL_ERR_UPSTREAM:
        return "upstream error";
    case RETAIL_ERR_PARSE:
        return "malformed upstream data";
    case RETAIL_ERR_NOT_FOUND:
        return "not found";
    case RETAIL_ERR_UNAVAILABLE:
        return "unavailable";
    case RETAIL_ERR_CANCELLED:
        return "cancelled";
    default:
        return "unknown status";
    }
}

const char *
fetch_failure_name(enum fetch_failure failure)
{
    switch (failure) {
    case FETCH_OK:
        return "ok";
    case FETCH_TIMEOUT:
        return "timeout";
    case FETCH_NETWORK:
        return "network";
    case FETCH_SERVER_ERROR:
        return "server_error";
    case FETCH_RATE_LIMITED:
        return "rate_limited";
    case FETCH_REFUSED:
        return "refused";
    case FETCH_HTTP_ERROR:
        return "http_error";
    case FETCH_BAD_DATA:
        return "bad_data";
    case FETCH_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}
