"""Prints the throughput table of run.sh from the qsearch run folder and ort_loop's JSON."""
import csv
import json
import statistics
import sys

run, ort_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = list(csv.DictReader(open(run + "/timings.csv")))[1:n + 1]
journal = {r["episode"]: r for r in csv.DictReader(open(run + "/episodes.csv"))}
ort = json.load(open(ort_path))
assert ort["candidates"] == len(rows) == n, (ort["candidates"], len(rows), n)
qs_wall = [float(r["wall_s"]) for r in rows]
qs_cpu = [float(r["cpu_s"]) for r in rows]
qs_acc = [float(journal[r["episode"]]["accuracy"]) for r in rows]
# Results first: both sides must agree on what they evaluated.
diff = [abs(a - b) for a, b in zip(qs_acc, ort["accuracy"])]
print("top-1 per candidate, qsearch vs onnxruntime (1,000 images):")
for i, (a, b) in enumerate(zip(qs_acc, ort["accuracy"])):
    print(f"  candidate {i + 1:2d}  {100 * a:6.2f} %  {100 * b:6.2f} %")
print(f"  largest difference {100 * max(diff):.2f} points\n")
print(f"{'':28s}{'qsearch':>12s}{'python+ORT':>12s}{'ratio':>8s}")
for name, q, p in (("wall s / candidate (mean)", qs_wall, ort["wall_s"]),
                   ("CPU s / candidate (mean)", qs_cpu, ort["cpu_s"])):
    mq, mp = statistics.mean(q), statistics.mean(p)
    print(f"{name:28s}{mq:12.3f}{mp:12.3f}{mp / mq:7.1f}x")
for name, q, p in (("evaluations / min (wall)", qs_wall, ort["wall_s"]),
                   ("evaluations / min (CPU)", qs_cpu, ort["cpu_s"])):
    eq, ep = 60 / statistics.mean(q), 60 / statistics.mean(p)
    print(f"{name:28s}{eq:12.1f}{ep:12.1f}{eq / ep:7.1f}x")
