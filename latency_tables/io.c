// Reading and writing latency tables: a YAML header (libyaml) ended by "...", then CSV rows.
#include "latency_tables/lut-impl.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml.h>

// --- Writing -------------------------------------------------------------------------------

static void put_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s < 0x20) continue;
        fputc(*s, f);
    }
    fputc('"', f);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const lut_entry *)a)->key, ((const lut_entry *)b)->key);
}

enum qs_status qs__lut_save(const qs_lut_t *l, const char *path, struct qs_diag *diag) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "%s: cannot write: %s", tmp, strerror(errno));
    const struct qs_lut_hw *h = &l->hw;
    fprintf(f, "# qsearch latency table: a YAML header, then one CSV row per measured key and\n"
               "# sparsity (times in milliseconds per run of the node at the batch below).\n");
    fprintf(f, "qsearch_lut: %d\ndescriptor:\n", LUT_FORMAT_VERSION);
    const struct { const char *k, *v; } strs[] = {
        {"target", h->target}, {"arch", h->arch}, {"cpu_model", h->cpu_model}, {"isa", h->isa},
        {"os", h->os}, {"compiler", h->compiler}, {"build_id", h->build_id},
        {"governor", h->governor}};
    for (size_t i = 0; i < QS_COUNTOF(strs); i++) {
        fprintf(f, "  %s: ", strs[i].k);
        put_str(f, strs[i].v);
        fputc('\n', f);
    }
    fprintf(f, "  cores: %d\n  threads: %d\n  numa_nodes: %d\n", h->cores, h->threads,
            h->numa_nodes);
    fprintf(f, "  l1d_bytes: %lld\n  l2_bytes: %lld\n  l3_bytes: %lld\n  freq_mhz: %.0f\n",
            (long long)h->l1d_bytes, (long long)h->l2_bytes, (long long)h->l3_bytes, h->freq_mhz);
    fprintf(f, "measurement:\n  batch: %d\n  threads: %d\n  repeats: %d\n  warmup: %d\n",
            l->batch, l->threads, l->repeats, l->warmup);
    fprintf(f, "  pattern: ");
    put_str(f, l->pattern);
    fprintf(f, "\n  created: ");
    put_str(f, l->created);
    fprintf(f, "\n  pinned: true\n  run_overhead_ms: %.6f\n  node_overhead_ms: %.6f\n"
               "  complete: %s\n", l->run_overhead_ms, l->node_overhead_ms,
            l->complete ? "true" : "false");
    // The residual curves: [sum of the nodes (ms), what a whole run adds (ms)] knots.
    const struct { const char *name; int n; const double *t, *r; } curves[] = {
        {"run_residual", l->n_resid, l->resid_t, l->resid_ms},
        {"run_residual_p10", l->n_resid_p10, l->resid_p10_t, l->resid_p10_ms}};
    for (size_t c = 0; c < QS_COUNTOF(curves); c++) {
        if (!curves[c].n) continue;
        fprintf(f, "  %s: [", curves[c].name);
        for (int i = 0; i < curves[c].n; i++)
            fprintf(f, "%s[%.6f, %.6f]", i ? ", " : "", curves[c].t[i], curves[c].r[i]);
        fprintf(f, "]\n");
    }
    fprintf(f, "  settings: ");
    put_str(f, l->settings ? l->settings : "");
    fprintf(f, "\n  models:\n");
    for (int i = 0; i < l->n_models; i++) {
        fprintf(f, "    - ");
        put_str(f, l->models[i]);
        fputc('\n', f);
    }
    if (!l->n_models) fprintf(f, "    []\n");
    fprintf(f, "  jobs:%s\n", l->n_jobs ? "" : " []");
    for (int i = 0; i < l->n_jobs; i++) {
        fprintf(f, "    - ");
        put_str(f, l->jobs[i]);
        fputc('\n', f);
    }
    fprintf(f, "entries: %d\n...\n%s\n", qs_lut_entry_count(l), LUT_CSV_HEADER);
    // Sorted by key so that tables diff well.
    lut_entry *sorted = qs__malloc(sizeof *sorted * (size_t)QS_MAX(l->n_entries, 1));
    if (!sorted) {
        fclose(f);
        remove(tmp);
        return qs__diag(diag, QS_STATUS_NOMEM, "out of memory writing %s", path);
    }
    memcpy(sorted, l->entries, sizeof *sorted * (size_t)l->n_entries);
    qsort(sorted, (size_t)l->n_entries, sizeof *sorted, cmp_entry);
    for (int i = 0; i < l->n_entries; i++)
        for (int j = 0; j < sorted[i].n_pts; j++) {
            const lut_point *p = &sorted[i].pts[j];
            fprintf(f, "%s,%d,%d,%.4g,%.6f,%.6f,%.6f,%d\n", sorted[i].key, p->w_bits, p->a_bits,
                    (double)p->sparsity, p->ms, p->p10, p->p90, p->runs);
        }
    qs__free(sorted);
    bool ok = fflush(f) == 0 && !ferror(f);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return qs__diag(diag, QS_STATUS_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    return QS_STATUS_OK;
}

