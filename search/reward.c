// Rewards: one scalar per evaluated candidate, from its metrics and those of the fp32
// model (the baseline). The formulas are documented once, in reward_doc below, which
// becomes the Rewards section of configs/README.md.
//
// Notation: acc, acc0 = accuracy of the candidate and of fp32 (fractions for top1, top5 and
// fidelity); c = compress ratio (fp32 bytes / model bytes, so c0 = 1); F, F0 = FLOPs;
// B, B0 = BOPs; L, L0 = table latency (ms).
#include "search/config.h"

#include <math.h>
#include <string.h>

static const char reward_doc[] =
    "\n## Rewards\n"
    "\n"
    "Every evaluated candidate gets one number, the reward, from its metrics and those of "
    "the fp32\nmodel: `acc` and `acc0` (accuracy; fractions for top1/top5/fidelity), `c` "
    "(compress ratio: fp32\nbytes over the candidate's bytes, indices and scales included; "
    "fp32 = 1), `F`/`F0` (FLOPs), `B`/`B0`\n(BOPs), `L`/`L0` (table latency, ms). "
    "`reward_type` picks the formula; results.json and the\nlog print it with its parameters "
    "filled in. A failed evaluation (external command error) has no\nreward and is recorded "
    "as failed.\n"
    "\n"
    "Shared terms:\n"
    "\n"
    "- **Efficiency** `E`: the mean, over the efficiency objectives in `objective_keys`, of "
    "`log2` of\n  their improvement ratio: `log2(c)` for compress_ratio, `log2(F0/F)` for "
    "flops, `log2(L0/L)` for\n  latency. All-int8 has `log2(c)` of about 2; pruning half of "
    "the weights on top of it adds\n  up to about 1.\n"
    "- **Accuracy floor** `A = max(acc_threshold, acc0 - max_acc_drop)` over those set "
    "(none set: no floor).\n"
    "- **Shortfall** `s_acc = 100 * max(0, A - acc)`: points of accuracy below the floor.\n"
    "- **Threshold misses** `s_eff`: the sum of `100 * max(0, 1 - c / compress_threshold)` "
    "and\n  `100 * max(0, L / latency_threshold - 1)` over the thresholds set (percent "
    "missed).\n"
    "- **Penalty** `P(s) = penalty * log2(1 + s)`: `penalty` (default 5) for the first "
    "point of\n  shortfall, steep near the threshold and slower further away (28 for 48 "
    "points), so that\n  rewards stay in a range a critic network can fit.\n"
    "\n"
    "| reward_type | reward | use |\n"
    "| --- | --- | --- |\n"
    "| `compress_first` | `E + (acc - acc0)` when `acc >= A`, else `(acc - acc0) - P(s_acc)` "
    "| the most compression (or speed) that keeps accuracy above the floor; the "
    "accuracy term only breaks ties |\n"
    "| `acc_first` | `100 * (acc - acc0) + 0.1 * E - P(s_eff)` | the best accuracy "
    "that meets compress_threshold and latency_threshold; efficiency only breaks ties |\n"
    "| `custom` | `(1 - w) * acc / acc0 + w * (1 - 1 / r)` | MsQuantRL-style weighted sum: "
    "`w` = `metric_ratio`, `r` = the improvement ratio of `metric_to_reward` (`c`, `F0/F`, "
    "`B0/B` or `L0/L`); no thresholds |\n"
    "| `haq` | `0.1 * (100 * acc - 100 * acc0)` | HAQ (Wang et al. 2019): accuracy in "
    "percent against fp32; resources only through budgets |\n"
    "| `nncf` | `acc * 10^-floor(log10(acc0))` (`acc` when `acc0` = 0) | NNCF AutoQ: "
    "accuracy scaled to the decade of fp32; resources only through budgets |\n"
    "| `amc` | `-(1 - acc) * ln(F)` | AMC (He et al. 2018), R_FLOPs: error times log FLOPs "
    "|\n"
    "\n"
    "With `compress_first`, efficiency counts only for candidates that meet the accuracy "
    "floor, so\nevery candidate below the floor ranks under every candidate above it that "
    "is at least as\nefficient as fp32 (`E >= 0`); below the floor the reward still rises "
    "as accuracy recovers,\nwhich gives the agent a direction. With `acc_first` the penalty "
    "is continuous: missing\ncompress_threshold by 10% costs about 17 points of accuracy "
    "with the default penalty.\nBudgets (latency, size, FLOPs, BOPs) are never in the "
    "reward: every candidate meets them\nbefore it is evaluated.\n";

