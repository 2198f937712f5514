// The report of a search run (search/report.h): three PNG plots drawn with cairo and one
// HTML page linking them, every file written to a temporary name and renamed into place.
#include "search/report.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// fontconfig (behind cairo's text) keeps allocations for the life of the process by design;
// in the AddressSanitizer build LeakSanitizer would report them at the exit of every program
// that wrote a report. Only compiled with -fsanitize=address; exported so the runtime sees it.
#if defined(__SANITIZE_ADDRESS__)
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void) {
    return "leak:libfontconfig.so\n";
}
// ... and without the "Suppressions used" table on stderr, which the CLI tests (one error
// line, or none) would read as output.
__attribute__((visibility("default"), used)) const char *__lsan_default_options(void);
__attribute__((visibility("default"), used)) const char *__lsan_default_options(void) {
    return "print_suppressions=0";
}
#endif

// ---- Growing text buffer and atomic files -------------------------------------------------

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_vadd(struct sbuf *b, const char *fmt, va_list ap) {
    if (b->oom) return;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = QS_MAX(b->cap * 2, b->len + (size_t)n + 1024);
        char *q = qs__realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q, b->cap = cap;
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

static void sb_add(struct sbuf *b, const char *fmt, ...) QS_PRINTF(2, 3);
static void sb_add(struct sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_vadd(b, fmt, ap);
    va_end(ap);
}

// HTML-escapes s (NULL = "").
static void sb_esc(struct sbuf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sb_add(b, "&amp;"); break;
        case '<': sb_add(b, "&lt;"); break;
        case '>': sb_add(b, "&gt;"); break;
        case '"': sb_add(b, "&quot;"); break;
        case '\'': sb_add(b, "&#39;"); break;
        default: sb_add(b, "%c", *s); break;
        }
    }
}

static enum qs_status path_join(char *out, size_t size, const char *dir, const char *name,
                                const char *suffix, struct qs_diag *diag) {
    int n = snprintf(out, size, "%s/%s%s", dir, name, suffix);
    if (n < 0 || (size_t)n >= size)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "%s: report path too long", dir);
    return QS_STATUS_OK;
}

// Opens "<dir>/<name>.tmp" for writing.
static enum qs_status tmp_open(const char *dir, const char *name, char *tmp, size_t size,
                               FILE **f, struct qs_diag *diag) {
    enum qs_status st = path_join(tmp, size, dir, name, ".tmp", diag);
    if (st) return st;
    *f = fopen(tmp, "wb");
    if (!*f) return qs__diag(diag, QS_STATUS_IO, "%s: cannot create: %s", tmp, strerror(errno));
    return QS_STATUS_OK;
}

// Flushes, syncs and closes f, then renames tmp to "<dir>/<name>"; removes tmp on failure.
static enum qs_status tmp_commit(FILE *f, const char *tmp, const char *dir, const char *name,
                                 bool write_failed, struct qs_diag *diag) {
    char final[4096];
    bool bad = write_failed || fflush(f) != 0 || ferror(f);
    int err = bad ? (errno ? errno : EIO) : 0;
    if (!bad && fsync(fileno(f)) != 0) bad = true, err = errno;
    if (fclose(f) != 0 && !bad) bad = true, err = errno;
    enum qs_status st = path_join(final, sizeof final, dir, name, "", diag);
    if (!st && bad) st = qs__diag(diag, QS_STATUS_IO, "%s: write failed: %s", tmp, strerror(err));
    if (!st && rename(tmp, final) != 0)
        st = qs__diag(diag, QS_STATUS_IO, "%s: cannot rename to %s: %s", tmp, final,
                      strerror(errno));
    if (st) remove(tmp);
    return st;
}

static enum qs_status write_text_file(const char *dir, const char *name, const struct sbuf *b,
                                      struct qs_diag *diag) {
    char tmp[4096];
    FILE *f;
    enum qs_status st = tmp_open(dir, name, tmp, sizeof tmp, &f, diag);
    if (st) return st;
    bool bad = b->len && fwrite(b->p, 1, b->len, f) != b->len;
    return tmp_commit(f, tmp, dir, name, bad, diag);
}

