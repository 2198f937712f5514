// The episode journal (episodes.csv: append-only, one fsync'ed line per episode) and the
// agent checkpoints (temporary file + rename). See core.h.
#include "search/core.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char header[] =
    "episode,status,reward,accuracy,compress_ratio,model_bytes,flops,bops,latency_ms,"
    "lut_misses,thresholds,policy,actions,note\n";
#define N_COLUMNS 14

struct qs_journal {
    char *path;
    FILE *f;
    int n_layers;
    int n, cap;
    struct qs_journal_row *rows;
};

void qs__fsync_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static enum qs_status keep_row(qs_journal *j, const struct qs_journal_row *row,
                               struct qs_diag *diag) {
    if (j->n == j->cap) {
        int cap = j->cap ? 2 * j->cap : 64;
        struct qs_journal_row *r = qs__realloc(j->rows, (size_t)cap * sizeof *r);
        if (!r) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
        j->rows = r;
        j->cap = cap;
    }
    struct qs_journal_row *dst = &j->rows[j->n];
    *dst = *row;
    size_t na = (size_t)j->n_layers * QS_ACTION_DIM;
    dst->actions = qs__malloc(QS_MAX(na, (size_t)1) * sizeof(float));
    if (!dst->actions) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    memcpy(dst->actions, row->actions, na * sizeof(float));
    j->n++;
    return QS_STATUS_OK;
}

static void thresholds_text(unsigned t, char *buf, size_t size) {
    snprintf(buf, size, "%s%s%s%s", t & QS_THR_ACC ? "acc " : "", t & QS_THR_LAT ? "lat " : "",
             t & QS_THR_COMP ? "comp " : "", t ? "" : "-");
    size_t n = strlen(buf);
    if (n > 1 && buf[n - 1] == ' ') buf[n - 1] = 0;
}

static unsigned thresholds_parse(const char *s) {
    unsigned t = 0;
    if (strstr(s, "acc")) t |= QS_THR_ACC;
    if (strstr(s, "lat")) t |= QS_THR_LAT;
    if (strstr(s, "comp")) t |= QS_THR_COMP;
    return t;
}

// Splits a line at commas in place.
static int split(char *line, char **fields, int max) {
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = 0;
            fields[n++] = p + 1;
        }
    return n;
}

static bool parse_double(const char *s, double *v) {
    if (!strcmp(s, "nan")) {
        *v = NAN;
        return true;
    }
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return end != s && !*end && !errno;
}

static enum qs_status parse_row(qs_journal *j, char *line, int lineno, struct qs_diag *diag) {
    char *f[N_COLUMNS + 1];
    int n = split(line, f, N_COLUMNS + 1);
    if (n != N_COLUMNS)
        return qs__diag(diag, QS_STATUS_PARSE, "%s:%d: %d columns, expected %d", j->path, lineno,
                        n, N_COLUMNS);
    struct qs_journal_row r;
    memset(&r, 0, sizeof r);
    double v[8];
    char *end;
    r.episode = (int)strtol(f[0], &end, 10);
    bool ok = *end == 0 && r.episode == j->n;
    snprintf(r.status, sizeof r.status, "%s", f[1]);
    for (int k = 0; k < 8 && ok; k++) ok = parse_double(f[2 + k], &v[k]);
    if (!ok)
        return qs__diag(diag, QS_STATUS_PARSE, "%s:%d: bad number or episode index", j->path,
                        lineno);
    r.reward = v[0];
    r.m.accuracy = v[1];
    r.m.compress_ratio = v[2];
    r.m.model_bytes = v[3];
    r.m.flops = v[4];
    r.m.bops = v[5];
    r.m.latency_ms = v[6];
    r.m.lut_misses = (int)v[7];
    r.m.measured_ms = NAN;
    r.m.failed = !strcmp(r.status, "failed");
    r.thresholds = thresholds_parse(f[10]);
    snprintf(r.note, sizeof r.note, "%s", f[13]);
    size_t na = (size_t)j->n_layers * QS_ACTION_DIM;
    float *a = qs__malloc(QS_MAX(na, (size_t)1) * sizeof(float));
    if (!a) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    char *p = f[12];
    size_t k = 0;
    for (; k < na; k++) {
        a[k] = strtof(p, &end);
        if (end == p) break;
        p = end;
    }
    while (*p == ' ') p++;
    if (k != na || *p) {
        qs__free(a);
        return qs__diag(diag, QS_STATUS_PARSE, "%s:%d: %zu actions, expected %zu (a journal "
                        "of another model or search space)", j->path, lineno, k, na);
    }
    r.actions = a;
    enum qs_status st = keep_row(j, &r, diag);
    qs__free(a);
    return st;
}