const char *qs__reward_doc(void) { return reward_doc; }

// log2 of the improvement ratio of objective `obj` (1 = as fp32); NAN when unknown.
static double gain(unsigned obj, const struct qs_metrics *m, const struct qs_metrics *base) {
    double r;
    switch (obj) {
    case QS_OBJ_COMPRESS:
        r = m->compress_ratio;
        break;
    case QS_OBJ_FLOPS:
        r = base->flops / m->flops;
        break;
    case QS_OBJ_LATENCY:
        r = base->latency_ms / m->latency_ms;
        break;
    default:
        return NAN;
    }
    return r > 0 && isfinite(r) ? log2(r) : NAN;
}

static double efficiency(const struct qs_search_config *cfg, const struct qs_metrics *m,
                         const struct qs_metrics *base) {
    static const unsigned objs[] = {QS_OBJ_COMPRESS, QS_OBJ_FLOPS, QS_OBJ_LATENCY};
    double sum = 0;
    int n = 0;
    for (size_t i = 0; i < QS_COUNTOF(objs); i++)
        if (cfg->objective_keys & objs[i]) {
            sum += gain(objs[i], m, base);
            n++;
        }
    return n ? sum / n : 0.0;
}

// Improvement ratio of the custom reward's metric.
static double custom_ratio(const struct qs_search_config *cfg, const struct qs_metrics *m,
                           const struct qs_metrics *base) {
    const char *k = cfg->metric_to_reward;
    if (!strcmp(k, "flops")) return base->flops / m->flops;
    if (!strcmp(k, "bops")) return base->bops / m->bops;
    if (!strcmp(k, "latency")) return base->latency_ms / m->latency_ms;
    return m->compress_ratio;
}

double qs__reward(const struct qs_search_config *cfg, const struct qs_metrics *m,
                  const struct qs_metrics *base) {
    if (m->failed) return NAN;
    double acc = m->accuracy, acc0 = base->accuracy;
    if (!isfinite(acc) || !isfinite(acc0)) return NAN;
    double r = NAN;
    switch (cfg->reward_type) {
    case QS_REWARD_COMPRESS_FIRST: {
        // Efficiency counts only above the floor, so a candidate below it ranks under
        // every candidate above it (whose efficiency is >= 0, fp32 being 0).
        double floor_ = qs__config_acc_floor(cfg, acc0);
        if (!isfinite(floor_) || acc >= floor_)
            r = efficiency(cfg, m, base) + (acc - acc0);
        else
            r = (acc - acc0) - cfg->penalty * log2(1.0 + 100.0 * (floor_ - acc));
        break;
    }
    case QS_REWARD_ACC_FIRST: {
        double s = 0;
        if (cfg->compress_threshold > 0)
            s += 100.0 * fmax(0.0, 1.0 - m->compress_ratio / cfg->compress_threshold);
        if (cfg->latency_threshold_ms > 0)
            s += 100.0 * fmax(0.0, m->latency_ms / cfg->latency_threshold_ms - 1.0);
        r = 100.0 * (acc - acc0) + 0.1 * efficiency(cfg, m, base) -
            cfg->penalty * log2(1.0 + s);
        break;
    }
    case QS_REWARD_CUSTOM: {
        double w = cfg->metric_ratio, ratio = custom_ratio(cfg, m, base);
        if (!(ratio > 0) || !isfinite(ratio)) return NAN;
        double a = acc0 != 0 ? acc / acc0 : acc;
        r = (1.0 - w) * a + w * (1.0 - 1.0 / ratio);
        break;
    }
    case QS_REWARD_HAQ:
        r = 0.1 * (100.0 * acc - 100.0 * acc0);
        break;
    case QS_REWARD_NNCF:
        r = acc0 != 0 ? acc * pow(10.0, -floor(log10(fabs(acc0)))) : acc;
        break;
    case QS_REWARD_AMC:
        r = -(1.0 - acc) * log(fmax(m->flops, 1.0));
        break;
    }
    return isfinite(r) ? r : NAN;
}

