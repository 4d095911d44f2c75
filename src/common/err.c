/* err.c: the error enum's texts and the thread-local detail message. */
#include "common.h"

#include <errno.h>
#include <stdio.h>

#define STROM_ERRMSG_CAP 1024

static _Thread_local char tl_msg[STROM_ERRMSG_CAP];

const char *strom_strerror(strom_err err)
{
    switch (err) {
#define STROM_ERR_CASE_(name, val, msg) case name: return msg;
        STROM_ERRORS(STROM_ERR_CASE_)
#undef STROM_ERR_CASE_
    }
    return "unknown error";
}

const char *strom_errmsg(void) { return tl_msg; }

void strom_fail_clear(void) { tl_msg[0] = '\0'; }

strom_err strom_fail(strom_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    return err;
}

static strom_err map_errno(int e)
{
    switch (e) {
    case ENOSPC: case EDQUOT: return STROM_ENOSPC;
    case ENOENT: return STROM_ENOTFOUND;
    case EEXIST: return STROM_EEXIST;
    case ENOMEM: return STROM_ENOMEM;
    default: return STROM_EIO;
    }
}

strom_err strom_fail_errno(int errno_value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof tl_msg)
        snprintf(tl_msg + n, sizeof tl_msg - (size_t)n, ": %s", strerror(errno_value));
    return map_errno(errno_value);
}

strom_err strom_fail_wrap(strom_err err, const char *fmt, ...)
{
    char old[STROM_ERRMSG_CAP];
    memcpy(old, tl_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tl_msg - 2)
        return err;
    size_t used = (size_t)n, room = sizeof tl_msg - used;
    const char *rest = old[0] ? old : strom_strerror(err);
    tl_msg[used] = ':';
    tl_msg[used + 1] = ' ';
    size_t rl = strlen(rest);
    if (rl > room - 3)
        rl = room - 3;
    memcpy(tl_msg + used + 2, rest, rl);
    tl_msg[used + 2 + rl] = '\0';
    return err;
}
