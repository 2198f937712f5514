// qsearch: the command-line tool. main parses the command line, routes library logging and
// maps statuses to exit codes; the subcommands live in cmd-*.c.
#include "cli.h"

#include <gsl/gsl_errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

// The library logs an error right before returning it, and the same text comes back in
// the diag; the CLI prints it once, from the diag (or from here when the diag is empty).
static struct {
    char last_error[1024];
    bool quiet;
} g_log;

static void log_callback(enum qs_log_level level, const char *msg, void *user) {
    (void)user;
    switch (level) {
    case QS_LOG_ERROR:
        snprintf(g_log.last_error, sizeof g_log.last_error, "%s", msg);
        break;
    case QS_LOG_WARN:
        if (!g_log.quiet) fprintf(stderr, "qsearch: warning: %s\n", msg);
        break;
    case QS_LOG_INFO:
        fprintf(stderr, "qsearch: info: %s\n", msg);
        break;
    case QS_LOG_DEBUG:
        fprintf(stderr, "qsearch: debug: %s\n", msg);
        break;
    }
}

int cli_exit_code(enum qs_status status) {
    switch (status) {
    case QS_STATUS_OK:
        return CLI_EXIT_OK;
    case QS_STATUS_INVALID_ARG:
    case QS_STATUS_IO:
    case QS_STATUS_PARSE:
    case QS_STATUS_UNSUPPORTED:
        return CLI_EXIT_USAGE;
    case QS_STATUS_UNSUPPORTED_HW:
        return CLI_EXIT_HW;
    default:
        return CLI_EXIT_FAILURE;
    }
}

int cli_fail(enum qs_status status, const struct qs_diag *diag, const char *file) {
    const char *msg = diag && diag->msg[0]       ? diag->msg
                      : g_log.last_error[0]      ? g_log.last_error
                                                 : qs_status_str(status);
    if (file && !strstr(msg, file))
        fprintf(stderr, "qsearch: error: %s: %s\n", file, msg);
    else
        fprintf(stderr, "qsearch: error: %s\n", msg);
    return cli_exit_code(status);
}

int cli_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("qsearch: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void cli_note(const struct cli_args *args, const char *fmt, ...) {
    if (args->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("qsearch: note: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

char *cli_format_shape(const int64_t *dims, int rank, char *buf, size_t size) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && n < size; i++) {
        if (dims[i] < 0)
            n += (size_t)snprintf(buf + n, size - n, "%s?", i ? "," : "");
        else
            n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? "," : "", (long long)dims[i]);
    }
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

char *cli_format_count(double v, char *buf, size_t size) {
    static const char *const units[] = {"", "K", "M", "G", "T"};
    int u = 0;
    while (v >= 1000.0 && u < 4) {
        v /= 1000.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.*f%s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
    return buf;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    // GSL's default handler aborts; the handler is process-global, so it is set here once.
    gsl_set_error_handler_off();

    struct cli_args args;
    char err[512];
    if (!cli_parse(argc, argv, &args, err, sizeof err)) return cli_error(CLI_EXIT_USAGE, "%s", err);
    if (args.help) {
        cli_print_help(args.cmd, stdout);
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }
    if (args.version) {
        printf("qsearch %s\n", QS_VERSION_STRING);
        return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    }

    g_log.quiet = args.quiet;
    qs_set_log_callback(log_callback, NULL, args.verbose ? QS_LOG_INFO : QS_LOG_WARN);

    int code = CLI_EXIT_FAILURE;
    switch (args.cmd) {
    case CLI_CMD_INSPECT:
        code = cli_cmd_inspect(&args);
        break;
    case CLI_CMD_EVAL:
        code = cli_cmd_eval(&args);
        break;
    case CLI_CMD_QUANTIZE:
        code = cli_cmd_quantize(&args);
        break;
    case CLI_CMD_PRUNE:
        code = cli_cmd_prune(&args);
        break;
    case CLI_CMD_SEARCH:
        code = cli_cmd_search(&args);
        break;
    case CLI_CMD_CONFIG:
        code = cli_cmd_config(&args);
        break;
    case CLI_CMD_LUT:
        code = cli_cmd_lut(&args);
        break;
    default:
        break;
    }
    // A full disk or a closed pipe must not pass for success.
    if (fflush(stdout) != 0 && code == CLI_EXIT_OK)
        code = cli_error(CLI_EXIT_FAILURE, "cannot write to standard output");
    return code;
}
