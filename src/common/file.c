/* file.c: I/O loops and directory helpers with errno-style results. */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int strom_pread_full(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (got)
                *got = done;
            return errno;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    if (got)
        *got = done;
    return 0;
}

int strom_write_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const uint8_t *)buf + done, n - done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        done += (size_t)r;
    }
    return 0;
}

int strom_pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        done += (size_t)r;
    }
    return 0;
}

int strom_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) < 0 ? errno : 0;
    close(fd);
    return rc;
}

int strom_mkdirs(const char *path, int mode)
{
    char tmp[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(tmp, (mode_t)mode) < 0 && errno != EEXIST)
        return errno;
    return 0;
}

static strom_err dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strom_path(out, cap, ".");
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;
    if (n >= cap)
        return strom_fail(STROM_EINVAL, "path too long: %.80s", path);
    memcpy(out, path, n);
    out[n] = '\0';
    return STROM_OK;
}

strom_err strom_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    strom_err e = strom_path(tmp, sizeof tmp, "%s.tmp", path);
    if (e == STROM_OK)
        e = dir_of(path, dir, sizeof dir);
    if (e != STROM_OK)
        return e;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return strom_fail_errno(errno, "create %s", tmp);
    int rc = strom_write_full(fd, data, len);
    if (rc == 0 && fsync(fd) < 0)
        rc = errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = errno;
    if (rc == 0)
        rc = strom_fsync_dir(dir);
    if (rc != 0) {
        unlink(tmp);
        return strom_fail_errno(rc, "write %s", path);
    }
    return STROM_OK;
}

strom_err strom_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return strom_fail_errno(errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return strom_fail_errno(e, "stat %s", path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return strom_fail(STROM_ELIMIT, "%s: %lld bytes, more than the %zu allowed", path,
                          (long long)st.st_size, max);
    }
    uint8_t *buf = strom_malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return STROM_ENOMEM;
    }
    size_t got = 0;
    int rc = strom_pread_full(fd, buf, (size_t)st.st_size, 0, &got);
    close(fd);
    if (rc != 0) {
        free(buf);
        return strom_fail_errno(rc, "read %s", path);
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return STROM_OK;
}

int strom_rmtree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOTDIR ? (unlink(path) < 0 ? errno : 0) : (errno == ENOENT ? 0 : errno);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[PATH_MAX];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= sizeof sub) {
            rc = ENAMETOOLONG;
            continue;
        }
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rc = strom_rmtree(sub) ? errno : rc;
        else if (unlink(sub) < 0)
            rc = errno;
    }
    closedir(d);
    if (rmdir(path) < 0 && rc == 0)
        rc = errno;
    return rc;
}