static cairo_status_t png_write(void *closure, const unsigned char *data, unsigned int length) {
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS
                                                      : CAIRO_STATUS_WRITE_ERROR;
}

static enum qs_status write_png(const char *dir, const char *name, cairo_surface_t *s,
                                struct qs_diag *diag) {
    char tmp[4096];
    FILE *f;
    cairo_surface_flush(s);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        return qs__diag(diag, QS_STATUS_NOMEM, "%s/%s: cairo: %s", dir, name,
                        cairo_status_to_string(cairo_surface_status(s)));
    enum qs_status st = tmp_open(dir, name, tmp, sizeof tmp, &f, diag);
    if (st) return st;
    bool bad = cairo_surface_write_to_png_stream(s, png_write, f) != CAIRO_STATUS_SUCCESS;
    return tmp_commit(f, tmp, dir, name, bad, diag);
}

// ---- Plot helpers --------------------------------------------------------------------------

struct rgb {
    double r, g, b;
};
static const struct rgb C_BLUE = {0.12, 0.47, 0.71}, C_ORANGE = {1.0, 0.50, 0.05},
                        C_GREEN = {0.17, 0.63, 0.17}, C_RED = {0.84, 0.15, 0.16},
                        C_GREY = {0.55, 0.55, 0.55}, C_LIGHT = {0.62, 0.74, 0.86},
                        C_TEXT = {0.1, 0.1, 0.1}, C_GRID = {0.90, 0.90, 0.90};