// --- Reading the header ----------------------------------------------------------------------

typedef struct {
    char path[64];
    char *value;
    int line;
} hitem;

typedef struct {
    hitem *items;
    int n, cap;
    const char *file;
    struct qs_diag *diag;
    enum qs_status st;
} hparse;

static bool hadd(hparse *h, const char *path, const char *value, int line) {
    if (h->n == h->cap) {
        int c = h->cap ? h->cap * 2 : 64;
        hitem *p = qs__realloc(h->items, sizeof *p * (size_t)c);
        if (!p) return false;
        h->items = p;
        h->cap = c;
    }
    hitem *it = &h->items[h->n];
    snprintf(it->path, sizeof it->path, "%s", path);
    if (!(it->value = qs__strdup(value))) return false;
    it->line = line;
    h->n++;
    return true;
}

static bool hfail(hparse *h, int line, const char *what) {
    if (h->st == QS_STATUS_OK)
        h->st = qs__diag(h->diag, QS_STATUS_PARSE, "%s:%d: %s", h->file, line, what);
    return false;
}

static bool parse_fail(hparse *h, yaml_parser_t *p) {
    return hfail(h, (int)p->problem_mark.line + 1, p->problem ? p->problem : "bad YAML");
}

// Reads the node that starts with event `ev` into items under `path`.
static bool hnode(hparse *h, yaml_parser_t *p, yaml_event_t *ev, const char *path, int depth) {
    if (depth > 8) return hfail(h, (int)ev->start_mark.line + 1, "header nested too deeply");
    int line = (int)ev->start_mark.line + 1;
    if (ev->type == YAML_SCALAR_EVENT)
        return hadd(h, path, (const char *)ev->data.scalar.value, line) ||
               hfail(h, line, "out of memory");
    if (ev->type == YAML_SEQUENCE_START_EVENT) {
        char sub[64];
        snprintf(sub, sizeof sub, "%s[]", path);
        for (;;) {
            yaml_event_t e;
            if (!yaml_parser_parse(p, &e)) return parse_fail(h, p);
            if (e.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e);
                return true;
            }
            bool ok = hnode(h, p, &e, sub, depth + 1);
            yaml_event_delete(&e);
            if (!ok) return false;
        }
    }
    if (ev->type == YAML_MAPPING_START_EVENT) {
        for (;;) {
            yaml_event_t k;
            if (!yaml_parser_parse(p, &k)) return parse_fail(h, p);
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                return true;
            }
            if (k.type != YAML_SCALAR_EVENT) {
                int kl = (int)k.start_mark.line + 1;
                yaml_event_delete(&k);
                return hfail(h, kl, "header keys must be plain names");
            }
            char sub[64];
            snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "",
                     (const char *)k.data.scalar.value);
            yaml_event_delete(&k);
            yaml_event_t v;
            if (!yaml_parser_parse(p, &v)) return parse_fail(h, p);
            bool ok = hnode(h, p, &v, sub, depth + 1);
            yaml_event_delete(&v);
            if (!ok) return false;
        }
    }
    return hfail(h, line, "unexpected YAML in the header (aliases are not supported)");
}

static const hitem *hget(const hparse *h, const char *path) {
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->items[i].path, path)) return &h->items[i];
    return NULL;
}

static bool hstr(hparse *h, const char *path, char *out, size_t size, bool required) {
    const hitem *it = hget(h, path);
    if (!it) {
        if (!required) return true;
        char m[128];
        snprintf(m, sizeof m, "header: missing '%s'", path);
        return hfail(h, 1, m);
    }
    snprintf(out, size, "%s", it->value);
    return true;
}

