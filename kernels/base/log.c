#include "kernels/internal.h"

#include <string.h>

static void default_log(enum qs_log_level level, const char *msg, void *user) {
    (void)user;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "qsearch: %s: %s\n", names[level], msg);
}

static qs_log_fn g_fn = default_log;
static void *g_user;
static enum qs_log_level g_max = QS_LOG_WARN;

void qs_set_log_callback(qs_log_fn fn, void *user, enum qs_log_level max_level) {
    g_fn = fn ? fn : default_log;
    g_user = user;
    g_max = max_level;
}

static void vlog(enum qs_log_level level, const char *fmt, va_list ap) {
    if (level > g_max) return;
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    g_fn(level, buf, g_user);
}

void qs__log(enum qs_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

enum qs_status qs__diag(struct qs_diag *diag, enum qs_status status, const char *fmt, ...) {
    char buf[sizeof diag->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    // With a diag the caller decides whether the user sees the message; without one it
    // would be lost, so it is logged as an error.
    if (diag) memcpy(diag->msg, buf, sizeof buf);
    qs__log(diag ? QS_LOG_DEBUG : QS_LOG_ERROR, "%s", buf);
    return status;
}

void qs__diag_prefix(struct qs_diag *diag, const char *fmt, ...) {
    if (!diag) return;
    char pre[256], old[sizeof diag->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, diag->msg, sizeof old);
    size_t n = strlen(pre);
    if (n >= sizeof diag->msg) n = sizeof diag->msg - 1;
    memcpy(diag->msg, pre, n);
    size_t rest = strnlen(old, sizeof old - 1);
    if (rest > sizeof diag->msg - 1 - n) rest = sizeof diag->msg - 1 - n;
    memcpy(diag->msg + n, old, rest);
    diag->msg[n + rest] = 0;
}

void qs__assert_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "qsearch: internal assertion failed at %s:%d: %s\n", file, line, expr);
    abort();
}