static void set_color(cairo_t *cr, struct rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

// Text anchored at (x, y): ax 0 = left, 0.5 = centred, 1 = right; ay likewise from the top.
// angle in radians (counter-clockwise, rotated about the anchor).
static void text(cairo_t *cr, double x, double y, double ax, double ay, double angle,
                 double size, const char *s) {
    cairo_save(cr);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle);
    cairo_move_to(cr, -e.x_bearing - ax * e.width, -e.y_bearing - ay * e.height);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

struct plot {
    cairo_t *cr;
    double x0, y0, x1, y1;        // plot area in pixels (y0 top)
    double xlo, xhi, ylo, yhi;    // data range
};

static double px(const struct plot *p, double v) {
    return p->x0 + (v - p->xlo) / (p->xhi - p->xlo) * (p->x1 - p->x0);
}
static double py(const struct plot *p, double v) {
    return p->y1 - (v - p->ylo) / (p->yhi - p->ylo) * (p->y1 - p->y0);
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `want` ticks.
static double nice_step(double span, int want) {
    double raw = span / (want > 0 ? want : 1);
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

// Widens [lo, hi] to include some margin and never be empty.
static void pad_range(double *lo, double *hi, double frac) {
    if (!isfinite(*lo) || !isfinite(*hi)) *lo = 0, *hi = 1;
    if (*hi - *lo < 1e-12 * QS_MAX(1.0, fabs(*hi))) {
        double d = fabs(*hi) > 0 ? fabs(*hi) * 0.1 : 1.0;
        *lo -= d, *hi += d;
        return;
    }
    double m = (*hi - *lo) * frac;
    *lo -= m, *hi += m;
}

static void fmt_num(char *buf, size_t size, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-6) v = 0;
    if (fabs(v) >= 1e6 || (fabs(v) > 0 && fabs(v) < 1e-4))
        snprintf(buf, size, "%.3g", v);
    else
        snprintf(buf, size, "%.*f", QS_MIN(dec, 6), v);
}

// Frame, grid, ticks and labels. xint: x ticks at integers only.
static void axes(const struct plot *p, const char *xlabel, const char *ylabel, bool xint,
                 const char *ysuffix) {
    cairo_t *cr = p->cr;
    char buf[64];
    cairo_set_line_width(cr, 1);
    double ys = nice_step(p->yhi - p->ylo, 6);
    for (double v = ceil(p->ylo / ys) * ys; v <= p->yhi + ys * 1e-9; v += ys) {
        double y = floor(py(p, v)) + 0.5;
        set_color(cr, C_GRID);
        cairo_move_to(cr, p->x0, y);
        cairo_line_to(cr, p->x1, y);
        cairo_stroke(cr);
        fmt_num(buf, sizeof buf - 4, v, ys);
        if (ysuffix) strcat(buf, ysuffix);
        set_color(cr, C_TEXT);
        text(cr, p->x0 - 6, y, 1, 0.5, 0, 11, buf);
    }
    double xs = nice_step(p->xhi - p->xlo, 8);
    if (xint && xs < 1) xs = 1;
    for (double v = ceil(p->xlo / xs) * xs; v <= p->xhi + xs * 1e-9; v += xs) {
        double x = floor(px(p, v)) + 0.5;
        set_color(cr, C_GRID);
        cairo_move_to(cr, x, p->y0);
        cairo_line_to(cr, x, p->y1);
        cairo_stroke(cr);
        fmt_num(buf, sizeof buf, v, xs);
        set_color(cr, C_TEXT);
        text(cr, x, p->y1 + 6, 0.5, 0, 0, 11, buf);
    }
    set_color(cr, C_TEXT);
    cairo_rectangle(cr, floor(p->x0) + 0.5, floor(p->y0) + 0.5, floor(p->x1 - p->x0),
                    floor(p->y1 - p->y0));
    cairo_stroke(cr);
    if (xlabel) text(cr, (p->x0 + p->x1) / 2, p->y1 + 26, 0.5, 0, 0, 12, xlabel);
    if (ylabel) text(cr, p->x0 - 58, (p->y0 + p->y1) / 2, 0.5, 0, M_PI / 2, 12, ylabel);
}

static cairo_t *canvas(cairo_surface_t **s, int w, int h, const char *title) {
    *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(*s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    set_color(cr, C_TEXT);
    if (title) text(cr, w / 2.0, 10, 0.5, 0, 0, 15, title);
    return cr;
}

static void dot(cairo_t *cr, double x, double y, double r, bool filled) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0, 2 * M_PI);
    if (filled)
        cairo_fill(cr);
    else
        cairo_stroke(cr);
}

static void cross(cairo_t *cr, double x, double y, double r) {
    cairo_move_to(cr, x - r, y - r);
    cairo_line_to(cr, x + r, y + r);
    cairo_move_to(cr, x - r, y + r);
    cairo_line_to(cr, x + r, y - r);
    cairo_stroke(cr);
}

// One legend entry at (x, y): kind 0 dot, 1 hollow dot, 2 cross, 3 line.
static void legend_at(cairo_t *cr, double x, double y, int kind, struct rgb c,
                      const char *label) {
    set_color(cr, c);
    cairo_set_line_width(cr, kind == 3 ? 2 : 1.2);
    if (kind == 3) {
        cairo_move_to(cr, x - 8, y);
        cairo_line_to(cr, x + 8, y);
        cairo_stroke(cr);
    } else if (kind == 2) {
        cross(cr, x, y, 3.5);
    } else {
        dot(cr, x, y, 3.5, kind == 0);
    }
    set_color(cr, C_TEXT);
    text(cr, x + 14, y, 0, 0.5, 0, 11, label);
}

// Legend rows at the top right of the plot area, on a translucent white band.
static void legend(const struct plot *p, int row, int kind, struct rgb c, const char *label) {
    double x = p->x1 - 170, y = p->y0 + 14 + 16 * row;
    cairo_set_source_rgba(p->cr, 1, 1, 1, 0.85);  // keeps the labels readable over the data
    cairo_rectangle(p->cr, x - 14, y - 8, 180, 16);
    cairo_fill(p->cr);
    legend_at(p->cr, x, y, kind, c, label);
}

static bool usable(const struct qs_report_episode *e) { return !e->failed; }

static double acc_scale(const struct qs_report *r) { return r->metric_percent ? 100.0 : 1.0; }

// ---- The three plots ----------------------------------------------------------------------

static enum qs_status plot_reward(const char *dir, const struct qs_report *r,
                                  struct qs_diag *diag) {
    const int W = 900, H = 460;
    cairo_surface_t *s;
    cairo_t *cr = canvas(&s, W, H, "Reward per episode");
    struct plot p = {cr, 80, 40, W - 20, H - 50, 0, 1, 0, 1};
    double elo = INFINITY, ehi = -INFINITY, rlo = INFINITY, rhi = -INFINITY;
    size_t n = r->n_episodes;
    for (size_t i = 0; i < n; i++) {
        const struct qs_report_episode *e = &r->episodes[i];
        elo = fmin(elo, e->episode), ehi = fmax(ehi, e->episode);
        if (!usable(e) || !isfinite(e->reward)) continue;
        rlo = fmin(rlo, e->reward), rhi = fmax(rhi, e->reward);
    }
    if (n == 0) elo = 0, ehi = 1;
    if (!(rlo <= rhi)) rlo = 0, rhi = 1;
    pad_range(&elo, &ehi, 0.02);
    pad_range(&rlo, &rhi, 0.06);
    p.xlo = elo, p.xhi = ehi, p.ylo = rlo, p.yhi = rhi;
    axes(&p, "episode", "reward", true, NULL);
    double rad = n > 400 ? 1.6 : 2.6;
    // Best so far over feasible, evaluated episodes, in episode order (the array's order).
    cairo_set_line_width(cr, 2);
    set_color(cr, C_ORANGE);
    double best = -INFINITY;
    bool started = false;
    for (size_t i = 0; i < n; i++) {
        const struct qs_report_episode *e = &r->episodes[i];
        if (!usable(e) || !e->feasible || !isfinite(e->reward)) continue;
        double x = px(&p, e->episode);
        if (e->reward > best) {
            if (started) cairo_line_to(cr, x, py(&p, best));
            best = e->reward;
            if (!started)
                cairo_move_to(cr, x, py(&p, best)), started = true;
            else
                cairo_line_to(cr, x, py(&p, best));
        }
    }
    if (started) {
        cairo_line_to(cr, p.x1, py(&p, best));
        cairo_stroke(cr);
    }
    cairo_new_path(cr);
    cairo_set_line_width(cr, 1.2);
    bool any_infeasible = false, any_failed = false;
    for (size_t i = 0; i < n; i++) {
        const struct qs_report_episode *e = &r->episodes[i];
        double x = px(&p, e->episode);
        if (!usable(e) || !isfinite(e->reward)) {
            set_color(cr, C_RED);
            cross(cr, x, p.y1 - 6, 3.5);
            any_failed = true;
            continue;
        }
        set_color(cr, e->feasible ? C_BLUE : C_GREY);
        dot(cr, x, py(&p, e->reward), rad, e->feasible);
        any_infeasible |= !e->feasible;
    }
    int row = 0;
    legend(&p, row++, 0, C_BLUE, "episode (feasible)");
    if (any_infeasible) legend(&p, row++, 1, C_GREY, "infeasible");
    if (any_failed) legend(&p, row++, 2, C_RED, "evaluation failed");
    legend(&p, row++, 3, C_ORANGE, "best so far");
    if (n == 0) {
        set_color(cr, C_GREY);
        text(cr, (p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2, 0.5, 0.5, 0, 16, "no episodes yet");
    }
    cairo_destroy(cr);
    enum qs_status st = write_png(dir, "reward.png", s, diag);
    cairo_surface_destroy(s);
    return st;
}

static enum qs_status plot_layers(const char *dir, const struct qs_report *r,
                                  struct qs_diag *diag) {
    size_t n = r->n_layers;
    int W = (int)QS_MIN(4000, QS_MAX(720, 110 + 26 * (long)n)), H = 570;
    cairo_surface_t *s;
    cairo_t *cr = canvas(&s, W, H, "Best policy per layer");
    struct plot bits = {cr, 80, 56, W - 20, 250, -0.5, (double)QS_MAX(n, 1) - 0.5, 0, 34};
    struct plot sp = {cr, 80, 275, W - 20, 435, bits.xlo, bits.xhi, 0, 105};
    // Custom axes: category x, so only the y grid and labels from axes().
    char buf[64];
    struct plot *panels[2] = {&bits, &sp};
    const double yt[2][6] = {{0, 4, 8, 16, 32, -1}, {0, 25, 50, 75, 100, -1}};
    const char *ylab[2] = {"bits", "sparsity"};
    for (int k = 0; k < 2; k++) {
        struct plot *p = panels[k];
        cairo_set_line_width(cr, 1);
        for (int t = 0; yt[k][t] >= 0; t++) {
            double y = floor(py(p, yt[k][t])) + 0.5;
            set_color(cr, C_GRID);
            cairo_move_to(cr, p->x0, y);
            cairo_line_to(cr, p->x1, y);
            cairo_stroke(cr);
            snprintf(buf, sizeof buf, k ? "%.0f%%" : "%.0f", yt[k][t]);
            set_color(cr, C_TEXT);
            text(cr, p->x0 - 6, y, 1, 0.5, 0, 11, buf);
        }
        set_color(cr, C_TEXT);
        cairo_rectangle(cr, floor(p->x0) + 0.5, floor(p->y0) + 0.5, floor(p->x1 - p->x0),
                        floor(p->y1 - p->y0));
        cairo_stroke(cr);
        text(cr, p->x0 - 50, (p->y0 + p->y1) / 2, 0.5, 0, M_PI / 2, 12, ylab[k]);
    }
    double slot = (bits.x1 - bits.x0) / (double)QS_MAX(n, 1);
    double bw = QS_MIN(slot * 0.38, 14);
    for (size_t i = 0; i < n; i++) {
        const struct qs_report_layer *l = &r->layers[i];
        double xc = px(&bits, (double)i);
        set_color(cr, C_BLUE);
        cairo_rectangle(cr, xc - bw, py(&bits, QS_MAX(0, QS_MIN(l->w_bits, 34))), bw,
                        py(&bits, 0) - py(&bits, QS_MAX(0, QS_MIN(l->w_bits, 34))));
        cairo_fill(cr);
        set_color(cr, C_ORANGE);
        cairo_rectangle(cr, xc, py(&bits, QS_MAX(0, QS_MIN(l->a_bits, 34))), bw,
                        py(&bits, 0) - py(&bits, QS_MAX(0, QS_MIN(l->a_bits, 34))));
        cairo_fill(cr);
        double spv = isfinite(l->sparsity) ? QS_MIN(QS_MAX(l->sparsity, 0.0), 1.0) * 100 : 0;
        set_color(cr, C_GREEN);
        cairo_rectangle(cr, xc - bw, py(&sp, spv), 2 * bw, py(&sp, 0) - py(&sp, spv));
        cairo_fill(cr);
    }
    // Layer names under the lower panel, rotated; every k-th one when they would overlap.
    size_t every = slot >= 12 ? 1 : (size_t)ceil(12 / slot);
    set_color(cr, C_TEXT);
    for (size_t i = 0; i < n; i += every) {
        char name[40];
        const char *nm = r->layers[i].name ? r->layers[i].name : "?";
        snprintf(name, sizeof name, "%s%s", strlen(nm) > 28 ? "..." : "",
                 strlen(nm) > 28 ? nm + strlen(nm) - 25 : nm);
        text(cr, px(&sp, (double)i) + 4, sp.y1 + 6, 1, 0, M_PI / 4, 10, name);
    }
    // The legend sits in a row above the panels, where it cannot hide a bar.
    legend_at(cr, bits.x0 + 12, 42, 0, C_BLUE, "weight bits");
    legend_at(cr, bits.x0 + 132, 42, 0, C_ORANGE, "activation bits");
    legend_at(cr, bits.x0 + 268, 42, 0, C_GREEN, "weight sparsity");
    if (n == 0) {
        set_color(cr, C_GREY);
        text(cr, W / 2.0, 150, 0.5, 0.5, 0, 16, "no layers");
    }
    cairo_destroy(cr);
    enum qs_status st = write_png(dir, "layers.png", s, diag);
    cairo_surface_destroy(s);
    return st;
}

static int cmp_latency(const void *a, const void *b, void *ctx) {
    const struct qs_report_episode *e = ctx;
    double x = e[*(const size_t *)a].latency_ms, y = e[*(const size_t *)b].latency_ms;
    return x < y ? -1 : x > y;
}

// The Pareto indices with finite metrics, sorted by latency (caller frees).
static size_t *pareto_sorted(const struct qs_report *r, size_t *count) {
    size_t *idx = qs__malloc(QS_MAX(r->n_pareto, 1) * sizeof *idx), m = 0;
    if (!idx) return NULL;
    for (size_t i = 0; i < r->n_pareto; i++) {
        const struct qs_report_episode *e = &r->episodes[r->pareto[i]];
        if (usable(e) && isfinite(e->latency_ms) && isfinite(e->accuracy)) idx[m++] = r->pareto[i];
    }
    qsort_r(idx, m, sizeof *idx, cmp_latency, (void *)r->episodes);
    *count = m;
    return idx;
}

static enum qs_status plot_pareto(const char *dir, const struct qs_report *r,
                                  struct qs_diag *diag) {
    size_t np = 0, *par = pareto_sorted(r, &np);
    if (!par) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    const int W = 820, H = 520;
    cairo_surface_t *s;
    cairo_t *cr = canvas(&s, W, H, "Accuracy vs latency");
    struct plot p = {cr, 80, 40, W - 20, H - 50, 0, 1, 0, 1};
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY, sc = acc_scale(r);
    size_t shown = 0;
    for (size_t i = 0; i < r->n_episodes; i++) {
        const struct qs_report_episode *e = &r->episodes[i];
        if (!usable(e) || !isfinite(e->latency_ms) || !isfinite(e->accuracy)) continue;
        xlo = fmin(xlo, e->latency_ms), xhi = fmax(xhi, e->latency_ms);
        ylo = fmin(ylo, e->accuracy * sc), yhi = fmax(yhi, e->accuracy * sc);
        shown++;
    }
    if (!shown) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    pad_range(&xlo, &xhi, 0.05);
    pad_range(&ylo, &yhi, 0.08);
    p.xlo = xlo, p.xhi = xhi, p.ylo = ylo, p.yhi = yhi;
    axes(&p, "latency (ms)", r->metric_percent ? "accuracy (%)" : "accuracy", false, NULL);
    cairo_set_line_width(cr, 1);
    bool any_infeasible = false;
    for (size_t i = 0; i < r->n_episodes; i++) {
        const struct qs_report_episode *e = &r->episodes[i];
        if (!usable(e) || !isfinite(e->latency_ms) || !isfinite(e->accuracy)) continue;
        set_color(cr, e->feasible ? C_LIGHT : C_GREY);
        dot(cr, px(&p, e->latency_ms), py(&p, e->accuracy * sc), 2.4, e->feasible);
        any_infeasible |= !e->feasible;
    }
    // The front as a staircase: accuracy holds until the next (slower, better) point.
    set_color(cr, C_RED);
    cairo_set_line_width(cr, 1.5);
    for (size_t i = 0; i < np; i++) {
        const struct qs_report_episode *e = &r->episodes[par[i]];
        double x = px(&p, e->latency_ms), y = py(&p, e->accuracy * sc);
        if (i == 0)
            cairo_move_to(cr, x, y);
        else {
            double yprev = py(&p, r->episodes[par[i - 1]].accuracy * sc);
            cairo_line_to(cr, x, yprev);
            cairo_line_to(cr, x, y);
        }
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < np; i++) {
        const struct qs_report_episode *e = &r->episodes[par[i]];
        dot(cr, px(&p, e->latency_ms), py(&p, e->accuracy * sc), 4, true);
    }
    int row = 0;
    legend(&p, row++, 0, C_LIGHT, "evaluated");
    if (any_infeasible) legend(&p, row++, 1, C_GREY, "infeasible");
    legend(&p, row++, 0, C_RED, "Pareto set");
    if (r->best >= 0) {
        const struct qs_report_episode *e = &r->episodes[r->best];
        if (usable(e) && isfinite(e->latency_ms) && isfinite(e->accuracy)) {
            set_color(cr, C_TEXT);
            cairo_set_line_width(cr, 2);
            dot(cr, px(&p, e->latency_ms), py(&p, e->accuracy * sc), 7.5, false);
            legend(&p, row++, 1, C_TEXT, "best");
        }
    }
    if (!shown) {
        set_color(cr, C_GREY);
        text(cr, (p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2, 0.5, 0.5, 0, 16,
             "no evaluated episode with a latency");
    }
    cairo_destroy(cr);
    enum qs_status st = write_png(dir, "pareto.png", s, diag);
    cairo_surface_destroy(s);
    qs__free(par);
    return st;
}

// ---- HTML ----------------------------------------------------------------------------------

static void cell_num(struct sbuf *b, double v, const char *fmt) {
    if (!isfinite(v)) {
        sb_add(b, "<td>-</td>");
        return;
    }
    sb_add(b, "<td>");
    // fmt is one of the fixed formats below.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    sb_add(b, fmt, v);
#pragma GCC diagnostic pop
    sb_add(b, "</td>");
}

static void human_bytes(char *buf, size_t size, uint64_t v) {
    if (v >= (UINT64_C(1) << 20))
        snprintf(buf, size, "%.2f MiB (%llu B)", (double)v / 1048576.0, (unsigned long long)v);
    else if (v >= 1024)
        snprintf(buf, size, "%.1f KiB (%llu B)", (double)v / 1024.0, (unsigned long long)v);
    else
        snprintf(buf, size, "%llu B", (unsigned long long)v);
}

static void episode_cells(struct sbuf *b, const struct qs_report *r,
                          const struct qs_report_episode *e) {
    char buf[64];
    sb_add(b, "<td>%d</td>", e->episode);
    cell_num(b, e->reward, "%.5g");
    cell_num(b, e->accuracy * acc_scale(r), r->metric_percent ? "%.2f%%" : "%.5g");
    cell_num(b, e->latency_ms, "%.4g");
    cell_num(b, e->compress_ratio, "%.3f&times;");
    human_bytes(buf, sizeof buf, e->model_bytes);
    sb_add(b, "<td>%s</td>", buf);
}

static void build_html(struct sbuf *b, const struct qs_report *r, const size_t *par, size_t np) {
    const char *title = r->title && *r->title ? r->title : "qsearch run";
    size_t failed = 0, feasible = 0;
    for (size_t i = 0; i < r->n_episodes; i++) {
        failed += r->episodes[i].failed;
        feasible += !r->episodes[i].failed && r->episodes[i].feasible;
    }
    sb_add(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    sb_esc(b, title);
    sb_add(b, "</title>\n<style>\n"
              "body { font-family: sans-serif; margin: 2em; color: #222; }\n"
              "table { border-collapse: collapse; margin: 1em 0; }\n"
              "th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: right; }\n"
              "th { background: #f2f2f2; } td.k, th.k { text-align: left; }\n"
              "img { max-width: 100%%; border: 1px solid #ddd; margin: 0.5em 0; }\n"
              "code { background: #f6f6f6; padding: 1px 4px; }\n"
              "</style>\n</head>\n<body>\n<h1>");
    sb_esc(b, title);
    sb_add(b, "</h1>\n<h2>Summary</h2>\n<table class=\"summary\">\n");
    sb_add(b, "<tr><th class=\"k\">episodes</th><td>%zu</td></tr>\n", r->n_episodes);
    sb_add(b, "<tr><th class=\"k\">feasible</th><td>%zu</td></tr>\n", feasible);
    sb_add(b, "<tr><th class=\"k\">failed evaluations</th><td>%zu</td></tr>\n", failed);
    sb_add(b, "<tr><th class=\"k\">reward formula</th><td class=\"k\"><code>");
    sb_esc(b, r->reward_formula && *r->reward_formula ? r->reward_formula : "-");
    sb_add(b, "</code></td></tr>\n");
    if (r->best >= 0) {
        const struct qs_report_episode *e = &r->episodes[r->best];
        char buf[64];
        sb_add(b, "<tr><th class=\"k\">best episode</th><td>%d</td></tr>\n", e->episode);
        sb_add(b, "<tr><th class=\"k\">best reward</th>");
        cell_num(b, e->reward, "%.6g");
        sb_add(b, "</tr>\n<tr><th class=\"k\">accuracy</th>");
        cell_num(b, e->accuracy * acc_scale(r), r->metric_percent ? "%.2f%%" : "%.6g");
        sb_add(b, "</tr>\n<tr><th class=\"k\">latency (ms)</th>");
        cell_num(b, e->latency_ms, "%.4g");
        sb_add(b, "</tr>\n<tr><th class=\"k\">compression</th>");
        cell_num(b, e->compress_ratio, "%.3f&times;");
        human_bytes(buf, sizeof buf, e->model_bytes);
        sb_add(b, "</tr>\n<tr><th class=\"k\">model size</th><td>%s</td></tr>\n", buf);
    } else {
        sb_add(b, "<tr><th class=\"k\">best episode</th><td>none</td></tr>\n");
    }
    for (size_t i = 0; i < r->n_extra; i++) {
        sb_add(b, "<tr><th class=\"k\">");
        sb_esc(b, r->extra_keys[i]);
        sb_add(b, "</th><td class=\"k\">");
        sb_esc(b, r->extra_values[i]);
        sb_add(b, "</td></tr>\n");
    }
    sb_add(b, "</table>\n");
    sb_add(b, "<h2>Reward</h2>\n<img src=\"reward.png\" alt=\"reward per episode\">\n"
              "<h2>Best policy</h2>\n<img src=\"layers.png\" alt=\"bits and sparsity per layer\">\n"
              "<h2>Accuracy vs latency</h2>\n"
              "<img src=\"pareto.png\" alt=\"accuracy vs latency, Pareto set\">\n");
    sb_add(b, "<h2>Pareto set (%zu)</h2>\n<table class=\"pareto\">\n<tr><th>episode</th>"
              "<th>reward</th><th>accuracy</th><th>latency (ms)</th><th>compression</th>"
              "<th>model size</th></tr>\n", np);
    for (size_t i = 0; i < np; i++) {
        sb_add(b, "<tr>");
        episode_cells(b, r, &r->episodes[par[i]]);
        sb_add(b, "</tr>\n");
    }
    sb_add(b, "</table>\n<h2>Policy (%zu layers)</h2>\n<table class=\"policy\">\n"
              "<tr><th class=\"k\">layer</th><th>w_bits</th><th>a_bits</th><th>sparsity</th>"
              "<th class=\"k\">pattern</th></tr>\n", r->n_layers);
    for (size_t i = 0; i < r->n_layers; i++) {
        const struct qs_report_layer *l = &r->layers[i];
        sb_add(b, "<tr><td class=\"k\">");
        sb_esc(b, l->name ? l->name : "?");
        sb_add(b, "</td><td>%d</td><td>%d</td>", l->w_bits, l->a_bits);
        cell_num(b, l->sparsity * 100, "%.1f%%");
        sb_add(b, "<td class=\"k\">");
        sb_esc(b, l->pattern && *l->pattern ? l->pattern : "dense");
        sb_add(b, "</td></tr>\n");
    }
    sb_add(b, "</table>\n<p>Written by qsearch " QS_VERSION_STRING ".</p>\n</body>\n</html>\n");
}

// ---- Entry point ---------------------------------------------------------------------------

enum qs_status qs__report_write(const char *dir, const struct qs_report *r,
                                struct qs_diag *diag) {
    if (!dir || !*dir || !r)
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "report: no directory or no data");
    if ((r->n_episodes && !r->episodes) || (r->n_layers && !r->layers) ||
        (r->n_pareto && !r->pareto) || (r->n_extra && (!r->extra_keys || !r->extra_values)))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "report: NULL array with a count");
    if (r->best < -1 || (r->best >= 0 && (size_t)r->best >= r->n_episodes))
        return qs__diag(diag, QS_STATUS_INVALID_ARG, "report: best %ld is not an episode index "
                        "(%zu episodes)", r->best, r->n_episodes);
    for (size_t i = 0; i < r->n_pareto; i++)
        if (r->pareto[i] >= r->n_episodes)
            return qs__diag(diag, QS_STATUS_INVALID_ARG, "report: Pareto index %zu is not an "
                            "episode index (%zu episodes)", r->pareto[i], r->n_episodes);
    enum qs_status st;
    if ((st = plot_reward(dir, r, diag)) || (st = plot_layers(dir, r, diag)) ||
        (st = plot_pareto(dir, r, diag)))
        return st;
    size_t np = 0, *par = pareto_sorted(r, &np);
    if (!par) return qs__diag(diag, QS_STATUS_NOMEM, "out of memory");
    struct sbuf b = {0};
    build_html(&b, r, par, np);
    qs__free(par);
    st = b.oom ? qs__diag(diag, QS_STATUS_NOMEM, "out of memory")
               : write_text_file(dir, "report.html", &b, diag);
    qs__free(b.p);
    return st;
}
