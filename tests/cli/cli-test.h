// Helpers for the CLI tests: run the qsearch binary (QS_BIN, set by ctest) with stdout and
// stderr captured, find the shipped demo, and write scratch files into a temporary folder.
#pragma once

#include "test.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

struct cli_run {
    int code;  // exit status, or 128 + signal
    char *out, *err;
};

static char cli_tmpdir[1024];

static inline void cli_cleanup(void) {
    if (!cli_tmpdir[0]) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cli_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", cli_tmpdir);
}

// The qsearch binary; the test is skipped when ctest did not say where it is.
static inline const char *cli_bin(void) {
    const char *bin = getenv("QS_BIN");
    struct stat st;
    if (!bin || stat(bin, &st) != 0) QS_TEST_SKIP("QS_BIN not set or missing (run via ctest)");
    return bin;
}

// Path of a scratch file in a per-test temporary folder (removed at exit).
static inline const char *cli_tmp(const char *name) {
    static char buf[8][4096];
    static int k;
    if (!cli_tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(cli_tmpdir, sizeof cli_tmpdir, "%s/qs-cli-XXXXXX", t && *t ? t : "/tmp");
        ASSERT_TRUE(mkdtemp(cli_tmpdir) != NULL);
        atexit(cli_cleanup);
    }
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/%s", cli_tmpdir, name);
    return p;
}

// Path of a file in configs/demo (found from QS_TEST_DATA = tests/fixtures).
static inline const char *cli_demo(const char *name) {
    static char buf[8][4096];
    static int k;
    const char *root = getenv("QS_TEST_DATA");
    char *p = buf[k++ % 8];
    snprintf(p, 4096, "%s/../../configs/demo/%s", root ? root : "fixtures", name);
    struct stat st;
    if (stat(p, &st) != 0) {
        fprintf(stderr, "demo file %s is missing\n", p);
        exit(1);
    }
    return p;
}

static inline char *cli_slurp(const char *path, size_t *size_out) {
    FILE *f = fopen(path, "rb");
    ASSERT_TRUE(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ASSERT_TRUE(buf != NULL);
    ASSERT_EQ(fread(buf, 1, (size_t)n, f), n);
    buf[n] = 0;
    fclose(f);
    if (size_out) *size_out = (size_t)n;
    return buf;
}

static inline void cli_write(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    ASSERT_EQ(fwrite(data, 1, size, f), size);
    ASSERT_EQ(fclose(f), 0);
}

// Writes a .npy file (format 1.0) with the given numpy descr ("<f4", "|u1", "<c8"...).
static inline void cli_write_npy(const char *path, const char *descr, int rank,
                                 const int64_t *dims, const void *data, size_t nbytes) {
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < rank; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)dims[i],
                      rank == 1 ? "," : i + 1 < rank ? ", " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)(n + pad + 1);
    size_t size = 10 + hlen + nbytes;
    unsigned char *buf = malloc(size);
    ASSERT_TRUE(buf != NULL);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', (size_t)pad);
    buf[10 + hlen - 1] = '\n';
    if (nbytes) memcpy(buf + 10 + hlen, data, nbytes);
    cli_write(path, buf, size);
    free(buf);
}

// Starts QS_BIN with the NULL-terminated arguments, stdin from /dev/null and stdout/stderr
// into the files `out` and `err` (NULL: /dev/null); returns its pid.
static inline pid_t cli_spawn(const char *const *argv, const char *out, const char *err) {
    const char *bin = cli_bin();
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        int fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fi = open("/dev/null", O_RDONLY);
        if (fo < 0 || fe < 0 || fi < 0) _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        int argc = 0;
        while (argv[argc]) argc++;
        char **args = calloc((size_t)argc + 2, sizeof *args);
        if (!args) _exit(126);
        args[0] = (char *)bin;
        for (int i = 0; i < argc; i++) args[i + 1] = (char *)argv[i];
        execv(bin, args);
        _exit(127);
    }
    return pid;
}

// Runs QS_BIN with the NULL-terminated arguments; stdout/stderr are captured in files so
// neither can block. The caller frees r.out and r.err with cli_run_free.
static inline struct cli_run cli_runv(const char *const *argv) {
    const char *out_path = cli_tmp("stdout.txt"), *err_path = cli_tmp("stderr.txt");
    char out_copy[4096], err_copy[4096];
    snprintf(out_copy, sizeof out_copy, "%s", out_path);
    snprintf(err_copy, sizeof err_copy, "%s", err_path);
    pid_t pid = cli_spawn(argv, out_copy, err_copy);
    int status = 0;
    ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
    struct cli_run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = cli_slurp(out_copy, NULL);
    r.err = cli_slurp(err_copy, NULL);
    return r;
}
#define CLI_RUN(...) cli_runv((const char *const[]){__VA_ARGS__, NULL})

static inline void cli_run_free(struct cli_run *r) {
    free(r->out);
    free(r->err);
}

static inline int cli_count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

// Prints the captured streams when a check fails, so ctest --output-on-failure shows them.
#define CLI_EXPECT(r, cond)                                                          \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n  exit code %d\n  stdout:\n%s\n" \
                    "  stderr:\n%s\n", __FILE__, __LINE__, #cond, (r).code, (r).out,  \
                    (r).err);                                                        \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

// A failed run: non-zero `code`, and exactly one stderr line "qsearch: error: ..." that
// contains `needle` (typically the file name).
#define CLI_EXPECT_ERROR(r, code_, needle)                                    \
    do {                                                                      \
        CLI_EXPECT(r, (r).code == (code_));                                   \
        CLI_EXPECT(r, cli_count_lines((r).err) == 1);                         \
        CLI_EXPECT(r, strncmp((r).err, "qsearch: error: ", 16) == 0);         \
        CLI_EXPECT(r, strstr((r).err, (needle)) != NULL);                     \
    } while (0)