static bool hint(hparse *h, const char *path, int64_t *out, int64_t lo, int64_t hi, bool required) {
    const hitem *it = hget(h, path);
    if (!it) {
        if (!required) return true;
        char m[128];
        snprintf(m, sizeof m, "header: missing '%s'", path);
        return hfail(h, 1, m);
    }
    char *end;
    errno = 0;
    long long v = strtoll(it->value, &end, 10);
    if (errno || end == it->value || *end || v < lo || v > hi) {
        char m[200];
        snprintf(m, sizeof m, "'%s' must be an integer in [%lld, %lld], got '%.40s'", path,
                 (long long)lo, (long long)hi, it->value);
        return hfail(h, it->line, m);
    }
    *out = v;
    return true;
}

static bool hnum(hparse *h, const char *path, double *out, bool signed_ok) {
    const hitem *it = hget(h, path);
    if (!it) return true;
    char *end;
    double v = strtod(it->value, &end);
    if (end == it->value || *end || !isfinite(v) || (v < 0 && !signed_ok)) {
        char m[160];
        snprintf(m, sizeof m, "'%s' must be a%s number, got '%.40s'", path,
                 signed_ok ? " finite" : " non-negative", it->value);
        return hfail(h, it->line, m);
    }
    *out = v;
    return true;
}

// A residual curve: a sequence of [sum_ms, residual_ms] pairs, sums increasing.
static bool hcurve(hparse *h, const char *path, double *t, double *r, int *n_out) {
    int n = 0, line = 0;
    for (int i = 0; i < h->n; i++) {
        if (strcmp(h->items[i].path, path) != 0) continue;
        line = h->items[i].line;
        char *end;
        double v = strtod(h->items[i].value, &end);
        if (end == h->items[i].value || *end || !isfinite(v))
            return hfail(h, line, "a residual curve holds [sum_ms, residual_ms] number pairs");
        if (n / 2 >= LUT_RESID_KNOTS) return hfail(h, line, "residual curve: too many knots");
        if (n % 2 == 0) {
            if (v < 0 || (n > 0 && v <= t[n / 2 - 1]))
                return hfail(h, line, "residual curve: sums must be non-negative and increasing");
            t[n / 2] = v;
        } else {
            r[n / 2] = v;
        }
        n++;
    }
    if (n % 2) return hfail(h, line, "a residual curve holds [sum_ms, residual_ms] number pairs");
    *n_out = n / 2;
    return true;
}

