// Whole-file reading with transparent gunzip, and atomic whole-file writing.
#include "ir/data/data-impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

// Grows a buffer without relying on qs__realloc, which custom allocators may not offer.
static uint8_t *grow(uint8_t *buf, size_t used, size_t cap) {
    uint8_t *p = qs__realloc(buf, cap);
    if (p) return p;
    p = qs__malloc(cap);
    if (!p) return NULL;
    if (used) memcpy(p, buf, used);
    qs__free(buf);
    return p;
}

static enum qs_status read_plain(int fd, const char *path, size_t size, uint8_t **data_out,
                                 size_t *size_out, struct qs_diag *diag) {
    uint8_t *buf = qs__malloc(size);
    if (!buf)
        return qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory reading %zu bytes", path,
                        size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, QS_MIN(size - got, (size_t)1 << 30));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            qs__free(buf);
            return qs__diag(diag, QS_STATUS_IO, "'%s': read failed: %s", path, strerror(e));
        }
        if (r == 0) break;  // the file shrank while being read: keep what is there
        got += (size_t)r;
    }
    *data_out = buf;
    *size_out = got;
    return QS_STATUS_OK;
}

static enum qs_status read_gzip(int fd, const char *path, size_t csize, uint8_t **data_out,
                                size_t *size_out, struct qs_diag *diag) {
    // The gzip trailer holds the uncompressed size mod 2^32: a good first capacity.
    uint8_t tail[4];
    size_t cap = 1 << 16;
    if (csize >= 18 && pread(fd, tail, 4, (off_t)(csize - 4)) == 4) {
        size_t isize = (size_t)tail[0] | (size_t)tail[1] << 8 | (size_t)tail[2] << 16 |
                       (size_t)tail[3] << 24;
        if (isize + 1 > cap) cap = isize + 1;
    }
    if (lseek(fd, 0, SEEK_SET) != 0)
        return qs__diag(diag, QS_STATUS_IO, "'%s': seek failed: %s", path, strerror(errno));
    int gfd = dup(fd);
    if (gfd < 0)
        return qs__diag(diag, QS_STATUS_IO, "'%s': cannot open: %s", path, strerror(errno));
    gzFile gz = gzdopen(gfd, "rb");
    if (!gz) {
        close(gfd);
        return qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory opening gzip data", path);
    }
    gzbuffer(gz, 1 << 17);
    uint8_t *buf = qs__malloc(cap);
    size_t used = 0;
    enum qs_status st = QS_STATUS_OK;
    if (!buf) {
        st = qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory reading %zu bytes", path, cap);
        goto done;
    }
    for (;;) {
        if (used == cap) {
            if (cap > SIZE_MAX / 2) {
                st = qs__diag(diag, QS_STATUS_NOMEM, "'%s': decompressed data too large", path);
                goto done;
            }
            uint8_t *p = grow(buf, used, cap * 2);
            if (!p) {
                st = qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory reading %zu bytes",
                              path, cap * 2);
                goto done;
            }
            buf = p;
            cap *= 2;
        }
        unsigned want = (unsigned)QS_MIN(cap - used, (size_t)INT_MAX / 2);
        int r = gzread(gz, buf + used, want);
        if (r < 0) {
            int err;
            const char *msg = gzerror(gz, &err);
            st = qs__diag(diag, err == Z_MEM_ERROR ? QS_STATUS_NOMEM : QS_STATUS_PARSE,
                          "'%s': corrupt gzip data: %s", path, msg);
            goto done;
        }
        if (r == 0) break;
        used += (size_t)r;
    }
    int err;
    gzerror(gz, &err);
    if (err == Z_BUF_ERROR) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      "'%s': truncated gzip data (unexpected end of file after %zu bytes)",
                      path, used);
        goto done;
    }
    if (err != Z_OK) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': corrupt gzip data: %s", path,
                      gzerror(gz, &err));
        goto done;
    }
done:
    gzclose(gz);
    if (st != QS_STATUS_OK) {
        qs__free(buf);
        return st;
    }
    *data_out = buf;
    *size_out = used;
    return QS_STATUS_OK;
}

enum qs_status qs__data_read_file(const char *path, uint8_t **data_out, size_t *size_out,
                                  struct qs_diag *diag) {
    if (!path || !*path) return qs__diag(diag, QS_STATUS_INVALID_ARG, "empty file name");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return qs__diag(diag, QS_STATUS_IO, "'%s': cannot open: %s", path, strerror(errno));
    struct stat st;
    enum qs_status s;
    if (fstat(fd, &st) != 0) {
        s = qs__diag(diag, QS_STATUS_IO, "'%s': cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        s = qs__diag(diag, QS_STATUS_IO, "'%s': is a directory, not a file", path);
    } else if (!S_ISREG(st.st_mode)) {
        s = qs__diag(diag, QS_STATUS_IO, "'%s': not a regular file", path);
    } else {
        size_t size = (size_t)st.st_size;
        // gzip: ID1 ID2, CM = 8 (deflate), no reserved FLG bits. Checking four bytes keeps
        // raw data that merely starts with 1f 8b from being taken for gzip.
        uint8_t magic[4] = {0, 0, 0, 0};
        ssize_t m = size >= 4 ? pread(fd, magic, 4, 0) : 0;
        if (m == 4 && magic[0] == 0x1f && magic[1] == 0x8b && magic[2] == 8 &&
            (magic[3] & 0xe0) == 0)
            s = read_gzip(fd, path, size, data_out, size_out, diag);
        else
            s = read_plain(fd, path, size, data_out, size_out, diag);
    }
    close(fd);
    return s;
}

static bool write_all(int fd, const void *data, size_t size) {
    const uint8_t *p = data;
    while (size) {
        ssize_t w = write(fd, p, QS_MIN(size, (size_t)1 << 30));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        size -= (size_t)w;
    }
    return true;
}

enum qs_status qs__data_write_file(const char *path, const void *head, size_t head_size,
                                   const void *body, size_t body_size, struct qs_diag *diag) {
    static _Atomic unsigned counter;
    if (!path || !*path) return qs__diag(diag, QS_STATUS_INVALID_ARG, "empty file name");
    size_t n = strlen(path) + 40;
    char *tmp = qs__malloc(n);
    if (!tmp) return qs__diag(diag, QS_STATUS_NOMEM, "'%s': out of memory", path);
    // open(O_EXCL) with a unique name rather than mkstemp: the file then gets the usual
    // permissions from the umask without touching the process-wide umask.
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, n, "%s.tmp-%ld-%u", path, (long)getpid(), counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    enum qs_status s = QS_STATUS_OK;
    if (fd < 0) {
        s = qs__diag(diag, QS_STATUS_IO, "'%s': cannot create: %s", path, strerror(errno));
        qs__free(tmp);
        return s;
    }
    if (!write_all(fd, head, head_size) || !write_all(fd, body, body_size) || fsync(fd) != 0) {
        s = qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", path, strerror(errno));
        close(fd);
    } else if (close(fd) != 0) {
        s = qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", path, strerror(errno));
    } else if (rename(tmp, path) != 0) {
        s = qs__diag(diag, QS_STATUS_IO, "'%s': cannot rename temporary file: %s", path,
                     strerror(errno));
    }
    if (s != QS_STATUS_OK) unlink(tmp);
    qs__free(tmp);
    return s;
}
