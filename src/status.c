/* SPDX-License-Identifier: MIT */
/* Messages for the project's status codes, in one place. */
#include "retail/status.h"

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