static enum qs_status parse_header(qs_lut_t *l, const char *file, const char *text, size_t len,
                                   struct qs_diag *diag) {
    hparse h = {.file = file, .diag = diag};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    bool in_doc = false, done = false;
    while (!done && h.st == QS_STATUS_OK) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            hfail(&h, (int)p.problem_mark.line + 1, p.problem ? p.problem : "bad YAML");
            break;
        }
        switch (e.type) {
        case YAML_STREAM_END_EVENT: done = true; break;
        case YAML_DOCUMENT_START_EVENT: in_doc = true; break;
        case YAML_DOCUMENT_END_EVENT: done = true; break;
        case YAML_MAPPING_START_EVENT:
            if (in_doc) hnode(&h, &p, &e, "", 0);
            break;
        case YAML_STREAM_START_EVENT: break;
        default:
            hfail(&h, (int)e.start_mark.line + 1, "the header must be a YAML mapping");
            break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    int64_t v = 0;
    struct qs_lut_hw *hw = &l->hw;
    if (h.st == QS_STATUS_OK && hint(&h, "qsearch_lut", &v, 1, 1000, true) &&
        v != LUT_FORMAT_VERSION) {
        char m[96];
        snprintf(m, sizeof m, "format version %lld, this qsearch reads %d", (long long)v,
                 LUT_FORMAT_VERSION);
        hfail(&h, hget(&h, "qsearch_lut")->line, m);
    }
    if (h.st == QS_STATUS_OK) {
        hstr(&h, "descriptor.target", hw->target, sizeof hw->target, true);
        hstr(&h, "descriptor.arch", hw->arch, sizeof hw->arch, true);
        hstr(&h, "descriptor.cpu_model", hw->cpu_model, sizeof hw->cpu_model, true);
        hstr(&h, "descriptor.isa", hw->isa, sizeof hw->isa, true);
        hstr(&h, "descriptor.os", hw->os, sizeof hw->os, false);
        hstr(&h, "descriptor.compiler", hw->compiler, sizeof hw->compiler, false);
        hstr(&h, "descriptor.build_id", hw->build_id, sizeof hw->build_id, false);
        hstr(&h, "descriptor.governor", hw->governor, sizeof hw->governor, false);
        int64_t t = 0;
        if (hint(&h, "descriptor.cores", &t, 0, 1 << 20, false)) hw->cores = (int)t;
        t = 0;
        if (hint(&h, "descriptor.numa_nodes", &t, 0, 1 << 20, false)) hw->numa_nodes = (int)t;
        hint(&h, "descriptor.l1d_bytes", &hw->l1d_bytes, 0, INT64_MAX, false);
        hint(&h, "descriptor.l2_bytes", &hw->l2_bytes, 0, INT64_MAX, false);
        hint(&h, "descriptor.l3_bytes", &hw->l3_bytes, 0, INT64_MAX, false);
        hnum(&h, "descriptor.freq_mhz", &hw->freq_mhz, false);
        t = 1;
        if (hint(&h, "measurement.batch", &t, 1, 1 << 20, true)) l->batch = (int)t;
        if (hint(&h, "measurement.threads", &t, 1, 1 << 20, true))
            hw->threads = l->threads = (int)t;
        t = 0;
        if (hint(&h, "measurement.repeats", &t, 0, INT32_MAX, false)) l->repeats = (int)t;
        t = 0;
        if (hint(&h, "measurement.warmup", &t, 0, INT32_MAX, false)) l->warmup = (int)t;
        hstr(&h, "measurement.pattern", l->pattern, sizeof l->pattern, false);
        hstr(&h, "measurement.created", l->created, sizeof l->created, false);
        hnum(&h, "measurement.run_overhead_ms", &l->run_overhead_ms, true);
        hnum(&h, "measurement.node_overhead_ms", &l->node_overhead_ms, true);
        hcurve(&h, "measurement.run_residual[][]", l->resid_t, l->resid_ms, &l->n_resid);
        hcurve(&h, "measurement.run_residual_p10[][]", l->resid_p10_t, l->resid_p10_ms,
               &l->n_resid_p10);
        const hitem *c = hget(&h, "measurement.complete");
        l->complete = c && !strcmp(c->value, "true");
        const hitem *s = hget(&h, "measurement.settings");
        if (s && !(l->settings = qs__strdup(s->value))) h.st = QS_STATUS_NOMEM;
        for (int i = 0; i < h.n && h.st == QS_STATUS_OK; i++) {
            if (!strcmp(h.items[i].path, "measurement.jobs[]"))
                h.st = qs__lut_add_job(l, h.items[i].value);
            else if (!strcmp(h.items[i].path, "measurement.models[]"))
                h.st = qs__lut_add_model(l, h.items[i].value);
        }
        if (h.st == QS_STATUS_NOMEM) qs__diag(diag, h.st, "out of memory reading %s", file);
    }
    for (int i = 0; i < h.n; i++) qs__free(h.items[i].value);
    qs__free(h.items);
    return h.st;
}

// --- Reading the rows ------------------------------------------------------------------------

static enum qs_status row_error(struct qs_diag *diag, const char *file, int line, const char *fmt,
                                ...) QS_PRINTF(4, 5);
