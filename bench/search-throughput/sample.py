"""Picks the candidates the Python loop times in the whole-search mode: N distinct
evaluations of a qsearch run, evenly spread over the run (warm-up, learning and converged
phases alike). Repeats served from the policy cache ("cached" rows) are not candidates: they
cost no evaluation on either side. Writes them as an episodes.csv (header and rows) for
ort_loop.py and prints their episode numbers.

usage: sample.py EPISODES.csv N OUT.csv
"""
import sys

src, n, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(src) as f:
    header = next(f)
    rows = [line for line in f if line.split(",", 2)[1] == "ok"]
n = min(n, len(rows))
# The middle of each of n equal slices of the evaluated rows.
pick = [rows[(2 * i + 1) * len(rows) // (2 * n)] for i in range(n)]
with open(dst, "w") as f:
    f.write(header)
    f.writelines(pick)
print(" ".join(r.split(",", 1)[0] for r in pick))
