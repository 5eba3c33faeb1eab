/* SPDX-License-Identifier: MIT */
/* The project's one status enum: RETAIL_OK or a negative failure. */
#ifndef RETAIL_STATUS_H
#define RETAIL_STATUS_H

#define RETAIL_WUR __attribute__((warn_unused_result))

enum retail_status {
    RETAIL_OK = 0,
    RETAIL_ERR_NOMEM = -1,       /* an allocation failed */
    RETAIL_ERR_INVALID = -2,     /* input that breaks the contract */
    RETAIL_ERR_LIMIT = -3,       /* a size or count cap was passed */
    RETAIL_ERR_IO = -4,          /* a file or socket operation failed */
    RETAIL_ERR_TIMEOUT = -5,     /* a deadline passed */
    RETAIL_ERR_UPSTREAM = -6,    /* an upstream answered with an error status */
    RETAIL_ERR_PARSE = -7,       /* upstream data was not what its contract says */
    RETAIL_ERR_NOT_FOUND = -8,   /* what was asked for does not exist */
    RETAIL_ERR_UNAVAILABLE = -9, /* a dependency is down or not configured */
    RETAIL_ERR_CANCELLED = -10,  /* shutdown interrupted the operation */
};

/* A short, static, lower-case description of a status; never NULL. */
const char *retail_status_str(int status);

#endif