static enum qs_status row_error(struct qs_diag *diag, const char *file, int line, const char *fmt,
                                ...) {
    char m[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return qs__diag(diag, QS_STATUS_PARSE, "%s:%d: %s", file, line, m);
}

static bool num(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && isfinite(*v);
}

static enum qs_status parse_row(qs_lut_t *l, const char *file, int line, char *row,
                                struct qs_diag *diag) {
    char *f[LUT_CSV_COLUMNS + 1];
    int k = 0;
    f[k++] = row;
    for (char *p = row; *p; p++)
        if (*p == ',') {
            *p = 0;
            if (k <= LUT_CSV_COLUMNS) f[k] = p + 1;
            k++;
        }
    if (k != LUT_CSV_COLUMNS) {
        return row_error(diag, file, line, "expected %d comma-separated columns, found %d",
                         LUT_CSV_COLUMNS, k);
    }
    for (int i = 0; i < 7; i++)
        if (!f[i][0]) return row_error(diag, file, line, "empty column %d", i + 1);
    for (const char *c = f[0]; *c; c++)
        if (!(*c >= 'A' && *c <= 'Z') && !(*c >= 'a' && *c <= 'z') && !(*c >= '0' && *c <= '9') &&
            *c != '_')
            return row_error(diag, file, line, "bad op type '%s'", f[0]);
    char key[LUT_KEY_MAX];
    snprintf(key, sizeof key, "%s,%s,%s,%s,%s,%s,%s", f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
    lut_feat feat;
    if (!qs__lut_key_features(key, &feat))
        return row_error(diag, file, line, "malformed shapes or attributes in '%.200s'", key);
    double wb, ab, sp, ms, p10, p90, runs;
    if (!num(f[7], &wb) || !num(f[8], &ab) || (wb != 8 && wb != 32) || (ab != 8 && ab != 32))
        return row_error(diag, file, line, "w_bits/a_bits must be 8 or 32");
    if (!num(f[9], &sp) || sp < 0 || sp >= 1)
        return row_error(diag, file, line, "sparsity must be in [0, 1), got '%s'", f[9]);
    if (!num(f[10], &ms) || ms < 0)
        return row_error(diag, file, line, "time must be a finite number >= 0, got '%s'", f[10]);
    if (!num(f[11], &p10) || !num(f[12], &p90) || p10 < 0 || p10 > ms * (1 + 1e-6) + 1e-9 ||
        p90 < ms * (1 - 1e-6) - 1e-9)
        return row_error(diag, file, line, "percentiles must satisfy p10 <= median <= p90");
    if (!num(f[13], &runs) || runs < 1 || runs != floor(runs) || runs > INT32_MAX)
        return row_error(diag, file, line, "runs must be a positive integer, got '%s'", f[13]);
    lut_entry *e = qs__lut_find(l, key);
    for (int i = 0; e && i < e->n_pts; i++)
        if (fabs(e->pts[i].sparsity - sp) < 1e-6)
            return row_error(diag, file, line, "duplicate key and sparsity (first at line %d)",
                             e->pts[i].line);
    lut_point pt = {.sparsity = (float)sp, .ms = ms, .p10 = p10, .p90 = p90, .runs = (int)runs,
                    .w_bits = (int)wb, .a_bits = (int)ab, .line = line};
    enum qs_status st = qs__lut_add(l, key, &pt);
    if (st) return qs__diag(diag, st, "out of memory reading %s", file);
    return QS_STATUS_OK;
}

enum qs_status qs_lut_load(const char *path, qs_lut_t **out, struct qs_diag *diag) {
    FILE *f = fopen(path, "rb");
    if (!f) return qs__diag(diag, QS_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            char *t = qs__realloc(text, cap);
            if (!t) {
                qs__free(text);
                fclose(f);
                return qs__diag(diag, QS_STATUS_NOMEM, "out of memory reading %s", path);
            }
            text = t;
        }
        size_t r = fread(text + len, 1, 65536, f);
        len += r;
        if (r < 65536) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        qs__free(text);
        return qs__diag(diag, QS_STATUS_IO, "%s: read error", path);
    }
    text[len] = 0;
    qs_lut_t *l = NULL;
    enum qs_status st = qs__lut_create(&l);
    if (st) {
        qs__free(text);
        return qs__diag(diag, st, "out of memory reading %s", path);
    }
    // The header ends at a line "...".
    size_t hdr_end = 0;
    int line = 1, rows_line = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        if (e - i == 3 && !memcmp(text + i, "...", 3)) {
            hdr_end = i;
            rows_line = line + 1;
            i = e + 1;
            break;
        }
        i = e + 1;
        line++;
    }
    if (!rows_line) {
        st = qs__diag(diag, QS_STATUS_PARSE,
                      "%s:%d: not a qsearch latency table (no '...' line ends a YAML header)",
                      path, line);
        goto done;
    }
    if ((st = parse_header(l, path, text, hdr_end, diag)) != QS_STATUS_OK) goto done;
    {
        char *p = text + hdr_end;
        p += strcspn(p, "\n");
        if (*p) p++;
        line = rows_line;
        bool header_seen = false;
        while (*p) {
            char *e = p + strcspn(p, "\n");
            char save = *e;
            *e = 0;
            size_t n = strlen(p);
            if (n && p[n - 1] == '\r') p[n - 1] = 0;
            if (!p[0] || p[0] == '#') {
                // blank or comment
            } else if (!header_seen) {
                if (strcmp(p, LUT_CSV_HEADER) != 0) {
                    st = qs__diag(diag, QS_STATUS_PARSE, "%s:%d: expected the column header '%s'",
                                  path, line, LUT_CSV_HEADER);
                    goto done;
                }
                header_seen = true;
            } else if ((st = parse_row(l, path, line, p, diag)) != QS_STATUS_OK) {
                goto done;
            }
            if (!save) break;
            p = e + 1;
            line++;
        }
        if (!header_seen) {
            st = qs__diag(diag, QS_STATUS_PARSE, "%s:%d: missing the column header line", path,
                          line);
            goto done;
        }
    }
    if (!(l->path = qs__strdup(path))) st = qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
done:
    qs__free(text);
    if (st) {
        qs_lut_destroy(l);
        return st;
    }
    *out = l;
    return QS_STATUS_OK;
}
