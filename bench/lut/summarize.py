#!/usr/bin/env python3
"""Distribution of |table - measured| / measured from `qsearch lut validate -o` CSV files.

Two comparisons per candidate: the medians (the table's entries and the measured runs) and
the 10th percentiles (the best-case runs, which a machine shared with other work disturbs
least)."""
import csv
import sys


def dist(errs):
    errs = sorted(abs(e) for e in errs)
    n = len(errs)
    pct = lambda q: errs[min(n - 1, int(round(q * (n - 1))))]
    within = lambda t: 100.0 * sum(e <= t for e in errs) / n
    return (f"n={n:4d}  median {100 * pct(0.5):5.2f}%  p90 {100 * pct(0.9):5.2f}%  "
            f"max {100 * errs[-1]:6.2f}%  within 2%: {within(0.02):5.1f}%  "
            f"within 5%: {within(0.05):5.1f}%  within 10%: {within(0.10):5.1f}%")


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
miss = sum(int(r["misses"]) for r in rows)
look = sum(int(r["lookups"]) for r in rows)
print(f"lookups {look}, estimated (misses) {miss} ({100.0 * miss / max(look, 1):.2f}%)")
