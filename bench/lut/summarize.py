#!/usr/bin/env python3
"""Distribution of |table - measured| / measured from `qsearch lut validate -o` CSV files.

Two comparisons per candidate: the medians (the table's entries and the measured runs) and
the 10th percentiles (the best-case runs, which a machine shared with other work disturbs
least). Besides |error|, the signed median and mean of (table - measured) / measured per
model: a model-specific bias is something the table can model, a spread around zero is the
machine's noise."""
import csv
import statistics
import sys


def dist(errs):
    signed = list(errs)
    errs = sorted(abs(e) for e in errs)
    n = len(errs)
    pct = lambda q: errs[min(n - 1, int(round(q * (n - 1))))]
    within = lambda t: 100.0 * sum(e <= t for e in errs) / n
    return (f"n={n:4d}  median {100 * pct(0.5):5.2f}%  p90 {100 * pct(0.9):5.2f}%  "
            f"max {100 * errs[-1]:6.2f}%  within 2%: {within(0.02):5.1f}%  "
            f"within 5%: {within(0.05):5.1f}%  within 10%: {within(0.10):5.1f}%  "
            f"signed median {100 * statistics.median(signed):+5.2f}% "
            f"mean {100 * statistics.fmean(signed):+5.2f}%")


rows = []
for path in sys.argv[1:]:
    with open(path) as f:
        rows += list(csv.DictReader(f))
models = sorted({r["model"] for r in rows})
for key, what in (("error", "median"), ("error_p10", "p10   ")):
    print(f"-- {what.strip()}: |table - measured| / measured")
    for m in models:
        e = [float(r[key]) for r in rows if r["model"] == m]
        print(f"  {m.split('/')[-1]:32s} {what} {dist(e)}")
    print(f"  {'all':32s} {what} {dist([float(r[key]) for r in rows])}")
# How noisy the measurement itself was: the spread of each candidate's plain runs.
print("-- measured spread (p90 / p10 of each candidate's runs), median per model")
for m in models:
    s = [float(r["p90_ms"]) / float(r["p10_ms"]) for r in rows if r["model"] == m]
    print(f"  {m.split('/')[-1]:32s} {statistics.median(s):.3f}")
# Not the headline: the same over the candidates whose own runs were calm (p90 / p10 of the
# plain runs <= 1.15), i.e. whose measured median was not reached by other processes' time
# slices. It tells the table's error apart from the measurement's on a shared machine.
print("-- median, calm candidates only (measured p90 / p10 <= 1.15)")
calm = [r for r in rows if float(r["p90_ms"]) <= 1.15 * float(r["p10_ms"])]
for m in models:
    e = [float(r["error"]) for r in calm if r["model"] == m]
    if e:
        print(f"  {m.split('/')[-1]:32s} median {dist(e)}")
if calm:
    print(f"  {'all':32s} median {dist([float(r['error']) for r in calm])}")
miss = sum(int(r["misses"]) for r in rows)
look = sum(int(r["lookups"]) for r in rows)
print(f"lookups {look}, estimated (misses) {miss} ({100.0 * miss / max(look, 1):.2f}%)")