static enum qs_status read_existing(qs_journal *j, struct qs_diag *diag) {
    FILE *f = fopen(j->path, "rb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "'%s': %s", j->path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = qs__malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    buf[got] = 0;
    enum qs_status st = QS_STATUS_OK;
    size_t hl = strlen(header);
    if (got < hl || memcmp(buf, header, hl) != 0) {
        qs__free(buf);
        return qs__diag(diag, QS_STATUS_PARSE, "%s:1: not a qsearch episode journal", j->path);
    }
    size_t pos = hl, keep = hl;
    int lineno = 2;
    while (pos < got && st == QS_STATUS_OK) {
        char *nl = memchr(buf + pos, '\n', got - pos);
        if (!nl) break;  // cut by a kill in the middle of a write: dropped
        *nl = 0;
        st = parse_row(j, buf + pos, lineno++, diag);
        pos = (size_t)(nl - buf) + 1;
        keep = pos;
    }
    qs__free(buf);
    if (st == QS_STATUS_OK && keep < got && truncate(j->path, (off_t)keep) != 0)
        st = qs__diag(diag, QS_STATUS_IO, "'%s': cannot truncate: %s", j->path, strerror(errno));
    return st;
}

enum qs_status qs__journal_open(const char *path, int n_layers, bool resume, qs_journal **out,
                                struct qs_diag *diag) {
    qs_journal *j = qs__calloc(1, sizeof *j);
    if (!j) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    j->path = qs__strdup(path);
    j->n_layers = n_layers;
    enum qs_status st = QS_STATUS_OK;
    bool exists = access(path, F_OK) == 0;
    if (resume && exists) {
        if ((st = read_existing(j, diag)) != QS_STATUS_OK) goto fail;
        j->f = fopen(path, "ab");
    } else {
        j->f = fopen(path, "wb");
        if (j->f && (fputs(header, j->f) < 0 || fflush(j->f) != 0 || fsync(fileno(j->f)) != 0)) {
            st = qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (!j->f) {
        st = qs__diag(diag, QS_STATUS_IO, "'%s': %s", path, strerror(errno));
        goto fail;
    }
    *out = j;
    return QS_STATUS_OK;
fail:
    qs__journal_close(j);
    return st;
}

void qs__journal_close(qs_journal *j) {
    if (!j) return;
    if (j->f) fclose(j->f);
    for (int i = 0; i < j->n; i++) qs__free(j->rows[i].actions);
    qs__free(j->rows);
    qs__free(j->path);
    qs__free(j);
}

int qs__journal_count(const qs_journal *j) { return j->n; }
const struct qs_journal_row *qs__journal_row(const qs_journal *j, int i) { return &j->rows[i]; }

static void fmt_num(double v, char *buf, size_t size) {
    if (isnan(v)) snprintf(buf, size, "nan");
    else snprintf(buf, size, "%.17g", v);
}

enum qs_status qs__journal_append(qs_journal *j, const struct qs_journal_row *row,
                                  const struct qs_space *space, struct qs_diag *diag) {
    // Numbers with 17 (doubles) and 9 (floats) digits read back exactly, so a resumed run
    // replays exactly what the agent saw.
    char num[8][40], thr[32];
    fmt_num(row->reward, num[0], sizeof num[0]);
    fmt_num(row->m.accuracy, num[1], sizeof num[1]);
    fmt_num(row->m.compress_ratio, num[2], sizeof num[2]);
    fmt_num(row->m.model_bytes, num[3], sizeof num[3]);
    fmt_num(row->m.flops, num[4], sizeof num[4]);
    fmt_num(row->m.bops, num[5], sizeof num[5]);
    fmt_num(row->m.latency_ms, num[6], sizeof num[6]);
    snprintf(num[7], sizeof num[7], "%d", row->m.lut_misses);
    thresholds_text(row->thresholds, thr, sizeof thr);
    FILE *f = j->f;
    fprintf(f, "%d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,", row->episode, row->status, num[0], num[1],
            num[2], num[3], num[4], num[5], num[6], num[7], thr);
    for (int l = 0; l < j->n_layers; l++) {
        struct qs_layer_policy lp;
        qs__space_decode(space, l, &row->actions[l * QS_ACTION_DIM], &lp);
        fprintf(f, "%s%d/%d/%.3g", l ? " " : "", lp.w_bits, lp.a_bits, (double)lp.sparsity);
    }
    fputc(',', f);
    for (int k = 0; k < j->n_layers * QS_ACTION_DIM; k++)
        fprintf(f, "%s%.9g", k ? " " : "", (double)row->actions[k]);
    fputc(',', f);
    for (const char *p = row->note; *p; p++) fputc(*p == ',' || *p == '\n' ? ';' : *p, f);
    fputc('\n', f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f))
        return qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", j->path, strerror(errno));
    return keep_row(j, row, diag);
}

// ---------------------------------------------------------------------------------------
// Checkpoints: "qsearch-checkpoint 1 <agent> <episodes>\n" then the agent's own bytes.

enum qs_status qs__checkpoint_save(const char *path, const qs_agent *agent, int episodes,
                                   struct qs_diag *diag) {
    if (!agent->ops->save) return QS_STATUS_OK;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "'%s': %s", tmp, strerror(errno));
    fprintf(f, "qsearch-checkpoint 1 %s %d\n", agent->ops->name, episodes);
    enum qs_status st = agent->ops->save(agent, f, diag);
    if (st == QS_STATUS_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0 || ferror(f)))
        st = qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == QS_STATUS_OK)
        st = qs__diag(diag, QS_STATUS_IO, "'%s': write failed: %s", tmp, strerror(errno));
    if (st == QS_STATUS_OK && rename(tmp, path) != 0)
        st = qs__diag(diag, QS_STATUS_IO, "'%s': rename failed: %s", path, strerror(errno));
    if (st != QS_STATUS_OK) remove(tmp);
    else qs__fsync_dir(path);
    return st;
}

enum qs_status qs__checkpoint_load(const char *path, qs_agent *agent, int *episodes_out,
                                   struct qs_diag *diag) {
    *episodes_out = -1;
    if (!agent->ops->load) return QS_STATUS_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return QS_STATUS_OK;
    char name[32];
    int version = 0, episodes = -1;
    enum qs_status st = QS_STATUS_OK;
    if (fscanf(f, "qsearch-checkpoint %d %31s %d", &version, name, &episodes) != 3 ||
        fgetc(f) != '\n' || version != 1 || strcmp(name, agent->ops->name) != 0 || episodes < 0) {
        st = qs__diag(diag, QS_STATUS_PARSE, "'%s': not a checkpoint of this agent", path);
    } else {
        st = agent->ops->load(agent, f, diag);
        if (st == QS_STATUS_OK) *episodes_out = episodes;
    }
    fclose(f);
    return st;
}
