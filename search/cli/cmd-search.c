// qsearch search [--config FILE] [--objective X] ... and `qsearch --objective X`: runs the
// search (qsearch/search.h) with a progress line on a terminal, SIGINT/SIGTERM finishing
// the current episode, and the exit codes of nightly jobs: 0 thresholds met, 3 finished
// without meeting them, 2 usage or config error, 1 other error.
#include "cli.h"
#include "qsearch/search.h"

#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

enum { EXIT_THRESHOLDS_MISSED = 3 };

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

struct progress_state {
    bool tty;
    double drawn_at;
    bool drawn;
};

static void fmt_eta(double s, char *buf, size_t size) {
    if (s < 0) snprintf(buf, size, "?");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void on_progress(void *user, const struct qs_search_progress *p) {
    struct progress_state *ps = user;
    if (!ps->tty) return;
    double t = cli_now();
    bool phase_change = strcmp(p->phase, "search") != 0;
    if (!phase_change && ps->drawn && t - ps->drawn_at < 0.2) return;
    ps->drawn_at = t;
    if (!strcmp(p->phase, "done")) {
        if (ps->drawn) fputs("\r\033[K", stderr);
        fflush(stderr);
        ps->drawn = false;
        return;
    }
    char thr[64] = "", eta[32];
    size_t n = 0;
    if (p->acc_set) n += (size_t)snprintf(thr + n, sizeof thr - n, " acc%s", p->acc_ok ? "+" : "-");
    if (p->lat_set) n += (size_t)snprintf(thr + n, sizeof thr - n, " lat%s", p->lat_ok ? "+" : "-");
    if (p->comp_set)
        snprintf(thr + n, sizeof thr - n, " comp%s", p->comp_ok ? "+" : "-");
    fmt_eta(p->eta_s, eta, sizeof eta);
    if (!strcmp(p->phase, "search")) {
        if (p->has_best)
            fprintf(stderr, "\r\033[Ksearch  episode %d/%d  best reward %.4f  thresholds%s  ETA %s",
                    p->episode, p->max_episode, p->best_reward, thr[0] ? thr : " none", eta);
        else
            fprintf(stderr, "\r\033[Ksearch  episode %d/%d  ETA %s", p->episode, p->max_episode,
                    eta);
    } else {
        fprintf(stderr, "\r\033[K%s ...", !strcmp(p->phase, "setup") ? "calibrating"
                                          : "final evaluation of the best candidates");
    }
    fflush(stderr);
    ps->drawn = true;
}

int cli_cmd_search(const struct cli_args *args) {
    const char *keys[16], *values[16];
    int n = 0;
#define SET(field, key)              \
    if (args->field) {               \
        keys[n] = key;               \
        values[n++] = args->field;   \
    }
    SET(objective, "reward_type");
    SET(episodes, "max_episode");
    SET(time_budget, "time_budget");
    SET(seed, "seed");
    SET(target, "target");
    SET(lut, "lut");
    if (!args->resume) SET(out, "output_dir");
#undef SET
    if (args->resume && args->out && strcmp(args->resume, args->out) != 0)
        return cli_error(CLI_EXIT_USAGE, "--resume DIR continues in DIR; -o cannot name "
                         "another folder");
    if (args->resume && args->config)
        return cli_error(CLI_EXIT_USAGE, "--resume DIR reads DIR/config.yaml; --config cannot "
                         "be given with it");

    struct progress_state ps = {.tty = !args->quiet && isatty(STDERR_FILENO)};
    struct qs_search_options o = qs_search_options_default();
    o.config_path = args->config;
    o.resume_dir = args->resume;
    o.set_keys = keys;
    o.set_values = values;
    o.n_set = n;
    o.stop = &g_stop;
    o.progress = on_progress;
    o.progress_user = &ps;

    // The first signal finishes the episode and writes everything; a second one kills.
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    struct qs_diag diag = {{0}};
    struct qs_search_result r;
    enum qs_status st = qs_search_run(&o, &r, &diag);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (ps.drawn) fputs("\r\033[K", stderr);
    if (st != QS_STATUS_OK) {
        int code = cli_fail(st, &diag, NULL);
        // A table of another machine is a configuration problem here.
        return st == QS_STATUS_UNSUPPORTED_HW ? CLI_EXIT_USAGE : code;
    }

    printf("run         %s\n", r.run_dir);
    printf("episodes    %d (stopped: %s), %.1f s\n", r.episodes, r.stop_reason, r.seconds);
    printf("fp32        accuracy %.2f %%\n", 100.0 * r.fp32_accuracy);
    if (r.has_best) {
        printf("best        accuracy %.2f %% (%+.2f points), compression %.2fx (all-int8 "
               "%.2fx: %.2fx of it)\n",
               100.0 * r.best_accuracy, 100.0 * (r.best_accuracy - r.fp32_accuracy),
               r.best_compress, r.int8_compress,
               r.int8_compress > 0 ? r.best_compress / r.int8_compress : 0.0);
        if (!isnan(r.table_ms))
            printf("latency     measured %.3f ms, table estimate %.3f ms (%d of %d lookups "
                   "estimated during the search)\n", r.measured_ms, r.table_ms, r.lut_misses,
                   r.lut_lookups);
        else
            printf("latency     measured %.3f ms (no latency table)\n", r.measured_ms);
    } else {
        printf("best        none: no candidate was evaluated successfully\n");
    }
    printf("thresholds  %s\n", r.thresholds_met ? "met" : "not met");
    printf("wrote       %s/{best_policy.yaml,results.json,model.qdq.onnx,report.html,"
           "episodes.csv}\n", r.run_dir);
    return r.thresholds_met ? CLI_EXIT_OK : EXIT_THRESHOLDS_MISSED;
}