void qs__reward_formula(const struct qs_search_config *cfg, char *buf, size_t size) {
    char e[96] = "";
    size_t n = 0;
    int terms = 0;
    static const struct { unsigned obj; const char *text; } parts[] = {
        {QS_OBJ_COMPRESS, "log2(c)"}, {QS_OBJ_FLOPS, "log2(F0/F)"},
        {QS_OBJ_LATENCY, "log2(L0/L)"}};
    for (size_t i = 0; i < QS_COUNTOF(parts); i++)
        if (cfg->objective_keys & parts[i].obj) terms++;
    for (size_t i = 0; i < QS_COUNTOF(parts); i++)
        if ((cfg->objective_keys & parts[i].obj) && n < sizeof e)
            n += (size_t)snprintf(e + n, sizeof e - n, "%s%s", n ? " + " : "", parts[i].text);
    char eff[128];
    if (terms > 1) snprintf(eff, sizeof eff, "E = (%s) / %d", e, terms);
    else snprintf(eff, sizeof eff, "E = %s", terms ? e : "0");
    char floor_[128];
    if (cfg->acc_threshold >= 0 && cfg->max_acc_drop >= 0)
        snprintf(floor_, sizeof floor_, "A = max(%g, acc0 - %g)", cfg->acc_threshold,
                 cfg->max_acc_drop);
    else if (cfg->acc_threshold >= 0)
        snprintf(floor_, sizeof floor_, "A = %g", cfg->acc_threshold);
    else if (cfg->max_acc_drop >= 0)
        snprintf(floor_, sizeof floor_, "A = acc0 - %g", cfg->max_acc_drop);
    else
        snprintf(floor_, sizeof floor_, "no accuracy floor");
    switch (cfg->reward_type) {
    case QS_REWARD_COMPRESS_FIRST:
        if (!strcmp(floor_, "no accuracy floor"))
            snprintf(buf, size, "compress_first: R = E + (acc - acc0); %s; no accuracy floor",
                     eff);
        else
            snprintf(buf, size, "compress_first: R = E + (acc - acc0) if acc >= A, else (acc "
                     "- acc0) - %g * log2(1 + 100 * (A - acc)); %s; %s", cfg->penalty, eff,
                     floor_);
        return;
    case QS_REWARD_ACC_FIRST: {
        char s[200] = "";
        size_t k = 0;
        if (cfg->compress_threshold > 0)
            k += (size_t)snprintf(s + k, sizeof s - k, "100 * max(0, 1 - c / %g)",
                                  cfg->compress_threshold);
        if (cfg->latency_threshold_ms > 0 && k < sizeof s)
            k += (size_t)snprintf(s + k, sizeof s - k, "%s100 * max(0, L / %g - 1)",
                                  k ? " + " : "", cfg->latency_threshold_ms);
        if (k)
            snprintf(buf, size, "acc_first: R = 100 * (acc - acc0) + 0.1 * E - %g * log2(1 + "
                     "%s); %s", cfg->penalty, s, eff);
        else
            snprintf(buf, size, "acc_first: R = 100 * (acc - acc0) + 0.1 * E; %s", eff);
        return;
    }
    case QS_REWARD_CUSTOM: {
        const char *k = cfg->metric_to_reward;
        const char *r = !strcmp(k, "flops") ? "F0/F" : !strcmp(k, "bops") ? "B0/B"
                        : !strcmp(k, "latency") ? "L0/L" : "c";
        snprintf(buf, size, "custom: R = %g * acc / acc0 + %g * (1 - 1 / r); r = %s (%s)",
                 1.0 - cfg->metric_ratio, cfg->metric_ratio, r, k);
        return;
    }
    case QS_REWARD_HAQ:
        snprintf(buf, size, "haq: R = 0.1 * (100 * acc - 100 * acc0)");
        return;
    case QS_REWARD_NNCF:
        snprintf(buf, size, "nncf: R = acc * 10^-floor(log10(acc0))");
        return;
    case QS_REWARD_AMC:
        snprintf(buf, size, "amc: R = -(1 - acc) * ln(F)");
        return;
    }
    snprintf(buf, size, "unknown reward type %d", (int)cfg->reward_type);
}
