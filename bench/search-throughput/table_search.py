"""Prints the whole-search tables of run.sh --search: a qsearch DDPG run timed as a whole
(process CPU time, everything included) against the Python loop's per-candidate cost timed
on a sample of the same run's candidates.

usage: table_search.py RUN_DIR QSEARCH_CPU.json ORT.json SAMPLE.csv
"""
import csv
import json
import statistics
import sys

run, cpu_path, ort_path, sample_path = sys.argv[1:5]
journal = list(csv.DictReader(open(run + "/episodes.csv")))
timings = list(csv.DictReader(open(run + "/timings.csv")))
results = json.load(open(run + "/results.json"))
qs = json.load(open(cpu_path))
ort = json.load(open(ort_path))
sample = list(csv.DictReader(open(sample_path)))
assert ort["candidates"] == len(sample), (ort["candidates"], len(sample))

episodes = len(journal)
status = [r["status"] for r in journal]
evals = sum(s != "cached" for s in status)  # distinct evaluations (ok or failed)
cached, failed = status.count("cached"), status.count("failed")
assert episodes == results["episodes"]["total"] and len(timings) == episodes

# Results first: both sides must agree on every sampled candidate.
print(f"top-1 of the {len(sample)} sampled candidates, qsearch vs onnxruntime (1,000 images), "
      "and the Python side's CPU s:")
print("  episode  fp32 layers  qsearch   python   CPU s")
diff = []
for r, acc, c in zip(sample, ort["accuracy"], ort["cpu_s"]):
    fp32 = sum(t.split("/")[0] == "32" for t in r["policy"].split())
    a = float(r["accuracy"])
    diff.append(abs(a - acc))
    print(f"  {int(r['episode']):7d}  {fp32:11d}  {100 * a:6.2f} %  {100 * acc:6.2f} %  {c:6.3f}")
print(f"  largest difference {100 * max(diff):.2f} points")
py = ort["cpu_s"]
py_mean = statistics.mean(py)
print(f"  Python CPU s per candidate: mean {py_mean:.3f}, min {min(py):.3f}, max {max(py):.3f}, "
      f"coefficient of variation {100 * statistics.pstdev(py) / py_mean:.1f} %\n")

# qsearch: the whole process (setup, calibration, agent, evaluations, reuse, checkpoints,
# final re-evaluation, outputs), then the episode loop alone (timings.csv: agent and
# evaluation of each episode).
total = qs["cpu_s"]
loop = sum(float(t["cpu_s"]) for t in timings)
print(f"qsearch: {episodes} episodes, {evals} distinct evaluations ({cached} repeats served "
      f"from the policy cache, {failed} failed); process CPU {total:.1f} s (user "
      f"{qs['user_s']:.1f}, system {qs['sys_s']:.1f}), wall {qs['wall_s']:.1f} s, load "
      f"{qs['load_before'][0]:.1f} -> {qs['load_after'][0]:.1f}; episode loop CPU {loop:.1f} s, "
      f"the rest (setup, final, outputs, checkpoints) {total - loop:.1f} s\n")

print("| | qsearch | python+ORT | ratio |")
print("| --- | --- | --- | --- |")
q_eval = total / evals
print(f"| CPU s / distinct evaluation (qsearch: whole process) | {q_eval:.3f} | {py_mean:.3f} "
      f"| {py_mean / q_eval:.1f}x |")
print(f"| evaluations / min (CPU) | {60 / q_eval:.1f} | {60 / py_mean:.1f} "
      f"| {py_mean / q_eval:.1f}x |")
# A Python search with the same policy cache would evaluate the same distinct candidates.
q_ep, p_ep = 60 * episodes / total, 60 * episodes / (evals * py_mean)
print(f"| episodes / min (CPU; Python with the same cache) | {q_ep:.1f} | {p_ep:.1f} "
      f"| {q_ep / p_ep:.1f}x |")
l_eval = loop / evals
print(f"| CPU s / distinct evaluation, episode loop only | {l_eval:.3f} | {py_mean:.3f} "
      f"| {py_mean / l_eval:.1f}x |")
q_wall = qs["wall_s"] / evals
p_wall = statistics.mean(ort["wall_s"])
print(f"| wall s / distinct evaluation (shared machine) | {q_wall:.3f} | {p_wall:.3f} "
      f"| {p_wall / q_wall:.1f}x |\n")

# How the cost per evaluation moves through the run (prefix reuse pays as DDPG converges).
blocks = 8
size = (episodes + blocks - 1) // blocks
head, cost, reps = ["episodes"], ["CPU s / distinct evaluation"], ["repeats (cached)"]
for b in range(0, episodes, size):
    part = timings[b:b + size]
    n_eval = sum(t["status"] != "cached" for t in part)
    c = sum(float(t["cpu_s"]) for t in part)
    head.append(f"{b}-{b + len(part) - 1}")
    cost.append(f"{c / n_eval:.3f}" if n_eval else "-")
    reps.append(str(len(part) - n_eval))
print("episode loop by phase:\n")
for i, row in enumerate((head, cost, reps)):
    print("| " + " | ".join(row) + " |")
    if i == 0:
        print("|" + " --- |" * len(row))
